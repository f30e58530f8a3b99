package rdsmux_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/pool"
)

// TestStmtRunsInItsPrepareState: a *sql.Stmt prepared in one database runs
// there after the session's USE of another, as on a dedicated connection
// (MariaDB runs a prepared statement in the database it was prepared in).
func TestStmtRunsInItsPrepareState(t *testing.T) {
	srv, db := open(t, "maxConnections=1")
	srv.Exec(t, "CREATE DATABASE IF NOT EXISTS s_other")
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "USE s_other")
	require.NoError(t, err)
	st, err := conn.PrepareContext(ctx, "SELECT DATABASE()")
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "USE test")
	require.NoError(t, err)
	var got string
	require.NoError(t, st.QueryRowContext(ctx).Scan(&got))
	require.Equal(t, "s_other", got)
}

// TestVerifySessionStateCatchesUnseenChanges: a stored procedure changes a
// session variable where no classifier can see it; with
// verifySessionState the next session that borrows that backend fails
// with a StateMismatchError naming the variable and both values, rather
// than running in the procedure's time zone.
func TestVerifySessionStateCatchesUnseenChanges(t *testing.T) {
	srv, db := open(t, "maxConnections=1&verifySessionState=true")
	srv.Exec(t, "CREATE PROCEDURE test.shift_tz() SET SESSION time_zone = '+05:00'")
	srv.Exec(t, "GRANT EXECUTE ON test.* TO 'app'@'%'")
	ctx := context.Background()
	_, err := db.ExecContext(ctx, "CALL shift_tz()")
	require.NoError(t, err)
	var tz string
	err = db.QueryRowContext(ctx, "SELECT @@time_zone").Scan(&tz)
	var mismatch *pool.StateMismatchError
	require.ErrorAs(t, err, &mismatch, "the next borrow ran in time zone %q", tz)
	require.Equal(t, "time_zone", mismatch.Var)
	require.Equal(t, "'+05:00'", mismatch.Got)
	// The backend was closed: the next statement gets a clean one.
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @@time_zone").Scan(&tz))
	require.Equal(t, "SYSTEM", tz)
}
