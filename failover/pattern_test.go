package failover

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHostPatternFromEndpoint(t *testing.T) {
	cases := []struct{ in, want, err string }{
		{in: "mycluster.cluster-abc.us-east-1.rds.amazonaws.com", want: "?.abc.us-east-1.rds.amazonaws.com"},
		{in: "mycluster.cluster-ro-abc.us-east-1.rds.amazonaws.com", want: "?.abc.us-east-1.rds.amazonaws.com"},
		{in: "mine.cluster-custom-abc.eu-west-2.rds.amazonaws.com:3307", want: "?.abc.eu-west-2.rds.amazonaws.com:3307"},
		{in: "MyCluster.Cluster-ABC.us-east-1.rds.amazonaws.com.", want: "?.abc.us-east-1.rds.amazonaws.com"},
		{in: "db-1.abc.us-east-1.rds.amazonaws.com", want: "?.abc.us-east-1.rds.amazonaws.com"},
		{in: "c.cluster-xyz.cn-north-1.rds.amazonaws.com.cn", want: "?.xyz.cn-north-1.rds.amazonaws.com.cn"},
		{in: "p.proxy-abc.us-east-1.rds.amazonaws.com", err: "RDS Proxy"},
		{in: "db.example.com", err: "not an RDS endpoint"},
		{in: "127.0.0.1:3306", err: "not an RDS endpoint"},
		{in: "a.b.c.d.us-east-1.rds.amazonaws.com", err: "does not look like"},
		{in: "a.cluster-.us-east-1.rds.amazonaws.com", err: "invalid DNS label"},
		{in: "a.cluster-ro.us-east-1.rds.amazonaws.com", want: "?.ro.us-east-1.rds.amazonaws.com"},
		{in: "a.cluster-ro--x.us-east-1.rds.amazonaws.com", err: "no cluster id"},
		{in: "a.-x.us-east-1.rds.amazonaws.com", err: "invalid DNS label"},
		{in: ".rds.amazonaws.com", err: "does not look like"},
	}
	for _, c := range cases {
		got, err := HostPatternFromEndpoint(c.in)
		if c.err != "" {
			require.ErrorContains(t, err, c.err, c.in)
			continue
		}
		require.NoError(t, err, c.in)
		require.Equal(t, c.want, got, c.in)
	}
}

func TestInstanceAddr(t *testing.T) {
	a, err := InstanceAddr("?.abc.us-east-1.rds.amazonaws.com", "db-2", 3306)
	require.NoError(t, err)
	require.Equal(t, "db-2.abc.us-east-1.rds.amazonaws.com:3306", a)

	a, err = InstanceAddr("127.0.0.1:?", "40123", 3306)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:40123", a)

	a, err = InstanceAddr("?.abc.rds.amazonaws.com:3307", "x", 3306)
	require.NoError(t, err)
	require.Equal(t, "x.abc.rds.amazonaws.com:3307", a)

	for _, bad := range []string{"", "evil.example.com", "a:1", "a/b", "-x", strings.Repeat("a", 64)} {
		_, err := InstanceAddr("?.abc.rds.amazonaws.com", bad, 3306)
		require.Error(t, err, bad)
	}
	_, err = InstanceAddr("no-placeholder", "x", 3306)
	require.ErrorContains(t, err, "exactly one '?'")
	_, err = InstanceAddr("?.?", "x", 3306)
	require.Error(t, err)
}

func FuzzHostPatternFromEndpoint(f *testing.F) {
	f.Add("mycluster.cluster-abc.us-east-1.rds.amazonaws.com")
	f.Add("x.cluster-ro-abc.eu-west-1.rds.amazonaws.com.cn:3306")
	f.Add("[::1]:3306")
	f.Fuzz(func(t *testing.T, endpoint string) {
		pat, err := HostPatternFromEndpoint(endpoint)
		if err != nil {
			return
		}
		// A derived pattern always has one placeholder, is an RDS name and
		// yields a valid address for a valid id.
		require.NoError(t, checkHostPattern(pat))
		require.True(t, strings.HasPrefix(pat, "?."), pat)
		require.Contains(t, pat, ".rds.amazonaws.com")
		addr, err := InstanceAddr(pat, "db-1", 3306)
		require.NoError(t, err)
		if id := strings.Split(pat, ".")[1]; strings.Contains(id, "-") {
			return // an id like "cluster-x" would read as a cluster endpoint again
		}
		again, err := HostPatternFromEndpoint(addr)
		require.NoError(t, err, addr)
		require.Equal(t, withDefaultPort(pat, 3306), withDefaultPort(again, 3306))
	})
}

func FuzzInstanceAddr(f *testing.F) {
	f.Add("?.abc.us-east-1.rds.amazonaws.com", "db-1")
	f.Add("127.0.0.1:?", "3306")
	f.Add("?", "a.b")
	f.Fuzz(func(t *testing.T, pattern, id string) {
		addr, err := InstanceAddr(pattern, id, 3306)
		if err != nil {
			return
		}
		// The id cannot smuggle in another host, port or path.
		require.NotContains(t, id, ".")
		require.NotContains(t, id, ":")
		require.NotContains(t, id, "/")
		require.Contains(t, addr, id)
	})
}
