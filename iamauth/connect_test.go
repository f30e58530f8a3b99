package iamauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errDenied = &mysql.MySQLError{Number: 1045, Message: "Access denied for user 'app'@'localhost' (using password: YES)"}

// rotatingProvider is a Provider whose credential a test can change, and
// which records invalidations.
type rotatingProvider struct {
	mu          sync.Mutex
	cred        Credential // guarded by mu
	err         error      // guarded by mu; returned instead of cred if set
	invalidated []string   // guarded by mu
}

func (p *rotatingProvider) Credentials(context.Context) (Credential, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cred, p.err
}

func (p *rotatingProvider) Invalidate(c Credential) {
	p.mu.Lock()
	p.invalidated = append(p.invalidated, c.Password)
	p.mu.Unlock()
}

func (p *rotatingProvider) set(pw string, err error) {
	p.mu.Lock()
	p.cred = Credential{User: "app", Password: pw, Source: "test"}
	p.err = err
	p.mu.Unlock()
}

// fakeAuth's dial accepts only its password, as the database would.
type fakeAuth struct {
	mu sync.Mutex
	pw string // guarded by mu
}

func (a *fakeAuth) dial(_ context.Context, c Credential) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c.Password != a.pw {
		return "", fmt.Errorf("handshake: %w", errDenied)
	}
	return "conn as " + c.Password, nil
}

var fastRetry = []ConnectOption{WithBackoff(time.Millisecond, 2*time.Millisecond)}

func TestConnectSucceedsFirstTime(t *testing.T) {
	p := &rotatingProvider{}
	p.set("pw", nil)
	a := &fakeAuth{pw: "pw"}
	var attempts []Attempt
	conn, err := Connect(context.Background(), p, a.dial, WithObserver(func(at Attempt) { attempts = append(attempts, at) }))
	require.NoError(t, err, "%q, %v", conn, err)
	require.Equal(t, "conn as pw", conn, "%q, %v", conn, err)
	require.Len(t, attempts, 1, "attempts %v", attempts)
	require.Equal(t, 1, attempts[0].N, "attempts %v", attempts)
	require.NoError(t, attempts[0].Err, "attempts %v", attempts)
	require.Equal(t, "pw", attempts[0].Credential.Password, "attempts %v", attempts)
}

func TestConnectRefetchesOnceAfterRejection(t *testing.T) {
	p := &rotatingProvider{}
	p.set("old", nil)
	a := &fakeAuth{pw: "new"}
	var once sync.Once
	dial := func(ctx context.Context, c Credential) (string, error) {
		conn, err := a.dial(ctx, c)
		once.Do(func() { p.set("new", nil) }) // the provider re-fetches the rotated secret
		return conn, err
	}
	conn, err := Connect(context.Background(), p, dial, fastRetry...)
	require.NoError(t, err, "%q, %v", conn, err)
	require.Equal(t, "conn as new", conn, "%q, %v", conn, err)
	require.Equal(t, "old", strings.Join(p.invalidated, ","), "invalidated %v", p.invalidated)
}

func TestConnectRetriesThroughRotationWindow(t *testing.T) {
	p := &rotatingProvider{}
	p.set("old", nil)
	a := &fakeAuth{pw: "new"} // the database changed first
	var used []string
	dial := func(ctx context.Context, c Credential) (string, error) {
		used = append(used, c.Password)
		if len(used) == 3 {
			p.set("", ErrRotationPending) // the provider knows nothing works
		}
		return a.dial(ctx, c)
	}
	pending := 0
	wrapped := &countingCreds{Provider: p, after: func(_ int, err error) {
		if errors.Is(err, ErrRotationPending) {
			pending++
			if pending == 3 {
				p.set("new", nil) // the secret caught up
			}
		}
	}}
	conn, err := Connect(context.Background(), wrapped, dial, fastRetry...)
	require.NoError(t, err, "%q, %v", conn, err)
	require.Equal(t, "conn as new", conn, "%q, %v", conn, err)
	require.Equal(t, 3, pending, "%d pending results, dials with %v", pending, used)
	require.Equal(t, "old,old,old,new", strings.Join(used, ","), "%d pending results, dials with %v", pending, used)
}

// countingCreds wraps a Provider and reports every result.
type countingCreds struct {
	Provider
	n     int
	after func(n int, err error)
}

func (c *countingCreds) Credentials(ctx context.Context) (Credential, error) {
	cred, err := c.Provider.Credentials(ctx)
	c.n++
	c.after(c.n, err)
	return cred, err
}

func (c *countingCreds) Invalidate(cred Credential) { c.Provider.(Invalidator).Invalidate(cred) }

func TestConnectGivesUpAfterWindow(t *testing.T) {
	p := &rotatingProvider{}
	p.set("wrong", nil)
	a := &fakeAuth{pw: "right"}
	n := 0
	_, err := Connect(context.Background(), p, func(ctx context.Context, c Credential) (string, error) {
		n++
		return a.dial(ctx, c)
	}, WithRetryWindow(20*time.Millisecond), WithBackoff(time.Millisecond, 2*time.Millisecond))
	require.Error(t, err, "err = %v", err)
	require.True(t, IsAccessDenied(err), "err = %v", err)
	require.Contains(t, err.Error(), "gave up", "err = %v", err)
	require.GreaterOrEqual(t, n, 2, "%d dials, want at least 2", n)
}

func TestConnectStaticIsNotRetried(t *testing.T) {
	a := &fakeAuth{pw: "right"}
	n := 0
	_, err := Connect(context.Background(), Static{User: "app", Password: "wrong"}, func(ctx context.Context, c Credential) (string, error) {
		n++
		return a.dial(ctx, c)
	})
	require.Equal(t, 1, n, "%d dials, err = %v", n, err)
	require.True(t, IsAccessDenied(err), "%d dials, err = %v", n, err)
	require.Contains(t, err.Error(), "cannot be refreshed", "%d dials, err = %v", n, err)
	require.NotContains(t, err.Error(), "wrong", "error leaks the password: %v", err)
}

func TestConnectOtherErrorsAreReturnedAsIs(t *testing.T) {
	p := &rotatingProvider{}
	p.set("pw", nil)
	boom := errors.New("connection refused")
	n := 0
	_, err := Connect(context.Background(), p, func(context.Context, Credential) (int, error) { n++; return 0, boom })
	require.ErrorIs(t, err, boom, "%d dials, err = %v", n, err)
	require.Equal(t, 1, n, "%d dials, err = %v", n, err)
	require.Len(t, p.invalidated, 0, "%d dials, err = %v", n, err)
	// A non-retryable provider error is returned at once.
	p.set("", errors.New("secret not found"))
	_, err = Connect(context.Background(), p, func(context.Context, Credential) (int, error) { t.Fatal("dialed"); return 0, nil })
	require.Error(t, err, "err = %v", err)
	require.Equal(t, "secret not found", err.Error(), "err = %v", err)
}

func TestConnectHonoursContext(t *testing.T) {
	p := &rotatingProvider{}
	p.set("", ErrRotationPending)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	wrapped := &countingCreds{Provider: p, after: func(n int, error error) {
		calls = n
		if n == 3 {
			cancel()
		}
	}}
	_, err := Connect(ctx, wrapped, func(context.Context, Credential) (int, error) { return 0, nil }, WithBackoff(time.Millisecond, time.Millisecond))
	require.ErrorIs(t, err, context.Canceled, "err = %v, want both the cancellation and the last error", err)
	require.ErrorIs(t, err, ErrRotationPending, "err = %v, want both the cancellation and the last error", err)
	require.Equal(t, 3, calls, "%d calls", calls)
}

func TestIsAccessDenied(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errDenied, true},
		{fmt.Errorf("dial: %w", errDenied), true},
		{&mysql.MySQLError{Number: 1044}, false},
		{fmt.Errorf("proxy backend: %w", ErrAccessDenied), true},
		{mysql.ErrInvalidConn, false},
	} {
		got := IsAccessDenied(tc.err)
		assert.Equal(t, tc.want, got, "IsAccessDenied(%v) = %v", tc.err, got)
	}
}

func BenchmarkConnectOverhead(b *testing.B) {
	ctx := context.Background()
	p := Static{User: "app", Password: "pw"}
	dial := func(context.Context, Credential) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		_, err := Connect(ctx, p, dial)
		require.NoError(b, err)
	}
}
