package mariadbtest_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// TestSemiSyncFailoverKeepsAckedAndDropsUnacked: with semi-synchronous
// replication, a commit the primary acknowledged is on the promoted replica,
// and one it was still waiting to have acknowledged when it died is on
// neither server once the old primary has rejoined as a replica: its crash
// recovery truncated it, instead of letting the two diverge.
func TestSemiSyncFailoverKeepsAckedAndDropsUnacked(t *testing.T) {
	t.Parallel()
	primary, replica := mariadbtest.StartReplicaPair(t, mariadbtest.WithSemiSync())
	require.True(t, primary.SemiSyncActive(t))
	primary.Exec(t, "CREATE TABLE t (id INT PRIMARY KEY)")
	primary.Exec(t, "INSERT INTO t VALUES (1)") // acknowledged by the replica before it returned

	// The replica stops receiving: the next commit waits for an
	// acknowledgement that never comes (no fallback to asynchronous).
	replica.Exec(t, "STOP SLAVE IO_THREAD")
	db, err := sql.Open("mysql", primary.DSN("timeout=2s"))
	require.NoError(t, err)
	defer db.Close()
	committed := make(chan error, 1)
	go func() { // ends when the primary dies below
		_, err := db.Exec("INSERT INTO t VALUES (2)")
		committed <- err
	}()
	require.Eventually(t, func() bool {
		return primary.QueryInt(t, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE LIKE '%semi-sync%'") > 0
	}, 10*time.Second, 10*time.Millisecond, "the commit did not wait for the semi-sync acknowledgement")
	primary.Kill()
	require.Error(t, <-committed, "the unacknowledged commit must not report success")

	replica.Promote(t)
	require.EqualValues(t, 1, replica.QueryInt(t, "SELECT COUNT(*) FROM t WHERE id = 1"), "an acknowledged commit is lost")
	require.EqualValues(t, 0, replica.QueryInt(t, "SELECT @@global.read_only"))
	replica.Exec(t, "INSERT INTO t VALUES (3)")

	primary.RejoinAsReplica(t, replica)
	require.EqualValues(t, 1, primary.QueryInt(t, "SELECT @@global.read_only"))
	require.True(t, replica.SemiSyncActive(t))
	for _, s := range []*mariadbtest.Server{primary, replica} {
		var ids []int
		rows, err := s.DB(t).Query("SELECT id FROM t ORDER BY id")
		require.NoError(t, err)
		for rows.Next() {
			var id int
			require.NoError(t, rows.Scan(&id))
			ids = append(ids, id)
		}
		require.NoError(t, rows.Close())
		require.Equal(t, []int{1, 3}, ids, "rows on %s", s.Addr())
	}

	// And back: the rejoined server takes over; the write acknowledged
	// by it as a replica survives.
	replica.Exec(t, "INSERT INTO t VALUES (4)")
	replica.Kill()
	primary.Promote(t)
	require.EqualValues(t, 1, primary.QueryInt(t, "SELECT COUNT(*) FROM t WHERE id = 4"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, primary.Ping(ctx))
	primary.Exec(t, "INSERT INTO t VALUES (5)")
	replica.RejoinAsReplica(t, primary)
	require.EqualValues(t, 4, replica.QueryInt(t, "SELECT COUNT(*) FROM t"))
}
