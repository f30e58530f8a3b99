package main

import (
	"math"
	"testing"
)

func TestSplitImpl(t *testing.T) {
	for _, tc := range []struct{ name, kase, impl string }{
		{"BorrowRelease/impl=rdsmux", "BorrowRelease", "rdsmux"},
		{"BorrowRelease/impl=puddle", "BorrowRelease", "puddle"},
		{"Driver/point-select/goroutines=64/go-sql-driver", "Driver/point-select/goroutines=64", "go-sql-driver"},
		{"Driver/point-select/goroutines=64/rdsmux", "Driver/point-select/goroutines=64", "rdsmux"},
		{"Listener/direct/threads=8", "Listener/threads=8", "direct"},
		{"LookBehindReclaim", "LookBehindReclaim", ""},
		{"X/impl=other/y", "X/y", "other"},
	} {
		kase, impl := splitImpl(tc.name)
		if kase != tc.kase || impl != tc.impl {
			t.Errorf("splitImpl(%q) = %q, %q; want %q, %q", tc.name, kase, impl, tc.kase, tc.impl)
		}
	}
}

func bench(pkg, name string, ns, allocs float64) Bench {
	return Bench{Pkg: pkg, Name: name, Procs: 2, N: 1, Units: map[string]float64{"ns/op": ns, "allocs/op": allocs, "B/op": allocs * 8}}
}

func TestComparePairsRounds(t *testing.T) {
	// Three rounds; in each the baseline runs after rdsmux, as go test
	// orders the sub-benchmarks.
	var bs []Bench
	for _, r := range []struct{ mux, base float64 }{{80, 100}, {90, 100}, {200, 250}} {
		bs = append(bs,
			bench("p", "BenchmarkA/impl=rdsmux", r.mux, 0),
			bench("p", "BenchmarkA/impl=puddle", r.base, 2),
			bench("p", "BenchmarkSolo", 50, 0),
			bench("q", "BenchmarkA/impl=rdsmux", 10, 1),
		)
	}
	cs := Compare(bs)
	if len(cs) != 3 {
		t.Fatalf("%d comparisons: %+v", len(cs), cs)
	}
	a := cs[0]
	if a.Case != "A" || a.Pkg != "p" || !a.HasRatio() || a.Baseline.Impl != "puddle" || a.Subject.Impl != "rdsmux" {
		t.Fatalf("A = %+v", a)
	}
	// Per-round ratios 0.8, 0.9, 0.8: median 0.8, range 0.8-0.9. The
	// ratio of medians would be 90/100 = 0.9: the paired ratio cancels
	// the slow third round.
	if !near(a.Ratio, 0.8) || !near(a.RatioMin, 0.8) || !near(a.RatioMax, 0.9) {
		t.Errorf("ratio = %v [%v, %v]", a.Ratio, a.RatioMin, a.RatioMax)
	}
	if a.Subject.NsOp.Median != 90 || a.Subject.NsOp.N != 3 || a.Baseline.NsOp.Min != 100 || a.Baseline.NsOp.Max != 250 {
		t.Errorf("stats: rdsmux %+v puddle %+v", a.Subject.NsOp, a.Baseline.NsOp)
	}
	if a.Baseline.Allocs.Median != 2 || a.Subject.Allocs.Median != 0 || a.Baseline.Bytes.Median != 16 {
		t.Errorf("allocs %+v %+v bytes %+v", a.Baseline.Allocs, a.Subject.Allocs, a.Baseline.Bytes)
	}
	solo := cs[1]
	if solo.Case != "Solo" || solo.Baseline != nil || solo.Subject == nil || solo.HasRatio() {
		t.Errorf("solo = %+v", solo)
	}
	if q := cs[2]; q.Pkg != "q" || q.HasRatio() {
		t.Errorf("same case in another package = %+v", q)
	}
}

func TestCompareUnevenRounds(t *testing.T) {
	// A round cut short: the ratio falls back to the ratio of medians.
	cs := Compare([]Bench{
		bench("p", "BenchmarkA/go-sql-driver", 100, 0),
		bench("p", "BenchmarkA/rdsmux", 120, 0),
		bench("p", "BenchmarkA/go-sql-driver", 200, 0),
	})
	if len(cs) != 1 || !near(cs[0].Ratio, 120.0/150) || cs[0].RatioMin != cs[0].Ratio {
		t.Fatalf("%+v", cs)
	}
}

func TestRatioEdges(t *testing.T) {
	if r, _, _ := ratio(nil, []float64{1}); r != 0 {
		t.Errorf("no subject: %v", r)
	}
	if r, _, _ := ratio([]float64{1}, []float64{0}); r != 0 {
		t.Errorf("zero baseline: %v", r)
	}
	if r, _, _ := ratio([]float64{1, 2, 3}, []float64{0, 0}); r != 0 {
		t.Errorf("zero median baseline: %v", r)
	}
	if s := stat([]float64{4, 1, 3, 2}); s.Median != 2.5 || s.Min != 1 || s.Max != 4 || s.N != 4 {
		t.Errorf("stat = %+v", s)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
