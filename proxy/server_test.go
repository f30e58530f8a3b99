package proxy_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGoSQLDriver(t *testing.T) {
	e := startEnv(t, withBackends(3))
	for _, params := range []string{"", "interpolateParams=true"} {
		t.Run("params="+params, func(t *testing.T) {
			db := e.open(t, params)
			var name string
			must(t, db.QueryRow("SELECT name FROM users WHERE id = ?", 2).Scan(&name))
			require.EqualValues(t, "bob", name, "name")
			rows, err := db.Query("SELECT id, name FROM users ORDER BY id")
			must(t, err)
			var got []string
			for rows.Next() {
				var id int
				must(t, rows.Scan(&id, &name))
				got = append(got, fmt.Sprintf("%d %s", id, name))
			}
			must(t, rows.Err())
			require.Equal(t, "1 alice,2 bob,3 carol", strings.Join(got, ","), "rows %v", got)
			// Errors pass through; the connection keeps working.
			_, err = db.Exec("SELECT * FROM no_such_table")
			require.Equal(t, uint16(1146), mysqlErr(err), "err = %v, want 1146", err)
			must(t, db.Ping())
			// A transaction on one client connection.
			tx, err := db.Begin()
			must(t, err)
			_, err = tx.Exec("INSERT INTO auto (who) VALUES (?)", "tx-"+params)
			must(t, err)
			must(t, tx.Rollback())
			n := queryInt(t, db, "SELECT COUNT(*) FROM auto WHERE who = ?", "tx-"+params)
			require.Equal(t, int64(0), n, "rolled-back row is visible (%d)", n)
		})
	}
}

// TestPreparedAcrossBackends runs one prepared statement of one client
// while other clients keep backends busy, so its executions land on
// different backends, each preparing it once.
func TestPreparedAcrossBackends(t *testing.T) {
	e := startEnv(t, withBackends(3))
	db := e.open(t, "")
	c := e.conn(t, db)
	stmt, err := c.PrepareContext(ctxT(t), "SELECT CONNECTION_ID(), name FROM users WHERE id = ?")
	must(t, err)
	defer stmt.Close()
	ids := map[int64]bool{}
	other := e.open(t, "")
	for i := 0; i < 30 && len(ids) < 2; i++ {
		// Hold a backend in another client's transaction now and then,
		// so the pool hands this client a different one.
		var tx *sql.Tx
		if i%2 == 1 {
			tx, err = other.Begin()
			must(t, err)
			_, err = tx.Exec("SELECT 1")
			must(t, err)
		}
		var id int64
		var name string
		must(t, stmt.QueryRow(1+i%3).Scan(&id, &name))
		ids[id] = true
		if tx != nil {
			must(t, tx.Rollback())
		}
	}
	require.GreaterOrEqual(t, len(ids), 2, "the statement ran on %d backend(s); want it multiplexed over at least 2", len(ids))
	st := e.srv.Stats()
	t.Logf("backends used: %d, backend prepares: %d, client prepares: %d, executes: %d",
		len(ids), st.BackendPrepares, st.PrepareRequests, st.ExecuteRequests)
	require.GreaterOrEqual(t, st.BackendPrepares, int64(2), "BackendPrepares = %d, want one per backend", st.BackendPrepares)
}

// TestLastInsertIDUnderConcurrency: INSERT then SELECT LAST_INSERT_ID() as
// two round trips returns each client's own id while all clients share two
// backends.
func TestLastInsertIDUnderConcurrency(t *testing.T) {
	e := startEnv(t, withBackends(2))
	for _, params := range []string{"", "interpolateParams=true"} {
		eachClient(t, e.open(t, params), 8, func(ctx context.Context, c *sql.Conn, g int) error {
			for range 15 {
				res, err := c.ExecContext(ctx, "INSERT INTO auto (who) VALUES (?)", fmt.Sprint("g", g))
				if err != nil {
					return err
				}
				want, _ := res.LastInsertId()
				var got int64
				if err := c.QueryRowContext(ctx, "SELECT LAST_INSERT_ID()").Scan(&got); err != nil {
					return err
				}
				if got != want {
					return fmt.Errorf("client %d: LAST_INSERT_ID() = %d after inserting id %d", g, got, want)
				}
			}
			return nil
		})
	}
	assert.EqualValues(t, 0, e.srv.Stats().Pool.DatabaseConnectionsCurrentlySessionPinned, "DatabaseConnectionsCurrentlySessionPinned")
}

// TestLastInsertIDAfterCommit: a transaction that inserts ends with COMMIT
// or ROLLBACK (as text or as a prepared statement), after which the
// listener reads LAST_INSERT_ID() in the same write as the COMMIT
// (pool.Session.SettleAhead); each client then sees
// its own id, on whichever backend, whether its insert generated the id
// or gave it explicitly (which leaves LAST_INSERT_ID() as it was).
func TestLastInsertIDAfterCommit(t *testing.T) {
	e := startEnv(t, withBackends(2))
	eachClient(t, e.open(t, ""), 6, func(ctx context.Context, c *sql.Conn, g int) error {
		// Odd clients run BEGIN and the end as prepared statements
		// (COM_STMT_EXECUTE), as sysbench does with --db-ps-mode=auto.
		run := func(q string) error {
			if g%2 == 0 {
				_, err := c.ExecContext(ctx, q)
				return err
			}
			st, err := c.PrepareContext(ctx, q)
			if err != nil {
				return err
			}
			defer st.Close()
			_, err = st.ExecContext(ctx)
			return err
		}
		var want int64 // the client's LAST_INSERT_ID()
		for i := range 12 {
			end := "COMMIT"
			if i%3 == 2 {
				end = "ROLLBACK" // keeps LAST_INSERT_ID() as the insert set it
			}
			explicit := i%4 == 1
			if err := run("BEGIN"); err != nil {
				return err
			}
			var res sql.Result
			var err error
			if explicit {
				res, err = c.ExecContext(ctx, "INSERT INTO auto (id, who) VALUES (?, ?)", -(g*100 + i + 1), fmt.Sprint("g", g)) // below the generated ids
			} else {
				res, err = c.ExecContext(ctx, "INSERT INTO auto (who) VALUES (?)", fmt.Sprint("g", g))
			}
			if err != nil {
				return err
			}
			if !explicit {
				want, _ = res.LastInsertId()
			}
			if err := run(end); err != nil {
				return err
			}
			var got int64
			if err := c.QueryRowContext(ctx, "SELECT LAST_INSERT_ID()").Scan(&got); err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("client %d, transaction %d (%s, explicit id %v): LAST_INSERT_ID() = %d, want %d", g, i, end, explicit, got, want)
			}
		}
		return nil
	})
	assert.EqualValues(t, 0, e.srv.Stats().Pool.DatabaseConnectionsCurrentlySessionPinned, "DatabaseConnectionsCurrentlySessionPinned")
}

// TestStateIsolation: what one client leaves on a backend (a user
// variable, a temporary table, an open transaction, a named lock) is never
// visible to another client, while it is connected or after it leaves.
func TestStateIsolation(t *testing.T) {
	e := startEnv(t, withBackends(2))
	db := e.open(t, "")
	adb := e.open(t, "") // the first client's own pool, closed to make it leave
	a := e.conn(t, adb)
	ctx := ctxT(t)
	for _, q := range []string{
		"SET @secret = 42",
		"CREATE TEMPORARY TABLE tmp_a (x INT)",
		"SELECT GET_LOCK('iso_lock', 0)",
		"BEGIN",
		"INSERT INTO auto (who) VALUES ('uncommitted')",
	} {
		_, err := a.ExecContext(ctx, q)
		must(t, err)
	}
	b := e.conn(t, db)
	check := func(c *sql.Conn, when string) {
		t.Helper()
		var v sql.NullInt64
		must(t, c.QueryRowContext(ctx, "SELECT @secret").Scan(&v))
		assert.False(t, v.Valid, "%s: another client sees @secret = %d", when, v.Int64)
		_, err := c.ExecContext(ctx, "SELECT * FROM tmp_a")
		assert.Equal(t, uint16(1146), mysqlErr(err), "%s: another client sees the temporary table (err %v)", when, err)
		assert.EqualValues(t, 0, queryInt(t, c, "SELECT COUNT(*) FROM auto WHERE who = 'uncommitted'"), "%s: another client sees an uncommitted row", when)
		assert.EqualValues(t, 0, queryInt(t, c, "SELECT @@in_transaction"), "%s: another client starts inside a transaction", when)
	}
	check(b, "while the first client is connected")
	assert.EqualValues(t, 0, queryInt(t, b, "SELECT GET_LOCK('iso_lock', 0)"), "another client got the first client's named lock")
	must(t, a.Close())
	must(t, adb.Close()) // COM_QUIT
	// The first client's backend was reset when it left: the next clients
	// on either backend see nothing of it, and the lock is free.
	for i := 0; i < 4; i++ {
		c := e.conn(t, db)
		check(c, "after the first client left")
		c.Close()
	}
	assert.EqualValues(t, 1, queryInt(t, b, "SELECT GET_LOCK('iso_lock', 5)"), "the named lock was not released when its client left")
	st := e.srv.Stats().Pool
	t.Logf("pins: %v resets: %d rollbacks: %d", st.Pins, st.Resets, st.Rollbacks)
}

// TestFoundRowsAndRowCount: the look-behind functions read the previous
// statement's connection, without pinning, outside and inside a
// transaction.
func TestFoundRowsAndRowCount(t *testing.T) {
	e := startEnv(t, withBackends(3))
	db := e.open(t, "")
	c := e.conn(t, db)
	ctx := ctxT(t)
	var id int
	var name string
	must(t, c.QueryRowContext(ctx, "SELECT SQL_CALC_FOUND_ROWS id, name FROM users ORDER BY id LIMIT 1").Scan(&id, &name))
	n := queryInt(t, c, "SELECT FOUND_ROWS()")
	require.Equal(t, int64(3), n, "FOUND_ROWS() = %d, want 3", n)
	_, err := c.ExecContext(ctx, "UPDATE users SET name = name WHERE id <= 2")
	must(t, err)
	n = queryInt(t, c, "SELECT ROW_COUNT()")
	require.Equal(t, int64(0), n, "ROW_COUNT() = %d, want 0", n)
	pinned := e.srv.Stats().Pool.DatabaseConnectionsCurrentlySessionPinned
	require.Equal(t, 0, pinned, "look-behind reads pinned the session (%d)", pinned)
	tx, err := c.BeginTx(ctx, nil)
	must(t, err)
	_, err = tx.Exec("UPDATE users SET name = name WHERE id <= 2")
	must(t, err)
	_, err = tx.Exec("UPDATE users SET name = CONCAT(name, '') WHERE id >= 2")
	must(t, err)
	n = queryInt(t, tx, "SELECT ROW_COUNT()")
	require.Equal(t, int64(0), n, "ROW_COUNT() = %d, want 0 (no row changed)", n)
	_, err = tx.Exec("INSERT INTO auto (who) VALUES ('rc'), ('rc')")
	must(t, err)
	n = queryInt(t, tx, "SELECT ROW_COUNT()")
	require.Equal(t, int64(2), n, "ROW_COUNT() = %d, want 2", n)
	must(t, tx.Rollback())
}
