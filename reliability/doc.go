// Package reliability holds rdsmux's randomized state-isolation, fault and
// soak tests. It has no library code: everything is in its tests.
//
// Many concurrent clients drive random mixes of autocommit reads and writes,
// transactions that commit or roll back, tracked SETs, pinning statements,
// prepared statements, LAST_INSERT_ID(), disconnects at random points,
// context cancellations and server-side KILLs of backend connections, while
// a fault proxy injects latency and resets. The tests check invariants, not
// logs: no client observes another's session state, every acknowledged write
// is present exactly once and every failed one is absent, balances add up,
// nothing hangs past the borrow timeout, and counters, goroutines and backend
// connections return to their baseline.
//
// A hostile-input and security suite runs against a real listener:
// garbage, truncated, mis-sequenced and oversized packets, silent, slow
// and idle clients, connection floods; failed logins refused and counted,
// an unknown user indistinguishable from a wrong password; no backend of
// one database account serving another's client; RequireTLS; and no
// secret in any log line.
//
// The short mode runs in CI (about a minute). The long mode runs for
// RDSMUX_SOAK (a duration such as 10m):
//
//	RDSMUX_SOAK=10m go test -run Soak -v -timeout 30m ./reliability/
//
// RDSMUX_SEED fixes the random seed; a failing run prints its seed.
//
// The long mode also fails the writer over mid-run (RDSMUX_SOAK_FAILOVERS,
// default 2): a semi-synchronous primary/replica pair, the primary killed
// or blackholed and fenced, the replica promoted, the old primary back as
// a replica before the next failover, which goes the other way. The same
// invariants hold (why no acknowledged write can be lost is explained in
// failover_soak_test.go), writes resume after each promotion, and the
// rejoined replica ends with the writer's tables. TestSoakFailover does one
// failover per path in CI.
package reliability
