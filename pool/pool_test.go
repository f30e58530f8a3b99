package pool

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rdsmux/rdsmux/pinning"
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
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want error containing %q", tc.cfg, err, tc.want)
		}
	}
	c, err := Config{Dial: dial}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	if c.ConnectionBorrowTimeout != 120*time.Second || c.MaxConnectionsPercent != 100 ||
		c.MaxIdleConnectionsPercent != 50 || c.HealthCheckIdle != 30*time.Second {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestMaxConnectionsPercentFromServer(t *testing.T) {
	m := newMemServer()
	m.maxConnections = "40"
	p := newMemPool(t, m, Config{MaxConnectionsPercent: 50, MaxIdleConnectionsPercent: 25})
	if got := p.Stats().MaxDatabaseConnectionsAllowed; got != 1 {
		t.Fatalf("cap before @@max_connections is read = %d, want 1", got)
	}
	s := p.NewSession("u", SessionOptions{})
	b, err := s.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Done(context.Background(), b, nil, Status{})
	st := p.Stats()
	if st.MaxDatabaseConnectionsAllowed != 20 || st.MaxIdleConnections != 10 || st.ServerMaxConnections != 40 {
		t.Fatalf("limits = %d (idle %d, server %d), want 20 (10, 40)",
			st.MaxDatabaseConnectionsAllowed, st.MaxIdleConnections, st.ServerMaxConnections)
	}
}

func TestAbsoluteMaxConnectionsWins(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 7, MaxConnectionsPercent: 10})
	s := p.NewSession("u", SessionOptions{})
	b, _ := s.Acquire(context.Background())
	s.Done(context.Background(), b, nil, Status{})
	if got := p.Stats().MaxDatabaseConnectionsAllowed; got != 7 {
		t.Fatalf("cap = %d, want the absolute 7", got)
	}
	for _, e := range memOf(b).takeExecs() {
		if strings.Contains(e, "max_connections") {
			t.Fatalf("read @@max_connections although MaxConnections is set: %q", e)
		}
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
	if err != nil {
		t.Fatal(err)
	}
	if got := memOf(b).takeExecs(); !slices.Equal(got, []string{"SET SESSION time_zone='+00:00'"}) {
		t.Fatalf("fresh connection got %q", got)
	}
	a.Done(ctx, b, nil, Status{})

	// Same settings: nothing to apply.
	b2 := p.NewSession("u", SessionOptions{Settings: utc})
	bb, _ := b2.Acquire(ctx)
	if got := memOf(bb).takeExecs(); len(got) != 0 {
		t.Fatalf("matching connection got %q", got)
	}
	b2.Done(ctx, bb, nil, Status{})

	// A clean session gets the difference only.
	c := p.NewSession("u", SessionOptions{})
	bc, _ := c.Acquire(ctx)
	// The difference goes back to the value the connection started with
	// (here the fake server's "v"), never DEFAULT, the global value.
	if got := memOf(bc).takeExecs(); !slices.Equal(got, []string{"SET SESSION time_zone='v'"}) {
		t.Fatalf("clean session got %q", got)
	}
	c.Done(ctx, bc, nil, Status{})

	st := p.Stats()
	if st.ReuseExactMatch != 1 || st.ReuseDiffApplied != 2 {
		t.Fatalf("reuse counts exact=%d diff=%d, want 1, 2", st.ReuseExactMatch, st.ReuseDiffApplied)
	}
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
	if bx, _ := x.Acquire(ctx); bx != b1 {
		t.Fatal("UTC session did not get the UTC connection")
	} else {
		x.Done(ctx, bx, nil, Status{})
	}
	y := mk(settings("time_zone", "'+05:00'"))
	by, _ := y.Acquire(ctx)
	if by != b2 {
		t.Fatal("session with new settings did not prefer the clean connection")
	}
	if got := memOf(by).takeExecs(); !slices.Equal(got, []string{"SET SESSION time_zone='+05:00'"}) {
		t.Fatalf("got %q", got)
	}
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
	if s.Schema() != "other" {
		t.Fatalf("schema = %q", s.Schema())
	}
	// The next clean session is taken back to the default database.
	c := p.NewSession("u", SessionOptions{})
	bc, _ := c.Acquire(ctx)
	if got := memOf(bc).takeExecs(); !slices.Equal(got, []string{"USE `test`"}) {
		t.Fatalf("got %q", got)
	}
	c.Done(ctx, bc, nil, Status{})
	// USE of the default database is the default.
	r.Schema = "test"
	s2 := p.NewSession("u", SessionOptions{Schema: "other"})
	b2, _ := s2.Acquire(ctx)
	s2.Done(ctx, b2, &r, Status{})
	if s2.Schema() != "" {
		t.Fatalf("schema after USE of the default = %q, want \"\"", s2.Schema())
	}
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
	if got, _ := s.settings.Get(pinning.VarTimeZone); got != "'+04:00'" {
		t.Fatalf("read-back time_zone = %q", got)
	}
	if got, _ := s.settings.Get(pinning.VarCharacterSetResults); got != "NULL" {
		t.Fatalf("read-back character_set_results = %q", got)
	}
	if s.Pinned() || s.Held() != nil {
		t.Fatal("a read-back setting must not pin")
	}
	// The next session with the same settings reuses without a diff.
	s2 := p.NewSession("u", SessionOptions{Settings: s.Settings()})
	b2, _ := s2.Acquire(ctx)
	if got := memOf(b2).takeExecs(); len(got) != 0 {
		t.Fatalf("got %q", got)
	}
	s2.Done(ctx, b2, nil, Status{})
}

func TestTransactionHoldsBackend(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 2})
	ctx := context.Background()
	s := p.NewSession("u", SessionOptions{})
	b, _ := s.Acquire(ctx)
	s.Done(ctx, b, nil, Status{InTransaction: true})
	if s.Held() != b || p.Stats().DatabaseConnectionsCurrentlyInTransaction != 1 {
		t.Fatal("backend not held during the transaction")
	}
	b2, _ := s.Acquire(ctx)
	if b2 != b {
		t.Fatal("Acquire in a transaction returned another backend")
	}
	s.Done(ctx, b, nil, Status{InTransaction: true, MoreResults: true})
	s.Done(ctx, b, nil, Status{MoreResults: true})
	if s.Held() != b {
		t.Fatal("backend released with results pending")
	}
	s.Done(ctx, b, nil, Status{})
	if s.Held() != nil {
		t.Fatal("backend not released after the transaction")
	}
	st := p.Stats()
	if st.DatabaseConnectionsCurrentlyInTransaction != 0 || st.DatabaseConnectionsCurrentlyBorrowed != 0 {
		t.Fatalf("gauges after release: %+v", st)
	}
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
	if !s.Pinned() || s.Held() != b || !s.PinReasons().Has(pinning.PinLockTables) {
		t.Fatal("not pinned after LOCK TABLES")
	}
	st := p.Stats()
	if st.DatabaseConnectionsCurrentlySessionPinned != 1 || st.PinCount(pinning.PinLockTables) != 1 {
		t.Fatalf("pin stats: %+v", st)
	}
	var unlock pinning.Result
	unlock.Statements, unlock.Unpins = 1, pinning.PinReasons(0).Add(pinning.PinLockTables)
	b, _ = s.Acquire(ctx)
	s.Done(ctx, b, &unlock, Status{})
	if s.Pinned() || s.Held() != nil {
		t.Fatal("still pinned after UNLOCK TABLES")
	}
	if p.Stats().DatabaseConnectionsCurrentlySessionPinned != 0 {
		t.Fatal("pinned gauge not decremented")
	}
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
	if s.Pinned() || !s.settings.IsZero() || s.Held() != nil {
		t.Fatal("a failed statement changed the session")
	}
	// A failed batch may have run in part: pins stay, settings unknown.
	b, _ = s.Acquire(ctx)
	r.Statements = 2
	s.Done(ctx, b, &r, Status{Err: errors.New("Error 1064: syntax")})
	if !s.Pinned() || s.Held() != b {
		t.Fatal("a failed batch with effects must pin")
	}
	s.Close(ctx)
	if got := memOf(b).takeExecs(); !slices.Contains(got, "<reset>") {
		t.Fatalf("pinned backend not reset at Close: %q", got)
	}
}

func TestBrokenBackendDestroyed(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 1})
	ctx := context.Background()
	s := p.NewSession("u", SessionOptions{})
	b, _ := s.Acquire(ctx)
	s.Done(ctx, b, nil, Status{InTransaction: true})
	s.Done(ctx, b, nil, Status{Err: ErrBroken})
	if s.Held() != nil || s.InTransaction() {
		t.Fatal("session still holds a broken backend")
	}
	waitUntil(t, "broken conn closed", func() bool {
		memOf(b).mu.Lock()
		defer memOf(b).mu.Unlock()
		return memOf(b).closed
	})
	b2, _ := s.Acquire(ctx)
	if b2 == b {
		t.Fatal("broken backend reused")
	}
	s.Done(ctx, b2, nil, Status{})
	if st := p.Stats(); st.ClosedCount(CloseBroken) != 1 || st.DatabaseConnectionsCurrentlyInTransaction != 0 {
		t.Fatalf("stats: %+v", st)
	}
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
			if err := s.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if got := memOf(b).takeExecs(); !slices.Equal(got, tc.wantExecs) {
				t.Fatalf("statements at Close: %q, want %q", got, tc.wantExecs)
			}
			s2 := p.NewSession("u", SessionOptions{})
			b2, err := s2.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if (b2 == b) != tc.wantReuse {
				t.Fatalf("reused = %v, want %v", b2 == b, tc.wantReuse)
			}
			s2.Done(ctx, b2, nil, Status{})
			if st := p.Stats(); st.DatabaseConnectionsCurrentlySessionPinned != 0 || st.DatabaseConnectionsCurrentlyInTransaction != 0 {
				t.Fatalf("gauges: %+v", st)
			}
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
	if err := s.ResetState(ctx); err != nil {
		t.Fatal(err)
	}
	// The session returns to the settings it started with.
	if want := settings("time_zone", "'+00:00'"); s.Pinned() || s.InTransaction() || !s.settings.Equal(&want) || s.Schema() != "other" || s.Held() != nil {
		t.Fatalf("after ResetState: pinned=%v tx=%v settings=%v schema=%q held=%v",
			s.Pinned(), s.InTransaction(), s.settings.Key(), s.Schema(), s.Held() != nil)
	}
	if got := memOf(b).takeExecs(); !slices.Equal(got, []string{"<reset>", "USE `other`"}) {
		t.Fatalf("got %q", got)
	}
	// The reset backend is back in its starting state except for the
	// schema: the session's starting settings are applied again.
	b2, _ := s.Acquire(ctx)
	if got := memOf(b).takeExecs(); b2 != b || !slices.Equal(got, []string{"SET SESSION time_zone='+00:00'"}) {
		t.Fatalf("reset backend reused with %q", got)
	}
	s.Done(ctx, b2, nil, Status{})
}

func TestSessionMode(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 2})
	ctx := context.Background()
	s := p.NewSession("u", SessionOptions{Mode: ModeSession})
	b, _ := s.Acquire(ctx)
	s.Done(ctx, b, nil, Status{})
	if s.Held() != b {
		t.Fatal("session mode released its backend")
	}
	s.Close(ctx)
	if p.Stats().IdleConnections != 1 {
		t.Fatal("session-mode backend not given back at Close")
	}
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
	if err != nil || b2 != b {
		t.Fatalf("Acquire = %v, %v", b2, err)
	}
	s.Done(ctx, b2, nil, Status{})
	clock.Advance(2 * time.Minute)
	b3, err := s.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b3 == b {
		t.Fatal("dead idle connection handed out")
	}
	s.Done(ctx, b3, nil, Status{})
	if st := p.Stats(); st.ClosedCount(CloseHealthCheck) != 1 || st.HealthChecks != 1 {
		t.Fatalf("stats: %+v", st)
	}
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
	if !errors.Is(err, ErrBorrowTimeout) {
		t.Fatalf("err = %v", err)
	}
	want := "timed out after 1ms waiting for a database connection: pool of 1 busy, 0 waiting"
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("message %q lacks %q", err, want)
	}
	if p.Stats().BorrowTimeouts != 1 {
		t.Fatal("timeout not counted")
	}
}

func TestAcquireAfterClose(t *testing.T) {
	m := newMemServer()
	p := newMemPool(t, m, Config{MaxConnections: 1})
	s := p.NewSession("u", SessionOptions{})
	p.Close()
	if _, err := s.Acquire(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v", err)
	}
	s.Close(context.Background())
	if _, err := s.Acquire(context.Background()); !errors.Is(err, ErrSessionClosed) {
		t.Fatalf("err = %v", err)
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	h.observe(0)
	h.observe(500 * time.Nanosecond)
	h.observe(3 * time.Microsecond)
	h.observe(time.Millisecond)
	h.observe(time.Hour)
	s := h.snapshot()
	if s.Count() != 5 || s.Counts[0] != 2 || s.Counts[2] != 1 || s.Counts[HistogramBuckets-1] != 1 {
		t.Fatalf("counts = %v", s.Counts)
	}
	if q := s.Quantile(0.5); q != 4*time.Microsecond {
		t.Fatalf("median bound = %v", q)
	}
	if q := s.Quantile(0.2); q != time.Microsecond {
		t.Fatalf("p20 bound = %v", q)
	}
	if (&Histogram{}).Quantile(0.5) != 0 {
		t.Fatal("empty quantile")
	}
}

func TestQuoteIdent(t *testing.T) {
	if got := quoteIdent("we`ird"); got != "`we``ird`" {
		t.Fatalf("quoteIdent = %s", got)
	}
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
		if !st.forget(errors.New(msg)) {
			t.Fatalf("%s: not forgotten", msg)
		}
	}
	if st.names[pinning.VarMaxExecutionTime] != "" || st.names[pinning.VarMaxStatementTime] != "" {
		t.Fatalf("names still read: %q, %q", st.names[pinning.VarMaxExecutionTime], st.names[pinning.VarMaxStatementTime])
	}
	if got := st.names[pinning.VarTransactionIsolation]; got != "tx_isolation" {
		t.Fatalf("transaction_isolation respelled as %q, want tx_isolation", got)
	}
	if strings.Contains(st.query, "max_execution_time") || !strings.Contains(st.query, "@@SESSION.tx_isolation") {
		t.Fatalf("query %s", st.query)
	}
	if st.forget(errors.New("Error 1064: syntax")) {
		t.Fatal("forgot something for another error")
	}
}
