package iamauth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTestSecretSource(t *testing.T, f *fakeSM, opts ...SecretOption) *SecretsManagerSource {
	t.Helper()
	s, err := NewSecretsManagerSource(f.client(), "prod/app/db", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSecretsManagerFetchAndCache(t *testing.T) {
	f := newFakeSM(t)
	f.set(StageCurrent, secretJSON("app", "pw-1"))
	clk := newFakeClock()
	s := newTestSecretSource(t, f, WithSecretClock(clk.Now), WithSecretMaxAge(time.Minute))
	ctx := context.Background()

	c, err := s.Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Credential{User: "app", Password: "pw-1", Source: "secretsmanager:prod/app/db@AWSCURRENT", Host: "127.0.0.1", Port: 3306, DBName: "test"}
	if c != want {
		t.Fatalf("got %v, want %v", c, want)
	}
	for range 10 {
		if _, err := s.Credentials(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.requests.Load(); n != 1 {
		t.Fatalf("%d requests, want 1 (cached)", n)
	}
	f.set(StageCurrent, secretJSON("app", "pw-2"))
	clk.Advance(time.Minute)
	c, err = s.Credentials(ctx)
	if err != nil || c.Password != "pw-2" {
		t.Fatalf("after max age: %v, %v", c, err)
	}
	if n := f.requests.Load(); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
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
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.requests.Load(); n != 1 {
		t.Fatalf("%d requests for 100 concurrent callers, want 1", n)
	}
}

func TestSecretsManagerCustomKeys(t *testing.T) {
	f := newFakeSM(t)
	f.set(StageCurrent, `{"user":"svc","pass":"p@ss:w0rd","endpoint":"db.local","dbPort":"3307","schema":"shop"}`)
	s := newTestSecretSource(t, f, WithSecretKeys(SecretKeys{User: "user", Password: "pass", Host: "endpoint", Port: "dbPort", DBName: "schema"}))
	c, err := s.Credentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "svc" || c.Password != "p@ss:w0rd" || c.Host != "db.local" || c.Port != 3307 || c.DBName != "shop" {
		t.Fatalf("got %v", c)
	}
}

func TestSecretsManagerErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("not found", func(t *testing.T) {
		f := newFakeSM(t)
		s := newTestSecretSource(t, f)
		_, err := s.Credentials(ctx)
		if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") || !strings.Contains(err.Error(), "prod/app/db") {
			t.Fatalf("err = %v", err)
		}
		if isRetryable(err) {
			t.Fatal("a missing secret is not worth retrying")
		}
	})
	t.Run("access denied", func(t *testing.T) {
		f := newFakeSM(t)
		f.setFail("AccessDeniedException")
		s := newTestSecretSource(t, f)
		_, err := s.Credentials(ctx)
		if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") || isRetryable(err) {
			t.Fatalf("err = %v", err)
		}
		if n := f.requests.Load(); n != 1 {
			t.Fatalf("%d requests: a client error must not be retried by the SDK", n)
		}
	})
	t.Run("malformed secret", func(t *testing.T) {
		f := newFakeSM(t)
		f.set(StageCurrent, `{"username":"app","password":"hunter2-secret",}`)
		s := newTestSecretSource(t, f)
		_, err := s.Credentials(ctx)
		if err == nil || !errors.Is(err, errBadSecret) {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("error leaks the secret: %v", err)
		}
	})
	t.Run("server error is retryable", func(t *testing.T) {
		f := newFakeSM(t)
		f.setFail("InternalServiceError")
		s := newTestSecretSource(t, f)
		_, err := s.Credentials(ctx)
		if err == nil || !isRetryable(err) {
			t.Fatalf("err = %v, want retryable", err)
		}
		if n := f.requests.Load(); n != 3 {
			t.Fatalf("%d requests, want 3 (the SDK's retries)", n)
		}
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
		if err != nil || c.Password != "pw-1" {
			t.Fatalf("%v, %v", c, err)
		}
		if n := f.requests.Load(); n != 3 {
			t.Fatalf("%d requests, want 3", n)
		}
	})
	t.Run("persistent throttling without a cached secret", func(t *testing.T) {
		f := newFakeSM(t)
		f.set(StageCurrent, secretJSON("app", "pw-1"))
		f.setThrottle(1000)
		s := newTestSecretSource(t, f)
		_, err := s.Credentials(ctx)
		if err == nil || !strings.Contains(err.Error(), "ThrottlingException") || !isRetryable(err) {
			t.Fatalf("err = %v, want a retryable throttling error", err)
		}
	})
	t.Run("persistent throttling serves the cached secret", func(t *testing.T) {
		f := newFakeSM(t)
		f.set(StageCurrent, secretJSON("app", "pw-1"))
		clk := newFakeClock()
		s := newTestSecretSource(t, f, WithSecretClock(clk.Now), WithSecretMaxAge(time.Minute))
		if _, err := s.Credentials(ctx); err != nil {
			t.Fatal(err)
		}
		f.setThrottle(1000)
		clk.Advance(2 * time.Minute)
		for range 5 {
			c, err := s.Credentials(ctx)
			if err != nil || c.Password != "pw-1" {
				t.Fatalf("%v, %v: want the stale secret while throttled", c, err)
			}
		}
		if n := f.requests.Load(); n != 1+3 {
			t.Fatalf("%d requests, want 4: one fetch (3 attempts) then back off for %v", n, staleRetryInterval)
		}
		f.setThrottle(0)
		f.set(StageCurrent, secretJSON("app", "pw-2"))
		clk.Advance(staleRetryInterval)
		c, err := s.Credentials(ctx)
		if err != nil || c.Password != "pw-2" {
			t.Fatalf("%v, %v: want the new secret once throttling stops", c, err)
		}
	})
}

func TestSecretsManagerRotationFallsBackToPending(t *testing.T) {
	ctx := context.Background()
	f := newFakeSM(t)
	f.set(StageCurrent, secretJSON("app", "old"))
	s := newTestSecretSource(t, f)
	old, err := s.Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Rotation: createSecret stores AWSPENDING, setSecret changes the
	// database; the server now rejects "old".
	f.set(StagePending, secretJSON("app", "new"))
	s.Invalidate(old)
	c, err := s.Credentials(ctx)
	if err != nil || c.Password != "new" || c.Source != "secretsmanager:prod/app/db@AWSPENDING" {
		t.Fatalf("%v, %v: want AWSPENDING's credential", c, err)
	}
	if got := f.stagesSeen(); strings.Join(got, ",") != "AWSCURRENT,AWSCURRENT,AWSPENDING" {
		t.Fatalf("stages fetched %v", got)
	}
	// Cached from now on.
	if c2, _ := s.Credentials(ctx); c2 != c || f.requests.Load() != 3 {
		t.Fatal("pending credential not cached")
	}
	// finishSecret moves the label.
	f.finishRotation()
	s.Invalidate(old) // a late rejection of the old password: no-op
	if c3, _ := s.Credentials(ctx); c3.Password != "new" || f.requests.Load() != 3 {
		t.Fatal("late rejection of the old credential dropped the new one")
	}
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
	if !errors.Is(err, ErrRotationPending) || !isRetryable(err) {
		t.Fatalf("err = %v, want ErrRotationPending", err)
	}
	// The secret catches up.
	f.set(StageCurrent, secretJSON("app", "new"))
	c, err := s.Credentials(ctx)
	if err != nil || c.Password != "new" {
		t.Fatalf("%v, %v", c, err)
	}
	// A rejection is forgotten after the rejection memory.
	s.Invalidate(c)
	f.set(StageCurrent, secretJSON("app", "old"))
	clk.Advance(time.Minute)
	if c, err := s.Credentials(ctx); err != nil || c.Password != "old" {
		t.Fatalf("%v, %v: rejection of old not forgotten", c, err)
	}
}

func TestNewSecretsManagerSourceValidates(t *testing.T) {
	if _, err := NewSecretsManagerSource(nil, "x"); err == nil {
		t.Fatal("nil client accepted")
	}
	if _, err := NewSecretsManagerSource(newFakeSM(t).client(), ""); err == nil {
		t.Fatal("empty secret id accepted")
	}
}

func BenchmarkSecretsManagerCached(b *testing.B) {
	f := newFakeSM(b)
	f.set(StageCurrent, secretJSON("app", "pw"))
	s, err := NewSecretsManagerSource(f.client(), "prod/app/db")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Credentials(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Credentials(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
