package proxy_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPreparedExecutesAreTimed: each COM_STMT_EXECUTE of a
// prepared-statement client moves both query latency histograms by one.
func TestPreparedExecutesAreTimed(t *testing.T) {
	e := startEnv(t)
	db := e.open(t, "interpolateParams=false")
	c := e.conn(t, db)
	stmt, err := c.PrepareContext(ctxT(t), "SELECT name FROM users WHERE id = ?")
	require.NoError(t, err)
	defer stmt.Close()

	before := e.srv.Stats()
	const executes = 7
	var name string
	for i := range executes {
		require.NoError(t, stmt.QueryRowContext(ctxT(t), 1+i%3).Scan(&name))
	}
	after := e.srv.Stats()

	require.Equal(t, int64(executes),
		after.QueryDatabaseResponseLatency.Count()-before.QueryDatabaseResponseLatency.Count())
	require.Equal(t, int64(executes),
		after.QueryResponseLatency.Count()-before.QueryResponseLatency.Count())
	require.Greater(t, after.QueryResponseLatency.Sum, before.QueryResponseLatency.Sum)
}
