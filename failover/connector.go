package failover

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// ConnectorConfig configures a Connector.
type ConnectorConfig struct {
	// MySQL carries credentials, TLS and every other go-sql-driver option.
	// Addr and DialFunc are replaced per host. Required.
	MySQL *mysql.Config
	// AttemptTimeout bounds one connection attempt to one host: TCP
	// connect, TLS, authentication and the role check. A blackholed host
	// fails an attempt after this long. Default 2s.
	AttemptTimeout time.Duration
	// WaitTimeout bounds Connect when its context has no deadline: how long
	// to wait through a failover for a writer. Default 10s.
	WaitTimeout time.Duration
	// WrapConn, if set, wraps each new network connection before
	// go-sql-driver reads from it (the rdsmux driver uses it to edit the
	// server's greeting); ctx is the one Connect was called with.
	WrapConn func(ctx context.Context, nc net.Conn) net.Conn
}

// Connector is a database/sql driver.Connector (and a dial function for a
// pool) that connects to the cluster's current writer or a reader with
// go-sql-driver, confirms the host's role on the new connection, and waits
// through a failover within the caller's context. The connections it
// returns classify their errors (see StatementError), report lost
// connections to the monitor, and make database/sql discard them once the
// writer has changed.
type Connector struct {
	d   *Dialer
	cfg ConnectorConfig // immutable; cfg.MySQL is a private clone

	mu    sync.Mutex                  // guards bases
	bases map[string]driver.Connector // go-sql-driver connector per host address
}

var _ driver.Connector = (*Connector)(nil)

// NewConnector returns a Connector that dials through d.
func NewConnector(d *Dialer, cfg ConnectorConfig) (*Connector, error) {
	if cfg.MySQL == nil {
		return nil, errors.New("failover: ConnectorConfig.MySQL is required (credentials and options for go-sql-driver)")
	}
	cfg.MySQL = cfg.MySQL.Clone()
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 2 * time.Second
	}
	if cfg.WaitTimeout <= 0 {
		cfg.WaitTimeout = 10 * time.Second
	}
	return &Connector{d: d, cfg: cfg, bases: map[string]driver.Connector{}}, nil
}

// Driver returns go-sql-driver's driver.
func (c *Connector) Driver() driver.Driver { return &mysql.MySQLDriver{} }

// base returns the go-sql-driver connector for addr.
func (c *Connector) base(addr string) (driver.Connector, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.bases[addr]; ok {
		return b, nil
	}
	mc := c.cfg.MySQL.Clone()
	mc.Net, mc.Addr = "tcp", addr
	tcp := c.d.cfg.TCP
	mc.DialFunc = func(ctx context.Context, _, a string) (net.Conn, error) {
		nc, err := tcp.dialTCP(ctx, a)
		if err != nil {
			return nil, err
		}
		if rec, ok := ctx.Value(dialRecordKey{}).(*dialRecord); ok {
			rec.conn = nc
		}
		if c.cfg.WrapConn != nil {
			nc = c.cfg.WrapConn(ctx, nc)
		}
		return nc, nil
	}
	b, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("failover: go-sql-driver settings for %s: %w", addr, err)
	}
	c.bases[addr] = b
	return b, nil
}

// Connect returns a connection to a host with the dialer's role. It waits
// through a failover until ctx ends (or WaitTimeout, when ctx has no
// deadline). Authentication and configuration errors are returned at once.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.WaitTimeout)
		defer cancel()
	}
	for {
		h, err := c.d.pick(ctx)
		if err != nil {
			return nil, err
		}
		conn, err := c.attempt(ctx, h)
		if err == nil {
			return conn, nil
		}
		if !retryableConnect(err) {
			return nil, err
		}
		if !errors.Is(err, ErrWrongRole) { // ConfirmRole reported it already
			c.d.fail(h, err)
		}
		if werr := c.d.Backoff(ctx); werr != nil {
			return nil, fmt.Errorf("failover: connecting to the %s %s: %w (and the wait for another ended: %w)", c.d.cfg.Role, h.Addr, err, werr)
		}
	}
}

// attempt connects to h once and confirms its role.
func (c *Connector) attempt(ctx context.Context, h Host) (driver.Conn, error) {
	b, err := c.base(h.Addr)
	if err != nil {
		return nil, err
	}
	epoch := c.d.m.writerEpoch()
	actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	rec := &dialRecord{}
	actx = context.WithValue(actx, dialRecordKey{}, rec)
	raw, err := b.Connect(actx)
	if err != nil {
		if actx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("failover: %s did not complete the handshake within %v: %w", h.Addr, c.cfg.AttemptTimeout, err)
		}
		return nil, err
	}
	if q := c.d.RoleQuery(); q != "" {
		ro, err := queryConnReadOnly(actx, raw, q)
		if err == nil {
			err = c.d.ConfirmRole(h, ro)
		}
		if err != nil {
			raw.Close()
			return nil, err
		}
	}
	return newConn(raw, c.d, h, epoch, rec.conn)
}

// dialRecordKey is the context key under which attempt passes a
// *dialRecord to the dial function.
type dialRecordKey struct{}

// dialRecord captures the socket go-sql-driver dialed.
type dialRecord struct{ conn net.Conn }

// retryableConnect reports whether a failed attempt should move on to
// another (or the same, re-verified) host rather than fail the caller.
func retryableConnect(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return Classify(err) != ClassOther // server shutting down, read-only
	}
	if errors.Is(err, ErrWrongRole) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	return Classify(err) != ClassOther
}

// queryConnReadOnly runs a role query on a raw driver connection.
func queryConnReadOnly(ctx context.Context, conn driver.Conn, query string) (bool, error) {
	q, ok := conn.(driver.QueryerContext)
	if !ok {
		return false, errors.New("failover: the driver connection cannot run queries")
	}
	rows, err := q.QueryContext(ctx, query, nil)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	vals := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(vals); err != nil {
		if err == io.EOF {
			return false, fmt.Errorf("failover: role query %q returned no row", query)
		}
		return false, err
	}
	if len(vals) == 0 {
		return false, fmt.Errorf("failover: role query %q returned no column", query)
	}
	switch v := vals[0].(type) {
	case int64:
		return v != 0, nil
	case []byte:
		return len(v) > 0 && string(v) != "0", nil
	case string:
		return v != "" && v != "0", nil
	case nil:
		return false, nil
	default:
		return false, fmt.Errorf("failover: role query %q returned %T", query, v)
	}
}
