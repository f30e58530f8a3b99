package iamauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testRDSHost = "mydb.cluster-c0ffee123456.eu-west-3.rds.amazonaws.com"

func newTestCache(t testing.TB, p aws.CredentialsProvider, opts ...TokenOption) *TokenCache {
	t.Helper()
	c, err := NewTokenCache(context.Background(), append([]TokenOption{WithAWSConfig(aws.Config{Region: "us-east-1", Credentials: p})}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// verifySigV4 recomputes the presigned URL's signature from scratch
// (canonical request, string to sign, derived key) for region and reports
// whether it matches the token's.
func verifySigV4(t *testing.T, token, region string) bool {
	t.Helper()
	u, err := url.Parse("https://" + token)
	require.NoError(t, err, "token is not a URL: %v", err)
	q := u.Query()
	sig := q.Get("X-Amz-Signature")
	q.Del("X-Amz-Signature")
	amzDate := q.Get("X-Amz-Date")
	require.Len(t, amzDate, 16, "X-Amz-Date %q", amzDate)
	canonicalQuery := strings.ReplaceAll(q.Encode(), "+", "%20")
	canonicalRequest := strings.Join([]string{
		"GET", "/", canonicalQuery,
		"host:" + u.Host + "\n",
		"host",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", // SHA-256 of the empty payload
	}, "\n")
	crh := sha256.Sum256([]byte(canonicalRequest))
	scope := amzDate[:8] + "/" + region + "/rds-db/aws4_request"
	stringToSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(crh[:])
	mac := func(key []byte, data string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(data))
		return h.Sum(nil)
	}
	k := mac([]byte("AWS4"+testSecretKey), amzDate[:8])
	k = mac(k, region)
	k = mac(k, "rds-db")
	k = mac(k, "aws4_request")
	return hex.EncodeToString(mac(k, stringToSign)) == sig
}

func TestTokenIsSignedForEndpointUserAndRegion(t *testing.T) {
	c := newTestCache(t, credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""))
	src, err := c.Source(testRDSHost, 3306, "iam_app")
	require.NoError(t, err)
	require.Equal(t, "eu-west-3", src.Region(), "region %q, want eu-west-3 from the host name", src.Region())
	cred, err := src.Credentials(context.Background())
	require.NoError(t, err)
	require.Equal(t, "iam_app", cred.User, "credential %v", cred)
	require.True(t, cred.Cleartext, "credential %v", cred)
	require.False(t, cred.Expires.IsZero(), "credential %v", cred)
	u, err := url.Parse("https://" + cred.Password)
	require.NoError(t, err)
	q := u.Query()
	checks := map[string]string{
		"Action":              "connect",
		"DBUser":              "iam_app",
		"X-Amz-Expires":       "900",
		"X-Amz-Algorithm":     "AWS4-HMAC-SHA256",
		"X-Amz-SignedHeaders": "host",
	}
	for k, want := range checks {
		got := q.Get(k)
		assert.Equal(t, want, got, "%s = %q, want %q", k, got, want)
	}
	assert.False(t, u.Hostname() != testRDSHost || u.Port() != "3306", "token host %q port %q", u.Hostname(), u.Port())
	wantCred := testAccessKey + "/" + q.Get("X-Amz-Date")[:8] + "/eu-west-3/rds-db/aws4_request"
	got := q.Get("X-Amz-Credential")
	assert.Equal(t, wantCred, got, "X-Amz-Credential %q, want %q", got, wantCred)
	assert.True(t, verifySigV4(t, cred.Password, "eu-west-3"), "signature does not verify for eu-west-3")
	assert.False(t, verifySigV4(t, cred.Password, "us-east-1"), "signature verifies for the wrong region")
}

func TestTokenRegionChoice(t *testing.T) {
	p := credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, "")
	// Explicit region wins over the host name.
	c := newTestCache(t, p, WithRegion("ap-south-1"))
	src, err := c.Source(testRDSHost, 3306, "u")
	require.NoError(t, err)
	require.Equal(t, "ap-south-1", src.Region(), "region %q", src.Region())
	cred, err := src.Credentials(context.Background())
	require.NoError(t, err)
	assert.True(t, verifySigV4(t, cred.Password, "ap-south-1"), "not signed for ap-south-1")
	// A non-RDS host falls back to the config's region.
	c2 := newTestCache(t, p)
	src2, err := c2.Source("127.0.0.1", 3307, "u")
	require.NoError(t, err)
	require.Equal(t, "us-east-1", src2.Region(), "region %q", src2.Region())
	// No region anywhere: a clear error.
	c3, err := NewTokenCache(context.Background(), WithAWSConfig(aws.Config{Credentials: p}))
	require.NoError(t, err)
	_, err = c3.Source("db.internal", 3306, "u")
	require.ErrorContains(t, err, "WithRegion", "err = %v", err)
	_, err = c3.Source("db.internal", 0, "u")
	require.Error(t, err, "port 0 accepted")
}

func TestTokenCachedPerKey(t *testing.T) {
	p := &countingProvider{}
	c := newTestCache(t, p)
	ctx := context.Background()
	a, _ := c.Source("127.0.0.1", 3306, "alice")
	a2, _ := c.Source("127.0.0.1", 3306, "alice")
	b, _ := c.Source("127.0.0.1", 3306, "bob")
	d, _ := c.Source("127.0.0.2", 3306, "alice")
	e, _ := c.Source("127.0.0.1", 3307, "alice")
	for _, s := range []*TokenSource{a, a2, b, d, e, a, b} {
		_, err := s.Credentials(ctx)
		require.NoError(t, err)
	}
	n := p.calls.Load()
	require.Equal(t, int64(4), n, "%d signings, want 4 (one per host/port/user)", n)
}

// callConcurrently calls src.Credentials from n goroutines at once and
// returns the credentials. (Two signings within the same wall-clock second
// give the same token string, so tests tell tokens apart by Expires, which
// follows the fake clock.)
func callConcurrently(t *testing.T, src *TokenSource, n int) []Credential {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	out := make([]Credential, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			c, err := src.Credentials(context.Background())
			out[i], errs[i] = c, err
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	return out
}

func allEqual(t *testing.T, creds []Credential, want Credential) {
	t.Helper()
	for i, c := range creds {
		require.Equal(t, want.Password, c.Password, "caller %d got a different token", i)
		require.True(t, c.Expires.Equal(want.Expires), "caller %d got a different token", i)
	}
}

func TestTokenSingleFlightAndRefreshAhead(t *testing.T) {
	clk := newFakeClock()
	p := &countingProvider{}
	c := newTestCache(t, p, WithTokenClock(clk.Now))
	src, err := c.Source("127.0.0.1", 3306, "app")
	require.NoError(t, err)

	// Cold cache: 100 concurrent callers, exactly one signing.
	first := callConcurrently(t, src, 100)
	n := p.calls.Load()
	require.Equal(t, int64(1), n, "%d signings for 100 cold callers, want 1", n)
	allEqual(t, first, first[0])
	tok1 := first[0]

	// Still fresh: no signing.
	clk.Advance(TokenLifetime - DefaultRefreshAhead - time.Second)
	allEqual(t, callConcurrently(t, src, 100), tok1)
	n = p.calls.Load()
	require.Equal(t, int64(1), n, "%d signings while fresh, want 1", n)

	// Inside the refresh-ahead window: every caller gets the current token
	// at once while exactly one background signing runs (held at the gate
	// to prove nobody waits for it).
	p.gate = make(chan struct{})
	p.entered = make(chan struct{}, 10)
	clk.Advance(2 * time.Second)
	allEqual(t, callConcurrently(t, src, 100), tok1)
	<-p.entered // the background refresh started
	n = p.calls.Load()
	require.Equal(t, int64(2), n, "%d signings in the refresh window, want 2", n)
	close(p.gate)
	for cur := src.entry.cred.Load(); cur.Expires.Equal(tok1.Expires); cur = src.entry.cred.Load() {
		time.Sleep(time.Millisecond) // wait for the background refresh to land
	}

	// Move close to the old token's expiry: callers now need the new one
	// and get the one the background refresh cached, no third signing.
	clk.Advance(DefaultRefreshAhead - DefaultMinValidity)
	second := callConcurrently(t, src, 100)
	require.False(t, second[0].Expires.Equal(tok1.Expires), "old token served below its minimum validity")
	allEqual(t, second, second[0])
	n = p.calls.Load()
	require.Equal(t, int64(2), n, "%d signings, want 2", n)

	// Expired: 100 callers wait for exactly one signing.
	clk.Advance(TokenLifetime)
	third := callConcurrently(t, src, 100)
	allEqual(t, third, third[0])
	n = p.calls.Load()
	require.Equal(t, int64(3), n, "%d signings after expiry, want 3", n)
}

func TestTokenCallerContextDoesNotCancelSigning(t *testing.T) {
	p := &countingProvider{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	c := newTestCache(t, p)
	src, _ := c.Source("127.0.0.1", 3306, "app")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := src.Credentials(ctx)
		done <- err
	}()
	<-p.entered
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled, "err = %v, want context.Canceled", err)
	close(p.gate) // the detached signing completes and is cached
	_, err = src.Credentials(context.Background())
	require.NoError(t, err)
	n := p.calls.Load()
	require.Equal(t, int64(1), n, "%d signings, want 1: the abandoned signing should have been reused", n)
}

func TestTokenInvalidate(t *testing.T) {
	clk := newFakeClock()
	p := &countingProvider{}
	c := newTestCache(t, p, WithTokenClock(clk.Now))
	src, _ := c.Source("127.0.0.1", 3306, "app")
	ctx := context.Background()
	a, _ := src.Credentials(ctx)
	src.Invalidate(Credential{Password: "some other token"}) // not cached: no-op
	b, _ := src.Credentials(ctx)
	require.Equal(t, b.Password, a.Password, "invalidating a different token dropped the cached one")
	require.Equal(t, int64(1), p.calls.Load(), "invalidating a different token dropped the cached one")
	src.Invalidate(a)
	clk.Advance(time.Second) // a different X-Amz-Date is not guaranteed: compare counts
	_, err := src.Credentials(ctx)
	require.NoError(t, err)
	n := p.calls.Load()
	require.Equal(t, int64(2), n, "%d signings, want 2 after Invalidate", n)
}

func TestTokenSigningFailure(t *testing.T) {
	bad := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no credentials in this test")
	})
	c := newTestCache(t, bad)
	src, _ := c.Source("127.0.0.1", 3306, "app")
	_, err := src.Credentials(context.Background())
	require.ErrorContains(t, err, "no credentials in this test", "err = %v", err)
	require.Contains(t, err.Error(), "signing an IAM token", "err = %v", err)
}

func TestTokenExpiresWithSigningCredentials(t *testing.T) {
	clk := newFakeClock()
	credExp := clk.Now().Add(7 * time.Minute)
	p := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey, SessionToken: "tok", CanExpire: true, Expires: credExp}, nil
	})
	c := newTestCache(t, p, WithTokenClock(clk.Now))
	src, _ := c.Source("127.0.0.1", 3306, "app")
	cred, err := src.Credentials(context.Background())
	require.NoError(t, err)
	require.True(t, cred.Expires.Equal(credExp), "Expires %v, want the AWS credentials' expiry %v", cred.Expires, credExp)
	require.Contains(t, cred.Password, "X-Amz-Security-Token=tok", "session token missing from the presigned token")
}

func TestTokenCacheClose(t *testing.T) {
	p := &countingProvider{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	c := newTestCache(t, p)
	src, _ := c.Source("127.0.0.1", 3306, "app")
	done := make(chan error, 1)
	go func() {
		_, err := src.Credentials(context.Background())
		done <- err
	}()
	<-p.entered
	c.Close()
	err := <-done
	require.ErrorIs(t, err, context.Canceled, "err = %v, want the signing cancelled by Close", err)
}

func BenchmarkTokenCached(b *testing.B) {
	c := newTestCache(b, credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""))
	src, _ := c.Source(testRDSHost, 3306, "app")
	ctx := context.Background()
	_, err := src.Credentials(ctx)
	require.NoError(b, err)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := src.Credentials(ctx); !assert.NoError(b, err) {
				return
			}
		}
	})
}

func BenchmarkTokenCachedSerial(b *testing.B) {
	c := newTestCache(b, credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""))
	src, _ := c.Source(testRDSHost, 3306, "app")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, err := src.Credentials(ctx)
		require.NoError(b, err)
	}
}

func BenchmarkTokenSign(b *testing.B) {
	c := newTestCache(b, credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""))
	src, _ := c.Source(testRDSHost, 3306, "app")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, err := c.sign(ctx, src)
		require.NoError(b, err)
	}
}

func TestTokenDefaultConfigChain(t *testing.T) {
	// The SDK's default chain, fed from the environment only (TestMain
	// disables IMDS and shared files).
	t.Setenv("AWS_REGION", "sa-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", testAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecretKey)
	c, err := NewTokenCache(context.Background())
	require.NoError(t, err)
	defer c.Close()
	src, err := c.Source("127.0.0.1", 3306, "app")
	require.NoError(t, err)
	require.Equal(t, "sa-east-1", src.Region(), "region %q", src.Region())
	cred, err := src.Credentials(context.Background())
	require.NoError(t, err)
	require.True(t, verifySigV4(t, cred.Password, "sa-east-1"), "token from the default chain does not verify")
}
