package rdsmux_test

import (
	"context"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/internal/redistest"
)

func TestParseDSNFleet(t *testing.T) {
	dsn := "app@tcp(127.0.0.1:3306)/d?maxConnections=20&fleet=" + url.QueryEscape("redis://u:p@127.0.0.1:6379/2") + "&fleetName=orders"
	cfg, err := rdsmux.ParseDSN(dsn)
	require.NoError(t, err)
	assert.Equal(t, "redis://u:p@127.0.0.1:6379/2", cfg.Fleet)
	assert.Equal(t, "orders", cfg.FleetName)
	again, err := rdsmux.ParseDSN(cfg.FormatDSN())
	require.NoError(t, err)
	assert.Equal(t, cfg, again)
}

// TestDriverFleetBudget: with fleet=, the driver's pool takes its cap from
// the budget, and its KILL QUERY connections count too.
func TestDriverFleetBudget(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	s := mariadbtest.Start(t)
	s.CreateUser(t, "app", "app-pw")
	db, err := rdsmux.Open(s.UserDSN("app", "app-pw", "test", "maxConnections=3&fleet="+url.QueryEscape(r.URL())))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	base := s.ThreadsConnected(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var v int
			errs <- db.QueryRowContext(ctx, "SELECT SLEEP(0.02) + 1").Scan(&v)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, s.ThreadsConnected(t)-base, 3)
	st := db.PoolStats()
	require.NotNil(t, st.Fleet)
	assert.Equal(t, 3, st.Fleet.Total)
	assert.LessOrEqual(t, st.MaxDatabaseConnectionsAllowed, 3)
	assert.Positive(t, st.Fleet.Renewals)
	assert.Equal(t, s.Addr(), st.Fleet.Name)
}

// TestDriverFleetCountsProbes: with failover=, the monitor's probe
// connections count in the fleet budget: the pool's cap leaves room for
// them, and the server never sees more than the budget.
func TestDriverFleetCountsProbes(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	s := mariadbtest.Start(t)
	s.CreateUser(t, "app", "app-pw")
	params := "maxConnections=3&failover=readonly&fleet=" + url.QueryEscape(r.URL())
	db, err := rdsmux.Open(s.UserDSN("app", "app-pw", "test", params))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	stop := make(chan struct{})
	var maxSeen atomic.Int64
	sampled := make(chan struct{})
	go func() { // ends when stop closes
		defer close(sampled)
		root := s.DB(t)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			var n int64
			if root.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app'").Scan(&n) == nil && n > maxSeen.Load() {
				maxSeen.Store(n)
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				var v int
				errs <- db.QueryRowContext(ctx, "SELECT SLEEP(0.01) + 1").Scan(&v)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st := db.PoolStats()
	require.NotNil(t, st.Fleet)
	assert.Positive(t, st.Fleet.Outside, "the probe connection is counted")
	assert.LessOrEqual(t, st.MaxDatabaseConnectionsAllowed, 3-st.Fleet.Outside)
	assert.LessOrEqual(t, maxSeen.Load(), int64(3), "connections of app seen by the server")
	t.Logf("budget 3 with failover probes: at most %d connections, %d of them probes now", maxSeen.Load(), st.Fleet.Outside)
}

// TestDriverFleetPercent: without maxConnections, the fleet's budget is
// maxConnectionsPercent of the server's max_connections, read by the
// first process to connect (each process may open one connection until
// the budget is known).
func TestDriverFleetPercent(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	s := mariadbtest.Start(t, mariadbtest.WithMaxConnections(100))
	s.CreateUser(t, "app", "app-pw")
	db, err := rdsmux.Open(s.UserDSN("app", "app-pw", "test", "maxConnectionsPercent=4&fleet="+url.QueryEscape(r.URL())))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var v int
			assert.NoError(t, db.QueryRow("SELECT SLEEP(0.05) + 1").Scan(&v))
		}()
	}
	wg.Wait()
	st := db.PoolStats()
	require.NotNil(t, st.Fleet)
	assert.Equal(t, 4, st.Fleet.Total, "4% of max_connections=100")
	assert.LessOrEqual(t, st.MaxDatabaseConnectionsAllowed, 4)
}
