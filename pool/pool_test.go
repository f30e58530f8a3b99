package pool

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rdsmux/rdsmux/pinning"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigValidation(t *testing.T) {
	dial := func(context.Context, string) (Conn, error) { return nil, errors.New("unused") }
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "Dial is required"},
		{Config{Dial: dial, MaxConnections: -1}, "MaxConnections is -1"},
		{Config{Dial: dial, MaxConnectionsPercent: 101}, "use 1 to 100"},
		{Config{Dial: dial, MaxIdleConnectionsPercent: 101}, "use 0 to 100"},
	} {
		_, err := New(tc.cfg)
		assert.ErrorContains(t, err, tc.want, "New(%+v) = %v, want error containing %q", tc.cfg, err, tc.want)
	}
	c, err := Config{Dial: dial}.normalize()
	require.NoError(t, err)
	require.Equal(t, 120*time.Second, c.ConnectionBorrowTimeout, "defaults: %+v", c)
	require.Equal(t, 100, c.MaxConnectionsPercent, "defaults: %+v", c)
	require.Equal(t, 50, c.MaxIdleConnectionsPercent, "defaults: %+v", c)
	require.Equal(t, 30*time.Second, c.HealthCheckIdle, "defaults: %+v", c)
}

func TestMaxConnectionsPercentFromServer(t *testing.T) {
	m := newMemServer()
	m.maxConnections = "40"
	p := newMemPool(t, m, Config{MaxConnectionsPercent: 50, MaxIdleConnectionsPercent: 25})
	got := p.Stats().MaxDatabaseConnectionsAllowed
	require.Equal(t, 1, got, "cap before @@max_connections is read = %d, want 1", got)
	s := p.NewSession("u", SessionOptions{})
	b, err := s.Acquire(context.Background())
	require.NoError(t, err)
	s.Done(context.Background(), b, nil, Status{})
	st := p.Stats()
	require.Equal(t, 20, st.MaxDatabaseConnectionsAllowed, "limits = %d (idle %d, server %d), want 20 (10, 40)", st.MaxDatabaseConnectionsAllowed, st.MaxIdleConnections, st.ServerMaxConnections)
	require.Equal(t, 10, st.MaxIdleConnections, "limits = %d (idle %d, server %d), want 20 (10, 40)", st.MaxDatabaseConnectionsAllowed, st.MaxIdleConnections, st.ServerMaxConnections)
	require.Equal(t, 40, st.ServerMaxConnections, "limits = %d (idle %d, server %d), want 20 (10, 40)", st.MaxDatabaseConnectionsAllowed, st.MaxIdleConnections, st.ServerMaxConnections)
}

func TestAbsoluteMaxConnectionsWins(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 7, MaxConnectionsPercent: 10})
	s := p.NewSession("u", SessionOptions{})
	b, _ := s.Acquire(context.Background())
	s.Done(context.Background(), b, nil, Status{})
	got := p.Stats().MaxDatabaseConnectionsAllowed
	require.Equal(t, 7, got, "cap = %d, want the absolute 7", got)
	for _, e := range memOf(b).takeExecs() {
		require.NotContains(t, e, "max_connections", "read @@max_connections although MaxConnections is set: %q", e)
	}
}

func settings(kv ...string) pinning.Settings {
	var s pinning.Settings
	for i := 0; i < len(kv); i += 2 {
		v, _, ok := pinning.LookupVar(kv[i])
		if !ok {
			panic(kv[i])
		}
		s.Set(v, kv[i+1])
	}
	return s
}

func TestSettingsAwareReuse(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 1})
	ctx := context.Background()

	utc := settings("time_zone", "'+00:00'")
	a := p.NewSession("u", SessionOptions{Settings: utc})
	b, err := a.Acquire(ctx)
	require.NoError(t, err)
	got := memOf(b).takeExecs()
	require.True(t, slices.Equal(got, []string{"SET SESSION time_zone='+00:00'"}), "fresh connection got %q", got)
	a.Done(ctx, b, nil, Status{})

	// Same settings: nothing to apply.
	b2 := p.NewSession("u", SessionOptions{Settings: utc})
	bb, _ := b2.Acquire(ctx)
	got = memOf(bb).takeExecs()
	require.Len(t, got, 0, "matching connection got %q", got)
	b2.Done(ctx, bb, nil, Status{})

	// A clean session gets the difference only.
	c := p.NewSession("u", SessionOptions{})
	bc, _ := c.Acquire(ctx)
	// The difference goes back to the value the connection started with
	// (here the fake server's "v"), never DEFAULT, the global value.
	got = memOf(bc).takeExecs()
	require.True(t, slices.Equal(got, []string{"SET SESSION time_zone='v'"}), "clean session got %q", got)
	c.Done(ctx, bc, nil, Status{})

	st := p.Stats()
	require.Equal(t, int64(1), st.ReuseExactMatch, "reuse counts exact=%d diff=%d, want 1, 2", st.ReuseExactMatch, st.ReuseDiffApplied)
	require.Equal(t, int64(2), st.ReuseDiffApplied, "reuse counts exact=%d diff=%d, want 1, 2", st.ReuseExactMatch, st.ReuseDiffApplied)
}

func TestReusePrefersMatchingThenClean(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 3})
	ctx := context.Background()
	mk := func(s pinning.Settings) *Session { return p.NewSession("u", SessionOptions{Settings: s}) }
	utc, ansi := settings("time_zone", "'+00:00'"), settings("sql_mode", "'ANSI'")

	// Three connections: one UTC, one clean, one ANSI (released last).
	s1, s2, s3 := mk(utc), mk(pinning.Settings{}), mk(ansi)
	b1, _ := s1.Acquire(ctx)
	b2, _ := s2.Acquire(ctx)
	b3, _ := s3.Acquire(ctx)
	s1.Done(ctx, b1, nil, Status{})
	s2.Done(ctx, b2, nil, Status{})
	s3.Done(ctx, b3, nil, Status{})

	x := mk(utc)
	bx, _ := x.Acquire(ctx)
	require.Same(t, b1, bx, "UTC session did not get the UTC connection")
	x.Done(ctx, bx, nil, Status{})
	y := mk(settings("time_zone", "'+05:00'"))
	by, _ := y.Acquire(ctx)
	require.Same(t, b2, by, "session with new settings did not prefer the clean connection")
	got := memOf(by).takeExecs()
	require.True(t, slices.Equal(got, []string{"SET SESSION time_zone='+05:00'"}), "got %q", got)
	y.Done(ctx, by, nil, Status{})
}

func TestSchemaTracking(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 1})
	ctx := context.Background()
	s := p.NewSession("u", SessionOptions{})
	b, _ := s.Acquire(ctx)
	memOf(b).takeExecs()
	var r pinning.Result
	r.Statements, r.Schema = 1, "other"
	s.Done(ctx, b, &r, Status{})
	require.Equal(t, "other", s.Schema(), "schema = %q", s.Schema())
	// The next clean session is taken back to the default database.
	c := p.NewSession("u", SessionOptions{})
	bc, _ := c.Acquire(ctx)
	got := memOf(bc).takeExecs()
	require.True(t, slices.Equal(got, []string{"USE `test`"}), "got %q", got)
	c.Done(ctx, bc, nil, Status{})
	// USE of the default database is the default.
	r.Schema = "test"
	s2 := p.NewSession("u", SessionOptions{Schema: "other"})
	b2, _ := s2.Acquire(ctx)
	s2.Done(ctx, b2, &r, Status{})
	require.Equal(t, "", s2.Schema(), "schema after USE of the default = %q, want \"\"", s2.Schema())
}

func TestReadBackSettings(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 1})
	ctx := context.Background()
	s := p.NewSession("u", SessionOptions{})
	b, _ := s.Acquire(ctx)
	// The statement (not run: the fake does not parse SQL) leaves these.
	memOf(b).setVar("time_zone", "+04:00")
	memOf(b).setVar("character_set_results", "<null>")
	var r pinning.Result
	r.Statements = 1
	r.ReadBack = r.ReadBack.Add(pinning.VarTimeZone).Add(pinning.VarCharacterSetResults)
	s.Done(ctx, b, &r, Status{})
	got, _ := s.settings.Get(pinning.VarTimeZone)
	require.Equal(t, "'+04:00'", got, "read-back time_zone = %q", got)
	got, _ = s.settings.Get(pinning.VarCharacterSetResults)
	require.Equal(t, "NULL", got, "read-back character_set_results = %q", got)
	require.False(t, s.Pinned(), "a read-back setting must not pin")
	require.Nil(t, s.Held(), "a read-back setting must not pin")
	// The next session with the same settings reuses without a diff.
	s2 := p.NewSession("u", SessionOptions{Settings: s.Settings()})
	b2, _ := s2.Acquire(ctx)
	execs := memOf(b2).takeExecs()
	require.Empty(t, execs, "got %q", execs)
	s2.Done(ctx, b2, nil, Status{})
}

func TestTransactionHoldsBackend(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 2})
	ctx := context.Background()
	s := p.NewSession("u", SessionOptions{})
	b, _ := s.Acquire(ctx)
	s.Done(ctx, b, nil, Status{InTransaction: true})
	require.Same(t, b, s.Held(), "backend not held during the transaction")
	require.Equal(t, 1, p.Stats().DatabaseConnectionsCurrentlyInTransaction, "backend not held during the transaction")
	b2, _ := s.Acquire(ctx)
	require.Same(t, b, b2, "Acquire in a transaction returned another backend")
	s.Done(ctx, b, nil, Status{InTransaction: true, MoreResults: true})
	s.Done(ctx, b, nil, Status{MoreResults: true})
	require.Same(t, b, s.Held(), "backend released with results pending")
	s.Done(ctx, b, nil, Status{})
	require.Nil(t, s.Held(), "backend not released after the transaction")
	st := p.Stats()
	require.Equal(t, 0, st.DatabaseConnectionsCurrentlyInTransaction, "gauges after release: %+v", st)
	require.Equal(t, 0, st.DatabaseConnectionsCurrentlyBorrowed, "gauges after release: %+v", st)
}

func TestPinAndUnpin(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 2})
	ctx := context.Background()
	s := p.NewSession("u", SessionOptions{})
	b, _ := s.Acquire(ctx)
	var lock pinning.Result
	lock.Statements, lock.Pins = 1, pinning.PinReasons(0).Add(pinning.PinLockTables)
	s.Done(ctx, b, &lock, Status{})
	require.True(t, s.Pinned(), "not pinned after LOCK TABLES")
	require.Same(t, b, s.Held(), "not pinned after LOCK TABLES")
	require.True(t, s.PinReasons().Has(pinning.PinLockTables), "not pinned after LOCK TABLES")
	st := p.Stats()
	require.Equal(t, 1, st.DatabaseConnectionsCurrentlySessionPinned, "pin stats: %+v", st)
	require.Equal(t, int64(1), st.PinCount(pinning.PinLockTables), "pin stats: %+v", st)
	var unlock pinning.Result
	unlock.Statements, unlock.Unpins = 1, pinning.PinReasons(0).Add(pinning.PinLockTables)
	b, _ = s.Acquire(ctx)
	s.Done(ctx, b, &unlock, Status{})
	require.False(t, s.Pinned(), "still pinned after UNLOCK TABLES")
	require.Nil(t, s.Held(), "still pinned after UNLOCK TABLES")
	require.Equal(t, 0, p.Stats().DatabaseConnectionsCurrentlySessionPinned, "pinned gauge not decremented")
}

func TestFailedStatementRecordsNothing(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 1})
	ctx := context.Background()
	s := p.NewSession("u", SessionOptions{})
	b, _ := s.Acquire(ctx)
	var r pinning.Result
	r.Statements = 1
	r.Settings.Set(pinning.VarTimeZone, "'nowhere'")
	r.Pins = r.Pins.Add(pinning.PinUserVariable)
	s.Done(ctx, b, &r, Status{Err: errors.New("Error 1298: Unknown or incorrect time zone")})
	require.False(t, s.Pinned(), "a failed statement changed the session")
	require.True(t, s.settings.IsZero(), "a failed statement changed the session")
	require.Nil(t, s.Held(), "a failed statement changed the session")
	// A failed batch may have run in part: pins stay, settings unknown.
	b, _ = s.Acquire(ctx)
	r.Statements = 2
	s.Done(ctx, b, &r, Status{Err: errors.New("Error 1064: syntax")})
	require.True(t, s.Pinned(), "a failed batch with effects must pin")
	require.Same(t, b, s.Held(), "a failed batch with effects must pin")
	s.Close(ctx)
	got := memOf(b).takeExecs()
	require.True(t, slices.Contains(got, "<reset>"), "pinned backend not reset at Close: %q", got)
}

func TestBrokenBackendDestroyed(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 1})
	ctx := context.Background()
	s := p.NewSession("u", SessionOptions{})
	b, _ := s.Acquire(ctx)
	s.Done(ctx, b, nil, Status{InTransaction: true})
	s.Done(ctx, b, nil, Status{Err: ErrBroken})
	require.Nil(t, s.Held(), "session still holds a broken backend")
	require.False(t, s.InTransaction(), "session still holds a broken backend")
	waitUntil(t, "broken conn closed", func() bool {
		memOf(b).mu.Lock()
		defer memOf(b).mu.Unlock()
		return memOf(b).closed
	})
	b2, _ := s.Acquire(ctx)
	require.NotSame(t, b, b2, "broken backend reused")
	s.Done(ctx, b2, nil, Status{})
	st := p.Stats()
	require.Equal(t, int64(1), st.ClosedCount(CloseBroken), "stats: %+v", st)
	require.Equal(t, 0, st.DatabaseConnectionsCurrentlyInTransaction, "stats: %+v", st)
}

// TestInvalidBackendNotGivenBack: a backend that turned invalid after a
// statement that reported no error (the caller read more from it and
// failed) is closed, not given to the next session.
func TestInvalidBackendNotGivenBack(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 1})
	ctx := context.Background()
	s := p.NewSession("u", SessionOptions{})
	b, err := s.Acquire(ctx)
	require.NoError(t, err)
	memOf(b).invalid.Store(true)
	s.Done(ctx, b, nil, Status{})
	require.Nil(t, s.Held())
	b2, err := p.NewSession("u", SessionOptions{}).Acquire(ctx)
	require.NoError(t, err)
	require.NotSame(t, b, b2, "an invalid backend was given to the next session")
	require.Equal(t, int64(1), p.Stats().ClosedCount(CloseBroken))
}

func TestCloseReturnsBackendClean(t *testing.T) {
	for _, tc := range []struct {
		name      string
		resetErr  error
		setup     func(s *Session, b *PooledConn)
		wantExecs []string
		wantReuse bool
	}{
		{"in transaction: rolled back", nil, func(s *Session, b *PooledConn) {
			s.Done(context.Background(), b, nil, Status{InTransaction: true})
		}, []string{"ROLLBACK AND NO CHAIN NO RELEASE"}, true},
		{"pinned: reset", nil, func(s *Session, b *PooledConn) {
			var r pinning.Result
			r.Statements, r.Pins = 1, pinning.PinReasons(0).Add(pinning.PinTemporaryTable)
			s.Done(context.Background(), b, &r, Status{})
		}, []string{"<reset>", "SET NAMES utf8mb4", "USE `test`"}, true},
		{"pinned, reset unsupported: closed", ErrResetUnsupported, func(s *Session, b *PooledConn) {
			var r pinning.Result
			r.Statements, r.Pins = 1, pinning.PinReasons(0).Add(pinning.PinGetLock)
			s.Done(context.Background(), b, &r, Status{})
		}, nil, false},
		{"Acquire without Done: reset", nil, func(s *Session, b *PooledConn) {}, []string{"<reset>", "SET NAMES utf8mb4", "USE `test`"}, true},
		{"results pending: closed", nil, func(s *Session, b *PooledConn) {
			s.Done(context.Background(), b, nil, Status{MoreResults: true})
		}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemServer()
			m.resetErr = tc.resetErr
			p := newMemPool(t, m, Config{MaxConnections: 1, InitQuery: "SET NAMES utf8mb4"})
			ctx := context.Background()
			s := p.NewSession("u", SessionOptions{})
			b, _ := s.Acquire(ctx)
			memOf(b).takeExecs()
			tc.setup(s, b)
			require.NoError(t, s.Close(ctx))
			got := memOf(b).takeExecs()
			require.True(t, slices.Equal(got, tc.wantExecs), "statements at Close: %q, want %q", got, tc.wantExecs)
			s2 := p.NewSession("u", SessionOptions{})
			b2, err := s2.Acquire(ctx)
			require.NoError(t, err)
			require.Equal(t, tc.wantReuse, (b2 == b), "reused = %v, want %v", b2 == b, tc.wantReuse)
			s2.Done(ctx, b2, nil, Status{})
			st := p.Stats()
			require.Equal(t, 0, st.DatabaseConnectionsCurrentlySessionPinned, "gauges: %+v", st)
			require.Equal(t, 0, st.DatabaseConnectionsCurrentlyInTransaction, "gauges: %+v", st)
		})
	}
}

func TestResetState(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 1})
	ctx := context.Background()
	s := p.NewSession("u", SessionOptions{Settings: settings("time_zone", "'+00:00'"), Schema: "other"})
	b, _ := s.Acquire(ctx)
	var r pinning.Result
	r.Statements, r.Pins = 1, pinning.PinReasons(0).Add(pinning.PinUserVariable)
	s.Done(ctx, b, &r, Status{InTransaction: true})
	memOf(b).takeExecs()
	err := s.ResetState(ctx)
	require.NoError(t, err)
	// The session returns to the settings it started with.
	want := settings("time_zone", "'+00:00'")
	require.False(t, s.Pinned(), "after ResetState: pinned=%v tx=%v settings=%v schema=%q held=%v", s.Pinned(), s.InTransaction(), s.settings.Key(), s.Schema(), s.Held() != nil)
	require.False(t, s.InTransaction(), "after ResetState: pinned=%v tx=%v settings=%v schema=%q held=%v", s.Pinned(), s.InTransaction(), s.settings.Key(), s.Schema(), s.Held() != nil)
	require.True(t, s.settings.Equal(&want), "after ResetState: pinned=%v tx=%v settings=%v schema=%q held=%v", s.Pinned(), s.InTransaction(), s.settings.Key(), s.Schema(), s.Held() != nil)
	require.Equal(t, "other", s.Schema(), "after ResetState: pinned=%v tx=%v settings=%v schema=%q held=%v", s.Pinned(), s.InTransaction(), s.settings.Key(), s.Schema(), s.Held() != nil)
	require.Nil(t, s.Held(), "after ResetState: pinned=%v tx=%v settings=%v schema=%q held=%v", s.Pinned(), s.InTransaction(), s.settings.Key(), s.Schema(), s.Held() != nil)
	got := memOf(b).takeExecs()
	require.True(t, slices.Equal(got, []string{"<reset>", "USE `other`"}), "got %q", got)
	// The reset backend is back in its starting state except for the
	// schema: the session's starting settings are applied again.
	b2, _ := s.Acquire(ctx)
	got = memOf(b).takeExecs()
	require.Same(t, b, b2, "reset backend reused with %q", got)
	require.True(t, slices.Equal(got, []string{"SET SESSION time_zone='+00:00'"}), "reset backend reused with %q", got)
	s.Done(ctx, b2, nil, Status{})
}

func TestSessionMode(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 2})
	ctx := context.Background()
	s := p.NewSession("u", SessionOptions{Mode: ModeSession})
	b, _ := s.Acquire(ctx)
	s.Done(ctx, b, nil, Status{})
	require.Same(t, b, s.Held(), "session mode released its backend")
	s.Close(ctx)
	require.Equal(t, 1, p.Stats().IdleConnections, "session-mode backend not given back at Close")
}

func TestHealthCheckReplacesDeadIdle(t *testing.T) {
	m := newMemServer()
	clock := newFakeClock()
	p := newMemPool(t, m, Config{MaxConnections: 1, HealthCheckIdle: time.Minute, Now: clock.Now})
	ctx := context.Background()
	s := p.NewSession("u", SessionOptions{})
	b, _ := s.Acquire(ctx)
	s.Done(ctx, b, nil, Status{})

	clock.Advance(59 * time.Second) // not idle long enough: no ping
	memOf(b).pingErr = errPing
	b2, err := s.Acquire(ctx)
	require.NoError(t, err, "Acquire = %v, %v", b2, err)
	require.Same(t, b, b2, "Acquire = %v, %v", b2, err)
	s.Done(ctx, b2, nil, Status{})
	clock.Advance(2 * time.Minute)
	b3, err := s.Acquire(ctx)
	require.NoError(t, err)
	require.NotSame(t, b, b3, "dead idle connection handed out")
	s.Done(ctx, b3, nil, Status{})
	st := p.Stats()
	require.Equal(t, int64(1), st.ClosedCount(CloseHealthCheck), "stats: %+v", st)
	require.Equal(t, int64(1), st.HealthChecks, "stats: %+v", st)
}

func TestSessionDoneWrongBackendPanics(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 2})
	ctx := context.Background()
	s1, s2 := p.NewSession("u", SessionOptions{}), p.NewSession("u", SessionOptions{})
	b1, _ := s1.Acquire(ctx)
	defer s1.Done(ctx, b1, nil, Status{})
	defer func() {
		if recover() == nil {
			t.Fatal("Done with another session's backend did not panic")
		}
	}()
	s2.Done(ctx, b1, nil, Status{})
}

func TestBorrowTimeoutError(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 1, ConnectionBorrowTimeout: time.Millisecond})
	ctx := context.Background()
	s1, s2 := p.NewSession("u", SessionOptions{}), p.NewSession("u", SessionOptions{})
	b, _ := s1.Acquire(ctx)
	defer s1.Done(ctx, b, nil, Status{})
	_, err := s2.Acquire(ctx)
	require.ErrorIs(t, err, ErrBorrowTimeout, "err = %v", err)
	want := "timed out after 1ms waiting for a database connection: pool of 1 busy, 0 waiting"
	require.Contains(t, err.Error(), want, "message %q lacks %q", err, want)
	require.Equal(t, int64(1), p.Stats().BorrowTimeouts, "timeout not counted")
}

func TestAcquireAfterClose(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 1})
	s := p.NewSession("u", SessionOptions{})
	p.Close()
	_, err := s.Acquire(context.Background())
	require.ErrorIs(t, err, ErrClosed, "err = %v", err)
	s.Close(context.Background())
	_, err = s.Acquire(context.Background())
	require.ErrorIs(t, err, ErrSessionClosed, "err = %v", err)
}

func TestHistogram(t *testing.T) {
	var h histogram
	h.observe(0)
	h.observe(500 * time.Nanosecond)
	h.observe(3 * time.Microsecond)
	h.observe(time.Millisecond)
	h.observe(time.Hour)
	s := h.snapshot()
	require.Equal(t, int64(5), s.Count(), "counts = %v", s.Counts)
	require.Equal(t, int64(2), s.Counts[0], "counts = %v", s.Counts)
	require.Equal(t, int64(1), s.Counts[2], "counts = %v", s.Counts)
	require.Equal(t, int64(1), s.Counts[HistogramBuckets-1], "counts = %v", s.Counts)
	q := s.Quantile(0.5)
	require.Equal(t, 4*time.Microsecond, q, "median bound = %v", q)
	q = s.Quantile(0.2)
	require.Equal(t, time.Microsecond, q, "p20 bound = %v", q)
	require.Equal(t, time.Duration(0), (&Histogram{}).Quantile(0.5), "empty quantile")
}

func TestQuoteIdent(t *testing.T) {
	got := quoteIdent("we`ird")
	require.Equal(t, "`we``ird`", got, "quoteIdent = %s", got)
}

// TestServerStateForgetsUnknownVariables: a server without a tracked
// variable is asked again without it, whether it names the variable as
// MariaDB does or quotes it as written (go-mysql-server); a server without
// transaction_isolation is asked for tx_isolation.
func TestServerStateForgetsUnknownVariables(t *testing.T) {
	st := newServerState()
	for _, msg := range []string{
		"Error 1193 (HY000): Unknown system variable 'max_execution_time'",
		"Error 1105 (HY000): Unknown system variable '@@session.max_statement_time'",
		"Error 1193 (HY000): Unknown system variable 'transaction_isolation'",
	} {
		require.True(t, st.forget(errors.New(msg)), "%s: not forgotten", msg)
	}
	require.Equal(t, "", st.names[pinning.VarMaxExecutionTime], "names still read: %q, %q", st.names[pinning.VarMaxExecutionTime], st.names[pinning.VarMaxStatementTime])
	require.Equal(t, "", st.names[pinning.VarMaxStatementTime], "names still read: %q, %q", st.names[pinning.VarMaxExecutionTime], st.names[pinning.VarMaxStatementTime])
	got := st.names[pinning.VarTransactionIsolation]
	require.Equal(t, "tx_isolation", got, "transaction_isolation respelled as %q, want tx_isolation", got)
	require.NotContains(t, st.query, "max_execution_time", "query %s", st.query)
	require.Contains(t, st.query, "@@SESSION.tx_isolation", "query %s", st.query)
	require.False(t, st.forget(errors.New("Error 1064: syntax")), "forgot something for another error")
}
