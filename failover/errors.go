package failover

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
)

var (
	// ErrNoWriter means no writer is known or reachable: the cluster is
	// failing over, or every host is down. Retry after the monitor reports
	// a writer (Monitor.WaitWriter), or raise the dial/borrow timeout.
	ErrNoWriter = errors.New("failover: no writer is available (the cluster may be failing over)")

	// ErrAmbiguousWriter means more than one host reported read_only = 0.
	// rdsmux does not guess which one is the real writer: fix the cluster
	// (set read_only = 1 on the demoted primary). The error is an
	// *AmbiguousWriterError listing the hosts.
	ErrAmbiguousWriter = errors.New("failover: more than one host accepts writes")

	// ErrTransactionResolutionUnknown means the connection was lost (or the
	// server stopped accepting writes) while a transaction was open: the
	// transaction may or may not have committed. Nothing is replayed; the
	// caller must check the outcome (e.g. read back an idempotency key)
	// before running the transaction again.
	ErrTransactionResolutionUnknown = errors.New("failover: connection lost during a transaction; its outcome is unknown")

	// ErrConnectionLost means the connection to the database broke while a
	// statement was in flight, so whether it ran is unknown. A read-only
	// statement outside a transaction may be retried once; a write must not
	// be (see ShouldRetry).
	ErrConnectionLost = errors.New("failover: connection to the database was lost")

	// ErrWrongRole means a connection reached a host whose role is not the
	// one asked for (a reader when a writer was wanted): the topology
	// changed under the dialer. The dialer retries such connections itself;
	// the error surfaces only when its context ends first.
	ErrWrongRole = errors.New("failover: connected host does not have the expected role")
)

// AmbiguousWriterError lists the hosts that all accept writes.
type AmbiguousWriterError struct {
	Writers []Host
}

// Error names the hosts and says what to do.
func (e *AmbiguousWriterError) Error() string {
	addrs := make([]string, len(e.Writers))
	for i, h := range e.Writers {
		addrs[i] = h.Addr
	}
	return fmt.Sprintf("failover: %d hosts report read_only=0 (%s); refusing to guess the writer: set read_only=1 on all but one",
		len(e.Writers), strings.Join(addrs, ", "))
}

// Is makes errors.Is(err, ErrAmbiguousWriter) true.
func (e *AmbiguousWriterError) Is(target error) bool { return target == ErrAmbiguousWriter }

// Class is how a statement error relates to a lost or failed-over backend.
type Class uint8

const (
	// ClassOther is any error that says nothing about the backend
	// connection: SQL errors, constraint violations, a cancelled context.
	ClassOther Class = iota
	// ClassNotSent means the statement never reached the server (the
	// connection was found dead before anything was written, or no writer
	// could be dialed). Retrying it on a fresh connection is safe.
	ClassNotSent
	// ClassConnectionLost means the connection broke with the statement in
	// flight: it may or may not have run.
	ClassConnectionLost
	// ClassReadOnly means the server refused the statement because it is
	// read-only: the backend was demoted (or a reader was reached). The
	// statement did not run.
	ClassReadOnly
)

// String names the class.
func (c Class) String() string {
	switch c {
	case ClassNotSent:
		return "not sent"
	case ClassConnectionLost:
		return "connection lost"
	case ClassReadOnly:
		return "server read-only"
	default:
		return "other"
	}
}

// MySQL/MariaDB server error numbers that relate to failover.
const (
	erServerShutdown           = 1053 // ER_SERVER_SHUTDOWN
	erOptionPreventsStatement  = 1290 // ER_OPTION_PREVENTS_STATEMENT (read_only among others)
	erReadOnlyMode             = 1836 // ER_READ_ONLY_MODE
	erConnectionKilled         = 1927 // ER_CONNECTION_KILLED (MariaDB)
	erClientInteractionTimeout = 4031 // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8)
)

// Classify tells whether err means the backend connection was lost or the
// backend stopped being a writer, and whether the statement can have run.
// It understands go-sql-driver's errors, database/sql's driver.ErrBadConn,
// network errors and this package's dial errors.
func Classify(err error) Class {
	if err == nil {
		return ClassOther
	}
	var se *StatementError
	if errors.As(err, &se) {
		return se.Class
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, ErrNoWriter) || errors.Is(err, ErrAmbiguousWriter) {
		return ClassNotSent
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The caller's deadline ended the statement; whether it ran is
		// unknown, but there is nothing left to retry within.
		return ClassOther
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return ClassNotSent
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case erReadOnlyMode:
			return ClassReadOnly
		case erOptionPreventsStatement:
			if strings.Contains(strings.ToLower(me.Message), "read-only") || strings.Contains(strings.ToLower(me.Message), "read_only") {
				return ClassReadOnly
			}
		case erServerShutdown, erConnectionKilled, erClientInteractionTimeout:
			return ClassConnectionLost
		}
		return ClassOther
	}
	if errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNREFUSED) {
		return ClassConnectionLost
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return ClassConnectionLost
	}
	return ClassOther
}

// StatementError is a statement's error classified for failover handling.
// errors.Is(err, ErrConnectionLost) holds for a lost connection, and
// errors.Is(err, ErrTransactionResolutionUnknown) for anything but
// ClassOther inside a transaction.
type StatementError struct {
	// Class is the classification of Err.
	Class Class
	// InTransaction reports whether a transaction was open.
	InTransaction bool
	// Addr is the backend the statement ran on, when known.
	Addr string
	// Err is the underlying error.
	Err error
}

// Error describes what happened and what the caller may do.
func (e *StatementError) Error() string {
	where := ""
	if e.Addr != "" {
		where = " on " + e.Addr
	}
	switch {
	case e.InTransaction:
		return fmt.Sprintf("failover: transaction outcome unknown: %s%s: %v; check whether it committed before running it again", e.Class, where, e.Err)
	case e.Class == ClassConnectionLost:
		return fmt.Sprintf("failover: connection lost%s with the statement in flight: %v; it may have run, do not retry writes blindly", where, e.Err)
	default:
		return fmt.Sprintf("failover: %s%s: %v", e.Class, where, e.Err)
	}
}

// Unwrap returns the underlying error.
func (e *StatementError) Unwrap() error { return e.Err }

// Is matches ErrTransactionResolutionUnknown and ErrConnectionLost.
func (e *StatementError) Is(target error) bool {
	switch target {
	case ErrTransactionResolutionUnknown:
		return e.InTransaction && e.Class != ClassOther
	case ErrConnectionLost:
		return e.Class == ClassConnectionLost
	}
	return false
}

// WrapStatementError classifies err and, when it relates to a lost or
// demoted backend, returns a *StatementError carrying the classification,
// whether a transaction was open and the backend address. Other errors
// (and nil) are returned unchanged.
func WrapStatementError(err error, inTransaction bool, addr string) error {
	c := Classify(err)
	if c == ClassOther {
		return err
	}
	var se *StatementError
	if errors.As(err, &se) {
		if inTransaction && !se.InTransaction {
			cp := *se
			cp.InTransaction = true
			return &cp
		}
		return err
	}
	return &StatementError{Class: c, InTransaction: inTransaction, Addr: addr, Err: err}
}

// ShouldRetry reports whether a statement that failed with err may be run
// again, once, on a fresh connection:
//   - never inside a transaction (the caller gets
//     ErrTransactionResolutionUnknown instead);
//   - always when the statement did not reach the server (ClassNotSent)
//     or was refused by a read-only server (ClassReadOnly): it did not run;
//   - for a lost connection (ClassConnectionLost) only when the statement
//     is read-only, because a write may already have been applied.
//
// Callers count attempts themselves: retry at most once.
func ShouldRetry(err error, readOnly, inTransaction bool) bool {
	if inTransaction {
		return false
	}
	switch Classify(err) {
	case ClassNotSent, ClassReadOnly:
		return true
	case ClassConnectionLost:
		return readOnly
	}
	return false
}
