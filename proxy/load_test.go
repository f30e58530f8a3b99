package proxy_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loadShape is the short-lived-clients load: clients goroutines, each
// connecting, querying and closing rounds times. RDSMUX_LONG=1 runs more
// rounds.
func loadShape() (clients, rounds int) {
	if os.Getenv("RDSMUX_LONG") != "" {
		return 1000, 20
	}
	return 1000, 2
}

// shortLivedClients runs the load against dsn and returns the errors.
func shortLivedClients(dsn string, clients, rounds int) []error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	start := make(chan struct{})
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() { // one short-lived client; ends after its rounds
			defer wg.Done()
			<-start
			for r := 0; r < rounds; r++ {
				if err := oneClient(dsn, 1+(i+r)%3); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// oneClient connects, runs the article's query and disconnects.
func oneClient(dsn string, id int) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var got int
	var name string
	if err := db.QueryRowContext(ctx, "SELECT * FROM users WHERE id = ?", id).Scan(&got, &name); err != nil {
		return err
	}
	if got != id {
		return fmt.Errorf("asked for id %d, got %d", id, got)
	}
	return nil
}

// TestThousandShortLivedClients: 1,000 concurrent short-lived clients
// through a pool of 20 backends: no errors, and the server never sees more
// than 20 connections of the user. The same load straight to a server with
// max_connections=200 fails with "Too many connections".
func TestThousandShortLivedClients(t *testing.T) {
	clients, rounds := loadShape()
	e := startEnv(t, withBackends(20), withBorrowTimeout(60*time.Second))
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // samples the server's connections of appUser until stop
		defer close(sampled)
		root := e.db.DB(t)
		for {
			var n int64
			if err := root.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?", appUser).Scan(&n); err == nil && n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	begin := time.Now()
	errs := shortLivedClients(e.dsn(appUser, appPass, "timeout=30s"), clients, rounds)
	elapsed := time.Since(begin)
	close(stop)
	<-sampled
	for i, err := range errs {
		if i < 5 {
			assert.NoError(t, err, "client error: %v", err)
		}
	}
	require.Empty(t, errs, "%d of %d client connections failed through the listener", len(errs), clients*rounds)
	st := e.srv.Stats()
	t.Logf("through the listener: %d clients x %d rounds in %v, 0 errors; peak server connections of %q: %d; pool: %d opened, %d waits, borrow p99 <= %v",
		clients, rounds, elapsed.Round(time.Millisecond), appUser, peak.Load(), st.Pool.DatabaseConnectionsSetupSucceeded,
		st.Pool.WaitCount, st.Pool.DatabaseConnectionsBorrowLatency.Quantile(0.99))
	p := peak.Load()
	require.LessOrEqual(t, p, int64(20), "the server saw %d connections of %q; the pool's cap is 20", p, appUser)
	n := e.db.ConnectionsOf(t, appUser)
	require.LessOrEqual(t, n, 20, "%d connections of %q after the load", n, appUser)
	assert.GreaterOrEqual(t, st.ClientConnectionsSetupSucceeded, int64(clients*rounds), "ClientConnectionsSetupSucceeded = %d", st.ClientConnectionsSetupSucceeded)

	// The same load straight to a server with max_connections = 200.
	direct := mariadbtest.Start(t, mariadbtest.WithMaxConnections(200))
	prepareDB(t, direct)
	begin = time.Now()
	errs = shortLivedClients(direct.UserDSN(appUser, appPass, "test", "timeout=30s"), clients, rounds)
	elapsed = time.Since(begin)
	tooMany := 0
	for _, err := range errs {
		if mysqlErr(err) == 1040 || strings.Contains(err.Error(), "Too many connections") {
			tooMany++
		}
	}
	if len(errs) > 0 {
		t.Logf("direct to max_connections=200: %d of %d clients failed in %v, %d with %q; first: %v",
			len(errs), clients, elapsed.Round(time.Millisecond), tooMany, "Too many connections", errs[0])
	}
	require.NotEqual(t, 0, tooMany, "direct load did not hit max_connections (%d errors)", len(errs))
}
