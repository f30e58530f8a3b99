package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
)

// subject is the implementation every other one is compared with.
const subject = "rdsmux"

// bareImpls are implementation names BenchmarkDriver puts in its names
// without the impl= key.
var bareImpls = []string{subject, "go-sql-driver"}

// sample is one benchmark case of one implementation: every value per
// unit over the rounds.
type sample struct {
	pkg, kase, impl string
	values          map[string][]float64 // by unit: "sec/op", "allocs/op", "q/s", ...
}

// parseBench reads `go test -bench` output (benchstat's format) and
// groups it by package, case and implementation, in the order first seen.
func parseBench(r io.Reader, name string) ([]*sample, error) {
	var out []*sample
	rd := benchfmt.NewReader(r, name)
	for rd.Scan() {
		res, ok := rd.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		base, parts := res.Name.Parts()
		kase, impl := string(base), ""
		for _, p := range parts {
			switch v, isImpl := bytes.CutPrefix(p, []byte("/impl=")); {
			case isImpl:
				impl = string(v)
			case p[0] == '/' && slices.Contains(bareImpls, string(p[1:])):
				impl = string(p[1:])
			case p[0] == '/':
				kase += string(p)
			}
		}
		if impl == "" {
			impl = subject
		}
		pkg := res.GetConfig("pkg")
		i := slices.IndexFunc(out, func(s *sample) bool { return s.pkg == pkg && s.kase == kase && s.impl == impl })
		if i < 0 {
			out = append(out, &sample{pkg: pkg, kase: kase, impl: impl, values: map[string][]float64{}})
			i = len(out) - 1
		}
		for _, v := range res.Values {
			out[i].values[v.Unit] = append(out[i].values[v.Unit], v.Value)
		}
	}
	return out, rd.Err()
}

// summary is the median of a unit's values with its 95% confidence
// interval (benchstat's: no assumption about the distribution).
func (s *sample) summary(unit string) (benchmath.Summary, *benchmath.Sample) {
	vs := s.values[unit]
	if len(vs) == 0 {
		return benchmath.Summary{}, nil
	}
	smp := benchmath.NewSample(vs, &benchmath.DefaultThresholds)
	return benchmath.AssumeNothing.Summary(smp, 0.95), smp
}

// comparison is rdsmux against one baseline on one case and unit.
type comparison struct {
	base, subj *sample
	unit       string
	b, s       benchmath.Summary
	ratio      float64 // subject's median over the baseline's
	test       benchmath.Comparison
}

// compare pairs each case's rdsmux sample with its baseline samples;
// solo lists the cases without a baseline.
func compare(ss []*sample, unit string) (cs []comparison, solo []*sample) {
	for _, s := range ss {
		if s.impl != subject {
			continue
		}
		paired := false
		for _, b := range ss {
			if b.impl == subject || b.pkg != s.pkg || b.kase != s.kase {
				continue
			}
			if c, ok := pair(b, s, unit); ok {
				cs, paired = append(cs, c), true
			}
		}
		if !paired {
			solo = append(solo, s)
		}
	}
	return cs, solo
}

// pair compares subject s with baseline b in unit.
func pair(b, s *sample, unit string) (comparison, bool) {
	bs, bsmp := b.summary(unit)
	sm, ssmp := s.summary(unit)
	if bsmp == nil || ssmp == nil || bs.Center == 0 {
		return comparison{}, false
	}
	return comparison{base: b, subj: s, unit: unit, b: bs, s: sm, ratio: sm.Center / bs.Center,
		test: benchmath.AssumeNothing.Compare(bsmp, ssmp)}, true
}

// significance says whether the difference is beyond the noise, as
// benchstat does: "p=0.008 n=5" or "~ p=0.310 n=5" (no significant
// difference).
func (c comparison) significance() string {
	mark := ""
	if c.test.P >= c.test.Alpha {
		mark = "~ "
	}
	return fmt.Sprintf("%sp=%.3f n=%d", mark, c.test.P, min(c.test.N1, c.test.N2))
}

// caseName names a case in a table: the package when it is not the
// root, then the case without trim (a prefix every case shares).
func caseName(s *sample, trim string) string {
	name := strings.TrimPrefix(s.kase, trim)
	pkg := s.pkg[strings.LastIndex(s.pkg, "/")+1:]
	if pkg != "" && pkg != "rdsmux" {
		return "`" + pkg + "` " + name
	}
	return name
}

// median of a sample's values in unit, 0 without any.
func (s *sample) median(unit string) float64 {
	sm, smp := s.summary(unit)
	if smp == nil {
		return 0
	}
	return sm.Center
}

// writeBenchSuite writes a pool or driver section's tables.
func writeBenchSuite(w io.Writer, ss []*sample, trim string) {
	cs, solo := compare(ss, "sec/op")
	if len(cs) > 0 {
		base := cs[0].base.impl
		t := table{head: []string{"case", base + " time/op", "rdsmux time/op", "rdsmux ÷ " + base, "significance",
			"allocs/op (" + base + " → rdsmux)", "B/op (" + base + " → rdsmux)"}, right: []int{1, 2, 3, 4, 5, 6}}
		for _, c := range cs {
			t.add(caseName(c.subj, trim), fmtSec(c.b), fmtSec(c.s), "**"+fmtRatio(c.ratio)+"**", c.significance(),
				fmtNum(c.base.median("allocs/op"))+" → "+fmtNum(c.subj.median("allocs/op")),
				fmtNum(c.base.median("B/op"))+" → "+fmtNum(c.subj.median("B/op")))
		}
		t.write(w)
		fmt.Fprintf(w, "Time/op is the median over the rounds ± its 95%% confidence interval (∞ with fewer than 6 rounds); the ratio is rdsmux's"+
			" time over %s's (below 1: rdsmux is faster). Significance is the Mann-Whitney U test's p-value"+
			" over n rounds, as benchstat computes it: `~` means no difference beyond the noise (with fewer"+
			" than 4 rounds it cannot show one).\n\n", base)
	}
	if len(solo) > 0 {
		fmt.Fprintln(w, "Without a baseline:")
		fmt.Fprintln(w)
		t := table{head: []string{"case", "implementation", "time/op", "allocs/op", "B/op"}, right: []int{2, 3, 4}}
		for _, s := range solo {
			sm, _ := s.summary("sec/op")
			t.add(caseName(s, trim), s.impl, fmtSec(sm), fmtNum(s.median("allocs/op")), fmtNum(s.median("B/op")))
		}
		t.write(w)
	}
}
