package rdsmux_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux"
	"github.com/rdsmux/rdsmux/failover"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/pool"
)

// TestFailoverThroughThePool is the failover drill through the driver: under
// steady writes, the primary is SIGKILLed and the replica promoted; the pool
// follows the new writer, and no acknowledged write is lost or duplicated.
func TestFailoverThroughThePool(t *testing.T) {
	t.Parallel()
	primary, replica := mariadbtest.StartReplicaPair(t)
	primary.CreateUser(t, "app", "pw") // not SUPER: read_only applies to it
	primary.Exec(t, "CREATE TABLE ledger (id INT PRIMARY KEY, writer INT)")
	replica.WaitReplicaCaughtUp(t, primary)

	db, err := rdsmux.Open(primary.UserDSN("app", "pw", "test", "maxConnections=4&connectionBorrowTimeout=30s"+
		"&failover=readonly&failoverHosts="+primary.Addr()+","+replica.Addr()))
	require.NoError(t, err)
	defer db.Close()

	var (
		mu         sync.Mutex
		acked      []int
		writeErrs  atomic.Int64
		readErrs   atomic.Int64
		firstAfter atomic.Int64 // unix nanos of the first write acknowledged after promotion
		promotedAt atomic.Int64
	)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				id := w*1_000_000 + n
				_, err := db.ExecContext(ctx, "INSERT INTO ledger VALUES (?, ?)", id, w)
				if err != nil {
					if ctx.Err() == nil {
						writeErrs.Add(1)
					}
					continue
				}
				now := time.Now().UnixNano()
				if p := promotedAt.Load(); p != 0 && now > p {
					firstAfter.CompareAndSwap(0, now)
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() { // autocommit reads ride through (retried once when only reading)
		defer wg.Done()
		for ctx.Err() == nil {
			var n int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM ledger").Scan(&n); err != nil && ctx.Err() == nil {
				readErrs.Add(1)
			}
		}
	}()

	time.Sleep(500 * time.Millisecond)
	primary.Kill()
	time.Sleep(200 * time.Millisecond)
	promotedAt.Store(time.Now().UnixNano())
	replica.Promote(t)
	require.Eventually(t, func() bool { return firstAfter.Load() != 0 }, 20*time.Second, 5*time.Millisecond,
		"no write succeeded after the promotion")
	time.Sleep(300 * time.Millisecond)
	stop()
	wg.Wait()
	recovery := time.Duration(firstAfter.Load() - promotedAt.Load())

	// The ledger: every acknowledged write is on the new writer exactly
	// once (the primary key makes "more than once" impossible to hide), or
	// was still on its way through asynchronous replication when the
	// primary died: then the old primary has it.
	mu.Lock()
	defer mu.Unlock()
	onNew := map[int]bool{}
	rows, err := replica.DB(t).Query("SELECT id FROM ledger")
	require.NoError(t, err)
	for rows.Next() {
		var id int
		require.NoError(t, rows.Scan(&id))
		onNew[id] = true
	}
	require.NoError(t, rows.Close())
	var missing []int
	for _, id := range acked {
		if !onNew[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		primary.Restart(t)
		for _, id := range missing {
			require.EqualValues(t, 1, primary.QueryInt(t, "SELECT COUNT(*) FROM ledger WHERE id = ?", id),
				"acknowledged write %d is on neither server", id)
		}
	}
	st := db.PoolStats()
	t.Logf("recovery: first write %v after promotion; %d writes acknowledged, %d still in replication when the primary died; "+
		"write errors %d, read errors %d; backend connections closed on failover: %d",
		recovery, len(acked), len(missing), writeErrs.Load(), readErrs.Load(), st.ClosedCount(pool.CloseInvalidated))
}

// TestFailoverInsideTransaction: a transaction whose writer dies reports
// that its resolution is unknown, never a silent success or replay.
func TestFailoverInsideTransaction(t *testing.T) {
	t.Parallel()
	primary, replica := mariadbtest.StartReplicaPair(t)
	primary.CreateUser(t, "app", "pw")
	primary.Exec(t, "CREATE TABLE t (id INT PRIMARY KEY)")
	replica.WaitReplicaCaughtUp(t, primary)
	db, err := sql.Open("rdsmux", primary.UserDSN("app", "pw", "test", "maxConnections=2&connectionBorrowTimeout=30s"+
		"&failover=readonly&failoverHosts="+primary.Addr()+","+replica.Addr()))
	require.NoError(t, err)
	defer db.Close()

	tx, err := db.Begin()
	require.NoError(t, err)
	_, err = tx.Exec("INSERT INTO t VALUES (1)")
	require.NoError(t, err)
	primary.Kill()
	replica.Promote(t)
	_, err = tx.Exec("INSERT INTO t VALUES (2)")
	require.Error(t, err)
	require.True(t, errors.Is(err, failover.ErrTransactionResolutionUnknown), "got %v", err)
	_ = tx.Rollback()

	// The handle itself carries on against the new writer.
	require.Eventually(t, func() bool {
		_, err := db.Exec("INSERT INTO t VALUES (3)")
		return err == nil
	}, 20*time.Second, 10*time.Millisecond)
	require.EqualValues(t, 0, replica.QueryInt(t, "SELECT COUNT(*) FROM t WHERE id IN (1, 2)"))
}
