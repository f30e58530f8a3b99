package rdsmux_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
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
