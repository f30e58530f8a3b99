package rdsmux

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync"

	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux/fleet"
	"github.com/rdsmux/rdsmux/pool"
)

// fleetBudget returns the fleet budget a DSN's fleet parameters ask for, or
// nil without one. The budget's name defaults to the target's host:port.
func fleetBudget(cfg *Config, backendCfg *mysql.Config) (*fleet.Member, error) {
	if cfg.Fleet == "" {
		return nil, nil
	}
	name := cfg.FleetName
	if name == "" {
		name = backendCfg.Addr
	}
	m, err := fleet.New(fleet.Config{URL: cfg.Fleet, Name: name, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("rdsmux: fleet=%q: %w", redactURL(cfg.Fleet), err)
	}
	return m, nil
}

// redactURL hides a password in a Redis URL for error messages.
func redactURL(s string) string {
	m, err := fleet.RedactURL(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return m
}

// reserving makes a connector's connections take a slot of p's fleet
// budget (pool.ReserveConnection) for as long as they are open: the
// killer's KILL QUERY connections count against the budget as the pool's
// own do.
type reserving struct {
	driver.Connector
	pool *pool.Pool
}

// Connect implements driver.Connector.
func (r reserving) Connect(ctx context.Context) (driver.Conn, error) {
	release, err := r.pool.ReserveConnection(ctx)
	if err != nil {
		return nil, err
	}
	c, err := r.Connector.Connect(ctx)
	if err != nil {
		release()
		return nil, err
	}
	return &reservedConn{Conn: c, release: release}, nil
}

// reservedConn is a control connection holding a slot of a fleet budget
// until it is closed. It offers what the killer uses of go-sql-driver's
// connection.
type reservedConn struct {
	driver.Conn
	once    sync.Once
	release func()
}

func (c *reservedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// QueryContext implements driver.QueryerContext.
func (c *reservedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	return q.QueryContext(ctx, query, args)
}

// ExecContext implements driver.ExecerContext.
func (c *reservedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	return e.ExecContext(ctx, query, args)
}

// IsValid implements driver.Validator.
func (c *reservedConn) IsValid() bool {
	v, ok := c.Conn.(driver.Validator)
	return !ok || v.IsValid()
}
