package pool

import (
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool/internal/core"
)

// CloseReason says why a backend connection was closed.
type CloseReason = core.Reason

// The close reasons, as counted in Stats.Closed.
const (
	CloseBroken      = core.ReasonBroken      // an error showed the connection unusable
	CloseHealthCheck = core.ReasonHealthCheck // the ping before reuse failed
	CloseLifetime    = core.ReasonLifetime    // MaxLifetime reached
	CloseIdleTimeout = core.ReasonIdleTimeout // idle beyond the idle limit for IdleTimeout
	CloseEvicted     = core.ReasonEvicted     // idle, closed to make room for another user or a lower cap
	CloseRebalanced  = core.ReasonRebalanced  // given back while another user waited for a slot
	CloseInvalidated = core.ReasonInvalidated // opened before Invalidate
	CloseDirty       = core.ReasonDirty       // state unknown and not resettable
	ClosePoolClosed  = core.ReasonPoolClosed  // the pool was closed
	CloseControl     = core.ReasonControl     // a control connection's slot of a fleet budget was given back
)

// NumCloseReasons sizes Stats.Closed.
const NumCloseReasons = core.NumReasons

const numPinReasons = pinning.NumPinReasons

// Stats is a snapshot of the pool. Fields named Database... are RDS Proxy's
// metric names; the others have no RDS Proxy counterpart. Counters are
// cumulative since New; gauges are current.
type Stats struct {
	// DatabaseConnections: open backend connections (idle, borrowed,
	// and closing), not counting connections being opened.
	DatabaseConnections int
	// DatabaseConnectionsCurrentlyBorrowed: connections held by sessions.
	DatabaseConnectionsCurrentlyBorrowed int
	// DatabaseConnectionsCurrentlyInTransaction: held by a session in a
	// transaction.
	DatabaseConnectionsCurrentlyInTransaction int
	// DatabaseConnectionsCurrentlySessionPinned: held by a pinned session.
	DatabaseConnectionsCurrentlySessionPinned int
	// DatabaseConnectionRequests: connection attempts (dials) started.
	DatabaseConnectionRequests int64
	// DatabaseConnectionsSetupSucceeded/Failed: dials (with InitQuery)
	// that succeeded or failed.
	DatabaseConnectionsSetupSucceeded int64
	DatabaseConnectionsSetupFailed    int64
	// DatabaseConnectionsBorrowLatency: time from a borrow's start to
	// getting a ready connection (waiting, health check, settings diff).
	DatabaseConnectionsBorrowLatency Histogram
	// MaxDatabaseConnectionsAllowed: the cap in force.
	MaxDatabaseConnectionsAllowed int

	IdleConnections      int   // idle connections
	MaxIdleConnections   int   // idle connections kept indefinitely
	ConnectionsOpening   int   // dials in flight
	ServerMaxConnections int   // @@max_connections as last read (0: not read)
	BorrowRequests       int64 // Session.Acquire calls that had to borrow
	WaitCount            int64 // borrows that had to wait
	WaitingNow           int   // borrows waiting now
	WaitDuration         time.Duration
	BorrowTimeouts       int64 // borrows failed by ConnectionBorrowTimeout
	BorrowsCanceled      int64 // borrows ended by their context
	HealthChecks         int64 // pings before reuse
	DialRetries          int64 // borrows that retried after a transient dial failure
	ReuseExactMatch      int64 // borrows whose connection matched settings and schema
	ReuseDiffApplied     int64 // borrows that applied a settings/schema difference
	Resets               int64 // connections reset (COM_RESET_CONNECTION) before reuse
	Rollbacks            int64 // transactions rolled back for vanished clients
	// LookBehindReclaimed: look-behind statements (Session.AcquireFor)
	// served by taking back the connection of the session's previous
	// statement.
	LookBehindReclaimed int64
	// LookBehindLost: look-behind statements refused with
	// ErrLookBehindLost because that connection was reused or closed.
	LookBehindLost int64
	// LastInsertIDDeferred: connections given back with a session's
	// LAST_INSERT_ID() on them unread (see the package's lastid.go);
	// LastInsertIDDelivered: such values read by another borrower of
	// the connection, by the session itself or before a close, the rest
	// having been found in place by their session or no longer wanted;
	// LastInsertIDReclaimed: of those, read by the session itself after
	// taking its previous connection back.
	LastInsertIDDeferred  int64
	LastInsertIDDelivered int64
	LastInsertIDReclaimed int64
	Closed                [NumCloseReasons]int64
	Pins                  [numPinReasons]int64 // sessions newly pinned, per reason
	ClosedTotal           int64
	// Fleet is the fleet budget's state (nil without Config.Budget).
	Fleet *BudgetStats
}

// Stats returns a snapshot.
func (p *Pool) Stats() Stats {
	cs := p.core.Stats()
	atOnce := p.stats.exactAtOnce.Load()
	p.mu.Lock()
	serverMax := p.serverMax
	p.mu.Unlock()
	s := Stats{
		DatabaseConnections:                       cs.Size - cs.Dialing,
		DatabaseConnectionsCurrentlyBorrowed:      cs.Borrowed,
		DatabaseConnectionsCurrentlyInTransaction: int(p.stats.inTx.Load()),
		DatabaseConnectionsCurrentlySessionPinned: int(p.stats.pinned.Load()),
		DatabaseConnectionRequests:                p.stats.dialsStarted.Load(),
		DialRetries:                               p.stats.dialRetries.Load(),
		DatabaseConnectionsSetupSucceeded:         cs.DialsSucceeded,
		DatabaseConnectionsSetupFailed:            cs.DialsFailed,
		DatabaseConnectionsBorrowLatency:          p.stats.borrowLatency.snapshot(),
		MaxDatabaseConnectionsAllowed:             cs.MaxSize,
		IdleConnections:                           cs.Idle,
		MaxIdleConnections:                        cs.MaxIdle,
		ConnectionsOpening:                        cs.Dialing,
		ServerMaxConnections:                      serverMax,
		BorrowRequests:                            p.stats.borrows.Load(),
		WaitCount:                                 cs.Waits,
		WaitingNow:                                cs.Waiting,
		WaitDuration:                              time.Duration(cs.WaitNanos),
		BorrowTimeouts:                            cs.Timeouts,
		BorrowsCanceled:                           cs.Canceled,
		HealthChecks:                              p.stats.healthChecks.Load(),
		ReuseExactMatch:                           p.stats.reuseExact.Load() + atOnce,
		ReuseDiffApplied:                          p.stats.reuseDiff.Load(),
		Resets:                                    p.stats.resets.Load(),
		Rollbacks:                                 p.stats.rollbacks.Load(),
		LookBehindReclaimed:                       p.stats.lookBehindReclaimed.Load(),
		LookBehindLost:                            p.stats.lookBehindLost.Load(),
		LastInsertIDDeferred:                      p.stats.lastIDDeferred.Load(),
		LastInsertIDDelivered:                     p.stats.lastIDDelivered.Load(),
		LastInsertIDReclaimed:                     p.stats.lastIDReclaimed.Load(),
		Closed:                                    cs.Closed,
	}
	s.DatabaseConnectionsBorrowLatency.Counts[0] += atOnce
	if b := p.cfg.Budget; b != nil {
		fs := b.BudgetStats()
		s.Fleet = &fs
	}
	for i := range s.Pins {
		s.Pins[i] = p.stats.pins[i].Load()
	}
	for _, n := range s.Closed {
		s.ClosedTotal += n
	}
	return s
}

// PinCount returns how many sessions were pinned for reason.
func (s Stats) PinCount(reason pinning.PinReason) int64 {
	if int(reason) >= len(s.Pins) {
		return 0
	}
	return s.Pins[reason]
}

// ClosedCount returns how many connections were closed for reason.
func (s Stats) ClosedCount(reason CloseReason) int64 {
	if int(reason) >= len(s.Closed) {
		return 0
	}
	return s.Closed[reason]
}

// HistogramBuckets is the number of buckets of a Histogram.
const HistogramBuckets = 28

// Histogram counts durations in power-of-two buckets: bucket 0 holds
// durations under 1µs (borrows served at once from the idle list), bucket
// i (1 <= i < HistogramBuckets-1) those in [2^(i-1)µs, 2^i µs), and the
// last bucket everything from about 67s up.
type Histogram struct {
	Counts [HistogramBuckets]int64
	// Sum is the total of the observed durations (exact, not estimated
	// from the buckets).
	Sum time.Duration
}

// BucketUpperBound returns the exclusive upper bound of bucket i (the last
// bucket has none and returns the largest Duration).
func BucketUpperBound(i int) time.Duration {
	if i >= HistogramBuckets-1 {
		return time.Duration(1<<63 - 1)
	}
	return time.Microsecond << i
}

// Count returns the number of observations.
func (h *Histogram) Count() int64 {
	var n int64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Quantile returns an upper bound for the q-quantile (0 < q <= 1): the
// upper bound of the bucket it falls in; 0 with no observations.
func (h *Histogram) Quantile(q float64) time.Duration {
	total := h.Count()
	if total == 0 {
		return 0
	}
	rank := int64(q*float64(total) + 0.5)
	rank = min(max(rank, 1), total)
	var seen int64
	for i, c := range h.Counts {
		seen += c
		if seen >= rank {
			return BucketUpperBound(i)
		}
	}
	return BucketUpperBound(HistogramBuckets - 1)
}

// histogram is the live, lock-free form of Histogram.
type histogram struct {
	counts [HistogramBuckets]atomic.Int64
	sum    atomic.Int64 // nanoseconds
}

func (h *histogram) observe(d time.Duration) {
	if d <= 0 {
		// A borrow served at once from the idle list: one atomic
		// operation, not two, on the path every such borrow takes.
		h.counts[0].Add(1)
		return
	}
	i := 0
	if us := uint64(d / time.Microsecond); us > 0 {
		i = min(bits.Len64(us), HistogramBuckets-1)
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

func (h *histogram) snapshot() Histogram {
	var s Histogram
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
	}
	s.Sum = time.Duration(h.sum.Load())
	return s
}

// LatencyRecorder records durations into a Histogram: lock-free, safe for
// concurrent use, and free of allocations, for code that keeps latency
// histograms of its own in the pool's form (proxy.Server does). The zero
// value is ready to use.
type LatencyRecorder struct {
	h histogram
}

// Observe records one duration.
func (r *LatencyRecorder) Observe(d time.Duration) { r.h.observe(d) }

// Snapshot returns what was recorded so far.
func (r *LatencyRecorder) Snapshot() Histogram { return r.h.snapshot() }
