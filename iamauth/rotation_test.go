package iamauth

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/stretchr/testify/require"
)

// credCounter counts, per password, the connections Connect set up, and the
// dials the server rejected.
type credCounter struct {
	mu       sync.Mutex
	ok       map[string]int // guarded by mu
	rejected atomic.Int64
}

func (c *credCounter) observe(a Attempt) {
	if a.Err != nil {
		if IsAccessDenied(a.Err) {
			c.rejected.Add(1)
		}
		return
	}
	c.mu.Lock()
	c.ok[a.Credential.Password]++
	c.mu.Unlock()
}

func (c *credCounter) count(pw string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok[pw]
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline (a hung condition, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRotationUnderLoad changes the password on a real MariaDB server and
// in a (loopback) Secrets Manager secret while 8 clients run queries and
// connections are constantly replaced; no client request may fail.
func TestRotationUnderLoad(t *testing.T) {
	srv := mariadbtest.Start(t)
	srv.CreateUser(t, "app", "pw-1")
	sm := newFakeSM(t)
	sm.set(StageCurrent, secretJSON("app", "pw-1"))
	src, err := NewSecretsManagerSource(sm.client(), "prod/app/db", WithSecretMaxAge(100*time.Millisecond))
	require.NoError(t, err)

	counter := &credCounter{ok: map[string]int{}}
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", srv.Addr(), "test"
	conn, err := NewConnector(cfg, src, WithObserver(counter.observe), WithBackoff(5*time.Millisecond, 50*time.Millisecond))
	require.NoError(t, err)
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxLifetime(10 * time.Millisecond) // keep opening new connections

	ctx, stop := context.WithCancel(context.Background())
	var (
		wg       sync.WaitGroup
		queries  atomic.Int64
		failures atomic.Int64
		firstErr atomic.Value
	)
	for range 8 {
		wg.Go(func() { // the load; ends when stop is called
			for ctx.Err() == nil {
				qctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				var one int
				err := db.QueryRowContext(qctx, "SELECT 1").Scan(&one)
				cancel()
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				queries.Add(1)
			}
		})
	}
	defer func() { stop(); wg.Wait() }()

	waitFor(t, "connections with pw-1", func() bool { return counter.count("pw-1") >= 20 })

	// Rotation as Secrets Manager's single-user rotation function does it:
	// createSecret (AWSPENDING), setSecret (the database), finishSecret
	// (AWSCURRENT moves).
	sm.set(StagePending, secretJSON("app", "pw-2"))
	srv.SetPassword(t, "app", "pw-2")
	waitFor(t, "connections with pw-2 (from AWSPENDING)", func() bool { return counter.count("pw-2") >= 20 })
	sm.finishRotation()
	n2 := counter.count("pw-2")
	waitFor(t, "connections with pw-2 (from AWSCURRENT)", func() bool { return counter.count("pw-2") >= n2+20 })
	rejectedFirst := counter.rejected.Load()

	// A careless rotation: the database changes first, the secret only
	// later, with no pending version. Connect waits it out.
	srv.SetPassword(t, "app", "pw-3")
	time.Sleep(300 * time.Millisecond)
	sm.set(StageCurrent, secretJSON("app", "pw-3"))
	waitFor(t, "connections with pw-3", func() bool { return counter.count("pw-3") >= 20 })

	stop()
	wg.Wait()
	n := failures.Load()
	require.Equal(t, int64(0), n, "%d of %d client requests failed during rotation; first: %v", n, n+queries.Load(), firstErr.Load())
	require.NotEqual(t, int64(0), rejectedFirst, "the server rejected %d then %d dials: the rotations were not exercised", rejectedFirst, counter.rejected.Load())
	require.NotEqual(t, rejectedFirst, counter.rejected.Load(), "the server rejected %d then %d dials: the rotations were not exercised", rejectedFirst, counter.rejected.Load())
	t.Logf("%d queries, 0 failed; connections: pw-1 %d, pw-2 %d, pw-3 %d; %d dials rejected and retried; %d Secrets Manager requests",
		queries.Load(), counter.count("pw-1"), counter.count("pw-2"), counter.count("pw-3"), counter.rejected.Load(), sm.requests.Load())
}
