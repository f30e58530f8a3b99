package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rdsmux/rdsmux/fleet"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
)

// fleetBudget is the listener's membership in a fleet budget; nil without
// -fleet.
type fleetBudget struct{ m *fleet.Member }

// newFleet returns the fleet budget -fleet asks for, or nil. The budget's
// name is -fleet-name (default -target) followed by suffix ("" for the
// main pool's, readerFleetSuffix for the reader endpoint's).
func newFleet(cfg *config, suffix string, log *slog.Logger) (*fleetBudget, error) {
	if cfg.fleet == "" {
		return nil, nil
	}
	name := cfg.fleetName
	if name == "" {
		name = cfg.target
	}
	name += suffix
	m, err := fleet.New(fleet.Config{URL: cfg.fleet, Name: name, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("-fleet: %w", err)
	}
	return &fleetBudget{m: m}, nil
}

// budget is the pool's Budget (nil without -fleet).
func (f *fleetBudget) budget() pool.Budget {
	if f == nil {
		return nil
	}
	return f.m
}

// close leaves the budget when no pool took it (nil-safe).
func (f *fleetBudget) close() {
	if f != nil {
		f.m.Detach()
	}
}

// track counts failover probes in the budget (nil without -fleet).
func (f *fleetBudget) track() func(open bool) {
	if f == nil {
		return nil
	}
	return f.m.Track
}

// trackDial makes the connections of dial (the readiness probe's) count in
// the budget while open (nil-safe: dial itself without -fleet).
func (f *fleetBudget) trackDial(dial func(ctx context.Context, key string) (pool.Conn, error)) func(ctx context.Context, key string) (pool.Conn, error) {
	if f == nil {
		return dial
	}
	return func(ctx context.Context, key string) (pool.Conn, error) {
		f.m.Track(true) // before the connection exists: the pool makes room first
		c, err := dial(ctx, key)
		if err != nil {
			f.m.Track(false)
			return nil, err
		}
		return &trackedConn{Conn: c, untrack: func() { f.m.Track(false) }}, nil
	}
}

// trackedConn is a connection counted in the fleet budget until closed.
type trackedConn struct {
	pool.Conn
	once    sync.Once
	untrack func()
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.untrack)
	return err
}

// fleetCollector is a prometheus.Collector of the fleet budget's gauges
// and counters, read from the pool's Stats once per scrape; it emits
// nothing without -fleet.
type fleetCollector struct {
	stats   func() proxy.Stats
	metrics []fleetMetric
}

// fleetMetric is one number of pool.BudgetStats.
type fleetMetric struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
	get  func(*pool.BudgetStats) float64
}

// newFleetCollector describes the fleet metrics of one endpoint's pool,
// with labels as constant labels.
func newFleetCollector(stats func() proxy.Stats, labels prometheus.Labels) *fleetCollector {
	c := &fleetCollector{stats: stats}
	add := func(name string, typ prometheus.ValueType, help string, get func(*pool.BudgetStats) float64) {
		c.metrics = append(c.metrics, fleetMetric{prometheus.NewDesc(metricPrefix+name, help, nil, labels), typ, get})
	}
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	add("fleet_budget", gauge, "Connections the whole fleet may open (0: not known yet).", func(f *pool.BudgetStats) float64 { return float64(f.Total) })
	add("fleet_slots_held", gauge, "Slots of the fleet budget this process holds.", func(f *pool.BudgetStats) float64 { return float64(f.Held) })
	add("fleet_slots_allowed", gauge, "Connections this process may open now.", func(f *pool.BudgetStats) float64 { return float64(f.Allowed) })
	add("fleet_slots_wanted", gauge, "Slots this process asked for last.", func(f *pool.BudgetStats) float64 { return float64(f.Wanted) })
	add("fleet_processes", gauge, "Processes holding a lease on the budget.", func(f *pool.BudgetStats) float64 { return float64(f.Live) })
	add("fleet_lease_renewals_total", counter, "Lease renewals that succeeded.", func(f *pool.BudgetStats) float64 { return float64(f.Renewals) })
	add("fleet_lease_renewal_failures_total", counter, "Lease renewals that failed (Redis unreachable, slow or failing over).", func(f *pool.BudgetStats) float64 { return float64(f.RenewalFailures) })
	add("fleet_redis_round_trips_total", counter, "Requests to Redis.", func(f *pool.BudgetStats) float64 { return float64(f.RoundTrips) })
	add("fleet_fallback", gauge, "1 while the lease lapsed and the local fallback cap applies.", func(f *pool.BudgetStats) float64 {
		if f.Fallback {
			return 1
		}
		return 0
	})
	add("fleet_fallback_cap", gauge, "The local cap used in fallback.", func(f *pool.BudgetStats) float64 { return float64(f.FallbackCap) })
	add("fleet_fallback_entered_total", counter, "Times the fallback was entered.", func(f *pool.BudgetStats) float64 { return float64(f.FallbackEntered) })
	return c
}

// Describe implements prometheus.Collector.
func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

// Collect implements prometheus.Collector.
func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	f := st.Pool.Fleet
	if f == nil {
		return
	}
	for _, m := range c.metrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.typ, m.get(f))
	}
}
