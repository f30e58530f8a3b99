package rdsmux_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// TestStatementLatencyHistograms: every statement (Exec, Query, through a
// *sql.Stmt or interpolated, failing at the server or not) moves both
// histograms by one, and two handles on one target share them.
func TestStatementLatencyHistograms(t *testing.T) {
	t.Parallel()
	s := mariadbtest.Start(t)
	s.CreateUser(t, "app", "app-pw")
	dsn := s.UserDSN("app", "app-pw", "test", "maxConnections=2")
	db, err := rdsmux.Open(dsn)
	require.NoError(t, err)
	defer db.Close()
	other, err := rdsmux.Open(dsn) // same target: same pool, same histograms
	require.NoError(t, err)
	defer other.Close()
	ctx := context.Background()

	_, err = db.ExecContext(ctx, "CREATE TABLE lat (id INT PRIMARY KEY)")
	require.NoError(t, err)
	before := db.PoolStats()

	statements := 0
	for i := range 3 {
		_, err := db.ExecContext(ctx, "INSERT INTO lat VALUES (?)", i) // server-side prepared
		require.NoError(t, err)
		statements++
	}
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM lat").Scan(&n))
	statements++
	stmt, err := db.PrepareContext(ctx, "SELECT id FROM lat WHERE id = ?")
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, stmt.QueryRowContext(ctx, i).Scan(&n))
		statements++
	}
	require.NoError(t, stmt.Close())
	rows, err := other.QueryContext(ctx, "SELECT id FROM lat ORDER BY id")
	require.NoError(t, err)
	for rows.Next() {
	}
	require.NoError(t, rows.Close())
	statements++
	_, err = db.ExecContext(ctx, "INSERT INTO no_such_table VALUES (1)")
	require.Error(t, err) // the database answered: timed too
	statements++

	after := db.PoolStats()
	shared := other.PoolStats()
	require.Equal(t, after.QueryResponseLatency, shared.QueryResponseLatency)
	require.Equal(t, after.QueryDatabaseResponseLatency, shared.QueryDatabaseResponseLatency)
	require.Equal(t, int64(statements),
		after.QueryDatabaseResponseLatency.Count()-before.QueryDatabaseResponseLatency.Count())
	require.Equal(t, int64(statements),
		after.QueryResponseLatency.Count()-before.QueryResponseLatency.Count())
	require.Greater(t, after.QueryDatabaseResponseLatency.Sum, before.QueryDatabaseResponseLatency.Sum)
	// The client-seen time contains the database's.
	require.GreaterOrEqual(t, after.QueryResponseLatency.Sum-before.QueryResponseLatency.Sum,
		after.QueryDatabaseResponseLatency.Sum-before.QueryDatabaseResponseLatency.Sum)
}
