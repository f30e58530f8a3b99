package pool

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// memConn is an in-memory Conn for tests of pure pool logic (no database
// behaviour is simulated beyond recording statements and answering the few
// queries the pool itself sends).
type memConn struct {
	srv *memServer
	id  int

	mu      sync.Mutex
	execs   []string
	pingErr error
	closed  bool
}

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
	return nil
}

func (c *memConn) QueryValue(ctx context.Context, q string) (string, error) {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	switch {
	case q == "SELECT @@max_connections":
		return c.srv.maxConnections, nil
	case q == "SELECT DATABASE()":
		return c.srv.database, nil
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
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func memOf(b *Backend) *memConn { return b.Conn().(*memConn) }

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
