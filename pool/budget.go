package pool

import (
	"context"
	"fmt"

	"github.com/rdsmux/rdsmux/pool/internal/core"
)

// Budget is a connection budget the pool shares with other processes
// (package fleet implements it over Redis). With a Budget, the pool's cap is
// no longer MaxConnections: it is whatever the budget grants this process,
// set through BudgetTarget.SetBudgetCap, and MaxConnections (or the
// percentage of @@max_connections) is the budget's total, reported with
// SetTotal. Every connection the pool opens counts, control connections
// (DialControl, ReserveConnection) included.
//
// The pool never calls the budget on a borrow served by an idle
// connection; it calls Wake when a borrow has to wait at the cap.
type Budget interface {
	// Attach is called once by New, before any dial, with the pool the
	// budget governs. Until the budget sets a cap the pool opens nothing.
	Attach(t BudgetTarget)
	// SetTotal reports the budget's total for the whole fleet: the pool's
	// MaxConnections, or its percentage of @@max_connections once read.
	SetTotal(n int)
	// Wake says that borrows wait at the cap. It must not block.
	Wake()
	// Detach is called once by Close after the pool's connections are
	// closed; the budget gives the process's slots back.
	Detach()
	// BudgetStats is a snapshot for Stats.Fleet.
	BudgetStats() BudgetStats
}

// BudgetTarget is the pool as its Budget drives it.
type BudgetTarget interface {
	// SetBudgetCap sets the cap on the pool's connections (open, opening,
	// closing, control) to maxOpen, and the idle connections kept
	// indefinitely to maxIdle. Lowering it closes idle connections at
	// once and borrowed ones as they are given back.
	SetBudgetCap(maxOpen, maxIdle int)
	// BudgetUsage is what the pool uses and wants now.
	BudgetUsage() BudgetUsage
}

// BudgetUsage is the pool's demand, as a Budget reads it.
type BudgetUsage struct {
	Open    int // connections open, opening or closing (control ones included)
	Busy    int // of Open: borrowed, opening or closing
	Idle    int // of Open: idle
	Waiting int // borrows waiting for a connection
	// MaxIdlePercent is Config.MaxIdleConnectionsPercent, the share of the
	// budget a process may keep idle while other processes wait.
	MaxIdlePercent int
}

// BudgetStats describes a fleet budget for Stats.Fleet.
type BudgetStats struct {
	Name            string // the budget's name (fleetName)
	ID              string // this process's lease id
	Total           int    // the fleet's budget (0: not known yet)
	Held            int    // slots this process holds in the budget
	Allowed         int    // the cap the budget set on this pool
	Wanted          int    // slots this process asked for last
	Outside         int    // connections counted outside the pool (failover probes)
	Live            int    // processes holding a lease
	FairShare       int    // total / live
	Renewals        int64  // lease renewals that succeeded
	RenewalFailures int64  // lease renewals that failed (Redis unreachable, slow, failing over)
	RoundTrips      int64  // requests to Redis
	Fallback        bool   // the lease lapsed: the pool runs on FallbackCap
	FallbackCap     int    // the local cap used in fallback
	FallbackEntered int64  // times fallback was entered
}

// controlKey is the partition of ReserveConnection's placeholders; no
// database user name contains a NUL.
const controlKey = "\x00control"

// SetBudgetCap implements BudgetTarget.
func (p *Pool) SetBudgetCap(maxOpen, maxIdle int) {
	maxOpen = max(maxOpen, 0)
	p.core.SetLimits(core.Limits{MaxSize: maxOpen, MaxIdle: min(max(maxIdle, 0), maxOpen), IdleTimeout: p.cfg.IdleTimeout})
}

// BudgetUsage implements BudgetTarget.
func (p *Pool) BudgetUsage() BudgetUsage {
	cs := p.core.Stats()
	return BudgetUsage{
		Open:           cs.Size,
		Busy:           cs.Borrowed + cs.Dialing + cs.Closing,
		Idle:           cs.Idle,
		Waiting:        cs.Waiting,
		MaxIdlePercent: p.cfg.MaxIdleConnectionsPercent,
	}
}

// ReserveConnection takes one slot under the pool's cap for a connection
// the caller opens itself (a control connection, a probe), waiting like a
// borrow (FIFO, ConnectionBorrowTimeout, ctx) when the pool is at its cap,
// so that with a Budget the database never sees more connections from
// this process than the budget grants. release gives the slot back; call
// it once, after closing the connection. Without a Budget it reserves
// nothing and returns at once.
func (p *Pool) ReserveConnection(ctx context.Context) (release func(), err error) {
	if p.cfg.Budget == nil {
		return func() {}, nil
	}
	part := p.partition(controlKey)
	r, _, err := p.core.Acquire(ctx, part.core, "", p.borrowTimeout)
	if err != nil {
		return nil, fmt.Errorf("pool: waiting for a slot of the fleet budget for a control connection: %w", err)
	}
	return func() { r.Destroy(core.ReasonControl) }, nil
}

// controlConn is a control connection whose Close gives its reserved slot
// back.
type controlConn struct {
	Conn
	release func()
}

func (c *controlConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// Unwrap returns the connection Config.Dial returned under a connection
// from DialControl (which, with a Budget, wraps it to free its slot on
// Close); other connections are returned as they are. Close the
// connection DialControl returned, not the unwrapped one.
func Unwrap(c Conn) Conn {
	if cc, ok := c.(*controlConn); ok {
		return cc.Conn
	}
	return c
}
