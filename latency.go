package rdsmux

import (
	"time"

	"github.com/rdsmux/rdsmux/pool"
)

// Stats is a snapshot of one target's statistics: its shared pool's
// (pool.Stats, embedded, named as RDS Proxy's metrics) and the
// per-statement latency histograms every logical connection to the target
// records, the driver's counterpart of proxy.Stats' histograms.
type Stats struct {
	pool.Stats

	// QueryDatabaseResponseLatency: per statement that reached a backend,
	// the time the database took to answer (RDS Proxy's
	// QueryDatabaseResponseLatency): from sending the statement (a
	// prepare of it on that backend included, when not cached) to its
	// result for Exec, and to the rows being closed for Query, since
	// go-sql-driver reads the rows from the server as they are consumed
	// (so a caller slow to read its rows lengthens it too).
	QueryDatabaseResponseLatency pool.Histogram
	// QueryResponseLatency: per statement of the same kinds, the
	// client-seen time (RDS Proxy's QueryResponseLatency): from the
	// statement's start, borrowing a backend and retries included, to its
	// end (Exec returning, or the rows closed and the backend given back).
	QueryResponseLatency pool.Histogram
}

// latency holds a target's per-statement histograms, shared by all its
// logical connections; lock-free and allocation-free (pool.LatencyRecorder).
type latency struct {
	db   pool.LatencyRecorder // Stats.QueryDatabaseResponseLatency
	resp pool.LatencyRecorder // Stats.QueryResponseLatency
}

// observe records one statement: start is when it began (before the
// borrow), sent when it was sent to the backend, answered when the
// database's answer was complete; the statement ends now.
func (l *latency) observe(start, sent, answered time.Time) {
	l.db.Observe(answered.Sub(sent))
	l.resp.Observe(time.Since(start))
}

// stats returns the target's statistics.
func (t *target) stats() Stats {
	return Stats{
		Stats:                        t.pool.Stats(),
		QueryDatabaseResponseLatency: t.latency.db.Snapshot(),
		QueryResponseLatency:         t.latency.resp.Snapshot(),
	}
}
