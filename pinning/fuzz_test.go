package pinning

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
		require.Equal(t, fresh.String(), reused.String(), "reused Result differs:\n%s\n%s", fresh.String(), reused.String())
		require.Equal(t, fresh.readNames, reused.readNames, "reused Result differs:\n%s\n%s", fresh.String(), reused.String())
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
				require.GreaterOrEqual(t, tok.start, last, "bad token %+v after %d in %q", tok, last, sql)
				require.GreaterOrEqual(t, tok.end, tok.start, "bad token %+v after %d in %q", tok, last, sql)
				require.LessOrEqual(t, tok.end, len(sql), "bad token %+v after %d in %q", tok, last, sql)
				if tok.kind == tkEOF {
					break
				}
				require.NotEqual(t, tok.start, tok.end, "empty token %+v in %q", tok, sql)
				last = tok.end
			}
		}
	})
}

// checkResult checks the invariants of one classification.
func checkResult(t *testing.T, sql string, r *Result) {
	t.Helper()
	set := r.Settings.Vars()
	require.Equal(t, VarSet(0), set&r.Defaults, "%q: overlapping settings masks: set=%v default=%v readback=%v", sql, set, r.Defaults, r.ReadBack)
	require.Equal(t, VarSet(0), set&r.ReadBack, "%q: overlapping settings masks: set=%v default=%v readback=%v", sql, set, r.Defaults, r.ReadBack)
	require.Equal(t, VarSet(0), r.Defaults&r.ReadBack, "%q: overlapping settings masks: set=%v default=%v readback=%v", sql, set, r.Defaults, r.ReadBack)
	require.Equal(t, PinReasons(0), r.Pins&r.Unpins, "%q: pinned and unpinned: %v / %v", sql, r.Pins, r.Unpins)
	require.False(t, r.ReadOnly && r.Statements == 0, "%q: read-only without statements", sql)
	require.False(t, r.Pins.Has(PinNone), "%q: PinNone reported", sql)
	_ = r.String()
	_ = r.ReadBackQuery(SpellLegacy)
	c := NewClassifier(WithMaxStatementLen(-1))
	r.Settings.Each(func(v Var, value string) {
		require.NotEqual(t, "", value, "%q: empty value for %v", sql, v)
		require.False(t, strings.EqualFold(value, "DEFAULT"), "%q: DEFAULT recorded as a value for %v", sql, v)
		for _, p := range charsetPairs {
			if v == p[0] || v == p[1] {
				return // coupled: the pair is checked by the round trip test
			}
		}
		// The normalized literal is a fixed point of normalization.
		var r2 Result
		c.Classify("SET SESSION "+v.String()+" = "+value, &r2)
		got, ok := r2.Settings.Get(v)
		require.True(t, ok, "%q: %v=%s renormalizes to %q (%v): %s", sql, v, value, got, ok, r2.String())
		require.Equal(t, value, got, "%q: %v=%s renormalizes to %q (%v): %s", sql, v, value, got, ok, r2.String())
	})
	var s Settings
	r.Apply(&s)
	_ = s.Diff(&Settings{})
	_ = s.Key()
}
