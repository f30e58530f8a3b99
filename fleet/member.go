package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rdsmux/rdsmux/pool"
)

// Member is one process's membership in a fleet budget: it holds slots
// under a lease it renews every heartbeat, and sets the cap of the pool it
// is attached to (pool.Config.Budget) to the slots it holds. It implements
// pool.Budget; attach one Member to one pool.
type Member struct {
	cfg    Config // normalized, immutable
	client redis.UniversalClient
	owns   bool // client was made from cfg.URL: Detach closes it
	keys   []string
	id     string
	log    *slog.Logger

	wake chan struct{} // capacity 1: borrows wait at the cap
	stop chan struct{} // closed by Detach
	done chan struct{} // closed when run returns

	startOnce sync.Once
	stopOnce  sync.Once

	mu sync.Mutex
	// Guarded by mu.
	target     pool.BudgetTarget
	total      int       // the budget as this process knows it (0: unknown)
	allowed    int       // the cap set on the target
	held       int       // slots recorded for this process at the last renewal
	wanted     int       // slots asked for at the last renewal
	live, fair int       // processes and fair share at the last renewal
	pressure   bool      // others wait and no slot is free
	leaseUntil time.Time // local clock: the lease lapses after this without renewal
	fallback   bool
	refused    bool // the last renewal granted less than it asked for
	external   int  // connections opened outside the pool (failover probes), see Track
	idlePct    int  // the pool's MaxIdleConnectionsPercent, from its usage
	stats      counters
}

// counters are cumulative; guarded by Member.mu.
type counters struct {
	renewals, failures, roundTrips, fallbacks int64
}

// New returns a Member of the budget cfg.Name. It contacts Redis only once
// attached to a pool (pool.Config.Budget), from its own goroutine.
func New(cfg Config) (*Member, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	client, owns, err := cfg.client()
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return &Member{
		cfg:    cfg,
		client: client,
		owns:   owns,
		keys:   keys(cfg.Name),
		id:     fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(rnd[:])),
		log:    cfg.Logger.With("fleet", cfg.Name),
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}, nil
}

// ID is this process's lease id in the budget.
func (m *Member) ID() string { return m.id }

// Attach implements pool.Budget: it starts the heartbeat goroutine, which
// Detach stops.
func (m *Member) Attach(t pool.BudgetTarget) {
	m.startOnce.Do(func() {
		m.mu.Lock()
		m.target = t
		m.mu.Unlock()
		go m.run()
	})
}

// SetTotal implements pool.Budget.
func (m *Member) SetTotal(n int) {
	m.mu.Lock()
	changed := m.total != n
	m.total = n
	m.mu.Unlock()
	if changed {
		m.Wake()
	}
}

// Wake implements pool.Budget: borrows wait at the cap; renew now (at most
// once per MinRequestInterval) instead of at the next heartbeat.
func (m *Member) Wake() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Track counts a connection the process opens (open) or closes outside
// its pool, such as a failover probe (failover.ProbeConfig.Track): it is
// recorded in the budget with the pool's, and the pool's cap leaves room
// for it. Such connections never wait for a slot; when one opens while the
// pool is at its cap, the pool closes a connection as soon as one is idle
// or given back.
func (m *Member) Track(open bool) {
	m.mu.Lock()
	if open {
		m.external++
	} else {
		m.external--
	}
	t, allowed, idle := m.target, m.allowed, m.idleCapLocked()
	ext := m.external
	m.mu.Unlock()
	if t != nil {
		t.SetBudgetCap(max(allowed-ext, 0), idle)
	}
	m.Wake()
}

// Detach implements pool.Budget: it stops the heartbeat and gives the
// process's slots back (one last request, bounded by a heartbeat).
func (m *Member) Detach() {
	m.stopOnce.Do(func() {
		close(m.stop)
		m.startOnce.Do(func() { close(m.done) }) // never attached: nothing runs
		<-m.done
		if m.owns {
			_ = m.client.Close()
		}
	})
}

// run is the heartbeat goroutine, owned by the Member; Detach stops it.
func (m *Member) run() {
	defer close(m.done)
	t := time.NewTicker(m.cfg.Heartbeat)
	defer t.Stop()
	for {
		m.renew()
		select {
		case <-m.stop:
			m.leave()
			return
		case <-t.C:
		case <-m.wake:
			m.mu.Lock()
			refused := m.refused
			m.mu.Unlock()
			if refused {
				// The last request was refused: asking again before
				// the others renew (and give slots back) at their
				// heartbeat would only load Redis.
				select {
				case <-m.stop:
					m.leave()
					return
				case <-t.C:
				}
				continue
			}
			// Space demand-driven requests: the waiting borrows are
			// served by the pool as soon as the cap rises.
			select {
			case <-m.stop:
				m.leave()
				return
			case <-time.After(m.cfg.MinRequestInterval):
			}
		}
	}
}

// wantLocked is how many slots to ask for, given the pool's usage: what
// is busy or waited for, what is idle (only its idle share while others
// wait), and a block of headroom when growing.
func (m *Member) wantLocked(u pool.BudgetUsage) int {
	idleKeep := u.Idle
	if m.pressure {
		idleKeep = min(u.Idle, m.idleShareLocked(u.MaxIdlePercent))
	}
	base := u.Busy + u.Waiting + idleKeep
	b := m.cfg.Block
	switch {
	case m.pressure && u.Waiting == 0:
		return max(base, 1)
	case u.Waiting > 0 || base >= m.allowed:
		return roundUp(base+1, b)
	case m.allowed-base > 2*b:
		return roundUp(base+1, b)
	default:
		return max(m.allowed, 1)
	}
}

// idleCapLocked is the pool's idle limit: its share of idle connections.
func (m *Member) idleCapLocked() int { return m.idleShareLocked(m.idlePct) }

// idleShareLocked is how many idle connections a process keeps while
// others wait: its share of MaxIdleConnectionsPercent of the budget.
func (m *Member) idleShareLocked(pct int) int {
	if m.live == 0 {
		return 0
	}
	return m.total * pct / 100 / m.live
}

func roundUp(n, b int) int { return (n + b - 1) / b * b }

// renew makes one renewal and sets the target's cap from its outcome.
func (m *Member) renew() {
	m.mu.Lock()
	t := m.target
	m.mu.Unlock()
	u := t.BudgetUsage()
	m.mu.Lock()
	u.Open += m.external
	u.Busy += m.external
	want := m.wantLocked(u)
	total := m.total
	m.mu.Unlock()

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.Heartbeat)
	res, err := renewScript.Run(ctx, m.client, m.keys, m.id, want, u.Open, m.cfg.LeaseTTL.Milliseconds(), total, 0).Int64Slice()
	cancel()
	if err == nil && len(res) != 6 {
		err = fmt.Errorf("unexpected reply %v", res)
	}

	m.mu.Lock()
	m.stats.roundTrips++
	m.wanted = want
	if err != nil {
		m.stats.failures++
		m.log.Debug("fleet: lease renewal failed", "err", err)
		if !m.fallback && !start.Before(m.leaseUntil) {
			m.fallback = true
			m.stats.fallbacks++
			m.log.Warn("fleet: Redis unreachable and the lease lapsed; using the local fallback cap until it answers again",
				"fallback_cap", m.fallbackCapLocked(), "err", err)
		}
		if m.fallback {
			m.allowed = m.fallbackCapLocked()
		}
	} else {
		m.stats.renewals++
		m.leaseUntil = start.Add(m.cfg.LeaseTTL)
		if m.fallback {
			m.fallback = false
			m.log.Info("fleet: Redis answers again; back on the fleet budget")
		}
		m.allowed, m.held = int(res[0]), int(res[1])
		m.refused = m.allowed < want
		if m.total == 0 {
			m.total = int(res[2])
		}
		m.live, m.fair, m.pressure = int(res[3]), int(res[4]), res[5] == 1
	}
	m.idlePct = u.MaxIdlePercent
	allowed, idle := max(m.allowed-m.external, 0), m.idleCapLocked()
	m.mu.Unlock()
	t.SetBudgetCap(allowed, idle)
}

// fallbackCapLocked is the cap used once the lease lapsed.
func (m *Member) fallbackCapLocked() int {
	switch {
	case m.cfg.FallbackCap > 0:
		return m.cfg.FallbackCap
	case m.fair > 0:
		// The fair share alone is not enough: it may be from a renewal
		// made before other processes joined (in the last heartbeat).
		return max(1, min(m.fair, m.held))
	default:
		return 1
	}
}

// leave gives the process's slots back. Its pool is closed by then.
func (m *Member) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.Heartbeat)
	defer cancel()
	err := renewScript.Run(ctx, m.client, m.keys, m.id, 0, 0, m.cfg.LeaseTTL.Milliseconds(), 0, 1).Err()
	m.mu.Lock()
	m.stats.roundTrips++
	m.held, m.allowed = 0, 0
	m.mu.Unlock()
	if err != nil {
		m.log.Debug("fleet: leaving the budget failed; the lease expires by itself", "err", err)
	}
}

// Stats returns a snapshot.
func (m *Member) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Stats{
		Name:            m.cfg.Name,
		ID:              m.id,
		Total:           m.total,
		Held:            m.held,
		Allowed:         m.allowed,
		Wanted:          m.wanted,
		Outside:         m.external,
		Live:            m.live,
		FairShare:       m.fair,
		Renewals:        m.stats.renewals,
		RenewalFailures: m.stats.failures,
		RoundTrips:      m.stats.roundTrips,
		Fallback:        m.fallback,
		FallbackCap:     m.fallbackCapLocked(),
		FallbackEntered: m.stats.fallbacks,
	}
}

// Stats is a snapshot of a Member; pool.Stats.Fleet carries the same.
type Stats = pool.BudgetStats

// BudgetStats implements pool.Budget.
func (m *Member) BudgetStats() pool.BudgetStats { return m.Stats() }

var _ pool.Budget = (*Member)(nil)
