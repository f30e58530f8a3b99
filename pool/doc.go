// Package pool is the shared pool of backend database connections that
// rdsmux multiplexes client sessions onto: what an RDS Proxy target group
// is, inside the program.
//
// It does not know how a backend connection speaks: the driver wraps
// go-sql-driver connections, the listener raw protocol connections, and
// both hand the pool a Dial function returning a Conn. A client session (a
// database/sql connection, a listener client) is a Session; for each
// statement the caller does:
//
//	p, err := pool.New(pool.Config{Dial: dial, MaxConnections: 20})
//	s := p.NewSession(user, pool.SessionOptions{})
//	defer s.Close(ctx)
//
//	classifier.Classify(sql, &r)         // package pinning
//	b, err := s.AcquireFor(ctx, sql, &r) // the held backend, or a borrowed one
//	err = run(b.Conn(), sql)             // the caller's own protocol
//	s.Done(ctx, b, &r, pool.Status{InTransaction: ..., MoreResults: ..., Warnings: ..., Err: err})
//
// In transaction mode (ModeTransaction, the default) Done gives the
// backend back as soon as no transaction is open, no results are pending
// and nothing pins the session; a pinned session keeps its backend until
// ResetState or Close. Tracked settings and the schema travel with the
// session and are replayed, as a difference, on whichever backend it
// borrows; Close never gives a backend back dirty.
//
// One cap (MaxConnections, or MaxConnectionsPercent of the server's
// @@max_connections) bounds the connections of all users together;
// backends are partitioned by user. Borrowers wait first come, first
// served, up to ConnectionBorrowTimeout. A Budget (package fleet) shares
// the cap with other processes. Killer stops the statements of callers
// that went away with KILL QUERY. Stats are named as RDS Proxy's metrics.
//
// How the pool knows each backend's session state, and how look-behind
// statements (FOUND_ROWS(), SHOW WARNINGS, ...) are served without
// pinning, is in docs/design.md.
package pool
