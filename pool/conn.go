package pool

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
)

// Conn is one backend database connection, as the pool needs to see it. The
// driver implements it over go-sql-driver connections and the listener over
// raw protocol connections; the pool never looks further. A Conn is used by
// one goroutine at a time.
type Conn interface {
	// Exec runs a statement that returns no rows (a settings diff, the init
	// query, ROLLBACK, USE).
	Exec(ctx context.Context, query string) error
	// QueryValue runs a query that returns one row of one column and
	// returns that value as text; SQL NULL is "".
	QueryValue(ctx context.Context, query string) (string, error)
	// Reset clears the connection's session state as COM_RESET_CONNECTION
	// does (rolls back, drops temporary tables, user variables, locks and
	// prepared statements, returns variables to their defaults; the current
	// database stays). A Conn that cannot returns an error wrapping
	// ErrResetUnsupported, and the pool closes the connection instead.
	Reset(ctx context.Context) error
	// Ping checks that the connection is alive.
	Ping(ctx context.Context) error
	// Close closes the connection.
	Close() error
}

// Borrower is an optional interface of a Conn: the pool calls Borrowed(true)
// when it hands the connection to a session and Borrowed(false) when the
// session gives it back (released or closed), so that the connection can
// count how much of its kind is out (a reader Target spreads borrows over
// the readers with it). It is called with the pool's lock held: it must be
// quick and must not call into the pool.
type Borrower interface{ Borrowed(borrowed bool) }

// ErrResetUnsupported is wrapped by Conn.Reset when the backend type cannot
// reset a session.
var ErrResetUnsupported = errors.New("pool: backend connection cannot reset its session")

// ErrBroken marks an error after which a backend connection is unusable.
// Conn implementations (and callers of Session.Done) may wrap it; see
// Config.IsBroken for what else counts.
var ErrBroken = errors.New("pool: backend connection broken")

// validator is database/sql/driver.Validator: a Conn that implements it is
// asked, after an error, whether it is still usable.
type validator interface{ IsValid() bool }

var _ validator = driver.Validator(nil)

// DefaultIsBroken is the default Config.IsBroken: it reports
// driver.ErrBadConn, ErrBroken, io.EOF, io.ErrUnexpectedEOF and net.Error
// (anywhere in the chain) as broken.
func DefaultIsBroken(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, ErrBroken) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne)
}

// broken reports whether err (from a statement on c) left c unusable.
func (p *Pool) broken(c Conn, err error) bool {
	if err == nil {
		return false
	}
	if v, ok := c.(validator); ok && !v.IsValid() {
		return true
	}
	return p.isBroken(err)
}
