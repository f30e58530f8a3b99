package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// Section is what every part of the report has: the commands it ran, how
// long it took, and why it is missing or incomplete.
type Section struct {
	Commands []Command
	Skipped  string // set when the section did not run, says why
	Err      error  // set when it ran and failed (what it has is still shown)
	Elapsed  time.Duration
}

// Runner runs the suites from the repository root.
type Runner struct {
	Opts Options
	Root string
	Log  func(format string, args ...any) // progress, to stderr
}

// BenchSuite is a `go test -bench` suite run in rounds.
type BenchSuite struct {
	Section
	Rounds      int
	Comparisons []Comparison
	Fails       []string
	CPU         string
	Trim        string // a case-name prefix the tables leave out
}

// GoBench runs `go test -bench` on pkgs once per round and compares
// rdsmux with its baselines over the rounds.
func (r Runner) GoBench(ctx context.Context, name, bench string, pkgs ...string) *BenchSuite {
	s := &BenchSuite{Rounds: r.Opts.Rounds}
	start := time.Now()
	defer func() { s.Elapsed = time.Since(start) }()
	args := []string{"go", "test", "-run", "^$", "-bench", bench, "-benchmem", "-benchtime", r.Opts.BenchTime, "-count", "1", "-v"}
	cmd := Command{Args: append(args, pkgs...), Timeout: 10 * time.Minute, Log: name + ".txt"}
	s.Commands = []Command{cmd}
	var all []Bench
	for round := 1; round <= s.Rounds; round++ {
		r.Log("%s: round %d of %d: %s", name, round, s.Rounds, cmd)
		out, err := cmd.Run(ctx, r.Root, r.Opts.Scratch)
		parsed, perr := ParseBench(strings.NewReader(out))
		all = append(all, parsed.Benches...)
		s.Fails = append(s.Fails, parsed.Fails...)
		if s.CPU == "" {
			s.CPU = parsed.CPU
		}
		if err == nil {
			err = perr
		}
		if err == nil && len(parsed.Benches) == 0 {
			err = fmt.Errorf("%s: no benchmark results (output in %s)", cmd, filepath.Join(r.Opts.Scratch, cmd.Log))
		}
		if err != nil {
			s.Err = err
			break
		}
	}
	s.Comparisons = Compare(all)
	return s
}

// SweepSuite is the concurrency sweep.
type SweepSuite struct {
	Section
	Config SweepConfig
	Points []SweepPoint
}

// Sweep launches a throwaway MariaDB and runs the concurrency sweep
// against it.
func (r Runner) Sweep(ctx context.Context) *SweepSuite {
	s := &SweepSuite{}
	start := time.Now()
	defer func() { s.Elapsed = time.Since(start) }()
	srv, err := mariadbtest.Launch(mariadbtest.WithMaxConnections(1000))
	if srv != nil {
		defer srv.Close()
	}
	if err != nil {
		s.Err = fmt.Errorf("starting MariaDB: %w", err)
		return s
	}
	if err := setupSweepServer(ctx, srv); err != nil {
		s.Err = err
		return s
	}
	s.Config = SweepConfig{
		DSN:      func(params string) string { return srv.UserDSN("bench", "bench-pw", "test", params) },
		Series:   DefaultSeries(),
		Levels:   r.Opts.Levels,
		Warmup:   300 * time.Millisecond,
		Duration: r.Opts.SweepFor,
		Rounds:   r.Opts.SweepRounds,
		Progress: func(line string) { r.Log("%s", line) },
	}
	if r.Opts.Quick {
		s.Config.Warmup = 150 * time.Millisecond
	}
	s.Points, s.Err = Sweep(ctx, s.Config)
	return s
}

// setupSweepServer creates the benchmark account and table.
func setupSweepServer(ctx context.Context, srv *mariadbtest.Server) error {
	db, err := sql.Open("mysql", srv.DSN("timeout=5s"))
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE USER IF NOT EXISTS 'bench'@'%' IDENTIFIED BY 'bench-pw'",
		"GRANT ALL PRIVILEGES ON *.* TO 'bench'@'%'",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return SetupSweep(ctx, db)
}

// FailoverSuite is the failover drill: rdsmux's dialer and pool against
// plain go-sql-driver on a fixed address.
type FailoverSuite struct {
	Section
	Drills   []Drill
	Pool     *PoolFailover
	Unparsed []string // summary lines the parser did not understand
}

// Failover runs the repeated drill and the drill through the pool.
func (r Runner) Failover(ctx context.Context) *FailoverSuite {
	s := &FailoverSuite{}
	start := time.Now()
	defer func() { s.Elapsed = time.Since(start) }()
	drill := Command{Env: []string{"RDSMUX_DRILL=" + strconv.Itoa(r.Opts.DrillRuns)},
		Args:    []string{"go", "test", "-run", "^TestFailoverDrillRepeated$", "-count", "1", "-v", "-timeout", "15m", "./failover/"},
		Timeout: 16 * time.Minute, Log: "failover.txt"}
	viaPool := Command{Args: []string{"go", "test", "-run", "^TestFailoverThroughThePool$", "-count", "1", "-v", "."},
		Timeout: 5 * time.Minute, Log: "failover.txt"}
	s.Commands = []Command{drill, viaPool}
	r.Log("failover: %s", drill)
	out, err := drill.Run(ctx, r.Root, r.Opts.Scratch)
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "drill ") {
			continue
		}
		if d, ok := ParseDrill(line); ok {
			s.Drills = append(s.Drills, d)
		} else {
			s.Unparsed = append(s.Unparsed, line)
		}
	}
	if err == nil && len(s.Drills) == 0 && len(s.Unparsed) == 0 {
		err = fmt.Errorf("%s: printed no drill summary", drill)
	}
	s.Err = err
	r.Log("failover: %s", viaPool)
	out, err = viaPool.Run(ctx, r.Root, r.Opts.Scratch)
	for _, line := range strings.Split(out, "\n") {
		if p, ok := ParsePoolFailover(line); ok {
			s.Pool = &p
		} else if strings.Contains(line, "recovery: first write") {
			s.Unparsed = append(s.Unparsed, strings.TrimSpace(line))
		}
	}
	if err == nil && s.Pool == nil {
		err = fmt.Errorf("%s: logged no recovery line", viaPool)
	}
	s.Err = errors.Join(s.Err, err)
	return s
}

// DemoSuite is the demo's burst scenario.
type DemoSuite struct {
	Section
	Report *DemoReport
}

// Demo runs the demo (examples/demo) and keeps its table.
func (r Runner) Demo(ctx context.Context) *DemoSuite {
	s := &DemoSuite{}
	start := time.Now()
	defer func() { s.Elapsed = time.Since(start) }()
	if _, err := os.Stat(filepath.Join(r.Root, "examples", "demo")); err != nil {
		s.Skipped = "demo section not run: examples/demo missing"
		return s
	}
	args := []string{"go", "run", "./demo"}
	if r.Opts.Quick {
		args = append(args, "-surge-for", "4s")
	}
	cmd := Command{Dir: "examples", Args: args, Timeout: 5 * time.Minute, Log: "demo.txt"}
	s.Commands = []Command{cmd}
	r.Log("demo: %s", cmd)
	out, err := cmd.Run(ctx, r.Root, r.Opts.Scratch)
	if d, ok := ParseDemo(out); ok {
		s.Report = &d
	} else if err == nil {
		err = fmt.Errorf("%s: no report table in its output (in %s)", cmd, filepath.Join(r.Opts.Scratch, cmd.Log))
	}
	s.Err = err
	return s
}
