// Package pool is the shared pool of backend database connections that
// rdsmux multiplexes client sessions onto: what an RDS Proxy target group is,
// inside the program.
//
// It does not know how a backend connection speaks: the driver wraps
// go-sql-driver connections, the listener wraps raw protocol connections, and
// both hand the pool a Dial function returning a Conn.
//
// # Sessions
//
// A client session (a database/sql connection, a listener client) is a
// Session. For each statement the caller does:
//
//	classifier.Classify(sql, &r)      // package pinning
//	b, err := s.AcquireFor(ctx, sql, &r) // the held backend, or a borrowed one
//	err = run(b.Conn(), sql)          // the caller's own protocol
//	s.Done(ctx, b, &r, pool.Status{InTransaction: ..., MoreResults: ..., Warnings: ..., Err: err})
//
// (Acquire(ctx) is AcquireFor without a classification: it cannot serve
// look-behind statements, which then pin the session as any pin reason.)
//
// In transaction mode (the default) Done gives the backend back as soon as
// no transaction is open, no results are pending and nothing pins the
// session; a pinned session keeps its backend until ResetState or Close.
// Tracked settings and the schema travel with the session: Acquire prefers a
// backend already in the session's state, else a clean one, and applies only
// the difference. Close never gives a backend back dirty: it rolls back,
// resets (Conn.Reset) or closes it.
//
// # Why no session state survives a reuse unseen
//
// Every client must see what a dedicated connection would give it. The
// pool holds to that by knowing each backend's real state rather than
// inferring it (state.go, lastid.go):
//
//   - What is tracked: the current database and the session variables of
//     pinning.Var (character sets and collations, sql_mode, time_zone,
//     transaction characteristics, autocommit, limits and timeouts, ...),
//     plus the collation the server keeps with the client character set
//     (pinning.VarClientCollation), the open transaction and
//     LAST_INSERT_ID().
//   - The baseline: the first connection of a partition is read in one
//     query (DATABASE() and every tracked variable the server has, so a
//     server without transaction_isolation is asked for tx_isolation) after
//     the handshake, DSN parameters and InitQuery ran. That is the state
//     every fresh connection starts in; sessions and backends record their
//     settings as differences from it, and a backend that opened in
//     another state records its own differences.
//   - Read, not guessed: after every statement that changes a setting
//     (even one that failed), after a reset, and when a connection opens,
//     the pool reads the state back from the server. A value the server
//     rounded, a collation that followed its character set, sql_big_selects
//     after max_join_size, DEFAULT (the global value) all come back as the
//     server holds them.
//   - Reuse is explicit: bringing a backend to a session's state is one
//     SET with literal values (SET NAMES cs COLLATE coll for the character
//     set group, which also sets the hidden client collation, then each
//     variable that differs), never DEFAULT, spelled as that server knows
//     each variable. A prepared statement is cached per backend under the
//     state it was prepared in (State: database and settings, less those
//     the server does not use to prepare) and runs in the state the client
//     prepared it in, as on a dedicated connection.
//   - Transactions: the server's status flags, where the front end sees
//     them (the listener); completion_type and the statement's effects
//     where it does not (the driver). A statement that failed with
//     autocommit off keeps the backend (an ERR packet carries no flags). A
//     closing session's transaction ends with ROLLBACK AND NO CHAIN NO
//     RELEASE.
//   - What cannot be known pins: user variables, temporary tables, named
//     locks, text PREPARE, SET TRANSACTION and @@tx_* with no scope (the
//     next transaction only), assignments to character_set_database, and
//     untracked variables. A pinned session keeps its backend, which is
//     reset (or closed) before anyone else gets it.
//   - What the pool does not see at all (a stored procedure that changes a
//     session variable) Config.VerifyState catches: every borrow reads the
//     state back and a difference fails with a *StateMismatchError.
//
// # Look-behind statements
//
// Some statements read state that earlier statements left on the
// connection: ROW_COUNT(), FOUND_ROWS() (after SQL_CALC_FOUND_ROWS), SHOW
// WARNINGS/ERRORS, SHOW COUNT(*) WARNINGS, GET DIAGNOSTICS, @@warning_count
// and @@error_count (pinning.LookBehind). In transaction mode a session
// gives its backend back after every autocommit statement, so the next
// statement may land on another connection and read another session's
// state. AcquireFor prevents that without pinning:
//
//   - After each statement the session keeps a claim on the connection it
//     gave back. For a look-behind statement AcquireFor takes exactly that
//     connection back, if no other session has borrowed it since (the pool
//     counts every hand-out) and it is still open; it runs nothing on it
//     first. For about a second after a release, other borrowers take
//     another idle connection when one fits as well, so the claim usually
//     holds; an ordinary statement of the session gives the claim up and
//     usually gets the same connection again.
//   - The session also follows which of that state is its own. MariaDB
//     replaces ROW_COUNT() with every statement, but keeps FOUND_ROWS()
//     across statements that are not SELECTs and the warning list across
//     statements that use no table and raise no message; so the session
//     owns FOUND_ROWS() only once a SQL_CALC_FOUND_ROWS SELECT ran on the
//     connection its statements have stayed on since, and the warning
//     list only once a statement that raised a message did (the caller
//     reports that as Status.Warnings, from the server's OK, EOF or ERR
//     packet). A session that starts on a connection no other session used
//     since it was opened or reset owns all of it.
//   - Otherwise the statement is refused, never answered from another
//     session's state: AcquireFor returns a *LookBehindError matching
//     ErrLookBehindLost, saying whether the connection was reused
//     (LossReused: frequent when the pool is saturated, since a released
//     connection goes straight to a waiting borrower), closed (LossClosed),
//     whether the session has run nothing yet (LossNoPrevious), or whether
//     the state is not certainly its own (LossElsewhere). The cure is to run
//     the statements in one transaction, where the session holds its
//     connection, or to use ModeSession. Stats counts LookBehindReclaimed
//     and LookBehindLost.
//
// A statement served this way does not pin the session for its look-behind
// reasons, and neither does SQL_CALC_FOUND_ROWS, which only leaves state
// behind: "SELECT SQL_CALC_FOUND_ROWS ... LIMIT 10" then "SELECT
// FOUND_ROWS()" as two statements leaves the session unpinned.
//
// # Limits
//
// One cap (MaxConnections, or MaxConnectionsPercent of the server's
// @@max_connections) bounds the connections of all users together; backends
// are partitioned by user and never serve another user's session. Borrowers
// wait first come, first served, up to ConnectionBorrowTimeout; connections
// are dialed on their own context so a borrower that gives up returns at
// once, and its dial serves the next borrower.
package pool
