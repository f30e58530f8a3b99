package failover

import (
	"net"
	"strconv"
	"time"
)

// Role is what a host does in a cluster.
type Role uint8

const (
	// RoleUnknown is a host whose role has not been observed.
	RoleUnknown Role = iota
	// RoleWriter accepts writes (read_only = 0).
	RoleWriter
	// RoleReader is a read-only replica (read_only = 1).
	RoleReader
)

// String returns "writer", "reader" or "unknown".
func (r Role) String() string {
	switch r {
	case RoleWriter:
		return "writer"
	case RoleReader:
		return "reader"
	default:
		return "unknown"
	}
}

// Host is one database instance of a cluster.
type Host struct {
	// Addr is the instance's "host:port", as dialed.
	Addr string
	// ID is the instance's identifier where the topology source has one
	// (Aurora's server id); otherwise it equals Addr.
	ID string
	// Role is the host's role as last observed.
	Role Role
	// ReplicaLag is the replication lag the topology source reported (zero
	// when unknown or for the writer).
	ReplicaLag time.Duration
	// Updated is when the topology source last heard from the host.
	Updated time.Time
}

// IsZero reports whether h is the zero Host (no host).
func (h Host) IsZero() bool { return h.Addr == "" }

// String returns the host's address, or "<none>".
func (h Host) String() string {
	if h.Addr == "" {
		return "<none>"
	}
	return h.Addr
}

// Topology is a snapshot of a cluster: its writer and its readers.
type Topology struct {
	// Writer is the host that accepts writes; zero when none is known.
	Writer Host
	// WriterVerified reports whether the writer's role was confirmed by a
	// direct probe of that host during the refresh that produced this
	// snapshot (rather than only reported by another host's view).
	WriterVerified bool
	// Readers are the read-only hosts that answered, in a stable order.
	Readers []Host
	// Down lists hosts known to the source that did not answer.
	Down []Host
	// At is when the snapshot was taken.
	At time.Time
}

// Clone returns a deep copy of t, safe to hand to another goroutine.
func (t Topology) Clone() Topology {
	t.Readers = append([]Host(nil), t.Readers...)
	t.Down = append([]Host(nil), t.Down...)
	return t
}

// withDefaultPort returns addr with port appended when addr has none.
func withDefaultPort(addr string, port int) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(addr, strconv.Itoa(port))
}

// DefaultPort is the MySQL port used when an address has none.
const DefaultPort = 3306
