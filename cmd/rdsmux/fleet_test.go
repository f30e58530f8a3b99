package main

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/internal/redistest"
	"github.com/rdsmux/rdsmux/pool"
)

func TestFleetMetrics(t *testing.T) {
	var b strings.Builder
	writeFleetMetrics(&b, nil)
	if b.Len() != 0 {
		t.Fatalf("metrics without -fleet: %q", b.String())
	}
	writeFleetMetrics(&b, &pool.BudgetStats{Total: 40, Held: 6, Allowed: 6, Wanted: 8, Live: 5, Renewals: 12, RenewalFailures: 1, Fallback: true, FallbackCap: 3, FallbackEntered: 1})
	for _, want := range []string{
		"rdsmux_fleet_budget 40\n",
		"rdsmux_fleet_slots_held 6\n",
		"rdsmux_fleet_slots_wanted 8\n",
		"rdsmux_fleet_lease_renewals_total 12\n",
		"rdsmux_fleet_lease_renewal_failures_total 1\n",
		"rdsmux_fleet_fallback 1\n",
		"# TYPE rdsmux_fleet_fallback gauge\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, b.String())
		}
	}
}

// TestRunWithFleet: -fleet and -fleet-name put the listener's pool on a
// shared budget, shown on /metrics.
func TestRunWithFleet(t *testing.T) {
	db := mariadbtest.Start(t)
	db.CreateUser(t, "app", "pw")
	r := redistest.Start(t)
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() { // the command; ends when ctx is cancelled
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-metrics", "127.0.0.1:0", "-target", db.Addr(),
			"-user", "app:pw", "-max-connections", "3", "-fleet", r.URL(), "-fleet-name", "orders"}, &logs, func(c, m string) { addrs <- [2]string{c, m} })
	}()
	var a [2]string
	select {
	case a = <-addrs:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	client, err := sql.Open("mysql", "app:pw@tcp("+a[0]+")/test")
	must(t, err)
	var v int
	must(t, client.QueryRow("SELECT 1").Scan(&v))
	metrics := get(t, "http://"+a[1]+"/metrics")
	for _, want := range []string{"rdsmux_fleet_budget 3\n", "rdsmux_fleet_fallback 0\n", "rdsmux_fleet_processes 1\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics)
		}
	}
	client.Close()
	cancel()
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}
