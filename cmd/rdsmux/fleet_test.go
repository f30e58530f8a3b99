package main

import (
	"database/sql"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/internal/redistest"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
)

func TestFleetMetrics(t *testing.T) {
	var fs *pool.BudgetStats
	reg := prometheus.NewRegistry()
	reg.MustRegister(newFleetCollector(func() proxy.Stats { return proxy.Stats{Pool: pool.Stats{Fleet: fs}} }, nil))
	got := func() map[string]float64 {
		mfs, err := reg.Gather()
		must(t, err)
		m := map[string]float64{}
		for _, mf := range mfs {
			for _, x := range mf.GetMetric() {
				m[mf.GetName()] = x.GetGauge().GetValue() + x.GetCounter().GetValue()
			}
		}
		return m
	}
	require.Empty(t, got(), "metrics without -fleet")
	fs = &pool.BudgetStats{Total: 40, Held: 6, Allowed: 6, Wanted: 8, Live: 5, Renewals: 12, RenewalFailures: 1, Fallback: true, FallbackCap: 3, FallbackEntered: 1}
	m := got()
	for name, want := range map[string]float64{
		"rdsmux_fleet_budget": 40, "rdsmux_fleet_slots_held": 6, "rdsmux_fleet_slots_wanted": 8,
		"rdsmux_fleet_lease_renewals_total": 12, "rdsmux_fleet_lease_renewal_failures_total": 1,
		"rdsmux_fleet_fallback": 1, "rdsmux_fleet_fallback_cap": 3, "rdsmux_fleet_processes": 5,
	} {
		assert.Equal(t, want, m[name], name)
	}
}

// TestRunWithFleet: -fleet and -fleet-name put the listener's pool on a
// shared budget, shown on /metrics.
func TestRunWithFleet(t *testing.T) {
	db := mariadbtest.Start(t)
	db.CreateUser(t, "app", "pw")
	r := redistest.Start(t)
	run := startRun(t, "-target", db.Addr(), "-user", "app:pw", "-max-connections", "3", "-fleet", r.URL(), "-fleet-name", "orders")
	client, err := sql.Open("mysql", "app:pw@tcp("+run.clients+")/test")
	must(t, err)
	defer client.Close()
	var v int
	must(t, client.QueryRow("SELECT 1").Scan(&v))
	mf := scrape(t, run.metrics)
	for name, want := range map[string]float64{"rdsmux_fleet_budget": 3, "rdsmux_fleet_fallback": 0, "rdsmux_fleet_processes": 1} {
		f := mf[name]
		if assert.NotNil(t, f, "/metrics: %s", name) && assert.Len(t, f.GetMetric(), 1, "/metrics: %s", name) {
			assert.Equal(t, want, f.GetMetric()[0].GetGauge().GetValue(), "/metrics: %s", name)
		}
	}
	client.Close()
	run.stop(t)
}
