package failover

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ReadOnlyConfig configures a ReadOnlyProvider.
type ReadOnlyConfig struct {
	// Hosts are the cluster's instances ("host:port", port 3306 when
	// missing): a MySQL/MariaDB primary and its replicas, or the instances
	// of an RDS Multi-AZ cluster.
	Hosts []string
	// Probe says how to reach them.
	Probe ProbeConfig
	// Query returns one integer, non-zero on a read-only host. Default
	// "SELECT @@global.read_only".
	Query string
}

// ReadOnlyProvider finds the writer of a host list by asking every host for
// its read_only flag: the writer is the one host with read_only = 0. More
// than one such host is reported as an *AmbiguousWriterError, never
// guessed.
type ReadOnlyProvider struct {
	hosts []string // immutable
	query string   // immutable
	p     *prober
}

var (
	_ Provider      = (*ReadOnlyProvider)(nil)
	_ WriterChecker = (*ReadOnlyProvider)(nil)
)

// NewReadOnly returns a ReadOnlyProvider. It does not connect until the
// first Refresh.
func NewReadOnly(cfg ReadOnlyConfig) (*ReadOnlyProvider, error) {
	if len(cfg.Hosts) == 0 {
		return nil, errors.New("failover: ReadOnlyConfig.Hosts is empty; list the cluster's instances")
	}
	p, err := newProber(cfg.Probe)
	if err != nil {
		return nil, err
	}
	rp := &ReadOnlyProvider{query: cfg.Query, p: p}
	if rp.query == "" {
		rp.query = "SELECT @@global.read_only"
	}
	seen := map[string]bool{}
	for _, h := range cfg.Hosts {
		a := withDefaultPort(h, DefaultPort)
		if !seen[a] {
			seen[a] = true
			rp.hosts = append(rp.hosts, a)
		}
	}
	return rp, nil
}

// Refresh probes every host's read_only flag concurrently. Hosts that do
// not answer within the probe timeout are listed as down; a host whose
// previous probe failed is not waited for.
func (rp *ReadOnlyProvider) Refresh(ctx context.Context) (Topology, error) {
	res := probeAll(ctx, rp.p, rp.hosts, func(ctx context.Context, db *sql.DB) (bool, error) {
		return queryReadOnly(ctx, db, rp.query)
	})
	top := Topology{At: time.Now()}
	var writers []Host
	for _, r := range res {
		h := Host{Addr: r.Addr, ID: r.Addr}
		switch {
		case r.Err != nil:
			top.Down = append(top.Down, h)
		case r.Val:
			h.Role, h.Updated = RoleReader, top.At
			top.Readers = append(top.Readers, h)
		default:
			h.Role, h.Updated = RoleWriter, top.At
			writers = append(writers, h)
		}
	}
	switch len(writers) {
	case 0:
		return top, nil
	case 1:
		top.Writer, top.WriterVerified = writers[0], true
		return top, nil
	default:
		return top, &AmbiguousWriterError{Writers: writers}
	}
}

// CheckWriter confirms that w still answers with read_only = 0.
func (rp *ReadOnlyProvider) CheckWriter(ctx context.Context, w Host) error {
	return checkWriter(ctx, rp.p, w, rp.query)
}

// checkWriter probes one host's read-only flag and fails unless it is 0.
func checkWriter(ctx context.Context, p *prober, w Host, query string) error {
	res := probeAll(ctx, p, []string{w.Addr}, func(ctx context.Context, db *sql.DB) (bool, error) {
		return queryReadOnly(ctx, db, query)
	})[0]
	if res.Err != nil {
		return res.Err
	}
	if res.Val {
		return fmt.Errorf("%w: %s is read-only now", ErrWrongRole, w.Addr)
	}
	return nil
}

// Close stops running probes and closes probe connections.
func (rp *ReadOnlyProvider) Close() error {
	rp.p.close()
	return nil
}

// roleQuery is the query a Dialer uses to confirm a connection's role.
func (rp *ReadOnlyProvider) roleQuery() string { return rp.query }
