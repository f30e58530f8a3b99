package iamauth

import (
	"errors"

	"github.com/go-sql-driver/mysql"
)

// ER_ACCESS_DENIED_ERROR: the server rejected the user name or password.
const erAccessDenied = 1045

var (
	// ErrAccessDenied marks an error as "the server rejected the
	// credential" (MySQL error 1045). Code that speaks the protocol with
	// its own error type wraps it so that Connect recognises the
	// rejection (the listener's backends do: proxy.Target.Dial);
	// go-sql-driver's *mysql.MySQLError number 1045 is recognised
	// directly.
	ErrAccessDenied = errors.New("iamauth: access denied by the database server (error 1045)")

	// ErrTLSRequired is returned, before anything is sent to the server,
	// when a credential that must travel in cleartext (an IAM token) would
	// go over a connection without verified TLS. Configure TLS on the
	// connection (go-sql-driver: tls=<registered config name> or
	// Config.TLS) and do not allow plaintext fallback.
	ErrTLSRequired = errors.New("iamauth: refusing to send an IAM token without TLS")

	// ErrRotationPending is returned by a Provider when every credential it
	// can find has been rejected by the server, which is what a password
	// rotation looks like between the database changing and the secret
	// catching up. Connect keeps retrying with backoff while it sees it,
	// for a bounded time.
	ErrRotationPending = errors.New("iamauth: every known credential was rejected by the server (rotation in progress?)")
)

// IsAccessDenied reports whether err says the server rejected the
// credential: a go-sql-driver *mysql.MySQLError number 1045, or any error
// wrapping ErrAccessDenied.
func IsAccessDenied(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrAccessDenied) {
		return true
	}
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == erAccessDenied
}

// retryableError marks a credential-fetch failure that is worth retrying
// within Connect's window (throttling, a 5xx, a timeout of the fetch).
type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// isRetryable reports whether Connect should retry after err from a
// Provider.
func isRetryable(err error) bool {
	var re *retryableError
	return errors.Is(err, ErrRotationPending) || errors.As(err, &re)
}
