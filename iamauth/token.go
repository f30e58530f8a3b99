package iamauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"golang.org/x/sync/singleflight"
)

// Token timing defaults.
const (
	// TokenLifetime is how long RDS accepts an IAM authentication token
	// after it is signed.
	TokenLifetime = 15 * time.Minute
	// DefaultRefreshAhead is how long before expiry a cached token is
	// refreshed in the background while callers keep using it.
	DefaultRefreshAhead = 5 * time.Minute
	// DefaultMinValidity is the least remaining lifetime a token must have
	// to be handed out; below it callers wait for a fresh token.
	DefaultMinValidity = 1 * time.Minute
	// DefaultRefreshTimeout bounds one signing (credential retrieval
	// included).
	DefaultRefreshTimeout = 10 * time.Second
	// refreshRetryInterval spaces background refreshes after a failed one.
	refreshRetryInterval = 5 * time.Second
)

// TokenOption configures a TokenCache (and NewTokenSource).
type TokenOption func(*tokenOptions)

type tokenOptions struct {
	creds          aws.CredentialsProvider
	region         string
	cfgRegion      string
	haveCfg        bool
	refreshAhead   time.Duration
	minValidity    time.Duration
	refreshTimeout time.Duration
	now            func() time.Time
}

// WithCredentialsProvider signs tokens with p instead of the credentials from
// the SDK's default configuration chain. Wrap slow providers in
// aws.NewCredentialsCache. With it (and without WithAWSConfig) no default
// configuration is loaded, so the region must come from WithRegion or an RDS
// host name.
func WithCredentialsProvider(p aws.CredentialsProvider) TokenOption {
	return func(o *tokenOptions) { o.creds = p }
}

// WithAWSConfig takes credentials and the fallback region from cfg instead of
// loading the SDK's default configuration.
func WithAWSConfig(cfg aws.Config) TokenOption {
	return func(o *tokenOptions) {
		o.haveCfg = true
		o.cfgRegion = cfg.Region
		if o.creds == nil {
			o.creds = cfg.Credentials
		}
	}
}

// WithRegion signs for region regardless of the host name. Without it the
// region is parsed from an RDS host name (RegionFromHost), else taken from
// the AWS configuration.
func WithRegion(region string) TokenOption {
	return func(o *tokenOptions) { o.region = region }
}

// WithRefreshAhead sets how long before expiry a token is re-signed in the
// background (default DefaultRefreshAhead).
func WithRefreshAhead(d time.Duration) TokenOption {
	return func(o *tokenOptions) { o.refreshAhead = d }
}

// WithRefreshTimeout bounds one signing, which runs detached from any
// caller's context (default DefaultRefreshTimeout).
func WithRefreshTimeout(d time.Duration) TokenOption {
	return func(o *tokenOptions) { o.refreshTimeout = d }
}

// WithTokenClock replaces time.Now, so tests can move time.
func WithTokenClock(now func() time.Time) TokenOption {
	return func(o *tokenOptions) { o.now = now }
}

// TokenCache signs RDS IAM authentication tokens and caches them per (host,
// port, region, user). A cached token is handed out until DefaultRefreshAhead
// (configurable) before it expires; from then on callers still get it at once
// while one background signing replaces it; only when it is about to expire
// do callers wait. Concurrent callers share one signing (singleflight), each
// waiting on its own context, the signing itself running on a context of its
// own with a timeout. A TokenCache is safe for concurrent use; share one per
// process so that every connection to the same endpoint reuses the token.
type TokenCache struct {
	creds          aws.CredentialsProvider
	region         string // explicit WithRegion, overrides host parsing
	cfgRegion      string // fallback from the AWS config
	refreshAhead   time.Duration
	minValidity    time.Duration
	refreshTimeout time.Duration
	now            func() time.Time

	// baseCtx parents every signing; Close cancels it.
	baseCtx context.Context
	cancel  context.CancelFunc

	group singleflight.Group

	mu      sync.Mutex
	entries map[tokenKey]*tokenEntry // guarded by mu
}

type tokenKey struct {
	host   string
	port   int
	region string
	user   string
}

// tokenEntry is the cached state of one key, shared by every TokenSource for
// that key.
type tokenEntry struct {
	// cred is the cached token, nil when none; read without locking on the
	// fast path, written under TokenCache.mu.
	cred atomic.Pointer[Credential]

	refreshing  bool      // guarded by TokenCache.mu; a background refresh is in flight
	lastFailure time.Time // guarded by TokenCache.mu; when the last signing failed
}

// NewTokenCache returns a TokenCache. Without WithCredentialsProvider or
// WithAWSConfig it loads the SDK's default configuration (environment,
// shared files, SSO, container or instance role) for credentials and the
// fallback region; loading does no network I/O, credentials are resolved at
// the first signing.
func NewTokenCache(ctx context.Context, opts ...TokenOption) (*TokenCache, error) {
	o := tokenOptions{
		refreshAhead:   DefaultRefreshAhead,
		minValidity:    DefaultMinValidity,
		refreshTimeout: DefaultRefreshTimeout,
		now:            time.Now,
	}
	for _, fn := range opts {
		fn(&o)
	}
	if o.creds == nil {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("iamauth: loading the default AWS configuration (pass WithCredentialsProvider or WithAWSConfig to avoid it): %w", err)
		}
		if o.creds == nil {
			o.creds = cfg.Credentials
		}
		if o.cfgRegion == "" {
			o.cfgRegion = cfg.Region
		}
	}
	if o.creds == nil {
		return nil, errors.New("iamauth: no AWS credentials provider; pass WithCredentialsProvider or configure the default chain")
	}
	if o.refreshAhead < 0 || o.refreshAhead >= TokenLifetime {
		return nil, fmt.Errorf("iamauth: refresh-ahead %v must be between 0 and the token lifetime %v", o.refreshAhead, TokenLifetime)
	}
	o.minValidity = min(o.minValidity, o.refreshAhead)
	if o.refreshTimeout <= 0 {
		o.refreshTimeout = DefaultRefreshTimeout
	}
	base, cancel := context.WithCancel(context.Background())
	return &TokenCache{
		creds:          o.creds,
		region:         o.region,
		cfgRegion:      o.cfgRegion,
		refreshAhead:   o.refreshAhead,
		minValidity:    o.minValidity,
		refreshTimeout: o.refreshTimeout,
		now:            o.now,
		baseCtx:        base,
		cancel:         cancel,
		entries:        make(map[tokenKey]*tokenEntry),
	}, nil
}

// Close cancels signings in flight and makes later ones fail. Cached tokens
// are dropped.
func (c *TokenCache) Close() error {
	c.cancel()
	c.mu.Lock()
	for _, e := range c.entries {
		e.cred.Store(nil)
	}
	c.mu.Unlock()
	return nil
}

// Source returns the Provider for user at host:port. The signing region is
// WithRegion's, else the one in an RDS host name, else the AWS config's.
func (c *TokenCache) Source(host string, port int, user string) (*TokenSource, error) {
	if host == "" || port <= 0 || port > 65535 || user == "" {
		return nil, fmt.Errorf("iamauth: token source needs a host, a port in 1..65535 and a user (got %q, %d, %q)", host, port, user)
	}
	region := c.region
	if region == "" {
		region, _ = RegionFromHost(host)
	}
	if region == "" {
		region = c.cfgRegion
	}
	if region == "" {
		return nil, fmt.Errorf("iamauth: no AWS region for %s: it is not an RDS host name; pass WithRegion or set AWS_REGION", host)
	}
	k := tokenKey{host: host, port: port, region: region, user: user}
	c.mu.Lock()
	e := c.entries[k]
	if e == nil {
		e = &tokenEntry{}
		c.entries[k] = e
	}
	c.mu.Unlock()
	return &TokenSource{
		cache:    c,
		entry:    e,
		key:      k,
		endpoint: net.JoinHostPort(host, strconv.Itoa(port)),
		flight:   k.host + "\x00" + strconv.Itoa(k.port) + "\x00" + k.region + "\x00" + k.user,
		source:   "iam:" + net.JoinHostPort(host, strconv.Itoa(port)) + "/" + region,
	}, nil
}

// TokenSource is the Provider of IAM authentication tokens for one user at
// one endpoint, backed by a TokenCache. Its credentials are Cleartext: the
// go-sql-driver wiring only sends them over verified TLS.
type TokenSource struct {
	cache    *TokenCache
	entry    *tokenEntry // this key's entry in cache.entries
	key      tokenKey
	endpoint string // host:port as signed
	flight   string // singleflight key
	source   string // Credential.Source
}

var (
	_ Provider    = (*TokenSource)(nil)
	_ Invalidator = (*TokenSource)(nil)
)

// NewTokenSource is NewTokenCache followed by Source, for a program that
// connects to one endpoint.
func NewTokenSource(ctx context.Context, host string, port int, user string, opts ...TokenOption) (*TokenSource, error) {
	c, err := NewTokenCache(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return c.Source(host, port, user)
}

// Region returns the region tokens are signed for.
func (s *TokenSource) Region() string { return s.key.region }

// Credentials returns a token valid for at least the cache's minimum
// validity, signing one if needed.
func (s *TokenSource) Credentials(ctx context.Context) (Credential, error) {
	return s.cache.token(ctx, s)
}

// Invalidate drops the cached token if it is c, so that the next call signs
// a new one.
func (s *TokenSource) Invalidate(c Credential) {
	s.cache.mu.Lock()
	if cur := s.entry.cred.Load(); cur != nil && cur.Password == c.Password {
		s.entry.cred.Store(nil)
	}
	s.cache.mu.Unlock()
}

func (c *TokenCache) token(ctx context.Context, s *TokenSource) (Credential, error) {
	now := c.now()
	e := s.entry
	if cur := e.cred.Load(); cur != nil {
		if now.Before(cur.Expires.Add(-c.refreshAhead)) {
			return *cur, nil // fresh: the fast path, no lock
		}
		if now.Before(cur.Expires.Add(-c.minValidity)) {
			c.mu.Lock()
			start := !e.refreshing && now.Sub(e.lastFailure) >= refreshRetryInterval
			if start {
				e.refreshing = true
			}
			c.mu.Unlock()
			if start {
				// Nobody waits on this channel: it is buffered, the
				// result lands in the cache.
				c.group.DoChan(s.flight, func() (any, error) { return c.refresh(s) })
			}
			return *cur, nil
		}
	}
	c.mu.Lock()
	e.refreshing = true
	c.mu.Unlock()

	ch := c.group.DoChan(s.flight, func() (any, error) { return c.refresh(s) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return Credential{}, r.Err
		}
		return r.Val.(Credential), nil
	case <-ctx.Done():
		return Credential{}, fmt.Errorf("iamauth: waiting for an IAM token for %s: %w", s.source, context.Cause(ctx))
	}
}

// refresh signs a new token for s on the cache's own context and stores it.
// It runs in the singleflight goroutine.
func (c *TokenCache) refresh(s *TokenSource) (Credential, error) {
	// A caller that saw a stale token may start a flight just after another
	// flight stored a fresh one: use that instead of signing again.
	if cur := s.entry.cred.Load(); cur != nil && c.now().Before(cur.Expires.Add(-c.refreshAhead)) {
		c.mu.Lock()
		s.entry.refreshing = false
		c.mu.Unlock()
		return *cur, nil
	}
	ctx, cancel := context.WithTimeout(c.baseCtx, c.refreshTimeout)
	defer cancel()
	cred, err := c.sign(ctx, s)

	c.mu.Lock()
	defer c.mu.Unlock()
	e := s.entry
	e.refreshing = false
	if err != nil {
		e.lastFailure = c.now()
		return Credential{}, err
	}
	if c.baseCtx.Err() == nil { // not closed
		e.cred.Store(&cred)
	}
	return cred, nil
}

// sign builds one token.
func (c *TokenCache) sign(ctx context.Context, s *TokenSource) (Credential, error) {
	cp := &capturingProvider{p: c.creds}
	signedAt := c.now()
	tok, err := auth.BuildAuthToken(ctx, s.endpoint, s.key.region, s.key.user, cp)
	if err != nil {
		return Credential{}, fmt.Errorf("iamauth: signing an IAM token for %s as %q: %w", s.source, s.key.user, err)
	}
	exp := signedAt.Add(TokenLifetime)
	if cp.got.CanExpire && !cp.got.Expires.IsZero() && cp.got.Expires.Before(exp) {
		// The token dies with the credentials that signed it.
		exp = cp.got.Expires
	}
	return Credential{User: s.key.user, Password: tok, Expires: exp, Source: s.source, Cleartext: true}, nil
}

// capturingProvider remembers the AWS credentials BuildAuthToken retrieved,
// to learn when they expire. Used by one signing only.
type capturingProvider struct {
	p   aws.CredentialsProvider
	got aws.Credentials
}

func (c *capturingProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	v, err := c.p.Retrieve(ctx)
	c.got = v
	return v, err
}
