package main

import (
	"bufio"
	"io"
	"math"
	"strconv"
	"strings"
)

// Bench is one result line of `go test -bench` output: one run of one
// benchmark.
type Bench struct {
	Pkg   string             // import path from the last "pkg:" line, "" if none
	Name  string             // "BenchmarkX/sub=1" without the -GOMAXPROCS suffix
	Procs int                // GOMAXPROCS suffix; 1 when the line has none
	N     int                // iterations
	Units map[string]float64 // metric by unit: "ns/op", "B/op", "allocs/op", custom units
}

// NsPerOp returns the ns/op metric and whether the line had one.
func (b Bench) NsPerOp() (float64, bool) { v, ok := b.Units["ns/op"]; return v, ok }

// BenchOutput is what ParseBench found in `go test -bench` output.
type BenchOutput struct {
	Benches []Bench
	CPU     string // from the first "cpu:" line
	Fails   []string
}

// ParseBench reads `go test -bench` output (the standard benchmark line
// format: name, iterations, then value-unit pairs) and returns every
// result line in order, the "cpu:" line's value and any FAIL lines. Lines
// that are not results (test logs, PASS, ok) are skipped.
func ParseBench(r io.Reader) (BenchOutput, error) {
	var out BenchOutput
	pkg := ""
	pending := "" // a name printed alone: its numbers may follow on a later line
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimSpace(strings.TrimPrefix(line, "pkg: "))
		case strings.HasPrefix(line, "cpu: "):
			if out.CPU == "" {
				out.CPU = strings.TrimSpace(strings.TrimPrefix(line, "cpu: "))
			}
		case strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "FAIL"):
			out.Fails = append(out.Fails, strings.TrimSpace(line))
		case strings.HasPrefix(line, "Benchmark"):
			if b, ok := parseBenchLine(line); ok {
				b.Pkg = pkg
				out.Benches = append(out.Benches, b)
				pending = ""
			} else {
				pending = strings.Fields(line)[0]
			}
		case pending != "":
			// Something the benchmark printed split its name from its
			// numbers: "BenchmarkX-2 <log line>\n   1000  12 ns/op".
			if b, ok := parseBenchLine(pending + " " + line); ok {
				b.Pkg = pkg
				out.Benches = append(out.Benches, b)
				pending = ""
			}
		}
	}
	return out, sc.Err()
}

// parseBenchLine parses "BenchmarkName-8  1000  123 ns/op  4 B/op ...".
// It reports false for lines that start like one but are not results (a
// benchmark's log output, a name printed alone before its result).
func parseBenchLine(line string) (Bench, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 {
		return Bench{}, false
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n <= 0 {
		return Bench{}, false
	}
	b := Bench{Procs: 1, N: n, Units: make(map[string]float64, (len(f)-2)/2)}
	b.Name = f[0]
	if i := strings.LastIndexByte(b.Name, '-'); i > 0 {
		if p, err := strconv.Atoi(b.Name[i+1:]); err == nil && p > 0 {
			b.Name, b.Procs = b.Name[:i], p
		}
	}
	if len(b.Name) <= len("Benchmark") {
		return Bench{}, false
	}
	for i := 2; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return Bench{}, false
		}
		b.Units[f[i+1]] = v
	}
	return b, true
}
