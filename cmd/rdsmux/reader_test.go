package main

import (
	"context"
	"database/sql"
	"net"
	"strconv"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/internal/redistest"
)

// valueAt returns the value of family name's sample labelled
// endpoint=ep.
func valueAt(t *testing.T, mf map[string]*dto.MetricFamily, name, ep string) float64 {
	t.Helper()
	f, ok := mf[name]
	require.True(t, ok, "/metrics lacks %s", name)
	for _, m := range f.Metric {
		for _, l := range m.Label {
			if l.GetName() == "endpoint" && l.GetValue() == ep {
				return m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("/metrics lacks %s{endpoint=%q}", name, ep)
	return 0
}

// TestRunReaderMetricsAndFleet: with -reader-listen, /metrics exports the
// reader endpoint's statistics under endpoint="reader" (the main
// listener's under endpoint="writer"), and they move as reader clients
// run statements; with -fleet the reader pool takes its connections from
// a budget of its own, -fleet-name + "/reader", which holds a slot for
// every connection it opened.
func TestRunReaderMetricsAndFleet(t *testing.T) {
	w := mariadbtest.Start(t)
	r1 := mariadbtest.Start(t)
	r2 := mariadbtest.Start(t)
	for _, db := range []*mariadbtest.Server{w, r1, r2} {
		db.CreateUser(t, "app", "pw")
	}
	for _, db := range []*mariadbtest.Server{r1, r2} {
		db.Exec(t, "SET GLOBAL read_only = 1")
	}
	rd := redistest.Start(t)
	free, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	readerAddr := free.Addr().String()
	free.Close()
	run := startRun(t, "-target", w.Addr()+","+r1.Addr()+","+r2.Addr(), "-failover", "readonly",
		"-backend-user", "app", "-backend-password", "pw", "-user", "app:pw", "-reader-listen", readerAddr,
		"-max-connections", "4", "-fleet", rd.URL(), "-fleet-name", "orders")

	before := scrape(t, run.metrics)
	assert.Zero(t, valueAt(t, before, "rdsmux_query_requests_total", "reader"))
	writerQueries := valueAt(t, before, "rdsmux_query_requests_total", "writer")

	reader, err := sql.Open("mysql", "app:pw@tcp("+readerAddr+")/test?timeout=30s")
	require.NoError(t, err)
	defer reader.Close()
	// Three transactions at once: three reader connections, each on the
	// reader budget.
	readers := map[int]bool{r1.Port(): true, r2.Port(): true}
	var txs []*sql.Tx
	for range 3 {
		tx, err := reader.Begin()
		require.NoError(t, err)
		var port int
		require.NoError(t, tx.QueryRow("SELECT @@port").Scan(&port))
		assert.True(t, readers[port], "a reader (%d) serves the reader endpoint, not %d", r1.Port(), port)
		txs = append(txs, tx)
	}
	during := scrape(t, run.metrics)
	assert.Equal(t, 3.0, valueAt(t, during, "rdsmux_database_connections_currently_borrowed", "reader"))
	assert.Equal(t, 3.0, valueAt(t, during, "rdsmux_client_connections", "reader"))
	assert.Equal(t, 3.0, valueAt(t, during, "rdsmux_client_connections_no_tls", "reader"))
	open := valueAt(t, during, "rdsmux_database_connections", "reader")
	assert.GreaterOrEqual(t, open, 3.0)
	assert.Equal(t, 4.0, valueAt(t, during, "rdsmux_fleet_budget", "reader"))
	assert.Equal(t, 1.0, valueAt(t, during, "rdsmux_fleet_processes", "reader"))
	assert.GreaterOrEqual(t, valueAt(t, during, "rdsmux_fleet_slots_held", "reader"), open,
		"every reader connection holds a slot of the reader budget")
	assert.Equal(t, 4.0, valueAt(t, during, "rdsmux_fleet_budget", "writer"), "the writer's budget is apart")
	// Redis has the two budgets; the reader one holds the reader pool's
	// slots.
	rc := redis.NewClient(&redis.Options{Addr: rd.Addr()})
	defer rc.Close()
	ctx := context.Background()
	for _, name := range []string{"orders", "orders/reader"} {
		total, err := rc.Get(ctx, "rdsmux:{"+name+"}:total").Result()
		require.NoError(t, err, "budget %s", name)
		assert.Equal(t, "4", total, "budget %s", name)
	}
	held, err := rc.HGetAll(ctx, "rdsmux:{orders/reader}:held").Result()
	require.NoError(t, err)
	require.Len(t, held, 1, "one process on the reader budget")
	for _, v := range held {
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, float64(n), open, "slots held in Redis for the reader pool")
	}
	var wg sync.WaitGroup
	for _, tx := range txs {
		wg.Add(1)
		go func() { // ends with its commit
			defer wg.Done()
			assert.NoError(t, tx.Commit())
		}()
	}
	wg.Wait()

	after := scrape(t, run.metrics)
	assert.GreaterOrEqual(t, valueAt(t, after, "rdsmux_query_requests_total", "reader"), 6.0, "3 SELECTs and 3 COMMITs at least")
	assert.GreaterOrEqual(t, valueAt(t, after, "rdsmux_database_connections_borrow_requests_total", "reader"), 3.0)
	assert.Equal(t, writerQueries, valueAt(t, after, "rdsmux_query_requests_total", "writer"), "the writer endpoint ran nothing")
	reader.Close()
	run.stop(t)
}
