package iamauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/singleflight"
)

// Secrets Manager defaults.
const (
	// DefaultSecretMaxAge is how long a fetched secret is used before it is
	// fetched again.
	DefaultSecretMaxAge = 5 * time.Minute
	// DefaultSecretFetchTimeout bounds one fetch (both version stages).
	DefaultSecretFetchTimeout = 10 * time.Second
	// DefaultRejectionMemory is how long a password the server rejected is
	// skipped in favour of another version of the secret.
	DefaultRejectionMemory = 2 * time.Minute
	// staleRetryInterval spaces fetches while a stale secret is served
	// because Secrets Manager is failing.
	staleRetryInterval = time.Second
)

// Version stages of a secret during rotation.
const (
	StageCurrent = "AWSCURRENT"
	StagePending = "AWSPENDING"
)

// SecretsManagerAPI is the part of *secretsmanager.Client the source uses.
type SecretsManagerAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ SecretsManagerAPI = (*secretsmanager.Client)(nil)

// SecretOption configures a SecretsManagerSource.
type SecretOption func(*SecretsManagerSource)

// WithSecretKeys sets the JSON keys of the secret (default DefaultSecretKeys).
func WithSecretKeys(k SecretKeys) SecretOption {
	return func(s *SecretsManagerSource) { s.keys = k.withDefaults() }
}

// WithSecretMaxAge sets how long a fetched secret is reused (default
// DefaultSecretMaxAge).
func WithSecretMaxAge(d time.Duration) SecretOption {
	return func(s *SecretsManagerSource) { s.maxAge = d }
}

// WithSecretFetchTimeout bounds one fetch, which runs detached from the
// caller's context (default DefaultSecretFetchTimeout).
func WithSecretFetchTimeout(d time.Duration) SecretOption {
	return func(s *SecretsManagerSource) { s.fetchTimeout = d }
}

// WithRejectionMemory sets how long a password the server rejected is
// skipped (default DefaultRejectionMemory).
func WithRejectionMemory(d time.Duration) SecretOption {
	return func(s *SecretsManagerSource) { s.rejectMemory = d }
}

// WithSecretClock replaces time.Now, so tests can move time.
func WithSecretClock(now func() time.Time) SecretOption {
	return func(s *SecretsManagerSource) { s.now = now }
}

// SecretsManagerSource provides the credentials stored in an AWS Secrets
// Manager secret (the JSON RDS and the rotation functions write). The secret
// is cached for a maximum age and fetched by one caller at a time, on a
// context of its own, each caller waiting on its own context.
//
// Rotation: when the server rejects a credential (Connect calls Invalidate),
// that password is remembered as rejected and the secret fetched again. If
// AWSCURRENT still holds the rejected password, which is the case between
// the rotation function changing the database and moving the AWSCURRENT
// label, the AWSPENDING version is used instead. If neither works, Credentials
// returns ErrRotationPending, which Connect retries with backoff for its
// window. If Secrets Manager fails (throttling, an outage) while a secret is
// cached, the cached one keeps being served.
type SecretsManagerSource struct {
	client       SecretsManagerAPI
	secretID     string
	keys         SecretKeys
	maxAge       time.Duration
	fetchTimeout time.Duration
	rejectMemory time.Duration
	now          func() time.Time

	group singleflight.Group

	mu          sync.Mutex
	cached      Credential                      // guarded by mu; zero Password: none
	fetchedAt   time.Time                       // guarded by mu
	lastFailure time.Time                       // guarded by mu; last failed fetch
	rejected    map[[sha256.Size]byte]time.Time // guarded by mu; hash of user+password -> when rejected
}

var (
	_ Provider    = (*SecretsManagerSource)(nil)
	_ Invalidator = (*SecretsManagerSource)(nil)
)

// NewSecretsManagerSource returns a source reading secretID (a name or ARN)
// through client, typically secretsmanager.NewFromConfig(cfg).
func NewSecretsManagerSource(client SecretsManagerAPI, secretID string, opts ...SecretOption) (*SecretsManagerSource, error) {
	if client == nil || secretID == "" {
		return nil, errors.New("iamauth: a Secrets Manager client and a secret id are required")
	}
	s := &SecretsManagerSource{
		client:       client,
		secretID:     secretID,
		keys:         DefaultSecretKeys,
		maxAge:       DefaultSecretMaxAge,
		fetchTimeout: DefaultSecretFetchTimeout,
		rejectMemory: DefaultRejectionMemory,
		now:          time.Now,
		rejected:     make(map[[sha256.Size]byte]time.Time),
	}
	for _, fn := range opts {
		fn(s)
	}
	if s.fetchTimeout <= 0 {
		s.fetchTimeout = DefaultSecretFetchTimeout
	}
	return s, nil
}

// Credentials returns the cached secret, fetching it when it is older than
// the maximum age or was rejected.
func (s *SecretsManagerSource) Credentials(ctx context.Context) (Credential, error) {
	now := s.now()
	s.mu.Lock()
	if s.cached.Password != "" && now.Sub(s.fetchedAt) < s.maxAge {
		c := s.cached
		s.mu.Unlock()
		return c, nil
	}
	if s.cached.Password != "" && now.Sub(s.lastFailure) < staleRetryInterval {
		// Secrets Manager failed a moment ago: serve stale, don't hammer.
		c := s.cached
		s.mu.Unlock()
		return c, nil
	}
	s.mu.Unlock()

	ch := s.group.DoChan("fetch", s.fetch)
	select {
	case r := <-ch:
		if r.Err != nil {
			return Credential{}, r.Err
		}
		return r.Val.(Credential), nil
	case <-ctx.Done():
		return Credential{}, fmt.Errorf("iamauth: waiting for secret %s: %w", s.secretID, context.Cause(ctx))
	}
}

// Invalidate records that the server rejected c and drops it from the cache
// if it is the cached credential.
func (s *SecretsManagerSource) Invalidate(c Credential) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected[credHash(c)] = now
	if s.cached.same(c) {
		s.cached = Credential{}
	}
}

// fetch runs in the singleflight goroutine on its own context.
func (s *SecretsManagerSource) fetch() (any, error) {
	// A caller that saw an expired cache may start a flight just after
	// another flight refreshed it: use that instead of fetching again.
	s.mu.Lock()
	if s.cached.Password != "" && s.now().Sub(s.fetchedAt) < s.maxAge {
		c := s.cached
		s.mu.Unlock()
		return c, nil
	}
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), s.fetchTimeout)
	defer cancel()

	cur, err := s.getStage(ctx, StageCurrent)
	if err != nil {
		return s.failed(err)
	}
	if !s.isRejected(cur) {
		return s.store(cur), nil
	}
	pend, perr := s.getStage(ctx, StagePending)
	if perr == nil && !s.isRejected(pend) {
		return s.store(pend), nil
	}
	var ae smithy.APIError
	if perr != nil && !(errors.As(perr, &ae) && ae.ErrorCode() == "ResourceNotFoundException") {
		// Not "no pending version": a real failure to look.
		return nil, fmt.Errorf("%w; secret %s: %w", ErrRotationPending, s.secretID, perr)
	}
	return nil, fmt.Errorf("%w: secret %s: the server rejects the %s password and there is no usable %s version; waiting for the database and the secret to agree", ErrRotationPending, s.secretID, StageCurrent, StagePending)
}

// failed handles a failed fetch of AWSCURRENT: serve the cached credential
// if there is a usable one, else report the error.
func (s *SecretsManagerSource) failed(err error) (any, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastFailure = now
	if s.cached.Password != "" && !s.isRejectedLocked(s.cached, now) {
		return s.cached, nil
	}
	return nil, err
}

func (s *SecretsManagerSource) store(c Credential) Credential {
	now := s.now()
	s.mu.Lock()
	s.cached = c
	s.fetchedAt = now
	s.mu.Unlock()
	return c
}

func (s *SecretsManagerSource) isRejected(c Credential) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isRejectedLocked(c, s.now())
}

// isRejectedLocked reports whether c was rejected within the rejection
// memory, pruning old entries.
func (s *SecretsManagerSource) isRejectedLocked(c Credential, now time.Time) bool {
	for h, at := range s.rejected {
		if now.Sub(at) >= s.rejectMemory {
			delete(s.rejected, h)
		}
	}
	_, ok := s.rejected[credHash(c)]
	return ok
}

// getStage fetches and parses one version stage of the secret.
func (s *SecretsManagerSource) getStage(ctx context.Context, stage string) (Credential, error) {
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:     aws.String(s.secretID),
		VersionStage: aws.String(stage),
	})
	if err != nil {
		err = fmt.Errorf("iamauth: fetching secret %s (%s): %w", s.secretID, stage, err)
		if retryableAWSError(err) {
			return Credential{}, &retryableError{err}
		}
		return Credential{}, err
	}
	var data []byte
	switch {
	case out.SecretString != nil:
		data = []byte(*out.SecretString)
	case out.SecretBinary != nil:
		data = out.SecretBinary
	default:
		return Credential{}, fmt.Errorf("iamauth: secret %s (%s) has no value", s.secretID, stage)
	}
	c, err := ParseSecret(data, s.keys)
	if err != nil {
		return Credential{}, fmt.Errorf("secret %s (%s): %w", s.secretID, stage, err)
	}
	c.Source = "secretsmanager:" + s.secretID + "@" + stage
	return c, nil
}

// retryableAWSError reports whether a Secrets Manager failure may go away
// by itself: throttling, a server-side fault, a timeout or a transport
// error. Not-found, access-denied and decryption failures are not.
func retryableAWSError(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded",
			"InternalServiceError", "InternalFailure", "ServiceUnavailable", "RequestTimeout":
			return true
		}
		return ae.ErrorFault() == smithy.FaultServer
	}
	return !errors.Is(err, context.Canceled)
}

// credHash identifies a credential without keeping its password.
func credHash(c Credential) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(c.User))
	h.Write([]byte{0})
	h.Write([]byte(c.Password))
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}
