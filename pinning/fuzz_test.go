package pinning

import (
	"strings"
	"testing"
)

// FuzzClassify checks that classification never panics and that its
// results hold together: the skimmer agrees with the token path (see
// checkSkim), reusing a Result gives what a fresh one gives,
// the settings masks are disjoint, and every normalized value normalizes
// to itself.
func FuzzClassify(f *testing.F) {
	_, entries := readCorpus(f)
	for _, e := range entries {
		f.Add(e.sql)
	}
	for _, sql := range skimCases {
		f.Add(sql)
	}
	plain := NewClassifier()
	others := []*Classifier{
		NewClassifier(WithNoBackslashEscapes()),
		NewClassifier(WithFilters(ExcludeVariableSets), WithMaxStatementLen(64)),
	}
	var dirty Result
	plain.Classify("SET NAMES utf8mb4, @x = 1, sql_mode = CONCAT(@@sql_mode, ''); USE a; DROP DATABASE b; BEGIN", &dirty)
	f.Fuzz(func(t *testing.T, sql string) {
		var fresh Result
		plain.Classify(sql, &fresh)
		reused := dirty
		plain.Classify(sql, &reused)
		if fresh.String() != reused.String() || fresh.readNames != reused.readNames {
			t.Fatalf("reused Result differs:\n%s\n%s", fresh.String(), reused.String())
		}
		checkResult(t, sql, &fresh)
		// The skimmer finds what the token path finds.
		checkSkim(t, sql)
		for _, c := range others {
			var r Result
			c.Classify(sql, &r)
			checkResult(t, sql, &r)
		}
		// Lexing terminates and tokens are ordered spans of the input.
		for _, nb := range []bool{false, true} {
			l := lexer{src: sql, noBackslash: nb}
			last := 0
			for {
				tok := l.next()
				if tok.start < last || tok.end < tok.start || tok.end > len(sql) {
					t.Fatalf("bad token %+v after %d in %q", tok, last, sql)
				}
				if tok.kind == tkEOF {
					break
				}
				if tok.end == tok.start {
					t.Fatalf("empty token %+v in %q", tok, sql)
				}
				last = tok.end
			}
		}
	})
}

// checkResult checks the invariants of one classification.
func checkResult(t *testing.T, sql string, r *Result) {
	t.Helper()
	set := r.Settings.Vars()
	if set&r.Defaults != 0 || set&r.ReadBack != 0 || r.Defaults&r.ReadBack != 0 {
		t.Fatalf("%q: overlapping settings masks: set=%v default=%v readback=%v", sql, set, r.Defaults, r.ReadBack)
	}
	if r.Pins&r.Unpins != 0 {
		t.Fatalf("%q: pinned and unpinned: %v / %v", sql, r.Pins, r.Unpins)
	}
	if r.ReadOnly && r.Statements == 0 {
		t.Fatalf("%q: read-only without statements", sql)
	}
	if r.Pins.Has(PinNone) {
		t.Fatalf("%q: PinNone reported", sql)
	}
	_ = r.String()
	_ = r.ReadBackQuery(SpellLegacy)
	c := NewClassifier(WithMaxStatementLen(-1))
	r.Settings.Each(func(v Var, value string) {
		if value == "" {
			t.Fatalf("%q: empty value for %v", sql, v)
		}
		if strings.EqualFold(value, "DEFAULT") {
			t.Fatalf("%q: DEFAULT recorded as a value for %v", sql, v)
		}
		for _, p := range charsetPairs {
			if v == p[0] || v == p[1] {
				return // coupled: the pair is checked by the round trip test
			}
		}
		// The normalized literal is a fixed point of normalization.
		var r2 Result
		c.Classify("SET SESSION "+v.String()+" = "+value, &r2)
		if got, ok := r2.Settings.Get(v); !ok || got != value {
			t.Fatalf("%q: %v=%s renormalizes to %q (%v): %s", sql, v, value, got, ok, r2.String())
		}
	})
	var s Settings
	r.Apply(&s)
	_ = s.Diff(&Settings{})
	_ = s.Key()
}
