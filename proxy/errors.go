package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"

	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// Error codes of the listener's own failures. Each is a server-side code:
// client libraries reserve 2000-2999 (CR_*) and 5000-5999 (MariaDB
// Connector's CER_*) for errors they raise themselves, and libmariadb-based
// clients reject such a code in an ERR packet as a malformed packet (error
// 2027), so the user would never see the listener's message.
const (
	// ErBorrowTimeout is sent when no backend connection became free
	// within the pool's ConnectionBorrowTimeout; RDS Proxy uses the same
	// code. The client keeps its connection.
	ErBorrowTimeout uint16 = 9501
	// ErLostBackend (ER_NET_READ_ERROR, SQLSTATE 08S01, as MySQL and
	// MariaDB number it) is sent when the backend connection died during
	// the command: the statement may or may not have run.
	ErLostBackend = wire.ErNetReadError
	// ErBackendUnavailable (ER_CONNECT_TO_FOREIGN_DATA_SOURCE, SQLSTATE
	// HY000, "unable to connect to foreign data source") is sent when no
	// backend connection could be opened. The client keeps its connection.
	ErBackendUnavailable = wire.ErConnectToForeignDataSource
)

// errBackendAuth is what a client gets when the database refused the
// listener's own credentials for the client's backend account: the
// server's message names that account (and the listener's host), which is
// the operator's business, not the client's; the listener logs it.
var errBackendAuth = wire.NewError(wire.ErAccessDenied, wire.StateAccessDenied,
	"Access denied: the database refused the listener's credentials for this user's backend connections (rdsmux: the listener's log says more)")

// backendAuthRefused reports whether err is a backend dial refused with
// ER_ACCESS_DENIED_ERROR (after iamauth.Connect's fresh fetch of the
// credential, when it has one).
func backendAuthRefused(err error) bool {
	var de *pool.DialError
	var e *wire.Error
	return errors.As(err, &de) && errors.As(de.Err, &e) && e.Code == wire.ErAccessDenied
}

// backendError turns an error from borrowing a backend into the error
// packet a client gets.
func backendError(err error) *wire.Error {
	var e *wire.Error
	switch {
	case backendAuthRefused(err):
		return errBackendAuth
	case errors.Is(err, pool.ErrLookBehindLost):
		return &wire.Error{Code: wire.ErUnknownError, State: wire.StateGeneral, Message: err.Error()}
	case errors.Is(err, pool.ErrBorrowTimeout):
		return &wire.Error{Code: ErBorrowTimeout, State: wire.StateGeneral, Message: err.Error()}
	case errors.As(err, &e):
		// A server error while preparing the backend (an unknown
		// database for USE, an access error): the client sees it as is.
		return e
	case errors.Is(err, pool.ErrClosed):
		return &wire.Error{Code: wire.ErServerShutdown, State: "08S01",
			Message: "rdsmux: the listener is shutting down; reconnect"}
	}
	return &wire.Error{Code: ErBackendUnavailable, State: wire.StateGeneral,
		Message: "Unable to connect to the database behind the rdsmux listener (" + dialCause(err) +
			"); retry later, or check that the database is up and the listener's backend address"}
}

// dialCause says why a backend dial failed without naming the pool
// partition or the database's address: the network error ("connect:
// connection refused"), a timeout, or the error itself.
func dialCause(err error) string {
	var oe *net.OpError
	var ce *tls.CertificateVerificationError
	var de *pool.DialError
	switch {
	case errors.As(err, &ce):
		return "the database's TLS certificate is not trusted: " + ce.Err.Error()
	case errors.As(err, &oe) && oe.Err != nil:
		return oe.Op + ": " + oe.Err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.As(err, &de) && de.Err != nil:
		return de.Err.Error() // without the pool's words naming the partition
	}
	return err.Error()
}

// lostBackend is the error a client gets when its backend died mid-command.
func lostBackend(err error) *wire.Error {
	return &wire.Error{Code: ErLostBackend, State: wire.StateCommLink,
		Message: "Lost connection to the database during query (rdsmux: " + err.Error() + "); the statement may or may not have run"}
}

var (
	errUnknownCommand = func(cmd wire.Command) *wire.Error {
		return wire.NewError(wire.ErUnknownComError, wire.StateSyntaxOrAccess, "Unknown command: %s is not supported by the rdsmux listener", cmd)
	}
	errLocalInfileDisabled = wire.NewError(wire.ErNotAllowedCommand, wire.StateSyntaxOrAccess,
		"The used command is not allowed: LOAD DATA LOCAL INFILE is disabled on this rdsmux listener (-local-infile=false)")
	errMultiStatements = wire.NewError(1064, wire.StateSyntaxOrAccess,
		"You have an error in your SQL syntax: multiple statements in one query need the client's multi-statements option")
	errNoCursor = wire.NewError(wire.ErUnknownStmtHandler, wire.StateGeneral,
		"The statement has no open cursor (it was not executed with a cursor, or the cursor was read to its end or closed)")
)

func unknownStmt(id uint32, op string) *wire.Error {
	return wire.NewError(wire.ErUnknownStmtHandler, wire.StateUnknownStmt,
		"Unknown prepared statement handler (%d) given to %s", id, op)
}
