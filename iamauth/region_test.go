package iamauth

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegionFromHost(t *testing.T) {
	for host, want := range map[string]string{
		"mydb.c0ffee123456.us-east-1.rds.amazonaws.com":                  "us-east-1",
		"mycluster.cluster-c0ffee123456.eu-west-3.rds.amazonaws.com":     "eu-west-3",
		"mycluster.cluster-ro-c0ffee123456.ap-south-1.rds.amazonaws.com": "ap-south-1",
		"custom.cluster-custom-abc.ca-central-1.rds.amazonaws.com":       "ca-central-1",
		"myproxy.proxy-abc.us-west-2.rds.amazonaws.com":                  "us-west-2",
		"MyDB.ABC.US-EAST-2.RDS.AMAZONAWS.COM.":                          "us-east-2",
		"db.abc.cn-north-1.rds.amazonaws.com.cn":                         "cn-north-1",
		"db.abc.us-gov-west-1.rds.amazonaws.com":                         "us-gov-west-1",
		"db.abc.us-iso-east-1.rds.c2s.ic.gov":                            "us-iso-east-1",
	} {
		got, ok := RegionFromHost(host)
		assert.False(t, !ok || got != want, "RegionFromHost(%q) = %q, %v; want %q", host, got, ok, want)
	}
	for _, host := range []string{
		"", "127.0.0.1", "localhost", "db.example.com", "rds.amazonaws.com",
		"us-east-1.rds.amazonaws.com",        // no label before the region
		"db.abc.useast1.rds.amazonaws.com",   // not region-shaped
		"db.abc.us-east-x.rds.amazonaws.com", // no number
		"db.abc.us--1.rds.amazonaws.com",
		"db.us-east-1.rds.amazonaws.com.evil.example",
		"db.abc.us-east-1.rds.amazonaws.org",
	} {
		got, ok := RegionFromHost(host)
		assert.False(t, ok, "RegionFromHost(%q) = %q, want no region", host, got)
	}
}

func FuzzRegionFromHost(f *testing.F) {
	for _, s := range []string{
		"mydb.cluster-abc.us-east-1.rds.amazonaws.com", "db.abc.cn-north-1.rds.amazonaws.com.cn",
		"127.0.0.1", "", ".rds.amazonaws.com", "a.b-c-1.rds.amazonaws.com", "x..rds.c2s.ic.gov",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		region, ok := RegionFromHost(host)
		if !ok {
			require.Equal(t, "", region, "region %q with ok=false", region)
			return
		}
		require.True(t, validRegion(region), "invalid region %q", region)
		require.Contains(t, strings.ToLower(host), "."+region+".rds.", "region %q not in host %q", region, host)
	})
}
