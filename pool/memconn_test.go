package pool

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// memConn is an in-memory Conn for tests of pure pool logic (no database
// behaviour is simulated beyond recording statements and answering the few
// queries the pool itself sends).
type memConn struct {
	srv *memServer
	id  int

	mu      sync.Mutex
	vars    map[string]string // session values SET on this connection
	db      string            // database after USE; "" the server's
	execs   []string
	pingErr error
	closed  bool
	invalid atomic.Bool // IsValid reports false (atomic, as go-sql-driver's)
}

// IsValid implements the pool's validator, as driver.Validator.
func (c *memConn) IsValid() bool { return !c.invalid.Load() }

// memServer hands out memConns and answers the pool's own queries.
type memServer struct {
	mu             sync.Mutex
	maxConnections string
	database       string
	values         map[string]string // SELECT @@SESSION.x -> value
	resetErr       error             // returned by Reset (nil: supported)
	conns          []*memConn
	open           int
	maxOpen        int
}

func newMemServer() *memServer {
	return &memServer{maxConnections: "151", database: "test", values: map[string]string{}}
}

func (m *memServer) Dial(ctx context.Context, user string) (Conn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &memConn{srv: m, id: len(m.conns) + 1}
	m.conns = append(m.conns, c)
	m.open++
	m.maxOpen = max(m.maxOpen, m.open)
	return c, nil
}

func (c *memConn) Exec(ctx context.Context, q string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.execs = append(c.execs, q)
	if rest, ok := strings.CutPrefix(q, "USE "); ok {
		c.db = strings.Trim(rest, "`")
	}
	if rest, ok := strings.CutPrefix(q, "SET SESSION "); ok {
		for _, a := range strings.Split(rest, ", ") {
			name, val, _ := strings.Cut(a, "=")
			if c.vars == nil {
				c.vars = map[string]string{}
			}
			c.vars[name] = strings.Trim(val, "'")
		}
	}
	return nil
}

// setVar sets a session variable on c, as a client statement run on it
// would.
func (c *memConn) setVar(name, val string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.vars == nil {
		c.vars = map[string]string{}
	}
	c.vars[name] = val
}

// stateAnswer answers the pool's session state query: the database, then
// each variable CONCAT(@@SESSION.x) names, from c's own values, else the
// server's, else "v".
func (c *memConn) stateAnswer(q string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	db := c.srv.database
	if c.db != "" {
		db = c.db
	}
	out := []string{strconv.Quote(db)}
	for _, part := range strings.Split(q, "CONCAT(@@SESSION.")[1:] {
		name, _, _ := strings.Cut(part, ")")
		v, ok := c.vars[name]
		if !ok {
			v, ok = c.srv.values[name]
		}
		switch {
		case ok && v == "<null>":
			out = append(out, "null")
		case ok:
			out = append(out, strconv.Quote(v))
		default:
			out = append(out, `"v"`)
		}
	}
	return "[" + strings.Join(out, ",") + "]"
}

func (c *memConn) QueryValue(ctx context.Context, q string) (string, error) {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	switch {
	case q == "SELECT @@max_connections LIMIT 1":
		return c.srv.maxConnections, nil
	case q == "SELECT DATABASE()":
		return c.srv.database, nil
	case strings.HasPrefix(q, "SELECT CAST(JSON_ARRAY(DATABASE()"):
		c.srv.mu.Unlock()
		defer c.srv.mu.Lock()
		return c.stateAnswer(q), nil
	case q == "SELECT @@in_transaction LIMIT 1":
		return "0", nil
	case strings.HasSuffix(q, " IS NULL"):
		if v, ok := c.srv.values[strings.TrimSuffix(strings.TrimPrefix(q, "SELECT @@SESSION."), " IS NULL")]; ok && v == "<null>" {
			return "1", nil
		}
		return "0", nil
	case strings.HasPrefix(q, "SELECT @@SESSION."):
		if v, ok := c.srv.values[strings.TrimPrefix(q, "SELECT @@SESSION.")]; ok && v == "<null>" {
			return "", nil
		}
		if v, ok := c.srv.values[strings.TrimPrefix(q, "SELECT @@SESSION.")]; ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("memConn: unexpected query %q", q)
}

func (c *memConn) Reset(ctx context.Context) error {
	c.srv.mu.Lock()
	err := c.srv.resetErr
	c.srv.mu.Unlock()
	if err == nil {
		c.mu.Lock()
		c.vars = nil
		c.execs = append(c.execs, "<reset>")
		c.mu.Unlock()
	}
	return err
}

func (c *memConn) Ping(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pingErr
}

func (c *memConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.srv.mu.Lock()
	c.srv.open--
	c.srv.mu.Unlock()
	return nil
}

// takeExecs returns and clears the statements c ran.
func (c *memConn) takeExecs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.execs
	c.execs = nil
	return e
}

func newMemPool(t *testing.T, m *memServer, cfg Config) *Pool {
	t.Helper()
	cfg.Dial = m.Dial
	p, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return p
}

func memOf(b *PooledConn) *memConn { return b.Conn().(*memConn) }

// fakeClock is a manual clock for Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var errPing = errors.New("ping: connection reset by peer")
