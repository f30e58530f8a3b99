package iamauth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestSecretSource(t *testing.T, f *fakeSM, opts ...SecretOption) *SecretsManagerSource {
	t.Helper()
	s, err := NewSecretsManagerSource(f.client(), "prod/app/db", opts...)
	require.NoError(t, err)
	return s
}

func TestSecretsManagerFetchAndCache(t *testing.T) {
	f := newFakeSM(t)
	f.set(StageCurrent, secretJSON("app", "pw-1"))
	clk := newFakeClock()
	s := newTestSecretSource(t, f, WithSecretClock(clk.Now), WithSecretMaxAge(time.Minute))
	ctx := context.Background()

	c, err := s.Credentials(ctx)
	require.NoError(t, err)
	want := Credential{User: "app", Password: "pw-1", Source: "secretsmanager:prod/app/db@AWSCURRENT", Host: "127.0.0.1", Port: 3306, DBName: "test"}
	require.Equal(t, want, c, "got %v, want %v", c, want)
	for range 10 {
		_, err := s.Credentials(ctx)
		require.NoError(t, err)
	}
	n := f.requests.Load()
	require.Equal(t, int64(1), n, "%d requests, want 1 (cached)", n)
	f.set(StageCurrent, secretJSON("app", "pw-2"))
	clk.Advance(time.Minute)
	c, err = s.Credentials(ctx)
	require.NoError(t, err, "after max age: %v, %v", c, err)
	require.Equal(t, "pw-2", c.Password, "after max age: %v, %v", c, err)
	n = f.requests.Load()
	require.Equal(t, int64(2), n, "%d requests, want 2", n)
}

func TestSecretsManagerSingleFlight(t *testing.T) {
	f := newFakeSM(t)
	f.set(StageCurrent, secretJSON("app", "pw-1"))
	f.gate = make(chan struct{})
	s := newTestSecretSource(t, f)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			c, err := s.Credentials(context.Background())
			if err == nil && c.Password != "pw-1" {
				err = errors.New("wrong password")
			}
			errs <- err
		})
	}
	// Let the callers pile up on the single fetch, then release it.
	for f.requests.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	f.mu.Lock()
	close(f.gate)
	f.gate = nil
	f.mu.Unlock()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	n := f.requests.Load()
	require.Equal(t, int64(1), n, "%d requests for 100 concurrent callers, want 1", n)
}

func TestSecretsManagerCustomKeys(t *testing.T) {
	f := newFakeSM(t)
	f.set(StageCurrent, `{"user":"svc","pass":"p@ss:w0rd","endpoint":"db.local","dbPort":"3307","schema":"shop"}`)
	s := newTestSecretSource(t, f, WithSecretKeys(SecretKeys{User: "user", Password: "pass", Host: "endpoint", Port: "dbPort", DBName: "schema"}))
	c, err := s.Credentials(context.Background())
	require.NoError(t, err)
	require.Equal(t, "svc", c.User, "got %v", c)
	require.Equal(t, "p@ss:w0rd", c.Password, "got %v", c)
	require.Equal(t, "db.local", c.Host, "got %v", c)
	require.Equal(t, 3307, c.Port, "got %v", c)
	require.Equal(t, "shop", c.DBName, "got %v", c)
}

func TestSecretsManagerErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("not found", func(t *testing.T) {
		f := newFakeSM(t)
		s := newTestSecretSource(t, f)
		_, err := s.Credentials(ctx)
		require.ErrorContains(t, err, "ResourceNotFoundException", "err = %v", err)
		require.Contains(t, err.Error(), "prod/app/db", "err = %v", err)
		require.False(t, isRetryable(err), "a missing secret is not worth retrying")
	})
	t.Run("access denied", func(t *testing.T) {
		f := newFakeSM(t)
		f.setFail("AccessDeniedException")
		s := newTestSecretSource(t, f)
		_, err := s.Credentials(ctx)
		require.ErrorContains(t, err, "AccessDeniedException", "err = %v", err)
		require.False(t, isRetryable(err), "err = %v", err)
		n := f.requests.Load()
		require.Equal(t, int64(1), n, "%d requests: a client error must not be retried by the SDK", n)
	})
	t.Run("malformed secret", func(t *testing.T) {
		f := newFakeSM(t)
		f.set(StageCurrent, `{"username":"app","password":"hunter2-secret",}`)
		s := newTestSecretSource(t, f)
		_, err := s.Credentials(ctx)
		require.Error(t, err, "err = %v", err)
		require.ErrorIs(t, err, errBadSecret, "err = %v", err)
		require.NotContains(t, err.Error(), "hunter2", "error leaks the secret: %v", err)
	})
	t.Run("server error is retryable", func(t *testing.T) {
		f := newFakeSM(t)
		f.setFail("InternalServiceError")
		s := newTestSecretSource(t, f)
		_, err := s.Credentials(ctx)
		require.Error(t, err, "err = %v, want retryable", err)
		require.True(t, isRetryable(err), "err = %v, want retryable", err)
		n := f.requests.Load()
		require.Equal(t, int64(3), n, "%d requests, want 3 (the SDK's retries)", n)
	})
}

func TestSecretsManagerThrottling(t *testing.T) {
	ctx := context.Background()
	t.Run("SDK retries through brief throttling", func(t *testing.T) {
		f := newFakeSM(t)
		f.set(StageCurrent, secretJSON("app", "pw-1"))
		f.setThrottle(2)
		s := newTestSecretSource(t, f)
		c, err := s.Credentials(ctx)
		require.NoError(t, err, "%v, %v", c, err)
		require.Equal(t, "pw-1", c.Password, "%v, %v", c, err)
		n := f.requests.Load()
		require.Equal(t, int64(3), n, "%d requests, want 3", n)
	})
	t.Run("persistent throttling without a cached secret", func(t *testing.T) {
		f := newFakeSM(t)
		f.set(StageCurrent, secretJSON("app", "pw-1"))
		f.setThrottle(1000)
		s := newTestSecretSource(t, f)
		_, err := s.Credentials(ctx)
		require.ErrorContains(t, err, "ThrottlingException", "err = %v, want a retryable throttling error", err)
		require.True(t, isRetryable(err), "err = %v, want a retryable throttling error", err)
	})
	t.Run("persistent throttling serves the cached secret", func(t *testing.T) {
		f := newFakeSM(t)
		f.set(StageCurrent, secretJSON("app", "pw-1"))
		clk := newFakeClock()
		s := newTestSecretSource(t, f, WithSecretClock(clk.Now), WithSecretMaxAge(time.Minute))
		_, err := s.Credentials(ctx)
		require.NoError(t, err)
		f.setThrottle(1000)
		clk.Advance(2 * time.Minute)
		for range 5 {
			c, err := s.Credentials(ctx)
			require.NoError(t, err, "%v, %v: want the stale secret while throttled", c, err)
			require.Equal(t, "pw-1", c.Password, "%v, %v: want the stale secret while throttled", c, err)
		}
		n := f.requests.Load()
		require.Equal(t, int64(1+3), n, "%d requests, want 4: one fetch (3 attempts) then back off for %v", n, staleRetryInterval)
		f.setThrottle(0)
		f.set(StageCurrent, secretJSON("app", "pw-2"))
		clk.Advance(staleRetryInterval)
		c, err := s.Credentials(ctx)
		require.NoError(t, err, "%v, %v: want the new secret once throttling stops", c, err)
		require.Equal(t, "pw-2", c.Password, "%v, %v: want the new secret once throttling stops", c, err)
	})
}

func TestSecretsManagerRotationFallsBackToPending(t *testing.T) {
	ctx := context.Background()
	f := newFakeSM(t)
	f.set(StageCurrent, secretJSON("app", "old"))
	s := newTestSecretSource(t, f)
	old, err := s.Credentials(ctx)
	require.NoError(t, err)
	// Rotation: createSecret stores AWSPENDING, setSecret changes the
	// database; the server now rejects "old".
	f.set(StagePending, secretJSON("app", "new"))
	s.Invalidate(old)
	c, err := s.Credentials(ctx)
	require.NoError(t, err, "%v, %v: want AWSPENDING's credential", c, err)
	require.Equal(t, "new", c.Password, "%v, %v: want AWSPENDING's credential", c, err)
	require.Equal(t, "secretsmanager:prod/app/db@AWSPENDING", c.Source, "%v, %v: want AWSPENDING's credential", c, err)
	got := f.stagesSeen()
	require.Equal(t, "AWSCURRENT,AWSCURRENT,AWSPENDING", strings.Join(got, ","), "stages fetched %v", got)
	// Cached from now on.
	c2, _ := s.Credentials(ctx)
	require.Equal(t, c, c2, "pending credential not cached")
	require.Equal(t, int64(3), f.requests.Load(), "pending credential not cached")
	// finishSecret moves the label.
	f.finishRotation()
	s.Invalidate(old) // a late rejection of the old password: no-op
	c3, _ := s.Credentials(ctx)
	require.Equal(t, "new", c3.Password, "late rejection of the old credential dropped the new one")
	require.Equal(t, int64(3), f.requests.Load(), "late rejection of the old credential dropped the new one")
}

func TestSecretsManagerRotationPending(t *testing.T) {
	ctx := context.Background()
	f := newFakeSM(t)
	f.set(StageCurrent, secretJSON("app", "old"))
	clk := newFakeClock()
	s := newTestSecretSource(t, f, WithSecretClock(clk.Now), WithRejectionMemory(time.Minute))
	old, _ := s.Credentials(ctx)
	// The database changed but the secret has not caught up, no pending
	// version: ErrRotationPending, which Connect retries.
	s.Invalidate(old)
	_, err := s.Credentials(ctx)
	require.ErrorIs(t, err, ErrRotationPending, "err = %v, want ErrRotationPending", err)
	require.True(t, isRetryable(err), "err = %v, want ErrRotationPending", err)
	// The secret catches up.
	f.set(StageCurrent, secretJSON("app", "new"))
	c, err := s.Credentials(ctx)
	require.NoError(t, err, "%v, %v", c, err)
	require.Equal(t, "new", c.Password, "%v, %v", c, err)
	// A rejection is forgotten after the rejection memory.
	s.Invalidate(c)
	f.set(StageCurrent, secretJSON("app", "old"))
	clk.Advance(time.Minute)
	c, err = s.Credentials(ctx)
	require.NoError(t, err, "%v, %v: rejection of old not forgotten", c, err)
	require.Equal(t, "old", c.Password, "%v, %v: rejection of old not forgotten", c, err)
}

func TestNewSecretsManagerSourceValidates(t *testing.T) {
	_, err := NewSecretsManagerSource(nil, "x")
	require.Error(t, err, "nil client accepted")
	_, err = NewSecretsManagerSource(newFakeSM(t).client(), "")
	require.Error(t, err, "empty secret id accepted")
}

func BenchmarkSecretsManagerCached(b *testing.B) {
	f := newFakeSM(b)
	f.set(StageCurrent, secretJSON("app", "pw"))
	s, err := NewSecretsManagerSource(f.client(), "prod/app/db")
	require.NoError(b, err)
	ctx := context.Background()
	_, err = s.Credentials(ctx)
	require.NoError(b, err)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Credentials(ctx); !assert.NoError(b, err) {
				return
			}
		}
	})
}
