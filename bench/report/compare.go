package main

import (
	"slices"
	"strings"
)

// Subject is the implementation every comparison is about; any other
// implementation of the same case is its baseline.
const Subject = "rdsmux"

// knownImpls are path elements of a benchmark name that name an
// implementation rather than a case ("BenchmarkDriver/x/go-sql-driver").
// An element "impl=NAME" always names one.
var knownImpls = []string{Subject, "puddle", "go-sql-driver", "direct", "listener", "baseline"}

// splitImpl splits a benchmark name into its case (the name without the
// implementation element) and the implementation, "" if the name has none.
func splitImpl(name string) (kase, impl string) {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		v, ok := strings.CutPrefix(p, "impl=")
		if !ok && slices.Contains(knownImpls, p) {
			v, ok = p, true
		}
		if ok {
			return strings.Join(append(parts[:i:i], parts[i+1:]...), "/"), v
		}
	}
	return name, ""
}

// Stat summarizes one metric over the runs of one benchmark.
type Stat struct {
	Median, Min, Max float64
	N                int // runs; 0 means no value
}

func stat(vs []float64) Stat {
	if len(vs) == 0 {
		return Stat{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	return Stat{Median: median(s), Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// median of sorted values.
func median(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Side is one implementation's results for one case.
type Side struct {
	Impl   string
	NsOp   Stat
	Allocs Stat // allocs/op
	Bytes  Stat // B/op

	ns, allocs, bytes []float64 // per run, in run order
}

// Comparison is one case: rdsmux and its baseline, measured in the same
// runs.
type Comparison struct {
	Case     string // the benchmark name without the implementation, "Benchmark" trimmed
	Pkg      string
	Baseline *Side // nil when the case has no baseline (rdsmux only)
	Subject  *Side
	// Ratio is the subject's time per op over the baseline's: below 1
	// rdsmux is faster. With as many runs of each, it is the median of the
	// per-round ratios (run i of one against run i of the other), which
	// cancels slow drifts of a noisy machine; else the ratio of medians.
	Ratio, RatioMin, RatioMax float64
}

// HasRatio reports whether the comparison has both sides.
func (c Comparison) HasRatio() bool { return c.Baseline != nil && c.Subject != nil && c.Ratio > 0 }

// Compare groups results by case and pairs rdsmux with its baseline, in
// the order the cases first appear. Results of other implementations than
// rdsmux and one baseline are kept as the baseline only if there is just
// one of them.
func Compare(bs []Bench) []Comparison {
	type key struct{ pkg, kase string }
	var order []key
	sides := map[key]map[string]*Side{}
	implOrder := map[key][]string{}
	for _, b := range bs {
		kase, impl := splitImpl(strings.TrimPrefix(b.Name, "Benchmark"))
		if impl == "" {
			impl = Subject
		}
		k := key{b.Pkg, kase}
		m, ok := sides[k]
		if !ok {
			m = map[string]*Side{}
			sides[k] = m
			order = append(order, k)
		}
		s, ok := m[impl]
		if !ok {
			s = &Side{Impl: impl}
			m[impl] = s
			implOrder[k] = append(implOrder[k], impl)
		}
		if v, ok := b.NsPerOp(); ok {
			s.ns = append(s.ns, v)
		}
		if v, ok := b.Units["allocs/op"]; ok {
			s.allocs = append(s.allocs, v)
		}
		if v, ok := b.Units["B/op"]; ok {
			s.bytes = append(s.bytes, v)
		}
	}
	var out []Comparison
	for _, k := range order {
		c := Comparison{Case: k.kase, Pkg: k.pkg}
		for _, impl := range implOrder[k] {
			s := sides[k][impl]
			s.NsOp, s.Allocs, s.Bytes = stat(s.ns), stat(s.allocs), stat(s.bytes)
			if impl == Subject {
				c.Subject = s
			} else if c.Baseline == nil {
				c.Baseline = s
			}
		}
		if c.Subject != nil && c.Baseline != nil {
			c.Ratio, c.RatioMin, c.RatioMax = ratio(c.Subject.ns, c.Baseline.ns)
		}
		out = append(out, c)
	}
	return out
}

// ratio returns the median, min and max of subject[i]/baseline[i] when
// both have the same number of runs, else the ratio of the medians (min
// and max then equal it). It returns zeros when either side is empty or a
// baseline value is zero.
func ratio(subject, baseline []float64) (med, lo, hi float64) {
	if len(subject) == 0 || len(baseline) == 0 {
		return 0, 0, 0
	}
	if len(subject) == len(baseline) {
		rs := make([]float64, 0, len(subject))
		for i := range subject {
			if baseline[i] <= 0 {
				return 0, 0, 0
			}
			rs = append(rs, subject[i]/baseline[i])
		}
		s := stat(rs)
		return s.Median, s.Min, s.Max
	}
	bs := stat(baseline)
	if bs.Median <= 0 {
		return 0, 0, 0
	}
	r := stat(subject).Median / bs.Median
	return r, r, r
}
