package pool

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rdsmux/rdsmux/pool/internal/core"
)

// Pool is the shared pool of backend connections to one database target.
// Many sessions (database/sql connections of many *sql.DB handles, listener
// clients) borrow from it under one global cap. It is safe for concurrent
// use.
type Pool struct {
	cfg           Config // normalized, immutable
	borrowTimeout time.Duration
	healthIdle    time.Duration // < 0: never
	isBroken      func(error) bool
	log           *slog.Logger
	core          *core.Pool[*PooledConn]

	stopMaintain chan struct{} // closed by Close
	maintainDone chan struct{} // closed when maintainLoop returns
	closeOnce    sync.Once
	// invalidations counts Invalidate calls: a connection dialed before
	// the latest (PooledConn.gen) belongs to a server the pool has left.
	invalidations atomic.Uint64

	mu sync.Mutex
	// Guarded by mu.
	parts         map[string]*partition
	limitsFromSrv bool // the cap comes from @@max_connections
	resolved      bool // @@max_connections read since New/Invalidate
	serverMax     int

	stats counters
}

// partition is the policy's view of one user's core partition.
type partition struct {
	user string
	core *core.Partition[*PooledConn]

	// stateMu guards state.
	stateMu sync.Mutex
	// state is what the partition knows of its server's session state
	// (tracked variables, baseline, default database); nil until the
	// first connection is set up. See state.go.
	state *serverState
}

// New returns a pool. It dials nothing until the first borrow.
func New(cfg Config) (*Pool, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	p := &Pool{
		cfg:           cfg,
		borrowTimeout: max(cfg.ConnectionBorrowTimeout, 0),
		healthIdle:    cfg.HealthCheckIdle,
		isBroken:      cfg.IsBroken,
		log:           cfg.Logger,
		parts:         make(map[string]*partition),
		stopMaintain:  make(chan struct{}),
		maintainDone:  make(chan struct{}),
	}
	limits := core.Limits{IdleTimeout: cfg.IdleTimeout}
	if cfg.MaxConnections > 0 {
		limits.MaxSize = cfg.MaxConnections
		limits.MaxIdle = percentOf(cfg.MaxConnections, cfg.MaxIdleConnectionsPercent, cfg.MaxConnections)
	} else {
		p.limitsFromSrv = true
		limits.MaxSize, limits.MaxIdle = 1, 1 // until @@max_connections is known
	}
	coreCfg := core.Config[*PooledConn]{
		Dial:           p.dial,
		Close:          p.closeBackend,
		Limits:         limits,
		DialTimeout:    cfg.DialTimeout,
		MaxLifetime:    cfg.MaxLifetime,
		LifetimeJitter: cfg.MaxLifetimeJitter,
		ClaimWindow:    lookBehindWindow,
		OnBorrow:       onBorrow,
	}
	if cfg.Now != nil {
		now, base := cfg.Now, cfg.Now()
		coreCfg.Now = func() int64 { return int64(now().Sub(base)) }
	}
	if cfg.Budget != nil {
		coreCfg.AtCap = cfg.Budget.Wake
	}
	p.core = core.New(coreCfg)
	if cfg.Budget != nil {
		p.core.SetLimits(core.Limits{IdleTimeout: cfg.IdleTimeout}) // nothing until the budget grants slots
		cfg.Budget.Attach(p)
		if cfg.MaxConnections > 0 {
			cfg.Budget.SetTotal(cfg.MaxConnections)
		}
	}
	go p.maintainLoop()
	return p, nil
}

func percentOf(base, pct, limit int) int {
	n := base * pct / 100
	return min(n, limit)
}

// Close closes the pool: idle connections are closed now, waiting borrows
// fail with ErrClosed, and connections still borrowed are closed when their
// sessions give them back. Close waits for connections it is opening or
// closing.
func (p *Pool) Close() {
	p.closeOnce.Do(func() {
		close(p.stopMaintain)
		<-p.maintainDone
		p.core.Close()
		if p.cfg.Budget != nil {
			p.cfg.Budget.Detach()
		}
	})
}

// Invalidate retires every backend connection that exists now, for
// failover: idle ones close at once, borrowed ones when they are given
// back, and connections being opened when they complete. Waiting and new
// borrows are served by fresh dials (which, through a failover-aware Dial,
// reach the new writer). The server's @@max_connections is read again.
func (p *Pool) Invalidate(reason string) {
	p.mu.Lock()
	p.resolved = false
	p.mu.Unlock()
	p.invalidations.Add(1)
	p.core.Invalidate()
	p.log.Info("pool: backend connections invalidated", "reason", reason)
}

// DialControl opens a connection as user the way the pool's own are opened
// (Config.Dial, so through a failover-aware or credential-refreshing Dial
// too), bounded by Config.DialTimeout, for control statements such as
// KILL QUERY that must not wait for a pooled connection. The pool does not
// own it: InitQuery does not run on it, and the caller closes it. It is
// not counted against MaxConnections, except with a Budget: then it takes
// a slot (ReserveConnection) that its Close gives back, and the returned
// Conn wraps Dial's (see Unwrap).
func (p *Pool) DialControl(ctx context.Context, user string) (Conn, error) {
	return p.dialControl(ctx, user, nil)
}

// partition returns the partition for user.
func (p *Pool) partition(user string) *partition {
	p.mu.Lock()
	defer p.mu.Unlock()
	part := p.parts[user]
	if part == nil {
		part = &partition{user: user, core: p.core.Partition(user)}
		p.parts[user] = part
	}
	return part
}

// dial opens and sets up one backend connection; it is the core's Dial.
func (p *Pool) dial(ctx context.Context, user string) (*PooledConn, error) {
	if user == controlKey {
		return &PooledConn{pool: p, user: user}, nil // a slot for ReserveConnection
	}
	p.stats.dialsStarted.Add(1)
	c, err := p.cfg.Dial(ctx, user)
	if err != nil {
		return nil, &DialError{User: user, Err: err}
	}
	b, err := p.setup(ctx, user, c)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return b, nil
}

// setup runs the init query, reads the connection's session state (see
// state.go) and what the pool learns once (@@max_connections).
func (p *Pool) setup(ctx context.Context, user string, c Conn) (*PooledConn, error) {
	if q := p.cfg.InitQuery; q != "" {
		if err := c.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("pool: InitQuery %q failed on a new connection as %q: %w", q, user, err)
		}
	}
	gen := p.invalidations.Load()
	p.mu.Lock()
	resolve := p.limitsFromSrv && !p.resolved
	p.mu.Unlock()
	if resolve {
		if err := p.resolveLimits(ctx, c); err != nil {
			return nil, err
		}
	}
	part := p.partition(user)
	cs, st, err := part.learnState(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("pool: reading the session state of a new connection as %q: %w", user, err)
	}
	b := &PooledConn{conn: c, pool: p, user: user, gen: gen, lastIDKnown: true} // LAST_INSERT_ID() is 0
	b.borrower, _ = c.(Borrower)
	b.validator, _ = c.(validator)
	b.setState(&cs, st)
	return b, nil
}

// onBorrow tells a Conn that is a Borrower when it is borrowed and given
// back (core.Config.OnBorrow).
func onBorrow(b *PooledConn, borrowed bool) {
	if b.borrower != nil {
		b.borrower.Borrowed(borrowed)
	}
}

// resolveLimits reads @@max_connections and sets the cap from
// MaxConnectionsPercent.
func (p *Pool) resolveLimits(ctx context.Context, c Conn) error {
	v, err := c.QueryValue(ctx, "SELECT @@max_connections LIMIT 1")
	if err != nil {
		return fmt.Errorf("pool: reading @@max_connections to apply MaxConnectionsPercent: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return fmt.Errorf("pool: server reported @@max_connections = %q; set MaxConnections instead", v)
	}
	maxSize := max(percentOf(n, p.cfg.MaxConnectionsPercent, n), 1)
	maxIdle := percentOf(n, p.cfg.MaxIdleConnectionsPercent, maxSize)
	p.mu.Lock()
	p.resolved, p.serverMax = true, n
	p.mu.Unlock()
	if b := p.cfg.Budget; b != nil {
		b.SetTotal(maxSize)
		p.log.Info("pool: fleet budget resolved", "max_connections", n, "fleet_budget", maxSize)
		return nil
	}
	p.core.SetLimits(core.Limits{MaxSize: maxSize, MaxIdle: maxIdle, IdleTimeout: p.cfg.IdleTimeout})
	p.log.Info("pool: connection limits resolved", "max_connections", n,
		"max_database_connections_allowed", maxSize, "max_idle", maxIdle)
	return nil
}

// closeBackend is the core's Close.
func (p *Pool) closeBackend(b *PooledConn) {
	if b.conn == nil {
		return // a ReserveConnection slot
	}
	if b.unread != nil {
		p.closeUnread(b)
	}
	if err := b.conn.Close(); err != nil {
		p.log.Debug("pool: closing a backend connection", "user", b.user, "err", err)
	}
}

// maintainLoop reaps idle connections (lifetime, idle limit) until Close.
func (p *Pool) maintainLoop() {
	defer close(p.maintainDone)
	every := min(max(p.cfg.IdleTimeout/4, 100*time.Millisecond), 5*time.Second)
	if lt := p.cfg.MaxLifetime; lt > 0 {
		every = min(every, max(lt/4, 100*time.Millisecond))
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stopMaintain:
			return
		case <-t.C:
			p.core.Maintain()
		}
	}
}

// counters are the policy's cumulative counts; atomics, so hot paths need
// no lock.
type counters struct {
	dialsStarted atomic.Int64
	dialRetries  atomic.Int64
	borrows      atomic.Int64
	reuseExact   atomic.Int64
	// exactAtOnce counts borrows served at once (no wait) by a
	// connection that needed nothing applied; each is also one of
	// reuseExact and of borrowLatency's first bucket, which Stats adds
	// it to. One atomic add instead of two on the quickest path.
	exactAtOnce         atomic.Int64
	reuseDiff           atomic.Int64
	resets              atomic.Int64
	rollbacks           atomic.Int64
	lookBehindReclaimed atomic.Int64
	lookBehindLost      atomic.Int64
	lastIDDeferred      atomic.Int64
	lastIDDelivered     atomic.Int64
	lastIDReclaimed     atomic.Int64
	healthChecks        atomic.Int64
	inTx                atomic.Int64 // gauge
	pinned              atomic.Int64 // gauge
	pins                [numPinReasons]atomic.Int64
	borrowLatency       histogram
}

// exactMatch counts a borrow whose connection needed nothing applied,
// after waiting waited (0: served at once from the idle list).
func (c *counters) exactMatch(waited time.Duration) {
	if waited <= 0 {
		c.exactAtOnce.Add(1)
		return
	}
	c.reuseExact.Add(1)
	c.borrowLatency.observe(waited)
}
