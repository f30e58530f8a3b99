package pool

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/pinning"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run look-behind statements against a real MariaDB server
// while other sessions churn through a small pool. Statements run through
// AcquireFor and are finished with the status a caller would know from the
// server's packets (warnings counted by the test, which knows which
// statements raise them); nothing else is sent on the connection in
// between, since any statement would overwrite what is looked behind at.

// lbStmt runs sql for s and returns its first row as text. It returns
// AcquireFor's error as is.
func lbStmt(s *Session, sql string, st Status) ([]string, error) {
	ctx := context.Background()
	var r pinning.Result
	classifier.Classify(sql, &r)
	b, err := s.AcquireFor(ctx, sql, &r)
	if err != nil {
		return nil, err
	}
	row, err := firstRow(ctx, b.Conn().(*sqlConn), sql)
	if err != nil {
		st.Err = err
	}
	s.Done(ctx, b, &r, st)
	return row, err
}

// firstRow runs sql on c and returns its first row (nil for a statement
// without rows).
func firstRow(ctx context.Context, c *sqlConn, sql string) ([]string, error) {
	rows, err := c.c.(driver.QueryerContext).QueryContext(ctx, sql, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := rows.Columns()
	if len(cols) == 0 {
		return nil, nil
	}
	dest := make([]driver.Value, len(cols))
	if err := rows.Next(dest); err != nil {
		return nil, nil // no row
	}
	out := make([]string, len(dest))
	for i, v := range dest {
		switch v := v.(type) {
		case []byte:
			out[i] = string(v)
		case nil:
			out[i] = "NULL"
		default:
			out[i] = fmt.Sprint(v)
		}
	}
	return out, nil
}

func lbSetup(t *testing.T) *mariadbtest.Server {
	srv := startServer(t)
	srv.Exec(t, "CREATE TABLE test.lb (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
	srv.Exec(t, "CREATE TABLE test.big (id INT PRIMARY KEY)")
	var vals []string
	for i := 1; i <= 37; i++ {
		vals = append(vals, "("+strconv.Itoa(i)+")")
	}
	srv.Exec(t, "INSERT INTO test.big VALUES "+strings.Join(vals, ","))
	srv.Exec(t, "CREATE TABLE test.small (id INT PRIMARY KEY)")
	srv.Exec(t, "INSERT INTO test.small VALUES (1), (2)")
	return srv
}

// churn runs n sessions that leave other values behind for every kind of
// look-behind state (ROW_COUNT() 7, FOUND_ROWS() 2, a warning naming
// 'churn'), until stop is closed.
func churn(t *testing.T, p *Pool, n int, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := p.NewSession("root", SessionOptions{})
			defer s.Close(context.Background())
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				switch i % 5 {
				case 0:
					_, err = lbStmt(s, "INSERT INTO test.lb (v) VALUES (7),(7),(7),(7),(7),(7),(7)", Status{})
				case 1:
					_, err = lbStmt(s, "SELECT SQL_CALC_FOUND_ROWS * FROM test.small LIMIT 1", Status{})
				case 2:
					_, err = lbStmt(s, "SELECT CAST('churn' AS SIGNED)", Status{Warnings: 1})
				case 3:
					if _, err = lbStmt(s, "BEGIN", Status{InTransaction: true}); err == nil {
						if _, err = lbStmt(s, "DELETE FROM test.lb WHERE v = 7 LIMIT 3", Status{InTransaction: true}); err == nil {
							_, err = lbStmt(s, "COMMIT", Status{})
						}
					}
				case 4:
					_, err = lbStmt(s, "SELECT ROW_COUNT()", Status{})
				}
				if !assert.True(t, err == nil || errors.Is(err, ErrLookBehindLost), "churn: %v", err) {
					return
				}
			}
		}()
	}
	return &wg
}

// pair runs first, then the look-behind statement second, and checks the
// second's first column with check. A pair whose second statement is
// refused with ErrLookBehindLost is run again, up to retries times; it
// returns how many attempts were refused.
func pair(t *testing.T, s *Session, first string, firstSt Status, second string, check func(row []string) error, retries int) (refused int) {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt <= retries; attempt++ {
		_, err := lbStmt(s, first, firstSt)
		require.NoError(t, err, "%s: %v", first, err)
		row, err := lbStmt(s, second, Status{})
		if errors.Is(err, ErrLookBehindLost) {
			refused++
			lastErr = err
			continue
		}
		require.NoError(t, err, "%s: %v", second, err)
		err = check(row)
		require.NoError(t, err, "%s after %s: %v (a wrong answer)", second, first, err)
		return refused
	}
	require.LessOrEqual(t, retries, 0, "%s after %s refused %d times in a row; last: %v; stats %+v", second, first, refused, lastErr, s.pool.Stats())
	return refused
}

func colIs(want string) func([]string) error {
	return func(row []string) error {
		if len(row) == 0 || row[0] != want {
			return fmt.Errorf("got %q, want %q", row, want)
		}
		return nil
	}
}

// lookBehindRounds runs every look-behind pair rounds times for s. With
// retries 0 a refused pair counts and moves on; otherwise each pair must
// be served within retries attempts.
func lookBehindRounds(t *testing.T, s *Session, rounds, retries int) (refused int) {
	for i := 0; i < rounds; i++ {
		n := 1 + i%5
		vals := strings.TrimSuffix(strings.Repeat("(1),", n), ",")
		refused += pair(t, s, "INSERT INTO test.lb (v) VALUES "+vals, Status{}, "SELECT ROW_COUNT()", colIs(strconv.Itoa(n)), retries)
		refused += pair(t, s, "SELECT SQL_CALC_FOUND_ROWS * FROM test.big WHERE id > "+strconv.Itoa(i%5)+" LIMIT 1", Status{},
			"SELECT FOUND_ROWS()", colIs(strconv.Itoa(37-i%5)), retries)
		tag := "lb" + strconv.Itoa(i)
		refused += pair(t, s, "SELECT CAST('"+tag+"' AS SIGNED)", Status{Warnings: 1}, "SHOW WARNINGS", func(row []string) error {
			if len(row) != 3 || row[1] != "1292" || !strings.Contains(row[2], "'"+tag+"'") {
				return fmt.Errorf("got %q, want warning 1292 about '%s'", row, tag)
			}
			return nil
		}, retries)
		// In a transaction the held connection serves it.
		_, err := lbStmt(s, "BEGIN", Status{InTransaction: true})
		require.NoError(t, err)
		refused += pair(t, s, "INSERT INTO test.lb (v) VALUES (1),(1),(1)", Status{InTransaction: true}, "SELECT ROW_COUNT()", colIs("3"), 0)
		_, err = lbStmt(s, "COMMIT", Status{})
		require.NoError(t, err)
		require.False(t, s.Pinned(), "look-behind statements pinned the session: %v", s.PinReasons())
	}
	return refused
}

// TestServerLookBehindUnderChurn: sessions that leave other values behind
// churn through a small pool that has room for everyone; the look-behind
// session's every answer is its own, and the pairs are served (a refusal,
// which the pool's preference makes rare, is retried).
func TestServerLookBehindUnderChurn(t *testing.T) {
	srv := lbSetup(t)
	d := newTestDialer(srv, false)
	p := newServerPool(t, d, Config{MaxConnections: 6})
	// Open every connection first: while dials are in flight (slow on a
	// loaded machine) borrowers wait, and a released connection goes
	// straight to a waiter, which is the saturated case below.
	var holders []*Session
	for i := 0; i < 6; i++ {
		h := p.NewSession("root", SessionOptions{})
		_, err := lbStmt(h, "BEGIN", Status{InTransaction: true})
		require.NoError(t, err)
		holders = append(holders, h)
	}
	for _, h := range holders {
		_, err := lbStmt(h, "COMMIT", Status{})
		require.NoError(t, err)
		h.Close(context.Background())
	}
	stop := make(chan struct{})
	wg := churn(t, p, 4, stop)
	s := p.NewSession("root", SessionOptions{})
	refused := lookBehindRounds(t, s, 30, 50)
	close(stop)
	wg.Wait()
	s.Close(context.Background())
	st := p.Stats()
	t.Logf("look-behind: reclaimed %d, refused %d (of them the test session's %d); connections %d",
		st.LookBehindReclaimed, st.LookBehindLost, refused, d.dials.Load())
	require.GreaterOrEqual(t, st.LookBehindReclaimed, int64(30*3), "reclaimed %d, want at least %d", st.LookBehindReclaimed, 30*3)
	n := st.PinCount(pinning.PinRowCount) + st.PinCount(pinning.PinFoundRows) + st.PinCount(pinning.PinDiagnostics)
	require.Equal(t, int64(0), n, "%d sessions pinned for look-behind reasons", n)
}

// TestServerLookBehindSaturated: more sessions than connections, so a
// released connection usually goes straight to a waiting borrower. Every
// look-behind statement then either returns the session's own value or is
// refused with ErrLookBehindLost; never another session's value.
func TestServerLookBehindSaturated(t *testing.T) {
	srv := lbSetup(t)
	d := newTestDialer(srv, false)
	p := newServerPool(t, d, Config{MaxConnections: 2})
	stop := make(chan struct{})
	wg := churn(t, p, 6, stop)
	s := p.NewSession("root", SessionOptions{})
	refused := lookBehindRounds(t, s, 20, 0)
	close(stop)
	wg.Wait()
	s.Close(context.Background())
	st := p.Stats()
	t.Logf("saturated: test session refused %d of %d look-behind statements; pool: reclaimed %d, refused %d",
		refused, 20*4, st.LookBehindReclaimed, st.LookBehindLost)
}

// TestServerLookBehindLost shows the failure that affinity prevents: the
// INSERT's connection serves another session's INSERT before ROW_COUNT()
// comes. Through AcquireFor the statement is refused; through plain
// Acquire it would have answered the other session's row count.
func TestServerLookBehindLost(t *testing.T) {
	srv := lbSetup(t)
	d := newTestDialer(srv, false)
	p := newServerPool(t, d, Config{MaxConnections: 1})
	ctx := context.Background()
	s, o := p.NewSession("root", SessionOptions{}), p.NewSession("root", SessionOptions{})
	mustLB := func(s *Session, sql string) {
		t.Helper()
		_, err := lbStmt(s, sql, Status{})
		require.NoError(t, err, "%s: %v", sql, err)
	}
	mustLB(s, "INSERT INTO test.lb (v) VALUES (1),(2),(3)")
	mustLB(o, "INSERT INTO test.lb (v) VALUES (1),(2),(3),(4),(5)")
	_, err := lbStmt(s, "SELECT ROW_COUNT()", Status{})
	var le *LookBehindError
	require.ErrorAs(t, err, &le, "ROW_COUNT() after the connection was reused: %v, want ErrLookBehindLost (reused)", err)
	require.ErrorIs(t, err, ErrLookBehindLost, "ROW_COUNT() after the connection was reused: %v, want ErrLookBehindLost (reused)", err)
	require.Equal(t, LossReused, le.Loss, "ROW_COUNT() after the connection was reused: %v, want ErrLookBehindLost (reused)", err)
	t.Log(err)
	st := p.Stats()
	require.Equal(t, int64(1), st.LookBehindLost, "lost = %d", st.LookBehindLost)

	// The same sequence through plain Acquire: a wrong answer.
	mustLB(s, "INSERT INTO test.lb (v) VALUES (1),(2),(3)")
	mustLB(o, "INSERT INTO test.lb (v) VALUES (1),(2),(3),(4),(5)")
	b, err := s.Acquire(ctx)
	require.NoError(t, err)
	row, err := firstRow(ctx, b.Conn().(*sqlConn), "SELECT ROW_COUNT()")
	s.Done(ctx, b, nil, Status{Err: err})
	require.NoError(t, err, "plain Acquire: ROW_COUNT() = %q, %v; expected the other session's 5", row, err)
	require.Equal(t, "5", row[0], "plain Acquire: ROW_COUNT() = %q, %v; expected the other session's 5", row, err)

	// FOUND_ROWS() after SQL_CALC_FOUND_ROWS, when the connection was
	// taken in between.
	mustLB(s, "SELECT SQL_CALC_FOUND_ROWS * FROM test.big LIMIT 1")
	mustLB(o, "SELECT SQL_CALC_FOUND_ROWS * FROM test.small LIMIT 1")
	_, err = lbStmt(s, "SELECT FOUND_ROWS()", Status{})
	require.ErrorIs(t, err, ErrLookBehindLost, "FOUND_ROWS() after the connection was reused: %v", err)
}

// TestServerWarningsStayAcrossStatements pins down the server behaviour
// the session's tracking relies on: warnings survive a statement that uses
// no table, and FOUND_ROWS() survives one that is not a SELECT; ROW_COUNT()
// is replaced by every statement. If a server version changes this, the
// tracking may be too strict, never too lax.
func TestServerWarningsStayAcrossStatements(t *testing.T) {
	srv := lbSetup(t)
	d := newTestDialer(srv, false)
	ctx := context.Background()
	cn, err := d.Dial(ctx, "root")
	require.NoError(t, err)
	c := cn.(*sqlConn)
	defer c.Close()
	q := func(sql string) []string {
		t.Helper()
		row, err := firstRow(ctx, c, sql)
		require.NoError(t, err, "%s: %v", sql, err)
		return row
	}
	q("SELECT CAST('kept' AS SIGNED)")
	q("SELECT 1")
	q("SET @x = 1")
	row := q("SHOW WARNINGS")
	require.Len(t, row, 3, "warnings after table-less statements: %q", row)
	require.Contains(t, row[2], "'kept'", "warnings after table-less statements: %q", row)
	q("SELECT SQL_CALC_FOUND_ROWS * FROM test.big LIMIT 1")
	q("INSERT INTO test.lb (v) VALUES (1)")
	q("DO 0")
	row = q("SELECT FOUND_ROWS()")
	require.Equal(t, "37", row[0], "FOUND_ROWS() after an INSERT and a DO = %q", row)
	q("INSERT INTO test.lb (v) VALUES (1), (2)")
	row = q("SELECT ROW_COUNT()")
	require.Equal(t, "2", row[0], "ROW_COUNT() = %q", row)
	row = q("SELECT ROW_COUNT()")
	require.Equal(t, "-1", row[0], "ROW_COUNT() after a SELECT = %q", row)
}
