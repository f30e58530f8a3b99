// Package rdsmux is a database/sql driver that multiplexes many logical
// MySQL/Aurora connections onto a small, shared pool of backend connections,
// the way Amazon RDS Proxy does for a fleet, but inside the program.
//
// Importing the package registers the driver "rdsmux":
//
//	import _ "github.com/rdsmux/rdsmux"
//
//	db, err := sql.Open("rdsmux", "app:secret@tcp(db.example:3306)/shop?maxConnections=20")
//
// The DSN is a go-sql-driver/mysql DSN plus rdsmux's own parameters, which are
// removed before the DSN reaches go-sql-driver.
//
// How a query flows: a logical connection (cheap; database/sql may hold
// hundreds) borrows a backend from package pool for one statement or one
// transaction; package pinning classifies each statement to decide whether
// the backend may go back afterwards or is pinned to the logical connection;
// package iamauth supplies credentials for new backends; package failover
// makes sure backends reach the current writer. Package proxy serves the same
// pool to out-of-process MySQL clients.
//
// Statistics: DB.PoolStats (or AllStats, or Connector.Stats) returns the
// shared pool's numbers, named as RDS Proxy's metrics, and two
// per-statement latency histograms recorded by every logical connection to
// the target without allocating: QueryDatabaseResponseLatency (the
// database's time) and QueryResponseLatency (the time the caller saw,
// borrowing a backend included). See Stats.
package rdsmux
