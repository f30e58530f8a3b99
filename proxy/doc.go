// Package proxy is a MySQL-protocol listener that serves many client
// connections from a shared rdsmux pool of backend connections: what Amazon
// RDS Proxy is, as a library (Server) and a command (cmd/rdsmux).
//
// A Target says where the database is and which account serves each
// client user; its Dial is the pool's Config.Dial. A Server authenticates
// clients against Users and serves each from a pool.Session, borrowing a
// backend per transaction by default:
//
//	target := &proxy.Target{Addr: "db:3306", Credentials: proxy.SameCredentials(users)}
//	p, err := pool.New(pool.Config{Dial: target.Dial, MaxConnections: 20})
//	...
//	srv := &proxy.Server{Pool: p, Users: users, Target: target}
//	err = srv.Serve(ln) // Shutdown drains, Close stops at once
//
// See ExampleServer. Target.Failover follows a cluster's writer (package
// failover); Target.Credentials may come from package iamauth; Stats
// reports the listener's and the pool's counters.
//
// How the listener relays, multiplexes, virtualizes prepared statements,
// serves LAST_INSERT_ID() and look-behind statements, reports failures and
// stops the statements of clients that went away is in docs/design.md
// ("The listener").
package proxy
