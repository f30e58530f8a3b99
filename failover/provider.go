package failover

import (
	"context"
	"errors"
)

// Provider observes a cluster's topology. Implementations: *Static (one
// host, no failover), *ReadOnlyProvider (read_only probing of a host list)
// and *AuroraProvider (Aurora MySQL's replica_host_status).
//
// Refresh is called by one goroutine at a time (the Monitor's).
type Provider interface {
	// Refresh observes the cluster now, within ctx. A cluster without a
	// reachable writer is not an error: the Topology then has no writer,
	// or an unverified one. More than one writer is reported as an
	// *AmbiguousWriterError together with the rest of the topology.
	Refresh(ctx context.Context) (Topology, error)
	// Close stops probes and releases connections.
	Close() error
}

// WriterChecker is implemented by providers that can cheaply confirm that
// a host is still a writer (one query on an open probe connection). The
// Monitor uses it between full refreshes, so that a dead writer is noticed
// within about a second even without traffic.
type WriterChecker interface {
	CheckWriter(ctx context.Context, writer Host) error
}

// errMonitorClosed is returned by probes and waits after Close.
var errMonitorClosed = errors.New("failover: monitor closed")

// Static is a Provider for a single host that is always the writer: no
// failover, no probing. It exists so that code written against a Monitor
// works unchanged with a plain server.
type Static struct {
	host Host
}

var _ Provider = (*Static)(nil)

// NewStatic returns a Provider that always reports addr ("host:port"; port
// 3306 when missing) as the writer.
func NewStatic(addr string) *Static {
	addr = withDefaultPort(addr, DefaultPort)
	return &Static{host: Host{Addr: addr, ID: addr, Role: RoleWriter}}
}

// Refresh returns the configured host as a verified writer without any I/O.
func (s *Static) Refresh(ctx context.Context) (Topology, error) {
	return Topology{Writer: s.host, WriterVerified: true}, nil
}

// Close does nothing.
func (s *Static) Close() error { return nil }
