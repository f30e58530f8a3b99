package proxy_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running reports whether a statement tagged with tag runs on the server.
func running(t *testing.T, root *sql.DB, tag string) bool {
	t.Helper()
	var n int
	err := root.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE CONCAT('%', ?, '%') AND INFO NOT LIKE '%PROCESSLIST%'", tag).Scan(&n)
	must(t, err)
	return n > 0
}

// startCancelled runs query on c in the background and cancels it (which
// makes go-sql-driver close the connection: the client goes away) once
// the server runs it. It returns the query's error.
func startCancelled(t *testing.T, root *sql.DB, c *sql.Conn, query, tag string) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { // ends when cancel closes the connection
		_, err := c.ExecContext(ctx, query)
		errc <- err
	}()
	waitFor(t, "the statement runs on the server", 20*time.Second, func() bool { return running(t, root, tag) })
	cancel()
	return <-errc
}

// TestClientVanishesMidStatement: a client that goes away while its
// statement runs has the statement KILLed on the server and its backend
// freed at once, not when the statement would have ended.
func TestClientVanishesMidStatement(t *testing.T) {
	e := startEnv(t, withBackends(1), withBorrowTimeout(60*time.Second))
	db := e.open(t, "")
	root := e.db.DB(t)
	c := e.conn(t, db)
	require.Error(t, startCancelled(t, root, c, "SELECT SLEEP(60) FROM users WHERE id = 1 /* vanish-1 */", "vanish-1"), "the cancelled statement succeeded")
	waitFor(t, "the server no longer runs the statement", 20*time.Second, func() bool { return !running(t, root, "vanish-1") })
	waitFor(t, "the listener counts the kill", 10*time.Second, func() bool { return e.srv.Stats().VanishedStatementsKilled == 1 })
	st := e.srv.Stats()
	assert.EqualValues(t, 1, st.ClientsVanishedMidCommand, "ClientsVanishedMidCommand")
	// The only backend serves the next client long before SLEEP(60)
	// would have ended.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int
	must(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&n))
	require.EqualValues(t, 3, n, "COUNT(*)")
	// Backends of the app user: the pool's one, plus the control
	// connection that sent the KILL.
	assert.LessOrEqual(t, e.db.ConnectionsOf(t, appUser), 2, "connections of %s: want at most 1 backend + 1 control", appUser)
	waitFor(t, "the pool is idle", 10*time.Second, func() bool {
		p := e.srv.Stats().Pool
		return p.DatabaseConnectionsCurrentlyBorrowed == 0
	})
}

// TestClientVanishesMidTransaction: the statement is stopped and the
// transaction rolled back with its backend, which is closed, not reused.
func TestClientVanishesMidTransaction(t *testing.T) {
	e := startEnv(t, withBackends(1), withBorrowTimeout(60*time.Second))
	db := e.open(t, "")
	root := e.db.DB(t)
	c := e.conn(t, db)
	ctx := ctxT(t)
	_, err := c.ExecContext(ctx, "BEGIN")
	must(t, err)
	_, err = c.ExecContext(ctx, "INSERT INTO auto (who) VALUES ('vanish-2')")
	must(t, err)
	require.Error(t, startCancelled(t, root, c, "SELECT SLEEP(60) FROM users WHERE id = 1 /* vanish-2 */", "vanish-2"), "the cancelled statement succeeded")
	require.EqualValues(t, 0, queryInt(t, db, "SELECT COUNT(*) FROM auto WHERE who = 'vanish-2'"), "the vanished client's insert was committed")
	require.EqualValues(t, 0, queryInt(t, db, "SELECT @@in_transaction"), "the next client runs inside the vanished client's transaction")
	st := e.srv.Stats()
	assert.EqualValues(t, 1, st.ClientsVanishedMidCommand, "ClientsVanishedMidCommand")
	assert.EqualValues(t, 1, st.VanishedStatementsKilled, "VanishedStatementsKilled")
}

// TestClientVanishesWhileWaiting: a client that goes away while it waits
// for a backend stops waiting, and the backend, once free, goes to the
// next live client rather than to the vanished one's statement.
func TestClientVanishesWhileWaiting(t *testing.T) {
	e := startEnv(t, withBackends(1), withBorrowTimeout(60*time.Second))
	db := e.open(t, "")
	ctx := ctxT(t)
	holder := e.conn(t, db)
	_, err := holder.ExecContext(ctx, "BEGIN")
	must(t, err)
	_, err = holder.ExecContext(ctx, "SELECT * FROM users FOR UPDATE")
	must(t, err)

	waiter := e.conn(t, db)
	wctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { // ends when cancel closes the connection
		_, err := waiter.ExecContext(wctx, "INSERT INTO auto (who) VALUES ('vanish-3')")
		errc <- err
	}()
	waitFor(t, "the waiter waits for a backend", 20*time.Second, func() bool { return e.srv.Stats().Pool.WaitingNow == 1 })
	cancel()
	require.Error(t, <-errc, "the cancelled statement succeeded")
	waitFor(t, "the waiter stops waiting", 20*time.Second, func() bool { return e.srv.Stats().Pool.WaitingNow == 0 })
	assert.EqualValues(t, 1, e.srv.Stats().ClientsVanishedMidCommand, "ClientsVanishedMidCommand")
	_, err = holder.ExecContext(ctx, "COMMIT")
	must(t, err)
	require.EqualValues(t, 0, queryInt(t, db, "SELECT COUNT(*) FROM auto WHERE who = 'vanish-3'"), "the vanished client's statement ran after all")
}
