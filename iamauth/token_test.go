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
)

const testRDSHost = "mydb.cluster-c0ffee123456.eu-west-3.rds.amazonaws.com"

func newTestCache(t testing.TB, p aws.CredentialsProvider, opts ...TokenOption) *TokenCache {
	t.Helper()
	c, err := NewTokenCache(context.Background(), append([]TokenOption{WithAWSConfig(aws.Config{Region: "us-east-1", Credentials: p})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// verifySigV4 recomputes the presigned URL's signature from scratch
// (canonical request, string to sign, derived key) for region and reports
// whether it matches the token's.
func verifySigV4(t *testing.T, token, region string) bool {
	t.Helper()
	u, err := url.Parse("https://" + token)
	if err != nil {
		t.Fatalf("token is not a URL: %v", err)
	}
	q := u.Query()
	sig := q.Get("X-Amz-Signature")
	q.Del("X-Amz-Signature")
	amzDate := q.Get("X-Amz-Date")
	if len(amzDate) != 16 {
		t.Fatalf("X-Amz-Date %q", amzDate)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	if src.Region() != "eu-west-3" {
		t.Fatalf("region %q, want eu-west-3 from the host name", src.Region())
	}
	cred, err := src.Credentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cred.User != "iam_app" || !cred.Cleartext || cred.Expires.IsZero() {
		t.Fatalf("credential %v", cred)
	}
	u, err := url.Parse("https://" + cred.Password)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	checks := map[string]string{
		"Action":              "connect",
		"DBUser":              "iam_app",
		"X-Amz-Expires":       "900",
		"X-Amz-Algorithm":     "AWS4-HMAC-SHA256",
		"X-Amz-SignedHeaders": "host",
	}
	for k, want := range checks {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if u.Hostname() != testRDSHost || u.Port() != "3306" {
		t.Errorf("token host %q port %q", u.Hostname(), u.Port())
	}
	wantCred := testAccessKey + "/" + q.Get("X-Amz-Date")[:8] + "/eu-west-3/rds-db/aws4_request"
	if got := q.Get("X-Amz-Credential"); got != wantCred {
		t.Errorf("X-Amz-Credential %q, want %q", got, wantCred)
	}
	if !verifySigV4(t, cred.Password, "eu-west-3") {
		t.Error("signature does not verify for eu-west-3")
	}
	if verifySigV4(t, cred.Password, "us-east-1") {
		t.Error("signature verifies for the wrong region")
	}
}

func TestTokenRegionChoice(t *testing.T) {
	p := credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, "")
	// Explicit region wins over the host name.
	c := newTestCache(t, p, WithRegion("ap-south-1"))
	src, err := c.Source(testRDSHost, 3306, "u")
	if err != nil {
		t.Fatal(err)
	}
	if src.Region() != "ap-south-1" {
		t.Fatalf("region %q", src.Region())
	}
	cred, err := src.Credentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !verifySigV4(t, cred.Password, "ap-south-1") {
		t.Error("not signed for ap-south-1")
	}
	// A non-RDS host falls back to the config's region.
	c2 := newTestCache(t, p)
	src2, err := c2.Source("127.0.0.1", 3307, "u")
	if err != nil {
		t.Fatal(err)
	}
	if src2.Region() != "us-east-1" {
		t.Fatalf("region %q", src2.Region())
	}
	// No region anywhere: a clear error.
	c3, err := NewTokenCache(context.Background(), WithAWSConfig(aws.Config{Credentials: p}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c3.Source("db.internal", 3306, "u"); err == nil || !strings.Contains(err.Error(), "WithRegion") {
		t.Fatalf("err = %v", err)
	}
	if _, err := c3.Source("db.internal", 0, "u"); err == nil {
		t.Fatal("port 0 accepted")
	}
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
		if _, err := s.Credentials(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.calls.Load(); n != 4 {
		t.Fatalf("%d signings, want 4 (one per host/port/user)", n)
	}
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
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func allEqual(t *testing.T, creds []Credential, want Credential) {
	t.Helper()
	for i, c := range creds {
		if c.Password != want.Password || !c.Expires.Equal(want.Expires) {
			t.Fatalf("caller %d got a different token", i)
		}
	}
}

func TestTokenSingleFlightAndRefreshAhead(t *testing.T) {
	clk := newFakeClock()
	p := &countingProvider{}
	c := newTestCache(t, p, WithTokenClock(clk.Now))
	src, err := c.Source("127.0.0.1", 3306, "app")
	if err != nil {
		t.Fatal(err)
	}

	// Cold cache: 100 concurrent callers, exactly one signing.
	first := callConcurrently(t, src, 100)
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("%d signings for 100 cold callers, want 1", n)
	}
	allEqual(t, first, first[0])
	tok1 := first[0]

	// Still fresh: no signing.
	clk.Advance(TokenLifetime - DefaultRefreshAhead - time.Second)
	allEqual(t, callConcurrently(t, src, 100), tok1)
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("%d signings while fresh, want 1", n)
	}

	// Inside the refresh-ahead window: every caller gets the current token
	// at once while exactly one background signing runs (held at the gate
	// to prove nobody waits for it).
	p.gate = make(chan struct{})
	p.entered = make(chan struct{}, 10)
	clk.Advance(2 * time.Second)
	allEqual(t, callConcurrently(t, src, 100), tok1)
	<-p.entered // the background refresh started
	if n := p.calls.Load(); n != 2 {
		t.Fatalf("%d signings in the refresh window, want 2", n)
	}
	close(p.gate)
	for cur := src.entry.cred.Load(); cur.Expires.Equal(tok1.Expires); cur = src.entry.cred.Load() {
		time.Sleep(time.Millisecond) // wait for the background refresh to land
	}

	// Move close to the old token's expiry: callers now need the new one
	// and get the one the background refresh cached, no third signing.
	clk.Advance(DefaultRefreshAhead - DefaultMinValidity)
	second := callConcurrently(t, src, 100)
	if second[0].Expires.Equal(tok1.Expires) {
		t.Fatal("old token served below its minimum validity")
	}
	allEqual(t, second, second[0])
	if n := p.calls.Load(); n != 2 {
		t.Fatalf("%d signings, want 2", n)
	}

	// Expired: 100 callers wait for exactly one signing.
	clk.Advance(TokenLifetime)
	third := callConcurrently(t, src, 100)
	allEqual(t, third, third[0])
	if n := p.calls.Load(); n != 3 {
		t.Fatalf("%d signings after expiry, want 3", n)
	}
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
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(p.gate) // the detached signing completes and is cached
	if _, err := src.Credentials(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("%d signings, want 1: the abandoned signing should have been reused", n)
	}
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
	if a.Password != b.Password || p.calls.Load() != 1 {
		t.Fatal("invalidating a different token dropped the cached one")
	}
	src.Invalidate(a)
	clk.Advance(time.Second) // a different X-Amz-Date is not guaranteed: compare counts
	if _, err := src.Credentials(ctx); err != nil {
		t.Fatal(err)
	}
	if n := p.calls.Load(); n != 2 {
		t.Fatalf("%d signings, want 2 after Invalidate", n)
	}
}

func TestTokenSigningFailure(t *testing.T) {
	bad := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no credentials in this test")
	})
	c := newTestCache(t, bad)
	src, _ := c.Source("127.0.0.1", 3306, "app")
	_, err := src.Credentials(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no credentials in this test") || !strings.Contains(err.Error(), "signing an IAM token") {
		t.Fatalf("err = %v", err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	if !cred.Expires.Equal(credExp) {
		t.Fatalf("Expires %v, want the AWS credentials' expiry %v", cred.Expires, credExp)
	}
	if !strings.Contains(cred.Password, "X-Amz-Security-Token=tok") {
		t.Fatal("session token missing from the presigned token")
	}
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
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the signing cancelled by Close", err)
	}
}

func BenchmarkTokenCached(b *testing.B) {
	c := newTestCache(b, credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""))
	src, _ := c.Source(testRDSHost, 3306, "app")
	ctx := context.Background()
	if _, err := src.Credentials(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := src.Credentials(ctx); err != nil {
				b.Fatal(err)
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
		if _, err := src.Credentials(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenSign(b *testing.B) {
	c := newTestCache(b, credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""))
	src, _ := c.Source(testRDSHost, 3306, "app")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.sign(ctx, src); err != nil {
			b.Fatal(err)
		}
	}
}

func TestTokenDefaultConfigChain(t *testing.T) {
	// The SDK's default chain, fed from the environment only (TestMain
	// disables IMDS and shared files).
	t.Setenv("AWS_REGION", "sa-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", testAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecretKey)
	c, err := NewTokenCache(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	src, err := c.Source("127.0.0.1", 3306, "app")
	if err != nil {
		t.Fatal(err)
	}
	if src.Region() != "sa-east-1" {
		t.Fatalf("region %q", src.Region())
	}
	cred, err := src.Credentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !verifySigV4(t, cred.Password, "sa-east-1") {
		t.Fatal("token from the default chain does not verify")
	}
}
