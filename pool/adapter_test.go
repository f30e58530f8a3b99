package pool

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// sqlConn is a test-only Conn over a go-sql-driver connection. go-sql-driver
// cannot send COM_RESET_CONNECTION, so Reset either re-dials (a fresh
// session, which is what a reset produces) or reports ErrResetUnsupported;
// the real Reset comes with the wire package.
type sqlConn struct {
	dialer *testDialer
	user   string
	c      driver.Conn
	id     int64 // the server's connection id of c
}

var _ Conn = (*sqlConn)(nil)

func (c *sqlConn) Exec(ctx context.Context, query string) error {
	_, err := c.c.(driver.ExecerContext).ExecContext(ctx, query, nil)
	return err
}

func (c *sqlConn) QueryValue(ctx context.Context, query string) (string, error) {
	rows, err := c.c.(driver.QueryerContext).QueryContext(ctx, query, nil)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(dest); err != nil {
		return "", fmt.Errorf("%s: no row: %w", query, err)
	}
	switch v := dest[0].(type) {
	case nil:
		return "", nil
	case []byte:
		return string(v), nil
	case string:
		return v, nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	default:
		return fmt.Sprint(v), nil
	}
}

func (c *sqlConn) Reset(ctx context.Context) error {
	if !c.dialer.resetByRedial {
		return fmt.Errorf("go-sql-driver test adapter: %w", ErrResetUnsupported)
	}
	// Close first so that the reset never holds two server connections.
	_ = c.c.Close()
	c.dialer.waitGone(c.id)
	fresh, err := c.dialer.connector(c.user).Connect(ctx)
	if err != nil {
		c.c = deadConn{}
		return err
	}
	c.c = fresh
	c.id = connectionID(ctx, fresh)
	c.dialer.resets.Add(1)
	return nil
}

func (c *sqlConn) Ping(ctx context.Context) error { return c.c.(driver.Pinger).Ping(ctx) }

func (c *sqlConn) Close() error {
	err := c.c.Close()
	// A real backend's Close ends its server session before the pool
	// frees the slot; go-sql-driver's returns while the server is still
	// tearing the thread down, so wait for that here, or tests that count
	// the server's threads would count connections the pool has closed.
	c.dialer.waitGone(c.id)
	c.dialer.closed(c)
	return err
}

// connectionID reads c's server connection id (0 if it cannot).
func connectionID(ctx context.Context, c driver.Conn) int64 {
	rows, err := c.(driver.QueryerContext).QueryContext(ctx, "SELECT CONNECTION_ID()", nil)
	if err != nil {
		return 0
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	if rows.Next(dest) != nil {
		return 0
	}
	id, _ := dest[0].(int64)
	return id
}

// IsValid is driver.Validator, passed through.
func (c *sqlConn) IsValid() bool { return c.c.(driver.Validator).IsValid() }

// testDialer dials go-sql-driver connections to a mariadbtest server and
// counts them client-side.
type testDialer struct {
	srv           *mariadbtest.Server
	resetByRedial bool
	passwords     map[string]string

	open    atomic.Int64 // connections open now
	maxOpen atomic.Int64
	dials   atomic.Int64
	resets  atomic.Int64

	gateMu sync.Mutex
	gate   chan struct{} // if non-nil, each dial first receives from it

	// watch is one root connection, opened up front so tests count it in
	// their baseline, that waitGone uses to see the server drop a thread.
	watch *sql.DB
}

func newTestDialer(srv *mariadbtest.Server, resetByRedial bool) *testDialer {
	watch, err := sql.Open("mysql", srv.DSN("timeout=5s"))
	if err != nil {
		panic(err)
	}
	watch.SetMaxOpenConns(1)
	watch.SetMaxIdleConns(1)
	if err := watch.Ping(); err != nil {
		panic(err)
	}
	return &testDialer{srv: srv, resetByRedial: resetByRedial, passwords: map[string]string{}, watch: watch}
}

// waitGone waits (at most 2s) until the server no longer lists connection
// id.
func (d *testDialer) waitGone(id int64) {
	if id == 0 {
		return
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		var n int
		if err := d.watch.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", id).Scan(&n); err != nil || n == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func (d *testDialer) connector(user string) driver.Connector {
	cfg, err := mysql.ParseDSN(d.srv.UserDSN(user, d.passwords[user], "test", "timeout=5s&readTimeout=10s&writeTimeout=10s"))
	if err != nil {
		panic(err)
	}
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		panic(err)
	}
	return c
}

func (d *testDialer) Dial(ctx context.Context, user string) (Conn, error) {
	d.gateMu.Lock()
	gate := d.gate
	d.gateMu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	d.dials.Add(1)
	c, err := d.connector(user).Connect(ctx)
	if err != nil {
		return nil, err
	}
	n := d.open.Add(1)
	for {
		m := d.maxOpen.Load()
		if n <= m || d.maxOpen.CompareAndSwap(m, n) {
			break
		}
	}
	return &sqlConn{dialer: d, user: user, c: c, id: connectionID(ctx, c)}, nil
}

func (d *testDialer) closed(*sqlConn) { d.open.Add(-1) }

// deadConn stands in after a failed re-dial.
type deadConn struct{ driver.Conn }

func (deadConn) Close() error  { return nil }
func (deadConn) IsValid() bool { return false }

func (d *testDialer) setGate(g chan struct{}) {
	d.gateMu.Lock()
	d.gate = g
	d.gateMu.Unlock()
}

// newServerPool starts a pool over srv with the test dialer; cfg's Dial is
// filled in.
func newServerPool(t *testing.T, d *testDialer, cfg Config) *Pool {
	t.Helper()
	cfg.Dial = d.Dial
	p, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		p.Close()
		d.watch.Close()
		if n := d.open.Load(); n != 0 {
			// Borrowed connections of a failed test may remain.
			if !t.Failed() {
				t.Errorf("%d backend connections still open after Close", n)
			}
		}
	})
	return p
}

// waitUntil polls cond (state, not timing, decides the test).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never reached: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
