package failover

import (
	"context"
	"database/sql/driver"
	"fmt"
	"net"
	"sync/atomic"
)

// conn wraps a go-sql-driver connection: it knows its host and the writer
// epoch it was dialed in, tracks whether a transaction is open, classifies
// errors (StatementError) and reports lost connections to the monitor.
type conn struct {
	raw   driver.Conn
	ctxQ  driver.QueryerContext
	ctxE  driver.ExecerContext
	prep  driver.ConnPrepareContext
	begin driver.ConnBeginTx
	ping  driver.Pinger
	reset driver.SessionResetter
	valid driver.Validator
	check driver.NamedValueChecker

	d     *Dialer
	host  Host
	epoch uint64 // writer epoch at dial time

	inTx    atomic.Bool // set by BeginTx, cleared by Commit/Rollback
	lost    atomic.Bool // a connection-level error was seen
	untrack func()      // unregisters the socket from the monitor; nil for readers
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

// newConn wraps raw. A writer connection's socket is registered with the
// monitor, which closes it when the writer changes.
func newConn(raw driver.Conn, d *Dialer, h Host, epoch uint64, sock net.Conn) (*conn, error) {
	c := &conn{raw: raw, d: d, host: h, epoch: epoch}
	var ok [8]bool
	c.ctxQ, ok[0] = raw.(driver.QueryerContext)
	c.ctxE, ok[1] = raw.(driver.ExecerContext)
	c.prep, ok[2] = raw.(driver.ConnPrepareContext)
	c.begin, ok[3] = raw.(driver.ConnBeginTx)
	c.ping, ok[4] = raw.(driver.Pinger)
	c.reset, ok[5] = raw.(driver.SessionResetter)
	c.valid, ok[6] = raw.(driver.Validator)
	c.check, ok[7] = raw.(driver.NamedValueChecker)
	for _, v := range ok {
		if !v {
			raw.Close()
			return nil, fmt.Errorf("failover: driver connection %T lacks a context method; use go-sql-driver/mysql", raw)
		}
	}
	if sock != nil && d.cfg.Role == RoleWriter {
		c.untrack = d.m.track(h.Addr, sock)
	}
	return c, nil
}

// Addr returns the address of the host the connection reached.
func (c *conn) Addr() string { return c.host.Addr }

// stale reports whether the writer changed since this writer connection
// was dialed, or the connection saw a connection-level error.
func (c *conn) stale() bool {
	if c.lost.Load() {
		return true
	}
	return c.d.cfg.Role == RoleWriter && c.d.m.writerEpoch() != c.epoch
}

// wrap classifies err, remembers a lost connection and reports it.
func (c *conn) wrap(err error) error {
	if err == nil {
		return nil
	}
	switch Classify(err) {
	case ClassOther:
		return err
	case ClassConnectionLost, ClassReadOnly:
		c.lost.Store(true)
		c.d.fail(c.host, err)
	case ClassNotSent:
		c.lost.Store(true)
	}
	return WrapStatementError(err, c.inTx.Load(), c.host.Addr)
}

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) Close() error {
	if c.untrack != nil {
		c.untrack()
	}
	return c.raw.Close()
}

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.begin.BeginTx(ctx, opts)
	if err != nil {
		return nil, c.wrap(err)
	}
	c.inTx.Store(true)
	return &connTx{c: c, tx: tx}, nil
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	r, err := c.ctxQ.QueryContext(ctx, query, args)
	return r, c.wrap(err)
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	r, err := c.ctxE.ExecContext(ctx, query, args)
	return r, c.wrap(err)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := c.prep.PrepareContext(ctx, query)
	if err != nil {
		return nil, c.wrap(err)
	}
	return newStmt(c, s), nil
}

func (c *conn) Ping(ctx context.Context) error { return c.wrap(c.ping.Ping(ctx)) }

// ResetSession makes database/sql discard a connection to a former writer
// (or one that lost its connection) before reusing it.
func (c *conn) ResetSession(ctx context.Context) error {
	if c.stale() {
		return driver.ErrBadConn
	}
	return c.reset.ResetSession(ctx)
}

// IsValid makes database/sql close, rather than pool, a stale connection.
func (c *conn) IsValid() bool { return !c.stale() && c.valid.IsValid() }

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error { return c.check.CheckNamedValue(nv) }

// connTx tracks the end of a transaction and classifies its errors.
type connTx struct {
	c  *conn
	tx driver.Tx
}

func (t *connTx) Commit() error {
	err := t.c.wrap(t.tx.Commit())
	t.c.inTx.Store(false)
	return err
}

func (t *connTx) Rollback() error {
	err := t.c.wrap(t.tx.Rollback())
	t.c.inTx.Store(false)
	return err
}

// stmt classifies the errors of a prepared statement.
type stmt struct {
	c   *conn
	raw driver.Stmt
}

func newStmt(c *conn, s driver.Stmt) *stmt { return &stmt{c: c, raw: s} }

func (s *stmt) Close() error  { return s.raw.Close() }
func (s *stmt) NumInput() int { return s.raw.NumInput() }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), namedValues(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), namedValues(args))
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	se, ok := s.raw.(driver.StmtExecContext)
	if !ok {
		return nil, fmt.Errorf("failover: statement %T lacks ExecContext", s.raw)
	}
	r, err := se.ExecContext(ctx, args)
	return r, s.c.wrap(err)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	sq, ok := s.raw.(driver.StmtQueryContext)
	if !ok {
		return nil, fmt.Errorf("failover: statement %T lacks QueryContext", s.raw)
	}
	r, err := sq.QueryContext(ctx, args)
	return r, s.c.wrap(err)
}

// CheckNamedValue defers to the driver's statement, then its connection.
func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.raw.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return s.c.CheckNamedValue(nv)
}

func namedValues(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}
