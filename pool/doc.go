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
//	b, err := s.Acquire(ctx)          // the held backend, or a borrowed one
//	classifier.Classify(sql, &r)      // package pinning
//	err = run(b.Conn(), sql)          // the caller's own protocol
//	s.Done(ctx, b, &r, pool.Status{InTransaction: ..., MoreResults: ..., Err: err})
//
// In transaction mode (the default) Done gives the backend back as soon as
// no transaction is open, no results are pending and nothing pins the
// session; a pinned session keeps its backend until ResetState or Close.
// Tracked settings and the schema travel with the session: Acquire prefers a
// backend already in the session's state, else a clean one, and applies only
// the difference. Close never gives a backend back dirty: it rolls back,
// resets (Conn.Reset) or closes it.
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
