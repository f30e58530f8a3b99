package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sweepSeries names BenchmarkSweep's impl= values, in the report's order.
var sweepSeries = []struct{ impl, short, long string }{
	{"go-sql-driver", "go-sql-driver", "go-sql-driver, a connection per goroutine"},
	{"go-sql-driver-interpolate", "go-sql-driver interpolateParams", "go-sql-driver with interpolateParams=true, a connection per goroutine"},
	{"go-sql-driver-16conns", "go-sql-driver ≤16 conns", "go-sql-driver, at most 16 connections (database/sql pool)"},
	{"rdsmux", "rdsmux", "rdsmux, 16 backend connections"},
}

// sweep is BenchmarkSweep's results by series and goroutine count.
type sweep struct {
	levels []int
	points map[string]map[int]*sample // impl -> goroutines -> sample
}

func newSweep(ss []*sample) *sweep {
	sw := &sweep{points: map[string]map[int]*sample{}}
	for _, s := range ss {
		n, err := strconv.Atoi(strings.TrimPrefix(s.kase, "Sweep/goroutines="))
		if err != nil {
			continue
		}
		if sw.points[s.impl] == nil {
			sw.points[s.impl] = map[int]*sample{}
		}
		sw.points[s.impl][n] = s
		if !slices.Contains(sw.levels, n) {
			sw.levels = append(sw.levels, n)
		}
	}
	slices.Sort(sw.levels)
	return sw
}

// qps is a series' median throughput at a level, 0 if not measured.
func (sw *sweep) qps(impl string, level int) float64 {
	if s := sw.points[impl][level]; s != nil {
		return s.median("q/s")
	}
	return 0
}

// latency is a series' median p50 or p99 ("p50", "p99") at a level.
func (sw *sweep) latency(impl, p string, level int) time.Duration {
	if s := sw.points[impl][level]; s != nil {
		return time.Duration(s.median(p+"-sec") * 1e9)
	}
	return 0
}

func (sw *sweep) ratio(base string, level int) float64 {
	if b := sw.qps(base, level); b > 0 {
		return sw.qps(subject, level) / b
	}
	return 0
}

func writeSweep(w io.Writer, sw *sweep) {
	fmt.Fprintln(w, "![Queries per second against concurrency, go-sql-driver vs rdsmux](throughput.svg)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "![p99 latency against concurrency, go-sql-driver vs rdsmux](latency.svg)")
	fmt.Fprintln(w)
	t := table{head: []string{"goroutines"}}
	lt := table{head: []string{"goroutines"}}
	for _, s := range sweepSeries {
		t.head = append(t.head, s.short+" q/s")
		lt.head = append(lt.head, s.short+" p50 / p99")
	}
	for _, s := range sweepSeries[:len(sweepSeries)-1] {
		t.head = append(t.head, "rdsmux ÷ "+s.short)
	}
	for i := range t.head {
		t.right = append(t.right, i)
	}
	lt.right = t.right[:len(lt.head)]
	errs, rounds := 0.0, 0
	for _, n := range sw.levels {
		row, lrow := []string{strconv.Itoa(n)}, []string{strconv.Itoa(n)}
		for _, s := range sweepSeries {
			row = append(row, fmtNum(sw.qps(s.impl, n)))
			lrow = append(lrow, fmtDur(sw.latency(s.impl, "p50", n))+" / "+fmtDur(sw.latency(s.impl, "p99", n)))
			if p := sw.points[s.impl][n]; p != nil {
				for _, e := range p.values["errors"] {
					errs += e
				}
				rounds = max(rounds, len(p.values["q/s"]))
			}
		}
		for _, s := range sweepSeries[:len(sweepSeries)-1] {
			row = append(row, "**"+fmtRatio(sw.ratio(s.impl, n))+"**")
		}
		t.add(row...)
		lt.add(lrow...)
	}
	t.write(w)
	fmt.Fprintf(w, "Queries per second, median over %s; ratios are rdsmux's throughput over the other's (above 1:"+
		" rdsmux serves more).\n\n", plural(rounds, "round", "rounds"))
	lt.write(w)
	fmt.Fprintf(w, "Latency per query, the median of each round's percentile. Errors during measurement: %.0f.\n\n", errs)
}
