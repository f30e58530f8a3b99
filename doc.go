// Package rdsmux is a database/sql driver that multiplexes many logical
// MySQL/Aurora connections onto a small, shared pool of backend
// connections, the way Amazon RDS Proxy does for a fleet, but inside the
// program.
//
// Importing the package registers the driver "rdsmux"; the DSN is a
// go-sql-driver/mysql DSN plus rdsmux's own parameters (see Config), which
// are removed before it reaches go-sql-driver:
//
//	import _ "github.com/rdsmux/rdsmux"
//
//	db, err := sql.Open("rdsmux", "app:secret@tcp(db.example:3306)/shop?maxConnections=20")
//
// A logical connection (cheap; database/sql may hold hundreds) borrows a
// backend from package pool for one statement or one transaction; package
// pinning decides whether the backend may go back afterwards; package
// iamauth supplies credentials and package failover reaches the current
// writer. DB.PoolStats, AllStats and Connector.Stats report the shared
// pool's numbers, named as RDS Proxy's metrics, and per-statement latency
// histograms (see Stats). Package proxy serves the same pool to
// out-of-process MySQL clients.
//
// How the pieces work is in docs/design.md; the README has the DSN
// parameters and numbers.
package rdsmux
