package pool

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rdsmux/rdsmux/pinning"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// run acquires for sql with AcquireFor and finishes it with st, as the
// driver and the listener do (the in-memory conns run nothing).
func run(t *testing.T, s *Session, sql string, st Status) (*PooledConn, error) {
	t.Helper()
	ctx := context.Background()
	var r pinning.Result
	classifier.Classify(sql, &r)
	b, err := s.AcquireFor(ctx, sql, &r)
	if err != nil {
		return nil, err
	}
	s.Done(ctx, b, &r, st)
	return b, nil
}

func mustRun(t *testing.T, s *Session, sql string, st Status) *PooledConn {
	t.Helper()
	b, err := run(t, s, sql, st)
	require.NoError(t, err, "%s: %v", sql, err)
	return b
}

func wantLoss(t *testing.T, err error, loss LookBehindLoss) {
	t.Helper()
	var le *LookBehindError
	require.ErrorIs(t, err, ErrLookBehindLost, "err = %v, want a LookBehindError", err)
	require.ErrorAs(t, err, &le, "err = %v, want a LookBehindError", err)
	require.Equal(t, loss, le.Loss, "loss = %d, want %d (%v)", le.Loss, loss, err)
}

// warmed returns a pool whose n connections all exist and have been used by
// some session, so that no session starts on a connection nobody used.
func warmed(t *testing.T, n int, cfg Config) *Pool {
	t.Helper()
	cfg.MaxConnections = n
	p := newMemPool(t, newMemServer(), cfg)
	var ss []*Session
	for i := 0; i < n; i++ {
		s := p.NewSession("u", SessionOptions{})
		mustRun(t, s, "BEGIN", Status{InTransaction: true})
		ss = append(ss, s)
	}
	for _, s := range ss {
		mustRun(t, s, "COMMIT", Status{})
		s.Close(context.Background())
	}
	return p
}

func TestLookBehindTakesBackPreviousBackend(t *testing.T) {
	clock := newFakeClock()
	p := warmed(t, 2, Config{HealthCheckIdle: time.Minute, Now: clock.Now})
	s, o := p.NewSession("u", SessionOptions{}), p.NewSession("u", SessionOptions{})
	b := mustRun(t, s, "INSERT INTO t VALUES (1), (2), (3)", Status{})
	require.Nil(t, s.Held(), "autocommit INSERT kept its backend")
	// Another session passes over the connection s may come back for.
	ob := mustRun(t, o, "SELECT 1", Status{})
	require.NotSame(t, b, ob, "another session took the claimed connection while another was idle")
	memOf(b).takeExecs()
	clock.Advance(2 * time.Minute) // past HealthCheckIdle: still no ping
	got := mustRun(t, s, "SELECT ROW_COUNT()", Status{})
	require.Same(t, b, got, "ROW_COUNT() did not run on the INSERT's connection")
	execs := memOf(b).takeExecs()
	require.Len(t, execs, 0, "the pool ran %q before the look-behind statement", execs)
	require.False(t, s.Pinned(), "ROW_COUNT() pinned the session (%v)", s.PinReasons())
	require.Nil(t, s.Held(), "ROW_COUNT() pinned the session (%v)", s.PinReasons())
	st := p.Stats()
	require.Equal(t, int64(1), st.LookBehindReclaimed, "stats: reclaimed %d lost %d health checks %d row-count pins %d", st.LookBehindReclaimed, st.LookBehindLost, st.HealthChecks, st.PinCount(pinning.PinRowCount))
	require.Equal(t, int64(0), st.LookBehindLost, "stats: reclaimed %d lost %d health checks %d row-count pins %d", st.LookBehindReclaimed, st.LookBehindLost, st.HealthChecks, st.PinCount(pinning.PinRowCount))
	require.Equal(t, int64(0), st.HealthChecks, "stats: reclaimed %d lost %d health checks %d row-count pins %d", st.LookBehindReclaimed, st.LookBehindLost, st.HealthChecks, st.PinCount(pinning.PinRowCount))
	require.Equal(t, int64(0), st.PinCount(pinning.PinRowCount), "stats: reclaimed %d lost %d health checks %d row-count pins %d", st.LookBehindReclaimed, st.LookBehindLost, st.HealthChecks, st.PinCount(pinning.PinRowCount))
	// Look-behind after look-behind: SELECT ROW_COUNT() itself left state.
	require.Same(t, b, mustRun(t, s, "SELECT ROW_COUNT()", Status{}), "second look-behind statement moved")
}

func TestLookBehindLostWhenReused(t *testing.T) {
	p := warmed(t, 1, Config{})
	s, o := p.NewSession("u", SessionOptions{}), p.NewSession("u", SessionOptions{})
	mustRun(t, s, "INSERT INTO t VALUES (1), (2), (3)", Status{})
	mustRun(t, o, "INSERT INTO t VALUES (4)", Status{}) // the only connection
	_, err := run(t, s, "SELECT ROW_COUNT()", Status{})
	wantLoss(t, err, LossReused)
	for _, want := range []string{"ROW_COUNT()", "reused by another session", "one transaction", "session pooling"} {
		assert.Contains(t, err.Error(), want, "message %q lacks %q", err, want)
	}
	require.Nil(t, s.Held(), "a refused look-behind statement kept a connection")
	require.Equal(t, 0, p.Stats().DatabaseConnectionsCurrentlyBorrowed, "a refused look-behind statement kept a connection")
	// Again: the same answer, not a wrong one.
	_, err = run(t, s, "SELECT ROW_COUNT() > 0", Status{})
	wantLoss(t, err, LossReused)
	st := p.Stats()
	require.Equal(t, int64(2), st.LookBehindLost, "stats: lost %d reclaimed %d", st.LookBehindLost, st.LookBehindReclaimed)
	require.Equal(t, int64(0), st.LookBehindReclaimed, "stats: lost %d reclaimed %d", st.LookBehindLost, st.LookBehindReclaimed)
	// An ordinary statement starts over; a look-behind one after it works.
	mustRun(t, s, "INSERT INTO t VALUES (5)", Status{})
	mustRun(t, s, "SELECT ROW_COUNT()", Status{})
}

func TestLookBehindLostWhenClosed(t *testing.T) {
	p := warmed(t, 2, Config{})
	s := p.NewSession("u", SessionOptions{})
	mustRun(t, s, "DELETE FROM t", Status{})
	p.Invalidate("test")
	_, err := run(t, s, "SELECT ROW_COUNT()", Status{})
	wantLoss(t, err, LossClosed)

	mustRun(t, s, "BEGIN", Status{InTransaction: true})
	_, err = run(t, s, "UPDATE t SET x = 1", Status{Err: ErrBroken})
	require.NoError(t, err)
	_, err = run(t, s, "SELECT ROW_COUNT()", Status{})
	wantLoss(t, err, LossClosed)
}

func TestLookBehindNoPrevious(t *testing.T) {
	p := warmed(t, 2, Config{})
	s := p.NewSession("u", SessionOptions{})
	_, err := run(t, s, "SELECT FOUND_ROWS()", Status{})
	wantLoss(t, err, LossNoPrevious)
	require.Contains(t, err.Error(), "FOUND_ROWS()", "message: %v", err)
	require.Contains(t, err.Error(), "no statement since it started", "message: %v", err)
	mustRun(t, s, "INSERT INTO t VALUES (1)", Status{})
	require.NoError(t, s.ResetState(context.Background()))
	_, err = run(t, s, "SELECT ROW_COUNT()", Status{})
	wantLoss(t, err, LossNoPrevious)
}

func TestLookBehindOnHeldBackend(t *testing.T) {
	p := warmed(t, 2, Config{})
	s := p.NewSession("u", SessionOptions{})
	b := mustRun(t, s, "BEGIN", Status{InTransaction: true})
	mustRun(t, s, "INSERT INTO t VALUES (1), (2)", Status{InTransaction: true})
	got := mustRun(t, s, "SELECT ROW_COUNT()", Status{InTransaction: true})
	require.Same(t, b, got, "moved off the held backend")
	mustRun(t, s, "COMMIT", Status{})
	require.False(t, s.Pinned(), "pinned after the transaction: %v", s.PinReasons())
	require.Nil(t, s.Held(), "pinned after the transaction: %v", s.PinReasons())
	st := p.Stats()
	require.Equal(t, int64(0), st.LookBehindReclaimed, "a held backend counted as reclaim or loss: %+v", st)
	require.Equal(t, int64(0), st.LookBehindLost, "a held backend counted as reclaim or loss: %+v", st)
}

func TestFoundRowsPair(t *testing.T) {
	p := warmed(t, 2, Config{})
	s := p.NewSession("u", SessionOptions{})
	// SQL_CALC_FOUND_ROWS reads nothing: it runs even as the first
	// statement, and pins nothing.
	b := mustRun(t, s, "SELECT SQL_CALC_FOUND_ROWS * FROM t WHERE x > 1 LIMIT 10", Status{})
	require.False(t, s.Pinned(), "SQL_CALC_FOUND_ROWS pinned the session (%v)", s.PinReasons())
	require.Nil(t, s.Held(), "SQL_CALC_FOUND_ROWS pinned the session (%v)", s.PinReasons())
	got := mustRun(t, s, "SELECT FOUND_ROWS()", Status{})
	require.Same(t, b, got, "FOUND_ROWS() did not run where SQL_CALC_FOUND_ROWS did")
	require.False(t, s.Pinned(), "FOUND_ROWS() pinned the session (%v)", s.PinReasons())
	// A statement that is not a SELECT leaves FOUND_ROWS() as it was:
	// still the session's own while it stays on the same connection.
	mustRun(t, s, "INSERT INTO t VALUES (1)", Status{})
	got = mustRun(t, s, "SELECT /* page */ found_rows() AS total", Status{})
	require.Same(t, b, got, "FOUND_ROWS() moved")
	st := p.Stats()
	require.Equal(t, int64(0), st.PinCount(pinning.PinFoundRows), "found-rows pins %d, reclaimed %d", st.PinCount(pinning.PinFoundRows), st.LookBehindReclaimed)
	require.Equal(t, int64(2), st.LookBehindReclaimed, "found-rows pins %d, reclaimed %d", st.PinCount(pinning.PinFoundRows), st.LookBehindReclaimed)
}

// TestFoundRowsNotOwnAfterMove: the session's SQL_CALC_FOUND_ROWS ran on one
// connection and a later statement on another, which holds another
// session's FOUND_ROWS(): a FOUND_ROWS() there would be wrong.
func TestFoundRowsNotOwnAfterMove(t *testing.T) {
	p := warmed(t, 2, Config{})
	s, o := p.NewSession("u", SessionOptions{}), p.NewSession("u", SessionOptions{})
	a := mustRun(t, s, "SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1", Status{})
	// o takes a (the only other idle connection is claimed... no: a is
	// claimed, so o takes the other; make o take a by holding the other).
	hold := p.NewSession("u", SessionOptions{})
	hb := mustRun(t, hold, "BEGIN", Status{InTransaction: true})
	require.NotSame(t, a, hb, "setup: the holder took the claimed connection")
	ob := mustRun(t, o, "BEGIN", Status{InTransaction: true})
	require.Same(t, a, ob, "setup: o did not get the remaining connection")
	mustRun(t, hold, "COMMIT", Status{})
	// s's INSERT runs on the holder's old connection, then FOUND_ROWS().
	b := mustRun(t, s, "INSERT INTO t VALUES (1)", Status{})
	require.NotSame(t, a, b, "setup: INSERT ran on the busy connection")
	_, err := run(t, s, "SELECT FOUND_ROWS()", Status{})
	wantLoss(t, err, LossElsewhere)
	// ROW_COUNT() is the INSERT's and is right there.
	mustRun(t, s, "SELECT ROW_COUNT()", Status{})
	mustRun(t, o, "COMMIT", Status{})
}

func TestWarningsNeedAStatementThatRaisedThem(t *testing.T) {
	p := warmed(t, 2, Config{})
	s := p.NewSession("u", SessionOptions{})
	// A statement with no warnings on a connection another session used
	// may leave that session's warnings in place (MariaDB keeps them
	// across statements that use no table).
	mustRun(t, s, "SELECT 1", Status{})
	_, err := run(t, s, "SHOW WARNINGS", Status{})
	wantLoss(t, err, LossElsewhere)
	require.Contains(t, err.Error(), "SHOW WARNINGS", "message: %v", err)
	b := mustRun(t, s, "SELECT CAST('x' AS SIGNED)", Status{Warnings: 1})
	require.Same(t, b, mustRun(t, s, "SHOW WARNINGS", Status{}), "SHOW WARNINGS moved")
	// Still its own after statements that may not clear the list.
	mustRun(t, s, "SELECT 1", Status{})
	mustRun(t, s, "SELECT @@warning_count", Status{})
	// A failed statement reported with its error replaces the list.
	mustRun(t, s, "SELECT * FROM nope", Status{Err: errors.New("Error 1146: no such table"), Warnings: 1})
	mustRun(t, s, "SHOW ERRORS", Status{})
	require.False(t, s.Pinned(), "pinned: %v", s.PinReasons())
}

func TestFreshSessionOnUnusedConnectionOwnsAll(t *testing.T) {
	p := newMemPool(t, newMemServer(), Config{MaxConnections: 2})
	s := p.NewSession("u", SessionOptions{})
	mustRun(t, s, "SELECT 1", Status{}) // first statement, on a new connection
	mustRun(t, s, "SHOW WARNINGS", Status{})
	mustRun(t, s, "SELECT FOUND_ROWS()", Status{})

	// Session mode after a reset: the reset connection is as new.
	m := p.NewSession("u", SessionOptions{Mode: ModeSession})
	mustRun(t, m, "SELECT 1", Status{})
	err := m.ResetState(context.Background())
	require.NoError(t, err)
	mustRun(t, m, "SHOW WARNINGS", Status{})
	m.Close(context.Background())
}

func TestLegacyAcquireStillPins(t *testing.T) {
	p := warmed(t, 2, Config{})
	s := p.NewSession("u", SessionOptions{})
	ctx := context.Background()
	b, err := s.Acquire(ctx)
	require.NoError(t, err)
	var r pinning.Result
	classifier.Classify("SELECT FOUND_ROWS()", &r)
	s.Done(ctx, b, &r, Status{})
	require.True(t, s.PinReasons().Has(pinning.PinFoundRows), "a look-behind statement through plain Acquire no longer pins")
	s.Close(ctx)
}

func TestLookBehindAfterClose(t *testing.T) {
	p := warmed(t, 2, Config{})
	s := p.NewSession("u", SessionOptions{})
	mustRun(t, s, "INSERT INTO t VALUES (1)", Status{})
	o := p.NewSession("u", SessionOptions{})
	mustRun(t, o, "INSERT INTO t VALUES (1)", Status{})
	p.Close()
	_, err := run(t, o, "SELECT ROW_COUNT()", Status{})
	require.ErrorIs(t, err, ErrClosed, "after pool Close: %v", err)
	s.Close(context.Background())
	_, err = run(t, s, "SELECT ROW_COUNT()", Status{})
	require.ErrorIs(t, err, ErrSessionClosed, "after session Close: %v", err)
}

func TestSessionCloseGivesUpClaim(t *testing.T) {
	p := warmed(t, 2, Config{})
	s, o := p.NewSession("u", SessionOptions{}), p.NewSession("u", SessionOptions{})
	b := mustRun(t, s, "INSERT INTO t VALUES (1)", Status{}) // top of the idle list, claimed
	s.Close(context.Background())
	got := mustRun(t, o, "SELECT 1", Status{})
	require.Same(t, b, got, "a closed session's connection is still passed over")
}

func TestPinsAfter(t *testing.T) {
	set := func(rs ...pinning.PinReason) pinning.PinReasons {
		var s pinning.PinReasons
		for _, r := range rs {
			s = s.Add(r)
		}
		return s
	}
	for _, tc := range []struct {
		pins       pinning.PinReasons
		lookBehind bool
		want       pinning.PinReasons
	}{
		{set(pinning.PinFoundRows), false, set(pinning.PinFoundRows)},
		{set(pinning.PinFoundRows), true, 0},
		{set(pinning.PinFoundRows, pinning.PinExecutableComment), true, 0},
		{set(pinning.PinDiagnostics, pinning.PinExecutableComment, pinning.PinUserVariable), true,
			set(pinning.PinExecutableComment, pinning.PinUserVariable)},
		{set(pinning.PinExecutableComment, pinning.PinGetLock), true, set(pinning.PinExecutableComment, pinning.PinGetLock)},
	} {
		r := pinning.Result{Pins: tc.pins}
		got := pinsAfter(&r, tc.lookBehind)
		assert.Equal(t, tc.want, got, "pinsAfter(%v, %v) = %v, want %v", tc.pins, tc.lookBehind, got, tc.want)
	}
}

func TestCallsFoundRows(t *testing.T) {
	for sql, want := range map[string]bool{
		"SELECT FOUND_ROWS()":                               true,
		"select found_rows ( )":                             true,
		"SELECT a, Found_Rows() FROM t":                     true,
		"SELECT SQL_CALC_FOUND_ROWS * FROM t":               false,
		"SELECT sql_calc_found_rows a FROM t":               false,
		"SELECT my_found_rows() FROM t":                     false,
		"SELECT found_rows_total FROM t":                    false,
		"SELECT `found_rows`()":                             true, // conservative
		"SELECT 'found_rows' FROM t":                        true, // conservative
		"SELECT SQL_CALC_FOUND_ROWS 1; SELECT FOUND_ROWS()": true,
		"":                false,
		"FOUND_ROWS":      true,
		"x\x80found_rows": false,
	} {
		got := callsFoundRows(sql)
		assert.Equal(t, want, got, "callsFoundRows(%q) = %v, want %v", sql, got, want)
	}
}

// FuzzCallsFoundRows checks callsFoundRows against a plain reference
// implementation.
func FuzzCallsFoundRows(f *testing.F) {
	for _, s := range []string{"SELECT FOUND_ROWS()", "SELECT SQL_CALC_FOUND_ROWS * FROM t", "found_rows", "xfound_rowsx", "FOUND_ROWS$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		lower := []byte(sql)
		for i, c := range lower {
			if 'A' <= c && c <= 'Z' {
				lower[i] = c + 'a' - 'A'
			}
		}
		want := false
		for i := 0; i+10 <= len(lower); i++ {
			if string(lower[i:i+10]) == "found_rows" &&
				(i == 0 || !isWordByte(lower[i-1])) && (i+10 == len(lower) || !isWordByte(lower[i+10])) {
				want = true
				break
			}
		}
		got := callsFoundRows(sql)
		require.Equal(t, want, got, "callsFoundRows(%q) = %v, want %v", sql, got, want)
	})
}
