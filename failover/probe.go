package failover

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// ProbeConfig says how topology providers reach individual hosts.
type ProbeConfig struct {
	// MySQL carries the credentials (User, Passwd, or a BeforeConnect
	// option for rotating ones), TLS and other options of probe
	// connections. Addr, DialFunc and the timeouts are set per host; DBName
	// may stay empty. Required.
	MySQL *mysql.Config
	// Timeout bounds one probe of one host: connecting (when no probe
	// connection is open) plus the query. A host that neither answers nor
	// resets (blackholed) counts as failed after this long. Default 500ms.
	Timeout time.Duration
	// FailureThreshold is how many consecutive failed probes mark a host
	// down (listed in Topology.Down even when a topology source still
	// lists it). Independently of it, a host whose latest probe failed is
	// not waited for by the next refresh (its probe still runs, in the
	// background, and counts when it ends), so a blackholed host slows the
	// monitor by one probe timeout at most. Default 2.
	FailureThreshold int
	// TCP tunes probe sockets.
	TCP TCPConfig
	// Track, if set, is told when a probe connection opens (true) and
	// closes (false), so that a connection budget shared by a fleet
	// (package fleet) counts probes too. It must not block: probes never
	// wait for a slot.
	Track func(open bool)
}

func (c ProbeConfig) withDefaults() (ProbeConfig, error) {
	if c.MySQL == nil {
		return c, errors.New("failover: ProbeConfig.MySQL is required (user, password and TLS for probe connections)")
	}
	if c.Timeout <= 0 {
		c.Timeout = 500 * time.Millisecond
	}
	if c.FailureThreshold <= 0 {
		c.FailureThreshold = 2
	}
	c.TCP = c.TCP.withDefaults()
	return c, nil
}

// prober runs short queries against individual hosts over one cached
// connection per host, at most one probe per host at a time.
type prober struct {
	cfg    ProbeConfig
	ctx    context.Context // cancelled by close; parent of every probe
	cancel context.CancelFunc
	wg     sync.WaitGroup // probe goroutines

	mu    sync.Mutex            // guards hosts
	hosts map[string]*probeHost // by address
}

// probeHost is the probe state of one host.
type probeHost struct {
	db *sql.DB // immutable after creation; closed by forget or close

	// Guarded by prober.mu:
	inflight bool
	failures int // consecutive
	lastErr  error
}

func newProber(cfg ProbeConfig) (*prober, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &prober{cfg: cfg, ctx: ctx, cancel: cancel, hosts: map[string]*probeHost{}}, nil
}

// hostLocked returns the state of addr, creating it (and its connection
// pool) when needed.
func (p *prober) hostLocked(addr string) (*probeHost, error) {
	if h, ok := p.hosts[addr]; ok {
		return h, nil
	}
	c := p.cfg.MySQL.Clone()
	c.Net, c.Addr = "tcp", addr
	// The probe context bounds handshake and queries (go-sql-driver closes
	// the connection when it ends); no per-read deadlines are needed.
	c.Timeout = p.cfg.Timeout
	tcp := p.cfg.TCP
	c.DialFunc = func(ctx context.Context, _, a string) (net.Conn, error) { return tcp.dialTCP(ctx, a) }
	if track := p.cfg.Track; track != nil {
		c.DialFunc = func(ctx context.Context, _, a string) (net.Conn, error) {
			track(true) // before the connection exists, so that room is made first
			nc, err := tcp.dialTCP(ctx, a)
			if err != nil {
				track(false)
				return nil, err
			}
			return &probeConn{Conn: nc, track: track}, nil
		}
	}
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("failover: probe connection settings for %s: %w", addr, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(10 * time.Minute)
	h := &probeHost{db: db}
	p.hosts[addr] = h
	return h, nil
}

// probeResult is the outcome of probing one host.
type probeResult[T any] struct {
	Addr string
	Val  T
	Err  error
	// Pending is true when the probe had not finished when probeAll
	// returned (the host is known down, or ctx ended); Err says why.
	Pending bool
}

// errProbePending is the error of a probe still running from an earlier
// refresh.
var errProbePending = errors.New("failover: the previous probe of this host has not finished")

// probeAll probes every address concurrently with fn, each bounded by the
// probe timeout. It returns when every probe finished, or when ctx ends, or
// when the only probes still running are of hosts whose previous probe
// failed (those finish in the background and update the host's state).
func probeAll[T any](ctx context.Context, p *prober, addrs []string, fn func(context.Context, *sql.DB) (T, error)) []probeResult[T] {
	out := make([]probeResult[T], len(addrs))
	type done struct {
		i   int
		val T
		err error
	}
	ch := make(chan done, len(addrs))
	waiting := 0     // probes launched and not yet reported
	waitingDown := 0 // of those, hosts whose previous probe failed
	wasDown := make([]bool, len(addrs))
	for i, addr := range addrs {
		out[i].Addr = addr
		p.mu.Lock()
		if p.ctx.Err() != nil {
			p.mu.Unlock()
			out[i].Err, out[i].Pending = errMonitorClosed, true
			continue
		}
		h, err := p.hostLocked(addr)
		if err != nil {
			p.mu.Unlock()
			out[i].Err = err
			continue
		}
		if h.inflight {
			p.mu.Unlock()
			out[i].Err, out[i].Pending = errProbePending, true
			continue
		}
		h.inflight = true
		timeout := p.cfg.Timeout
		wasDown[i] = h.failures > 0 // suspect: not waited for
		p.wg.Add(1)
		p.mu.Unlock()
		waiting++
		if wasDown[i] {
			waitingDown++
		}
		go func(i int, h *probeHost) { // owned by p; bounded by the probe timeout, cancelled by close
			defer p.wg.Done()
			pctx, cancel := context.WithTimeout(p.ctx, timeout)
			v, err := fn(pctx, h.db)
			cancel()
			p.mu.Lock()
			h.inflight = false
			if err != nil {
				h.failures++
				h.lastErr = err
			} else {
				h.failures, h.lastErr = 0, nil
			}
			p.mu.Unlock()
			ch <- done{i, v, err}
		}(i, h)
		out[i].Pending = true
	}
	for waiting > 0 && waiting > waitingDown {
		select {
		case d := <-ch:
			out[d.i].Val, out[d.i].Err, out[d.i].Pending = d.val, d.err, false
			waiting--
			if wasDown[d.i] {
				waitingDown--
			}
		case <-ctx.Done():
			waitingDown = waiting // stop waiting
		}
	}
	for i := range out {
		if out[i].Pending && out[i].Err == nil {
			out[i].Err = fmt.Errorf("failover: probe of %s did not answer (host down or unreachable)", out[i].Addr)
		}
	}
	return out
}

// failures returns the consecutive failure count of addr.
func (p *prober) failures(addr string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if h, ok := p.hosts[addr]; ok {
		return h.failures
	}
	return 0
}

// isDown reports whether addr has failed FailureThreshold times in a row.
func (p *prober) isDown(addr string) bool {
	return p.failures(addr) >= p.cfg.FailureThreshold
}

// retain forgets (and closes the probe connections of) every host not in
// keep whose probe is not running.
func (p *prober) retain(keep map[string]bool) {
	p.mu.Lock()
	var closing []*sql.DB
	for addr, h := range p.hosts {
		if !keep[addr] && !h.inflight {
			closing = append(closing, h.db)
			delete(p.hosts, addr)
		}
	}
	p.mu.Unlock()
	for _, db := range closing {
		db.Close()
	}
}

// close cancels running probes, waits for them and closes every probe
// connection.
func (p *prober) close() {
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	hosts := p.hosts
	p.hosts = map[string]*probeHost{}
	p.mu.Unlock()
	for _, h := range hosts {
		h.db.Close()
	}
}

// queryReadOnly runs a query returning one integer (a read_only flag) and
// reports whether it is non-zero.
func queryReadOnly(ctx context.Context, db *sql.DB, query string) (bool, error) {
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, query).Scan(&v); err != nil {
		return false, err
	}
	return v.Valid && v.Int64 != 0, nil
}

// probeConn reports its Close to ProbeConfig.Track, once.
type probeConn struct {
	net.Conn
	once  sync.Once
	track func(open bool)
}

// SyscallConn lets go-sql-driver check the socket before reusing it, as
// it does on a plain TCP connection.
func (c *probeConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
}

func (c *probeConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.track(false) })
	return err
}
