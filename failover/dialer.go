package failover

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rdsmux/rdsmux/backoff"
)

// DialerConfig configures a Dialer.
type DialerConfig struct {
	// Role is what to reach: RoleWriter (the default) or RoleReader.
	Role Role
	// NoWriterFallback stops a reader dialer from using the writer when no
	// reader is up.
	NoWriterFallback bool
	// TCP tunes dialed sockets (timeouts, keepalive, TCP_USER_TIMEOUT).
	TCP TCPConfig
	// Backoff is the pause after a failed dial before the next attempt,
	// unless the monitor reports a change sooner. Default 20ms.
	Backoff time.Duration
	// FailedHostTTL is how long a reader dialer avoids a reader it failed
	// to reach (the monitor may take a refresh or two to list it as
	// down). Default 5s.
	FailedHostTTL time.Duration
}

// Dialer opens connections to the current writer (or a reader) of the
// cluster a Monitor follows. When the chosen host fails it reports the
// failure to the monitor and waits, within the caller's context, for the
// monitor to verify a writer, then dials that one: callers queue through a
// failover instead of failing.
type Dialer struct {
	m   *Monitor
	cfg DialerConfig // immutable
	rr  atomic.Uint64

	mu     sync.Mutex           // guards failed
	failed map[string]time.Time // reader address -> avoid until
}

// NewDialer returns a Dialer for the cluster m follows.
func NewDialer(m *Monitor, cfg DialerConfig) *Dialer {
	if cfg.Role == RoleUnknown {
		cfg.Role = RoleWriter
	}
	cfg.TCP = cfg.TCP.withDefaults()
	if cfg.Backoff <= 0 {
		cfg.Backoff = 20 * time.Millisecond
	}
	if cfg.FailedHostTTL <= 0 {
		cfg.FailedHostTTL = 5 * time.Second
	}
	return &Dialer{m: m, cfg: cfg, failed: map[string]time.Time{}}
}

// Role returns the role this dialer reaches.
func (d *Dialer) Role() Role { return d.cfg.Role }

// Monitor returns the monitor the dialer follows.
func (d *Dialer) Monitor() *Monitor { return d.m }

// DialContext connects to the current writer (or a reader) over TCP,
// ignoring addr: the cluster decides where to go. Its signature is that of
// go-sql-driver's mysql.Config.DialFunc, so it can be plugged in directly
// (TLS then needs tls.Config.ServerName set, since go-sql-driver derives it
// from Config.Addr; NewConnector does not have that limitation and also
// confirms the role). network must be "tcp", "tcp4" or "tcp6".
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("failover: cannot dial network %q; the dialer reaches cluster hosts over tcp", network)
	}
	c, _, err := d.DialHost(ctx)
	return c, err
}

// DialHost is DialContext that also says which host it reached, for
// callers (such as the listener's backend side) that complete the MySQL
// handshake themselves: they should then run RoleQuery and pass the answer
// to ConfirmRole before using the connection.
func (d *Dialer) DialHost(ctx context.Context) (net.Conn, Host, error) {
	for {
		h, err := d.pick(ctx)
		if err != nil {
			return nil, Host{}, err
		}
		c, err := d.cfg.TCP.dialTCP(ctx, h.Addr)
		if err == nil {
			return c, h, nil
		}
		d.fail(h, err)
		if werr := d.Backoff(ctx); werr != nil {
			return nil, h, fmt.Errorf("failover: dialing the %s %s: %w (and the wait for another ended: %w)", d.cfg.Role, h.Addr, err, werr)
		}
	}
}

// RoleQuery is the query that tells a connected host's role: it returns
// one integer, non-zero on a read-only host. It comes from the provider
// ("SELECT @@global.read_only", or "SELECT @@innodb_read_only" on Aurora);
// empty for a Static provider (no confirmation needed).
func (d *Dialer) RoleQuery() string {
	if rq, ok := d.m.cfg.Provider.(interface{ roleQuery() string }); ok {
		return rq.roleQuery()
	}
	return ""
}

// ConfirmRole checks the answer of RoleQuery on a connection to h. When
// the host's role is not the one this dialer wants, it reports the host to
// the monitor and returns an error wrapping ErrWrongRole: close the
// connection and dial again.
func (d *Dialer) ConfirmRole(h Host, readOnly bool) error {
	switch {
	case d.cfg.Role == RoleWriter && readOnly:
		err := fmt.Errorf("%w: %s is read-only, a writer was wanted", ErrWrongRole, h.Addr)
		d.m.ReportFailure(h.Addr, err)
		return err
	case d.cfg.Role == RoleReader && !readOnly && h.Role == RoleReader:
		// A reader that became the writer: fine for reads, but the
		// topology is stale.
		d.m.Refresh()
	}
	return nil
}

// pick chooses the host to dial, waiting within ctx for the monitor when
// it knows none.
func (d *Dialer) pick(ctx context.Context) (Host, error) {
	if d.cfg.Role == RoleWriter {
		return d.m.WaitWriter(ctx)
	}
	for {
		var (
			h, w   Host
			ok, wv bool
			ch     <-chan struct{}
		)
		d.m.viewTopology(func(top *Topology, changed <-chan struct{}) {
			h, ok = d.pickReader(top)
			w, wv, ch = top.Writer, top.WriterVerified, changed
		})
		if ok {
			return h, nil
		}
		if !d.cfg.NoWriterFallback && wv {
			return w, nil
		}
		select {
		case <-ch:
		case <-time.After(d.cfg.Backoff):
			// failed-reader marks expire with time, not with monitor
			// changes.
		case <-ctx.Done():
			return Host{}, fmt.Errorf("failover: no reader (or writer) is available: %w", ctx.Err())
		}
	}
}

// usableReaderLocked reports whether h is neither down nor recently failed by
// this dialer; the caller holds d.mu.
func (d *Dialer) usableReaderLocked(top *Topology, h *Host, now time.Time) bool {
	for i := range top.Down {
		if top.Down[i].Addr == h.Addr {
			return false
		}
	}
	if until, ok := d.failed[h.Addr]; ok {
		if now.Before(until) {
			return false
		}
		delete(d.failed, h.Addr)
	}
	return true
}

// pickReader returns the next reader round-robin, skipping hosts that are
// down or that this dialer recently failed to reach. It does not allocate.
func (d *Dialer) pickReader(top *Topology) (Host, bool) {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for i := range top.Readers {
		if d.usableReaderLocked(top, &top.Readers[i], now) {
			n++
		}
	}
	if n == 0 {
		return Host{}, false
	}
	k := int(d.rr.Add(1)-1) % n
	for i := range top.Readers {
		if d.usableReaderLocked(top, &top.Readers[i], now) {
			if k == 0 {
				return top.Readers[i], true
			}
			k--
		}
	}
	return Host{}, false
}

// fail records a failed connection to h.
func (d *Dialer) fail(h Host, err error) {
	if h.Role == RoleReader || d.cfg.Role == RoleReader {
		d.mu.Lock()
		d.failed[h.Addr] = time.Now().Add(d.cfg.FailedHostTTL)
		d.mu.Unlock()
	}
	d.m.ReportFailure(h.Addr, err)
}

// Backoff pauses, after a failed attempt, for DialerConfig.Backoff or until
// ctx ends (then it returns ctx's error). Callers that complete the
// handshake themselves (see DialHost) use it between hosts that turned out
// to have the wrong role, as Connector does.
func (d *Dialer) Backoff(ctx context.Context) error {
	return backoff.Sleep(ctx, d.cfg.Backoff)
}

// Track registers a connection to the writer h that the caller owns (for
// example a listener's backend connection from DialHost): when another
// host becomes the verified writer, the monitor closes c so that anything
// blocked on it fails at once. Call the returned function when closing c
// yourself. Connections from a Connector are tracked already.
func (d *Dialer) Track(h Host, c io.Closer) (untrack func()) {
	return d.m.track(h.Addr, c)
}
