// Package isolation proves (or disproves) rdsmux's first promise: every
// client sees exactly what a dedicated connection to the same server would
// give it — rows, values, column types, rows affected, insert ids,
// warnings, errors and session state — whatever other clients did on the
// backend connections it borrows.
//
// The package holds only tests, against a real MariaDB that they start
// (internal/mariadbtest): regression tests for each leak found
// (regress_test.go, scripts in script_test.go) and the differential suite
// (diff_test.go), where every session has a twin dedicated connection and
// every result is compared; a violation is shrunk to a short reproduction
// (shrink_test.go). How the suite works is in docs/design.md ("Session
// state").
//
// Status: the regression tests pass; the differential runs against
// rdsmux (TestDifferentialDriver, TestDifferentialListener) report a
// violation in about one run in five, of kinds that remain to be fixed:
// column metadata of prepared statements through the listener where
// MariaDB's metadata cache (MARIADB_CLIENT_CACHE_METADATA) decides
// differently from the listener's emulation, and rare transaction
// tracking cases of the driver (which cannot see the server's status
// flags). They are therefore opt-in (RDSMUX_ISOLATION) and not part of
// make test; the rest of the package is.
//
//	go test -race ./isolation/                                   # regressions, direct-vs-direct, naive pool
//	make isolation                                               # one differential round (RDSMUX_ISOLATION=0s)
//	RDSMUX_SEED=123 RDSMUX_ISOLATION=0s go test -run TestDifferential ./isolation/  # repeat a seed
//	RDSMUX_ISOLATION=10m go test -timeout 30m -run TestDifferential ./isolation/    # soak
//
// RDSMUX_ISOLATION_DIRECT=1 makes every differential test use direct
// subjects (the suite's own check, as TestDifferentialDirectVsDirect).
package isolation
