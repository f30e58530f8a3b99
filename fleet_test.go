package rdsmux_test

import (
	"context"
	"net/url"
	"sync"
	"testing"

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
