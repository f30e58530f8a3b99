package pool

import (
	"errors"
	"fmt"
	"time"

	"github.com/rdsmux/rdsmux/pool/internal/core"
)

// ErrClosed is returned by Acquire after the pool was closed.
var ErrClosed = errors.New("pool: pool is closed")

// ErrSessionClosed is returned by Acquire after Session.Close.
var ErrSessionClosed = errors.New("pool: session is closed")

// ErrBorrowTimeout is the sentinel for BorrowTimeoutError:
// errors.Is(err, ErrBorrowTimeout) reports a borrow timeout.
var ErrBorrowTimeout = errors.New("pool: timed out waiting for a database connection")

// BorrowTimeoutError is returned when a borrow waited ConnectionBorrowTimeout
// without getting a backend connection. It matches ErrBorrowTimeout. Its
// message names the settings an operator changes (the listener's flags,
// the driver's DSN parameters), which map to Config's MaxConnections,
// MaxConnectionsPercent and ConnectionBorrowTimeout.
type BorrowTimeoutError struct {
	Timeout time.Duration // the ConnectionBorrowTimeout that fired
	Busy    int           // backend connections borrowed when it fired
	Max     int           // MaxDatabaseConnectionsAllowed
	Waiting int           // other borrowers still waiting
}

func (e *BorrowTimeoutError) Error() string {
	busy := fmt.Sprintf("pool of %d busy", e.Max)
	if e.Busy < e.Max {
		busy = fmt.Sprintf("%d of %d connections busy (the rest connecting or closing)", e.Busy, e.Max)
	}
	return fmt.Sprintf("pool: timed out after %s waiting for a database connection: %s, %d waiting "+
		"(raise the connection cap: rdsmux -max-connections or -max-connections-percent, DSN maxConnections or "+
		"maxConnectionsPercent; shorten transactions; or raise the borrow timeout: rdsmux -borrow-timeout, DSN connectionBorrowTimeout)",
		seconds(e.Timeout), busy, e.Waiting)
}

// seconds formats whole seconds as "120s" rather than "2m0s".
func seconds(d time.Duration) string {
	if d >= time.Second && d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// Is makes errors.Is(err, ErrBorrowTimeout) true.
func (e *BorrowTimeoutError) Is(target error) bool { return target == ErrBorrowTimeout }

func borrowError(err error, user string) error {
	var te *core.TimeoutError
	switch {
	case errors.As(err, &te):
		return &BorrowTimeoutError{Timeout: te.Timeout, Busy: te.Borrowed, Max: te.MaxSize, Waiting: te.Waiting}
	case errors.Is(err, core.ErrClosed):
		return ErrClosed
	default:
		// Context errors pass through wrapped; dial errors already say
		// what failed.
		return fmt.Errorf("pool: borrowing a connection for user %q: %w", user, err)
	}
}

// DialError is a failure to open a backend connection for a borrow. It
// wraps the dial function's error.
type DialError struct {
	User string
	Err  error
}

func (e *DialError) Error() string {
	return fmt.Sprintf("pool: connecting to the database as %q: %v", e.User, e.Err)
}

func (e *DialError) Unwrap() error { return e.Err }

// transientDial reports whether err is a dial failure that may pass by
// itself (refused, reset or timed-out network connection, a server that
// closed it) rather than one that will repeat (bad credentials, unknown
// database, bad configuration).
// What counts as a network failure is Config.IsBroken's call.
func (p *Pool) transientDial(err error) bool {
	var de *DialError
	return errors.As(err, &de) && p.isBroken(de.Err)
}
