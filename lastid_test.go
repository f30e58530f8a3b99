package rdsmux_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/pool"
)

// openStats opens rdsmux (which reports its pool's statistics) on a fresh
// server with a table seq whose ids the server generates.
func openStats(t *testing.T, params string) (*mariadbtest.Server, *rdsmux.DB) {
	t.Helper()
	s := mariadbtest.Start(t)
	s.CreateUser(t, "app", "app-pw")
	s.Exec(t, "CREATE TABLE seq (id INT AUTO_INCREMENT PRIMARY KEY, g INT)")
	db, err := rdsmux.Open(s.UserDSN("app", "app-pw", "test", params))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return s, db
}

// insertID inserts a row on c and returns the id the server generated.
func insertID(t *testing.T, c *sql.Conn) int64 {
	t.Helper()
	res, err := c.ExecContext(context.Background(), "INSERT INTO seq (g) VALUES (1)")
	require.NoError(t, err)
	id, err := res.LastInsertId()
	require.NoError(t, err)
	return id
}

// lastInsertID runs SELECT LAST_INSERT_ID() on c.
func lastInsertID(t *testing.T, c *sql.Conn) int64 {
	t.Helper()
	var v int64
	require.NoError(t, c.QueryRowContext(context.Background(), "SELECT LAST_INSERT_ID()").Scan(&v))
	return v
}

// TestLastInsertIDLeftUnread: a session that inserts gives its backend back
// with its LAST_INSERT_ID() unread; coming back to that backend it reads
// nothing, and another session that takes the backend reads the value for
// it first, so that each still sees its own.
func TestLastInsertIDLeftUnread(t *testing.T) {
	t.Parallel()
	_, db := openStats(t, "maxConnections=1")
	ctx := context.Background()
	a, err := db.Conn(ctx)
	require.NoError(t, err)
	defer a.Close()
	b, err := db.Conn(ctx)
	require.NoError(t, err)
	defer b.Close()

	idA := insertID(t, a)
	st := db.PoolStats()
	require.EqualValues(t, 1, st.LastInsertIDDeferred, "%+v", st)
	require.Zero(t, st.LastInsertIDDelivered, "nothing read yet: %+v", st)
	// The same session on the same backend: the value is in place.
	require.Equal(t, idA, lastInsertID(t, a))
	tx, err := a.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "INSERT INTO seq (g) VALUES (2)")
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	idA = lastInsertID(t, a)
	require.Zero(t, db.PoolStats().LastInsertIDDelivered, "one session alone reads nothing back")

	// b takes the only backend: a's value is read for a first.
	idB := insertID(t, b)
	require.Greater(t, idB, idA)
	require.EqualValues(t, 1, db.PoolStats().LastInsertIDDelivered)
	require.Equal(t, idA, lastInsertID(t, a), "a's value, delivered while b had the backend")
	require.Equal(t, idB, lastInsertID(t, b), "b's value, read when a took the backend")
	require.Equal(t, idA, lastInsertID(t, a))
}

// TestLastInsertIDTakenBackToRead: a session whose value is unread on an
// idle backend while it runs on another takes that backend back to read
// it when a statement needs it.
func TestLastInsertIDTakenBackToRead(t *testing.T) {
	t.Parallel()
	_, db := openStats(t, "maxConnections=2")
	ctx := context.Background()
	a, err := db.Conn(ctx)
	require.NoError(t, err)
	defer a.Close()
	b, err := db.Conn(ctx)
	require.NoError(t, err)
	defer b.Close()

	// Two backends: a's value stays on the first, a runs on the second.
	txA, err := a.BeginTx(ctx, nil)
	require.NoError(t, err)
	txB, err := b.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = txA.ExecContext(ctx, "INSERT INTO seq (g) VALUES (1)")
	require.NoError(t, err)
	require.NoError(t, txA.Commit()) // a's value unread on its backend
	require.NoError(t, txB.Commit()) // b's backend, given back later
	idA := lastInsertID(t, a)
	// Once the claims on both backends have lapsed, the backend given
	// back last is the first choice of the next borrow.
	_, err = b.ExecContext(ctx, "DO 1")
	require.NoError(t, err)
	_, err = a.ExecContext(ctx, "DO 1")
	require.NoError(t, err)
	time.Sleep(1200 * time.Millisecond) // the pool's look-behind window
	_, err = b.ExecContext(ctx, "DO 1")
	require.NoError(t, err)
	time.Sleep(1200 * time.Millisecond)
	var ok int
	require.NoError(t, a.QueryRowContext(ctx, "SELECT 1").Scan(&ok))
	before := db.PoolStats()
	// The insert needs a's value where it runs: the pool reads it
	// wherever it is first.
	idA2 := insertID(t, a)
	require.Greater(t, idA2, idA)
	require.Equal(t, idA2, lastInsertID(t, a))
	st := db.PoolStats()
	require.Zero(t, st.BorrowsCanceled+st.BorrowTimeouts, "%+v", st)
	t.Logf("reclaimed to read: %d, delivered: %d", st.LastInsertIDReclaimed-before.LastInsertIDReclaimed, st.LastInsertIDDelivered-before.LastInsertIDDelivered)
}

// TestLastInsertIDReadBeforeClose: a backend retired idle (here by
// maxLifetime) with a session's value unread on it is read first.
func TestLastInsertIDReadBeforeClose(t *testing.T) {
	t.Parallel()
	_, db := openStats(t, "maxConnections=2&maxLifetime=300ms")
	ctx := context.Background()
	a, err := db.Conn(ctx)
	require.NoError(t, err)
	defer a.Close()
	idA := insertID(t, a)
	require.Eventually(t, func() bool { return db.PoolStats().ClosedTotal >= 1 }, 10*time.Second, 20*time.Millisecond,
		"the backend was not retired")
	require.EqualValues(t, 1, db.PoolStats().LastInsertIDDelivered)
	require.Equal(t, idA, lastInsertID(t, a))
}

// TestLastInsertIDLostWithItsBackend: a backend that dies with a session's
// value unread on it takes the value along: reading it is refused (as a
// look-behind statement whose connection closed), never answered with
// another value.
func TestLastInsertIDLostWithItsBackend(t *testing.T) {
	t.Parallel()
	s, db := openStats(t, "maxConnections=2")
	ctx := context.Background()
	a, err := db.Conn(ctx)
	require.NoError(t, err)
	defer a.Close()
	insertID(t, a)
	rows, err := s.DB(t).Query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'app'")
	require.NoError(t, err)
	var ids []int64
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, ids)
	for _, id := range ids {
		s.Exec(t, fmt.Sprintf("KILL CONNECTION %d", id))
	}
	require.Eventually(t, func() bool { return s.ConnectionsOf(t, "app") == 0 }, 10*time.Second, 20*time.Millisecond)
	var v int64
	err = a.QueryRowContext(ctx, "SELECT LAST_INSERT_ID()").Scan(&v)
	require.ErrorIs(t, err, pool.ErrLookBehindLost, "got %d, %v", v, err)
	// The session goes on; its next insert sets a value again.
	idA := insertID(t, a)
	require.Equal(t, idA, lastInsertID(t, a))
}
