package main

import (
	"context"
	"testing"
	"time"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	if got := percentile(ds, 0.5); got != 5 {
		t.Errorf("p50 = %v", got)
	}
	if got := percentile(ds, 0.99); got != 10 {
		t.Errorf("p99 = %v", got)
	}
	if got := percentile(ds, 0); got != 1 {
		t.Errorf("p0 = %v", got)
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("empty = %v", got)
	}
}

// TestSweepMariaDB runs a small sweep against a real server: every series
// at every level, every round, measures something and counts no errors.
func TestSweepMariaDB(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB")
	}
	srv := mariadbtest.Start(t, mariadbtest.WithMaxConnections(200))
	ctx := context.Background()
	if err := setupSweepServer(ctx, srv); err != nil {
		t.Fatal(err)
	}
	if n := srv.QueryInt(t, "SELECT COUNT(*) FROM bench_kv"); n != 1000 {
		t.Fatalf("bench_kv has %d rows", n)
	}
	var lines []string
	cfg := SweepConfig{
		DSN:      func(params string) string { return srv.UserDSN("bench", "bench-pw", "test", params) },
		Series:   DefaultSeries(),
		Levels:   []int{1, 8},
		Warmup:   50 * time.Millisecond,
		Duration: 100 * time.Millisecond,
		Rounds:   2,
		Progress: func(s string) { lines = append(lines, s) },
	}
	points, err := Sweep(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(points) != len(cfg.Series)*len(cfg.Levels) || len(lines) != len(points)*cfg.Rounds {
		t.Fatalf("%d points, %d progress lines", len(points), len(lines))
	}
	for i, p := range points {
		s, l := cfg.Series[i/len(cfg.Levels)], cfg.Levels[i%len(cfg.Levels)]
		if p.Series != s.Name || p.Goroutines != l || len(p.OpsPerSec) != 2 || p.Throughput() <= 0 || p.Errors != 0 || p.P50 <= 0 || p.P99 < p.P50 {
			t.Errorf("point %d = %+v", i, p)
		}
	}
}

// A cancelled context ends the sweep with its error.
func TestSweepCancelled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB")
	}
	srv := mariadbtest.Start(t)
	if err := setupSweepServer(context.Background(), srv); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Sweep(ctx, SweepConfig{DSN: func(p string) string { return srv.UserDSN("bench", "bench-pw", "test", p) },
		Series: DefaultSeries(), Levels: []int{4}, Duration: time.Hour, Rounds: 1})
	if err == nil {
		t.Fatal("no error from a cancelled sweep")
	}
}
