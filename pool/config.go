package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults, named after RDS Proxy's target group settings where one exists.
const (
	DefaultMaxConnectionsPercent     = 100
	DefaultMaxIdleConnectionsPercent = 50
	DefaultConnectionBorrowTimeout   = 120 * time.Second
	DefaultDialTimeout               = 30 * time.Second
	DefaultIdleTimeout               = 5 * time.Minute
	DefaultHealthCheckIdle           = 30 * time.Second
)

// Config configures a Pool. Only Dial is required; zero values mean the
// documented defaults. A Config is read once by New and not retained.
type Config struct {
	// Dial opens a backend connection authenticated as user. Backends are
	// partitioned by user: a connection dialed for one user never serves a
	// session of another. Dial runs on its own goroutine with a context
	// bounded by DialTimeout and cancelled by Close, never the borrower's.
	Dial func(ctx context.Context, user string) (Conn, error)

	// MaxConnections caps backend connections of all users together
	// (idle, borrowed, connecting and closing). When > 0 it wins over
	// MaxConnectionsPercent.
	MaxConnections int
	// MaxConnectionsPercent caps backend connections at this percentage of
	// the server's @@max_connections, read once from the first backend
	// connection (and again after Invalidate). Until it is read the pool
	// opens one connection at a time. 0 means 100.
	MaxConnectionsPercent int
	// MaxIdleConnectionsPercent is how many idle connections are kept
	// open indefinitely, as a percentage of the same base as the cap
	// (@@max_connections, or MaxConnections when that is set), never more
	// than the cap. Idle connections beyond it are closed once idle for
	// IdleTimeout. 0 means 50; use a negative value for none.
	MaxIdleConnectionsPercent int
	// ConnectionBorrowTimeout is how long a borrow waits for a backend
	// connection when all are busy before failing with
	// ErrBorrowTimeout. 0 means the default, 120s, as RDS Proxy; a
	// negative value means no limit (the borrow then waits as long as its
	// context allows).
	ConnectionBorrowTimeout time.Duration
	// DialTimeout bounds each Dial including InitQuery. 0 means 30s.
	DialTimeout time.Duration

	// InitQuery, if set, runs on every new backend connection and again
	// after each reset.
	InitQuery string
	// MaxLifetime closes a connection this long after it was opened, minus
	// a random jitter in [0, MaxLifetimeJitter) so that connections opened
	// together do not all close together. 0 means no limit. A borrowed
	// connection is closed when it is given back.
	MaxLifetime time.Duration
	// MaxLifetimeJitter; 0 means MaxLifetime/10.
	MaxLifetimeJitter time.Duration
	// IdleTimeout is how long a connection beyond the idle limit (see
	// MaxIdleConnectionsPercent) may sit idle before it is closed. 0 means
	// 5 minutes.
	IdleTimeout time.Duration
	// HealthCheckIdle: a connection that sat idle longer than this is
	// pinged before it is handed out, and replaced if the ping fails (a
	// process thawed after minutes must not get a dead connection). 0
	// means 30s; negative disables the check.
	HealthCheckIdle time.Duration

	// IsBroken reports whether an error from a statement means the backend
	// connection is unusable; such a connection is closed, never reused.
	// nil means DefaultIsBroken. A Conn implementing
	// database/sql/driver.Validator is also asked.
	IsBroken func(error) bool
	// Logger receives pool events (Debug: pins, resets, closes; Info:
	// limits resolved, invalidations; Warn: failed health checks and
	// resets). nil discards them.
	Logger *slog.Logger
	// VerifyState makes every borrow read the backend connection's session
	// state (database, tracked variables, open transaction) back from the
	// server and compare it with the session's; a difference fails the
	// borrow with a *StateMismatchError naming the variable and both
	// values, and the connection is closed. It costs a round trip per
	// borrow: use it in tests, or to confirm a suspected leak.
	VerifyState bool
	// Now is the clock (a test seam). nil means time.Now.
	Now func() time.Time

	// Budget, if set, shares the cap with other processes (package fleet):
	// MaxConnections, or MaxConnectionsPercent of @@max_connections, is
	// then the total for the whole fleet, and this pool's cap is what the
	// budget grants it. See Budget.
	Budget Budget
}

// normalize validates c and fills in defaults.
func (c Config) normalize() (Config, error) {
	if c.Dial == nil {
		return c, errors.New("pool: Config.Dial is required")
	}
	if c.MaxConnections < 0 {
		return c, fmt.Errorf("pool: MaxConnections is %d; use a positive number, or 0 to use MaxConnectionsPercent", c.MaxConnections)
	}
	if c.MaxConnectionsPercent == 0 {
		c.MaxConnectionsPercent = DefaultMaxConnectionsPercent
	}
	if c.MaxConnectionsPercent < 1 || c.MaxConnectionsPercent > 100 {
		return c, fmt.Errorf("pool: MaxConnectionsPercent is %d; use 1 to 100", c.MaxConnectionsPercent)
	}
	switch {
	case c.MaxIdleConnectionsPercent == 0:
		c.MaxIdleConnectionsPercent = DefaultMaxIdleConnectionsPercent
	case c.MaxIdleConnectionsPercent < 0:
		c.MaxIdleConnectionsPercent = 0
	case c.MaxIdleConnectionsPercent > 100:
		return c, fmt.Errorf("pool: MaxIdleConnectionsPercent is %d; use 0 to 100", c.MaxIdleConnectionsPercent)
	}
	if c.ConnectionBorrowTimeout == 0 {
		c.ConnectionBorrowTimeout = DefaultConnectionBorrowTimeout
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.MaxLifetime < 0 {
		c.MaxLifetime = 0
	}
	if c.MaxLifetimeJitter <= 0 {
		c.MaxLifetimeJitter = c.MaxLifetime / 10
	}
	if c.MaxLifetimeJitter > c.MaxLifetime {
		c.MaxLifetimeJitter = c.MaxLifetime
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.HealthCheckIdle == 0 {
		c.HealthCheckIdle = DefaultHealthCheckIdle
	}
	if c.IsBroken == nil {
		c.IsBroken = DefaultIsBroken
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
