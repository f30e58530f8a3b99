package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// allSuites are the report's sections, in the order they run.
var allSuites = []string{"pool", "driver", "sweep", "sysbench", "failover", "demo"}

// Options are the report's flags.
type Options struct {
	Quick       bool
	Suites      []string
	OutDir      string // where REPORT.md and the SVG files go
	Scratch     string // raw logs and scratch files (git-ignored)
	Rounds      int    // go test -bench rounds per suite
	BenchTime   string // go test -benchtime
	Levels      []int  // sweep goroutine counts
	SweepFor    time.Duration
	SweepRounds int
	DrillRuns   int
	Invoked     string // how the report was started, shown under "Reproduce"
}

// ParseOptions parses the command line; -quick changes the defaults of
// the flags not given.
func ParseOptions(args []string, stderr io.Writer) (Options, error) {
	var o Options
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.Quick, "quick", false, "a short run (about 2 minutes): fewer rounds, shorter benchmarks and demo")
	suites := fs.String("suites", strings.Join(allSuites, ","), "sections to run")
	fs.StringVar(&o.OutDir, "out", "bench", "directory for REPORT.md and the plots")
	fs.StringVar(&o.Scratch, "scratch", "bench/out", "directory for raw logs")
	fs.IntVar(&o.Rounds, "rounds", 0, "rounds of each go test -bench suite (default 5, quick 1)")
	fs.StringVar(&o.BenchTime, "benchtime", "", "go test -benchtime (default 500ms, quick 200ms)")
	levels := fs.String("levels", "", "sweep goroutine counts (default 1,2,4,8,16,32,64,128,256; quick 1,4,16,64,256)")
	fs.DurationVar(&o.SweepFor, "sweep-for", 0, "measurement per sweep point (default 1s, quick 400ms)")
	fs.IntVar(&o.SweepRounds, "sweep-rounds", 0, "rounds of the sweep (default 2, quick 1)")
	fs.IntVar(&o.DrillRuns, "drill-runs", 0, "failover drill runs per variant (default 5, quick 1)")
	fs.StringVar(&o.Invoked, "invoked", "go run ./bench/report", "the command line shown under Reproduce")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, s := range strings.Split(*suites, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(allSuites, s) {
			return o, fmt.Errorf("unknown suite %q (known: %s)", s, strings.Join(allSuites, ", "))
		}
		o.Suites = append(o.Suites, s)
	}
	pick := func(full, quick string) string {
		if o.Quick {
			return quick
		}
		return full
	}
	if o.Rounds <= 0 {
		o.Rounds, _ = strconv.Atoi(pick("5", "1"))
	}
	if o.BenchTime == "" {
		o.BenchTime = pick("500ms", "200ms")
	}
	if *levels == "" {
		*levels = pick("1,2,4,8,16,32,64,128,256", "1,4,16,64,256")
	}
	for _, l := range strings.Split(*levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(l))
		if err != nil || n < 1 {
			return o, fmt.Errorf("-levels: %q is not a positive goroutine count", l)
		}
		o.Levels = append(o.Levels, n)
	}
	if o.SweepFor <= 0 {
		o.SweepFor, _ = time.ParseDuration(pick("1s", "400ms"))
	}
	if o.SweepRounds <= 0 {
		o.SweepRounds, _ = strconv.Atoi(pick("2", "1"))
	}
	if o.DrillRuns <= 0 {
		o.DrillRuns, _ = strconv.Atoi(pick("3", "1"))
	}
	return o, nil
}

// runs reports whether suite s was asked for.
func (o Options) runs(s string) bool { return slices.Contains(o.Suites, s) }
