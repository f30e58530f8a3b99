package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// testdata/out is the raw output of a small real run:
//
//	COUNT=3 BENCHTIME=100x SWEEPTIME=300x LEVELS="1 16 64" DRILL=1 bench/run.sh
func TestReportFromASmallRun(t *testing.T) {
	dir := t.TempDir()
	r := &report{in: "testdata/out", out: dir, invoked: "bench/run.sh", elapsed: "5m",
		suites: strings.Fields("pool driver sweep sysbench failover demo")}
	var buf bytes.Buffer
	require.NoError(t, r.write(&buf))
	md := buf.String()
	for _, want := range []string{
		"## Headline", "## Machine", "## Reproduce", "## Pool: rdsmux vs jackc/puddle/v2",
		"## Driver: rdsmux vs go-sql-driver/mysql", "## Throughput and latency against concurrency",
		"## Listener: sysbench direct vs through rdsmux", "## Failover", "## Demo: the burst",
		// pool.txt: BorrowRelease rdsmux 141.9, 156.1, 188.9 ns; puddle 123.2, 125.1, 160.4 ns.
		"| `pool` BorrowRelease | 125.1ns ± ∞ | 156.1ns ± ∞ | **1.25×** | ~ p=0.400 n=3 | 0 → 0 | 0 → 0 |",
		"| `pool` LookBehindReclaim | rdsmux | 283.0ns ± ∞ | 0 | 0 |",
		"| driver: param-select/goroutines=1 | go-sql-driver | **0.47×** the time per operation | ~ p=0.100 n=3 |",
		"| goroutines | go-sql-driver q/s | go-sql-driver interpolateParams q/s | go-sql-driver ≤16 conns q/s | rdsmux q/s |",
		"Errors during measurement: 0.",
		"| sweep: queries/s at 64 goroutines | go-sql-driver, at most 16 connections (database/sql pool) |",
		"| listener: sysbench oltp_point_select, 64 threads, ps-mode=auto | sysbench direct to MariaDB |",
		"| kill | 1 | **95ms** / 95ms | 312ms / 312ms | 3.99ms / 3.99ms | 4.0 |",
		"first write **110ms** after the promotion; 7272 writes acknowledged",
		"| demo, 10 → 1,000 handlers: errors | connection per request: 38,626 | **0** | one run |",
		"peak database connections                122                 20",
	} {
		require.Contains(t, md, want)
	}
	for _, f := range []string{"throughput.svg", "latency.svg", "sysbench-oltp_point_select.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		require.Contains(t, string(b), "<svg")
	}
}

func TestMissingInputsFailTheReport(t *testing.T) {
	r := &report{in: t.TempDir(), out: t.TempDir(), suites: []string{"sysbench", "demo"}}
	require.Error(t, r.write(&bytes.Buffer{}))
}

func TestImplFromTheName(t *testing.T) {
	ss, err := parseBench(strings.NewReader("pkg: example.com/x\n"+
		"BenchmarkA/impl=puddle-2 100 10 ns/op\n"+
		"BenchmarkA/impl=rdsmux-2 100 5 ns/op\n"+
		"BenchmarkDriver/q/go-sql-driver-2 100 8 ns/op\n"+
		"BenchmarkDriver/q/rdsmux-2 100 4 ns/op\n"+
		"BenchmarkSolo-2 100 3 ns/op\n"), "t")
	require.NoError(t, err)
	cs, solo := compare(ss, "sec/op")
	require.Len(t, cs, 2)
	require.Equal(t, "puddle", cs[0].base.impl)
	require.InDelta(t, 0.5, cs[0].ratio, 1e-9)
	require.Equal(t, "Driver/q", cs[1].subj.kase)
	require.Equal(t, "`x` Solo", caseName(solo[0], ""))
}

func TestPoolFailoverLineChangedShape(t *testing.T) {
	require.Empty(t, poolFailoverLine("nothing here"))
	require.Contains(t, poolFailoverLine("recovery: first write soon"), "changed shape")
}

// A sysbench CSV with rounds: each ratio is the median of the ratios
// within the rounds, with their range.
func TestSysbenchRounds(t *testing.T) {
	csv := "workload,ps_mode,threads,target,tps,p50_ms,p95_ms,errors,round\n" +
		"w,auto,16,direct,1000,1,1,0,1\n" + "w,auto,16,listener,500,1,1,0,1\n" + "w,auto,16,haproxy,400,1,1,0,1\n" +
		"w,auto,16,direct,2000,1,1,0,2\n" + "w,auto,16,listener,600,1,1,0,2\n" + "w,auto,16,haproxy,800,1,1,0,2\n" +
		"w,auto,16,direct,1000,1,1,0,3\n" + "w,auto,16,listener,400,1,1,0,3\n" + "w,auto,16,haproxy,500,1,1,0,3\n"
	path := filepath.Join(t.TempDir(), "sysbench.csv")
	require.NoError(t, os.WriteFile(path, []byte(csv), 0o644))
	runs, err := readSysbench(path)
	require.NoError(t, err)
	require.Equal(t, 1000.0, sysbenchTPS(runs, "w", "auto", "direct", 16))
	med, lo, hi, n := sysbenchRatio(runs, "w", "auto", "listener", "haproxy", 16)
	require.Equal(t, 3, n)
	require.InDelta(t, 0.75, lo, 1e-9) // round 2: 600/800
	require.InDelta(t, 0.8, med, 1e-9) // round 3: 400/500
	require.InDelta(t, 1.25, hi, 1e-9) // round 1: 500/400
	require.Equal(t, "median of 3 rounds, range 0.75–1.25", roundsNote(lo, hi, n))
}
