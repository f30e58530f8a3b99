// Package isolation proves (or disproves) rdsmux's first promise: every
// client sees exactly what a dedicated connection to the same server would
// give it — rows, values, column types, rows affected, insert ids,
// warnings, errors and session state — whatever other clients did on the
// backend connections it borrows.
//
// The package holds only tests, against a real MariaDB that they start
// (internal/mariadbtest):
//
//   - regress_test.go: one test per known leak (statement cache keyed by
//     SQL text, "= DEFAULT" character set undo, handshake collations in the
//     listener, SET SESSION TRANSACTION spelling, completion_type and
//     READ ONLY transactions, rounded values replayed under strict mode,
//     LAST_INSERT_ID and sql_big_selects on fresh sessions), and the leaks
//     the differential suite found since (a session ending in a chained
//     transaction, LAST_INSERT_ID after an explicit id, statements
//     prepared outside the session's transaction, read-only state or
//     collation, @@character_set_database after a reset, SET inside
//     multi-statement queries, the mariadb CLI's handshake character set).
//     Each runs a short script (script_test.go) on sessions through rdsmux
//     and, step by step, on dedicated direct connections, and reports
//     every step whose results differ.
//   - diff_test.go: the differential suite. Every logical session has a
//     twin, a dedicated go-sql-driver connection straight to MariaDB.
//     Operations from a seeded generator (SETs of every tracked variable in
//     every spelling, USE, text and API transactions, prepared statements,
//     pinning statements, LAST_INSERT_ID, FOUND_ROWS, warnings, reads of
//     session state) run on the subject, then on the twin, and every result
//     is compared, and so are the rows each session left committed once it
//     ended. Many sessions share few backends, through the driver and
//     through the listener with several client behaviours (text and
//     binary protocol, handshake collations, session variables in the
//     DSN). A violation prints the seed, the session, the operation, both
//     results and the session's history; violations are grouped by kind,
//     and one is shrunk (shrink_test.go): replayed alone on a fresh pool of
//     one backend with noise operations (generated, or another session's)
//     before and between its own, each in a short session of its own;
//     operations, the noise's included, are removed while it still shows,
//     and the shortest schedule is printed, a self-contained reproduction.
//     TestDifferentialDirectVsDirect runs the same suite with a direct
//     connection as the subject: it must report no violation, which shows
//     that the suite itself compares only what must be equal.
//
// The server's global character set is latin1 while clients ask for
// utf8mb4, so that a session brought back to the server's globals instead
// of its own baseline shows.
//
// A look-behind statement (SHOW WARNINGS, FOUND_ROWS(), ...) that rdsmux
// refuses with an error wrapping pool.ErrLookBehindLost is counted as a
// refusal, not as a match, and the twin then skips it too.
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
// Run it:
//
//	go test -race ./isolation/                                   # regressions, direct-vs-direct, naive pool
//	make isolation                                               # one differential round (RDSMUX_ISOLATION=0s)
//	RDSMUX_SEED=123 RDSMUX_ISOLATION=0s go test -run TestDifferential ./isolation/  # repeat a seed
//	RDSMUX_ISOLATION=10m go test -timeout 30m -run TestDifferential ./isolation/    # soak
//
// RDSMUX_ISOLATION_DIRECT=1 makes every differential test use direct
// subjects (the suite's own check, as TestDifferentialDirectVsDirect).
package isolation
