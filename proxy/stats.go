package proxy

import (
	"sync/atomic"

	"github.com/rdsmux/rdsmux/pool"
)

// counters are the listener's live statistics.
type counters struct {
	clients        atomic.Int64 // connected now (admitted)
	inFlight       atomic.Int64 // commands read and not yet answered (client.go)
	received       atomic.Int64
	refusedCap     atomic.Int64
	setupOK        atomic.Int64
	setupAuth      atomic.Int64
	setupFailed    atomic.Int64
	setupTLS       atomic.Int64
	closed         atomic.Int64
	idleTimeouts   atomic.Int64
	queries        atomic.Int64
	commands       atomic.Int64
	prepares       atomic.Int64
	executes       atomic.Int64
	backendPrep    atomic.Int64
	borrowTimeouts atomic.Int64
	backendErrors  atomic.Int64
	cursorHolds    atomic.Int64
	protoErrors    atomic.Int64
	lookBehindLost atomic.Int64
	vanished       atomic.Int64 // clients gone during a command (vanish.go)
	vanishKills    atomic.Int64 // their statements stopped with KILL QUERY

	dbLatency   pool.LatencyRecorder // per command, database time (latency.go)
	respLatency pool.LatencyRecorder // per command, client-seen time (latency.go)
}

// Stats is a snapshot of the listener's statistics. Fields named
// Client... are RDS Proxy's metric names. Counters are cumulative since the
// Server started; gauges are current.
type Stats struct {
	// ClientConnections: client connections open now (gauge).
	ClientConnections int64
	// ClientConnectionsReceived: client connections accepted.
	ClientConnectionsReceived int64
	// ClientConnectionsSetupSucceeded: handshakes and authentications
	// that succeeded.
	ClientConnectionsSetupSucceeded int64
	// ClientConnectionsSetupFailedAuth: authentications that failed
	// (wrong password, unknown user, RequireTLS refusals).
	ClientConnectionsSetupFailedAuth int64
	// ClientConnectionsNoTLS... : clients refused because they did not
	// use TLS under RequireTLS (also counted in SetupFailedAuth).
	ClientConnectionsRefusedNoTLS int64
	// ClientConnectionsSetupFailed: handshakes that failed otherwise
	// (malformed packets, timeouts, clients that went away).
	ClientConnectionsSetupFailed int64
	// ClientConnectionsRefused: clients refused by MaxClientConnections.
	ClientConnectionsRefused int64
	// ClientConnectionsClosed: client connections closed, for any reason.
	ClientConnectionsClosed int64
	// ClientConnectionsIdleTimeout: closed by IdleClientTimeout.
	ClientConnectionsIdleTimeout int64
	// CommandsInFlight: client commands read and not yet answered, a
	// wait for a backend included (gauge; see Server.CommandsInFlight).
	CommandsInFlight int64

	// QueryRequests: COM_QUERY commands.
	QueryRequests int64
	// CommandRequests: all commands, COM_QUERY included.
	CommandRequests int64
	// PrepareRequests / ExecuteRequests: COM_STMT_PREPARE and
	// COM_STMT_EXECUTE from clients.
	PrepareRequests int64
	ExecuteRequests int64
	// BackendPrepares: statements prepared on backend connections (a
	// client's statement is prepared once per backend it runs on, then
	// served from that backend's cache).
	BackendPrepares int64
	// BorrowTimeouts: commands answered with the borrow-timeout error.
	BorrowTimeouts int64
	// BackendErrors: commands answered with an error because the backend
	// failed (could not connect, died mid-query).
	BackendErrors int64
	// CursorHolds: executes that opened a cursor, holding the backend
	// until it was read or closed.
	CursorHolds int64
	// ProtocolErrors: clients closed for a malformed or oversized packet.
	ProtocolErrors int64
	// LookBehindLost: ROW_COUNT()/FOUND_ROWS()/SHOW WARNINGS... refused
	// because the connection of the session's previous statement had
	// been taken by another session (see pool.Session.AcquireFor).
	LookBehindLost int64
	// ClientsVanishedMidCommand: clients that went away while a command
	// of theirs ran (a wait for a backend or a statement), noticed without
	// waiting for the command's end.
	ClientsVanishedMidCommand int64
	// VanishedStatementsKilled: statements of those clients stopped on the
	// server with KILL QUERY before their backend's slot was freed.
	VanishedStatementsKilled int64

	// QueryDatabaseResponseLatency: per command relayed to a backend, the
	// time from sending it to the backend to the end of the response
	// (RDS Proxy's QueryDatabaseResponseLatency). Text-protocol commands
	// (COM_QUERY, COM_INIT_DB, COM_FIELD_LIST, COM_STATISTICS) and
	// prepared-statement runs (COM_STMT_EXECUTE, COM_STMT_FETCH; for an
	// execute, from sending the execute itself, a re-prepare on the
	// backend excluded) are timed.
	QueryDatabaseResponseLatency pool.Histogram
	// QueryResponseLatency: per command of the same kinds, the time from
	// the listener having read it to the end of the response to the
	// client, borrowing a backend included (RDS Proxy's
	// QueryResponseLatency).
	QueryResponseLatency pool.Histogram

	// Pool is the shared pool's snapshot.
	Pool pool.Stats
}

// CommandsInFlight returns the number of client commands the listener has
// read and not yet answered (waits for a backend included): how many
// clients are being served at this moment. It costs one atomic load, for
// callers that sample it often (cmd/rdsmux follows it to size GOMAXPROCS);
// Stats reports the same gauge.
func (s *Server) CommandsInFlight() int64 {
	return s.counts.inFlight.Load()
}

// Stats returns a snapshot of the listener's and the pool's statistics.
func (s *Server) Stats() Stats {
	c := &s.counts
	st := Stats{
		ClientConnections:                c.clients.Load(),
		ClientConnectionsReceived:        c.received.Load(),
		ClientConnectionsSetupSucceeded:  c.setupOK.Load(),
		ClientConnectionsSetupFailedAuth: c.setupAuth.Load(),
		ClientConnectionsRefusedNoTLS:    c.setupTLS.Load(),
		ClientConnectionsSetupFailed:     c.setupFailed.Load(),
		ClientConnectionsRefused:         c.refusedCap.Load(),
		ClientConnectionsClosed:          c.closed.Load(),
		ClientConnectionsIdleTimeout:     c.idleTimeouts.Load(),
		CommandsInFlight:                 c.inFlight.Load(),
		QueryRequests:                    c.queries.Load(),
		CommandRequests:                  c.commands.Load(),
		PrepareRequests:                  c.prepares.Load(),
		ExecuteRequests:                  c.executes.Load(),
		BackendPrepares:                  c.backendPrep.Load(),
		BorrowTimeouts:                   c.borrowTimeouts.Load(),
		BackendErrors:                    c.backendErrors.Load(),
		CursorHolds:                      c.cursorHolds.Load(),
		ProtocolErrors:                   c.protoErrors.Load(),
		LookBehindLost:                   c.lookBehindLost.Load(),
		ClientsVanishedMidCommand:        c.vanished.Load(),
		VanishedStatementsKilled:         c.vanishKills.Load(),
		QueryDatabaseResponseLatency:     c.dbLatency.Snapshot(),
		QueryResponseLatency:             c.respLatency.Snapshot(),
	}
	if s.Pool != nil {
		st.Pool = s.Pool.Stats()
	}
	return st
}
