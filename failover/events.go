package failover

import (
	"time"
)

// EventKind says what happened in the cluster.
type EventKind uint8

const (
	// EventFailoverStarted: the verified writer stopped answering (or was
	// reported dead by a dialer or a pool), so no writer is verified now.
	// Event.From is the lost writer, Event.Err the reason.
	EventFailoverStarted EventKind = iota + 1
	// EventFailoverCompleted: a writer is verified again. Event.From is
	// the writer lost at the start, Event.To the verified writer (the same
	// host after a transient outage), Event.Duration the outage.
	EventFailoverCompleted
	// EventWriterChanged: the verified writer is a different host than the
	// previous verified writer. Event.From and Event.To are set. Pools
	// drop connections to From on this event.
	EventWriterChanged
	// EventTopologyChanged: the set of readers or of down hosts changed.
	EventTopologyChanged
	// EventAmbiguousWriter: more than one host accepts writes; Event.Err
	// is the *AmbiguousWriterError. No writer is used until it resolves.
	EventAmbiguousWriter
)

// String names the event kind.
func (k EventKind) String() string {
	switch k {
	case EventFailoverStarted:
		return "failover started"
	case EventFailoverCompleted:
		return "failover completed"
	case EventWriterChanged:
		return "writer changed"
	case EventTopologyChanged:
		return "topology changed"
	case EventAmbiguousWriter:
		return "ambiguous writer"
	default:
		return "unknown event"
	}
}

// Event is one change observed by a Monitor.
type Event struct {
	Kind EventKind
	// At is when the monitor observed the change.
	At time.Time
	// From and To are writers, as documented per kind.
	From, To Host
	// Duration is the outage duration (EventFailoverCompleted).
	Duration time.Duration
	// Err is the cause (EventFailoverStarted, EventAmbiguousWriter).
	Err error
	// Topology is the topology after the change.
	Topology Topology
}

// Stats is a snapshot of a Monitor's state and counters.
type Stats struct {
	// Writer is the current writer (possibly unverified, see
	// WriterVerified); zero when none is known.
	Writer Host
	// WriterVerified reports whether Writer is confirmed and may be
	// dialed without waiting.
	WriterVerified bool
	// Topology is the latest topology.
	Topology Topology
	// Outages counts EventFailoverStarted.
	Outages int64
	// Failovers counts completed outages that ended on a different writer.
	Failovers int64
	// LastRecovery is the duration of the latest completed outage.
	LastRecovery time.Duration
	// LastFailoverAt is when the latest outage completed.
	LastFailoverAt time.Time
	// Refreshes and RefreshErrors count provider refreshes.
	Refreshes, RefreshErrors int64
	// WriterChecks counts the cheap writer liveness checks between
	// refreshes.
	WriterChecks int64
	// AbortedConns counts connections to a former writer that the monitor
	// closed when the writer changed (statements in flight on them fail
	// with a connection error).
	AbortedConns int64
	// LastError is the latest refresh or check error, or nil.
	LastError error
	// Fast reports whether the monitor is refreshing at the fast rate
	// (no verified writer).
	Fast bool
}

// Invalidator is what a pool offers so that a writer change drops its
// connections to the old writer: idle ones at once, borrowed ones on
// release. (*pool.Pool).Invalidate satisfies it.
type Invalidator interface {
	Invalidate(reason string)
}
