// Command report runs rdsmux's benchmarks side by side with their
// baselines and writes bench/REPORT.md with the tables and SVG plots
// (bench/throughput.svg, bench/latency.svg):
//
//   - pool: go test -bench over ./pool/... (rdsmux vs jackc/puddle/v2);
//   - driver: BenchmarkDriver (rdsmux vs plain go-sql-driver);
//   - sweep: a closed-loop concurrency sweep of its own against a
//     throwaway MariaDB (go-sql-driver vs rdsmux, 1 to 256 goroutines);
//   - sysbench: bench/sysbench.sh (direct vs through the listener);
//   - failover: the repeated failover drill and the drill through the pool;
//   - demo: examples/demo's burst table.
//
// Every comparison is a ratio measured in the same run. Raw output goes
// to bench/out/. Run it from the repository root, usually through
// bench/run.sh:
//
//	go run ./bench/report            # about 10 minutes
//	go run ./bench/report -quick     # about 2 minutes
//	go run ./bench/report -suites pool,driver
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	o, err := ParseOptions(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// run runs the suites asked for and writes the report. A suite that fails
// is reported as such in REPORT.md; run fails only when the report cannot
// be written, the run was interrupted, or (after writing the report) a
// suite failed.
func run(ctx context.Context, o Options) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return errors.New("run it from the repository root (bench/run.sh does)")
	}
	for _, dir := range []string{o.Scratch, o.OutDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	for _, log := range []string{"pool.txt", "driver.txt", "failover.txt", "demo.txt", "sysbench.txt"} {
		_ = os.Remove(filepath.Join(o.Scratch, log))
	}
	start := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%5.0fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	rn := Runner{Opts: o, Root: root, Log: logf}
	rep := &Report{Opts: o, Machine: DescribeMachine(ctx)}
	if o.runs("pool") {
		rep.Pool = rn.GoBench(ctx, "pool", ".", "./pool/...")
	}
	if o.runs("driver") && ctx.Err() == nil {
		rep.Driver = rn.GoBench(ctx, "driver", "^BenchmarkDriver$", ".")
		rep.Driver.Trim = "Driver/"
	}
	if o.runs("sweep") && ctx.Err() == nil {
		logf("sweep: %v goroutines, %s per point, %s", o.Levels, o.SweepFor, plural(o.SweepRounds, "round", "rounds"))
		rep.Sweep = rn.Sweep(ctx)
	}
	if o.runs("sysbench") && ctx.Err() == nil {
		rep.Sysbench = rn.Sysbench(ctx)
	}
	if o.runs("failover") && ctx.Err() == nil {
		rep.Failover = rn.Failover(ctx)
	}
	if o.runs("demo") && ctx.Err() == nil {
		rep.Demo = rn.Demo(ctx)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted; %s left as it was: %w", filepath.Join(o.OutDir, "REPORT.md"), err)
	}
	rep.Elapsed = time.Since(start)
	rep.Machine.LoadEnd = LoadAverage()
	rep.Plots = sweepPlots(rep.Sweep, rep.Machine)
	if rep.Sysbench != nil {
		rep.Plots = append(rep.Plots, rep.Sysbench.Plots(rep.Machine)...)
	}
	if err := writePlots(o.OutDir, rep.Plots); err != nil {
		return err
	}
	var buf bytes.Buffer
	rep.Write(&buf)
	path := filepath.Join(o.OutDir, "REPORT.md")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return err
	}
	logf("wrote %s", path)
	if fs := rep.failures(); len(fs) > 0 {
		for _, s := range fs {
			logf("FAILED: %s", s)
		}
		return fmt.Errorf("%s written, but %s failed (see the logs in %s)", path, plural(len(fs), "section", "sections"), o.Scratch)
	}
	return nil
}

// failures lists the sections that failed, for the runner's exit.
func (r *Report) failures() []string {
	var out []string
	add := func(name string, s *Section) {
		if s != nil && s.Err != nil {
			out = append(out, name+": "+oneLine(s.Err.Error()))
		}
	}
	if r.Pool != nil {
		add("pool", &r.Pool.Section)
	}
	if r.Driver != nil {
		add("driver", &r.Driver.Section)
	}
	if r.Sweep != nil {
		add("sweep", &r.Sweep.Section)
	}
	if r.Sysbench != nil {
		add("sysbench", &r.Sysbench.Section)
	}
	if r.Failover != nil {
		add("failover", &r.Failover.Section)
	}
	if r.Demo != nil {
		add("demo", &r.Demo.Section)
	}
	return out
}
