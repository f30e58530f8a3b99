package pool

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/pinning"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run against a real MariaDB server (internal/mariadbtest).

var classifier = pinning.NewClassifier()

// exec runs one statement for session s the way the driver and listener
// do: Acquire, classify, run, Done with the server's transaction state.
func exec(t *testing.T, s *Session, sql string) error {
	t.Helper()
	ctx := context.Background()
	b, err := s.Acquire(ctx)
	require.NoError(t, err, "Acquire for %q: %v", sql, err)
	var r pinning.Result
	classifier.Classify(sql, &r)
	err = b.Conn().Exec(ctx, sql)
	s.Done(ctx, b, &r, statusAfter(t, b, err))
	return err
}

// value runs a single-value query for s.
func value(t *testing.T, s *Session, sql string) string {
	t.Helper()
	ctx := context.Background()
	b, err := s.Acquire(ctx)
	require.NoError(t, err, "Acquire for %q: %v", sql, err)
	var r pinning.Result
	classifier.Classify(sql, &r)
	v, err := b.Conn().QueryValue(ctx, sql)
	s.Done(ctx, b, &r, statusAfter(t, b, err))
	require.NoError(t, err, "%s: %v", sql, err)
	return v
}

// statusAfter reads the transaction state from the server, standing in for
// the OK packet's status flags the listener sees.
func statusAfter(t *testing.T, b *PooledConn, err error) Status {
	if err != nil && !b.Conn().(*sqlConn).IsValid() {
		return Status{Err: err}
	}
	v, qerr := b.Conn().QueryValue(context.Background(), "SELECT @@in_transaction")
	if qerr != nil {
		return Status{Err: qerr}
	}
	return Status{InTransaction: v == "1", Err: err}
}

func startServer(t *testing.T, opts ...mariadbtest.Option) *mariadbtest.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a MariaDB server; skipped with -short")
	}
	return mariadbtest.Start(t, opts...)
}

func TestServerCapNeverExceeded(t *testing.T) {
	srv := startServer(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.CreateUser(t, u, "pw-"+u)
	}
	d := newTestDialer(srv, false)
	for _, u := range []string{"alice", "bob", "carol"} {
		d.passwords[u] = "pw-" + u
	}
	baseline := srv.ThreadsConnected(t)
	const limit = 4
	p := newServerPool(t, d, Config{MaxConnections: limit})

	stop := make(chan struct{})
	var maxSeen atomic.Int64
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			n := int64(srv.ThreadsConnected(t) - baseline)
			if n > maxSeen.Load() {
				maxSeen.Store(n)
			}
		}
	}()

	users := []string{"alice", "bob", "carol"}
	var wg sync.WaitGroup
	for g := 0; g < 24; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := p.NewSession(users[g%len(users)], SessionOptions{})
			defer s.Close(context.Background())
			for i := 0; i < 15; i++ {
				if got := value(t, s, "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)"); !assert.Equal(t, s.User(), got, "session of %s ran as %s", s.User(), got) {
					return
				}
				if i%5 == 4 {
					exec(t, s, "BEGIN")
					exec(t, s, "DO 1")
					exec(t, s, "COMMIT")
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	sampler.Wait()
	m := maxSeen.Load()
	require.LessOrEqual(t, m, int64(limit), "server saw %d pool connections at once, cap %d", m, limit)
	m = d.maxOpen.Load()
	require.LessOrEqual(t, m, int64(limit), "%d connections open at once client-side, cap %d", m, limit)
	st := p.Stats()
	if st.ClosedCount(CloseRebalanced)+st.ClosedCount(CloseEvicted) == 0 {
		t.Logf("no connection moved between users (stats %+v)", st)
	}
	t.Logf("max server-side %d, client-side %d, dials %d, waits %d", maxSeen.Load(), d.maxOpen.Load(), d.dials.Load(), st.WaitCount)
}

func TestServerMaxConnectionsPercent(t *testing.T) {
	srv := startServer(t, mariadbtest.WithMaxConnections(30))
	d := newTestDialer(srv, false)
	p := newServerPool(t, d, Config{MaxConnectionsPercent: 50})
	s := p.NewSession("root", SessionOptions{})
	value(t, s, "SELECT 1")
	st := p.Stats()
	require.Equal(t, 15, st.MaxDatabaseConnectionsAllowed, "cap %d from @@max_connections %d, want 15 from 30", st.MaxDatabaseConnectionsAllowed, st.ServerMaxConnections)
	require.Equal(t, 30, st.ServerMaxConnections, "cap %d from @@max_connections %d, want 15 from 30", st.MaxDatabaseConnectionsAllowed, st.ServerMaxConnections)
}

func TestServerWaitersServedInOrder(t *testing.T) {
	srv := startServer(t)
	d := newTestDialer(srv, false)
	p := newServerPool(t, d, Config{MaxConnections: 1})
	ctx := context.Background()
	holder := p.NewSession("root", SessionOptions{})
	b, err := holder.Acquire(ctx)
	require.NoError(t, err)
	const n = 6
	order := make(chan int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := p.NewSession("root", SessionOptions{})
			b, err := s.Acquire(ctx)
			if !assert.NoError(t, err) {
				return
			}
			// Recorded while the backend is held: the order of service,
			// not of the goroutines' wake-ups after it.
			order <- i
			s.Done(ctx, b, nil, Status{})
		}()
		waitUntil(t, "waiter queued", func() bool { return p.Stats().WaitingNow == i+1 })
	}
	holder.Done(ctx, b, nil, Status{})
	wg.Wait()
	close(order)
	want := 0
	for got := range order {
		require.Equal(t, want, got, "waiter %d served as number %d", got, want)
		want++
	}
}

func TestServerBorrowTimeout(t *testing.T) {
	srv := startServer(t)
	d := newTestDialer(srv, false)
	p := newServerPool(t, d, Config{MaxConnections: 1, ConnectionBorrowTimeout: 50 * time.Millisecond})
	ctx := context.Background()
	holder := p.NewSession("root", SessionOptions{})
	b, err := holder.Acquire(ctx)
	require.NoError(t, err)
	defer holder.Done(ctx, b, nil, Status{})
	_, err = p.NewSession("root", SessionOptions{}).Acquire(ctx)
	var te *BorrowTimeoutError
	require.ErrorIs(t, err, ErrBorrowTimeout, "err = %v, want a borrow timeout", err)
	require.ErrorAs(t, err, &te, "err = %v, want a borrow timeout", err)
	require.Equal(t, 1, te.Max, "timeout error %+v: %v", te, err)
	require.Equal(t, 1, te.Busy, "timeout error %+v: %v", te, err)
	require.Contains(t, err.Error(), "pool of 1 busy", "timeout error %+v: %v", te, err)
}

func TestServerCancelledBorrowReturnsAndDialServesNext(t *testing.T) {
	srv := startServer(t)
	d := newTestDialer(srv, false)
	gate := make(chan struct{})
	d.setGate(gate)
	p := newServerPool(t, d, Config{MaxConnections: 1})

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := p.NewSession("root", SessionOptions{}).Acquire(ctx)
		errc <- err
	}()
	waitUntil(t, "dial in flight", func() bool { return p.Stats().ConnectionsOpening == 1 })
	cancel()
	// The borrow returns while its dial is still blocked: it did not wait
	// for the dial.
	err := <-errc
	require.ErrorIs(t, err, context.Canceled, "cancelled borrow returned %v", err)
	require.Equal(t, 1, p.Stats().ConnectionsOpening, "the dial was abandoned with its borrower")
	next := p.NewSession("root", SessionOptions{})
	got := make(chan string, 1)
	go func() { got <- value(t, next, "SELECT 42") }()
	waitUntil(t, "second borrower waiting", func() bool { return p.Stats().WaitingNow == 1 })
	close(gate)
	v := <-got
	require.Equal(t, "42", v, "got %q", v)
	n := d.dials.Load()
	require.Equal(t, int64(1), n, "%d dials; the second borrower should have been served by the first dial", n)
}

func TestServerDeadIdleConnectionReplaced(t *testing.T) {
	srv := startServer(t)
	d := newTestDialer(srv, false)
	clock := newFakeClock()
	p := newServerPool(t, d, Config{MaxConnections: 2, HealthCheckIdle: time.Minute, Now: clock.Now})
	s := p.NewSession("root", SessionOptions{})
	id := value(t, s, "SELECT CONNECTION_ID()")
	srv.Exec(t, "KILL "+id)
	waitUntil(t, "killed connection gone", func() bool {
		return srv.QueryInt(t, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = "+id) == 0
	})
	clock.Advance(2 * time.Minute) // as if the process had been frozen
	id2 := value(t, s, "SELECT CONNECTION_ID()")
	require.NotEqual(t, id, id2, "the killed connection was handed out")
	st := p.Stats()
	require.Equal(t, int64(1), st.ClosedCount(CloseHealthCheck), "health-check closes = %d", st.ClosedCount(CloseHealthCheck))
}

func TestServerBrokenConnectionNotReused(t *testing.T) {
	srv := startServer(t)
	d := newTestDialer(srv, false)
	p := newServerPool(t, d, Config{MaxConnections: 1, HealthCheckIdle: -1})
	s := p.NewSession("root", SessionOptions{})
	id := value(t, s, "SELECT CONNECTION_ID()")
	srv.Exec(t, "KILL "+id)
	// Without a health check, the statement finds it dead; Done closes it.
	err := exec(t, s, "DO 1")
	require.Error(t, err, "statement on a killed connection succeeded")
	got := value(t, s, "SELECT CONNECTION_ID()")
	require.NotEqual(t, id, got, "broken connection reused")
	require.Equal(t, int64(1), p.Stats().ClosedCount(CloseBroken), "broken close not counted")
}

// TestServerNoLeakBetweenSessions tries hard to carry state from one
// session to the next over the same physical connection (the pool has only
// one), and fails to.
func TestServerNoLeakBetweenSessions(t *testing.T) {
	srv := startServer(t)
	srv.Exec(t, "CREATE TABLE test.leak (id INT PRIMARY KEY) ENGINE=InnoDB")
	for _, resetByRedial := range []bool{true, false} {
		name := "reset unsupported: closed"
		if resetByRedial {
			name = "reset supported"
		}
		t.Run(name, func(t *testing.T) {
			srv.Exec(t, "DELETE FROM test.leak")
			d := newTestDialer(srv, resetByRedial)
			p := newServerPool(t, d, Config{MaxConnections: 1})
			ctx := context.Background()
			observer := srv.DB(t)

			// Session A: every kind of state it can leave behind.
			a := p.NewSession("root", SessionOptions{})
			exec(t, a, "SET @leak = 42")
			exec(t, a, "CREATE TEMPORARY TABLE tmp_leak (x INT)")
			exec(t, a, "DO GET_LOCK('leak_lock', 0)")
			exec(t, a, "SET time_zone = '+07:00'")
			exec(t, a, "LOCK TABLES test.leak WRITE")
			exec(t, a, "SET autocommit = 0")
			exec(t, a, "INSERT INTO test.leak VALUES (1)")
			require.True(t, a.InTransaction(), "session A not in a transaction")
			require.True(t, a.Pinned(), "session A not pinned")
			// The client vanishes.
			err := a.Close(ctx)
			require.NoError(t, err)

			// Session B, same user, same (only) pool slot.
			b := p.NewSession("root", SessionOptions{})
			v := value(t, b, "SELECT @leak IS NULL")
			assert.Equal(t, "1", v, "user variable leaked")
			err = exec(t, b, "SELECT * FROM tmp_leak")
			assert.ErrorContains(t, err, "1146", "temporary table leaked (err %v)", err)
			v = value(t, b, "SELECT IS_FREE_LOCK('leak_lock')")
			assert.Equal(t, "1", v, "named lock leaked")
			v = value(t, b, "SELECT @@session.time_zone = @@global.time_zone")
			assert.Equal(t, "1", v, "time_zone leaked")
			v = value(t, b, "SELECT CONCAT(@@in_transaction, @@autocommit = 1)")
			assert.Equal(t, "01", v, "transaction leaked: in_transaction, autocommit = %q", v)
			v = value(t, b, "SELECT COUNT(*) FROM test.leak")
			assert.Equal(t, "0", v, "uncommitted insert survived")
			// The table lock is gone: another connection can write.
			_, err = observer.ExecContext(ctx, "INSERT INTO test.leak VALUES (2)")
			assert.NoError(t, err, "table lock leaked: %v", err)
			b.Close(ctx)
			st := p.Stats()
			assert.False(t, resetByRedial && st.Resets == 0, "no reset counted")
			assert.False(t, !resetByRedial && st.ClosedCount(CloseDirty) == 0, "no dirty close counted")
			assert.False(t, st.DatabaseConnectionsCurrentlySessionPinned != 0 || st.DatabaseConnectionsCurrentlyInTransaction != 0, "gauges: %+v", st)
		})
	}
}

// TestServerVanishedClientMidTransaction: a session in a plain transaction
// (not pinned) is rolled back and its connection reused.
func TestServerVanishedClientMidTransaction(t *testing.T) {
	srv := startServer(t)
	srv.Exec(t, "CREATE TABLE test.tx (id INT PRIMARY KEY) ENGINE=InnoDB")
	d := newTestDialer(srv, false)
	p := newServerPool(t, d, Config{MaxConnections: 1})
	ctx := context.Background()
	a := p.NewSession("root", SessionOptions{})
	id := value(t, a, "SELECT CONNECTION_ID()")
	exec(t, a, "BEGIN")
	exec(t, a, "INSERT INTO test.tx VALUES (1)")
	require.False(t, a.Pinned(), "session should hold its backend in the transaction, unpinned")
	require.True(t, a.InTransaction(), "session should hold its backend in the transaction, unpinned")
	require.NotNil(t, a.Held(), "session should hold its backend in the transaction, unpinned")
	a.Close(ctx)
	b := p.NewSession("root", SessionOptions{})
	got := value(t, b, "SELECT CONNECTION_ID()")
	require.Equal(t, id, got, "connection not reused after rollback (%s, was %s)", got, id)
	v := value(t, b, "SELECT COUNT(*) FROM test.tx")
	require.Equal(t, "0", v, "transaction of the vanished client committed")
	require.Equal(t, int64(1), p.Stats().Rollbacks, "rollback not counted")
}

func TestServerSettingsCarriedAcrossBackends(t *testing.T) {
	srv := startServer(t)
	srv.Exec(t, "CREATE DATABASE IF NOT EXISTS other")
	d := newTestDialer(srv, false)
	p := newServerPool(t, d, Config{MaxConnections: 2})
	ctx := context.Background()

	a := p.NewSession("root", SessionOptions{})
	exec(t, a, "SET time_zone = '+03:00'")
	exec(t, a, "SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')") // read back
	exec(t, a, "USE other")
	require.False(t, a.Pinned(), "tracked settings pinned: %v", a.PinReasons())
	// Occupy the connection a used, so a's next statement runs on the
	// other one and its state must be replayed there.
	other := p.NewSession("root", SessionOptions{})
	ob, err := other.Acquire(ctx)
	require.NoError(t, err)
	exec(t, other, "BEGIN") // holds it
	v := value(t, a, "SELECT CONCAT(@@session.time_zone, ' ', DATABASE(), ' ', FIND_IN_SET('ANSI_QUOTES', @@sql_mode) > 0)")
	require.Equal(t, "+03:00 other 1", v, "replayed state = %q", v)
	exec(t, other, "COMMIT")
	_ = ob
	// A clean session gets a connection taken back to the defaults.
	c := p.NewSession("root", SessionOptions{})
	for i := 0; i < 4; i++ {
		v := value(t, c, "SELECT CONCAT(@@session.time_zone = @@global.time_zone, ' ', DATABASE(), ' ', @@session.sql_mode = @@global.sql_mode)")
		require.Equal(t, "1 test 1", v, "clean session saw %q", v)
	}
	st := p.Stats()
	require.NotEqual(t, int64(0), st.ReuseDiffApplied, "reuse counts exact=%d diff=%d", st.ReuseExactMatch, st.ReuseDiffApplied)
	require.NotEqual(t, int64(0), st.ReuseExactMatch, "reuse counts exact=%d diff=%d", st.ReuseExactMatch, st.ReuseDiffApplied)
}

func TestServerInitQuery(t *testing.T) {
	srv := startServer(t)
	d := newTestDialer(srv, true)
	p := newServerPool(t, d, Config{MaxConnections: 1, InitQuery: "SET SESSION wait_timeout = 1234"})
	s := p.NewSession("root", SessionOptions{})
	v := value(t, s, "SELECT @@wait_timeout")
	require.Equal(t, "1234", v, "InitQuery not run: wait_timeout = %s", v)
	err := s.ResetState(context.Background())
	require.NoError(t, err)
	exec(t, s, "SET @pin = 1")
	s.Close(context.Background())
	s2 := p.NewSession("root", SessionOptions{})
	v = value(t, s2, "SELECT @@wait_timeout")
	require.Equal(t, "1234", v, "InitQuery not re-run after reset: wait_timeout = %s", v)
}

func TestServerInvalidate(t *testing.T) {
	srv := startServer(t)
	d := newTestDialer(srv, false)
	p := newServerPool(t, d, Config{MaxConnections: 2})
	ctx := context.Background()
	idle := p.NewSession("root", SessionOptions{})
	exec(t, idle, "BEGIN")
	idleID := value(t, idle, "SELECT CONNECTION_ID()")
	held := p.NewSession("root", SessionOptions{})
	exec(t, held, "BEGIN")
	heldID := value(t, held, "SELECT CONNECTION_ID()")
	exec(t, idle, "COMMIT")
	require.NotEqual(t, heldID, idleID, "setup: want one idle and one borrowed connection")
	require.Equal(t, 1, p.Stats().IdleConnections, "setup: want one idle and one borrowed connection")

	p.Invalidate("test failover")
	waitUntil(t, "idle connection closed", func() bool { return d.open.Load() == 1 })
	exec(t, held, "COMMIT") // given back: closed, not reused
	for _, s := range []*Session{idle, held, p.NewSession("root", SessionOptions{})} {
		id := value(t, s, "SELECT CONNECTION_ID()")
		require.NotEqual(t, idleID, id, "a connection from before Invalidate was reused")
		require.NotEqual(t, heldID, id, "a connection from before Invalidate was reused")
	}
	st := p.Stats()
	require.Equal(t, int64(2), st.ClosedCount(CloseInvalidated), "invalidated closes = %d", st.ClosedCount(CloseInvalidated))
	_ = ctx
}

func TestServerPartitionsByUser(t *testing.T) {
	srv := startServer(t)
	srv.CreateUser(t, "alice", "a-pw")
	srv.CreateUser(t, "bob", "b-pw")
	d := newTestDialer(srv, false)
	d.passwords["alice"], d.passwords["bob"] = "a-pw", "b-pw"
	p := newServerPool(t, d, Config{MaxConnections: 1})
	var wg sync.WaitGroup
	for _, u := range []string{"alice", "bob", "alice", "bob"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := p.NewSession(u, SessionOptions{})
			for i := 0; i < 10; i++ {
				if got := value(t, s, "SELECT SUBSTRING_INDEX(USER(), '@', 1)"); !assert.Equal(t, u, got, "%s's session ran as %s", u, got) {
					return
				}
			}
		}()
	}
	wg.Wait()
	require.LessOrEqual(t, d.maxOpen.Load(), int64(1), "%d connections open at once, cap 1", d.maxOpen.Load())
}
