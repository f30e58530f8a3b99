package pinning

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tokensOnly returns a Classifier like NewClassifier(opts...) that reads
// every statement token by token (restTokens): the reference the skimmer
// must agree with.
func tokensOnly(opts ...Option) *Classifier {
	c := NewClassifier(opts...)
	c.tokensOnly = true
	return c
}

// skimPairs are the configurations the skimmer is compared in: the
// skimmer's Classifier and the reference.
var skimPairs = []struct {
	name      string
	fast, ref *Classifier
}{
	{"default", NewClassifier(), tokensOnly()},
	{"no-backslash", NewClassifier(WithNoBackslashEscapes()), tokensOnly(WithNoBackslashEscapes())},
	{"filters", NewClassifier(WithFilters(ExcludeVariableSets), WithMaxStatementLen(-1)),
		tokensOnly(WithFilters(ExcludeVariableSets), WithMaxStatementLen(-1))},
}

// checkSkim fails t if the skimmer and the token path classify sql
// differently in any configuration.
func checkSkim(t testing.TB, sql string) {
	t.Helper()
	for _, pc := range skimPairs {
		var fast, ref Result
		pc.fast.Classify(sql, &fast)
		pc.ref.Classify(sql, &ref)
		require.Equal(t, ref.String(), fast.String(), "%s: %q:\nskim:   %s\ntokens: %s", pc.name, sql, fast.String(), ref.String())
		require.Equal(t, ref.readNames, fast.readNames, "%s: %q:\nskim:   %s\ntokens: %s", pc.name, sql, fast.String(), ref.String())
	}
}

// skimCases are statements whose tokens are easy to cut wrongly.
var skimCases = []string{
	"SELECT 1.INTO", "SELECT 1.5e+3INTO x", "SELECT .5INTO", "SELECT t.5INTO", "SELECT 1e5 INTO @x",
	"SELECT 1abc INTO", "SELECT x FROM t FOR UPDATE", "SELECT x FROM t FOR/**/UPDATE",
	"SELECT x FROM t FOR -- c\nUPDATE", "SELECT x FROM t FOR #c\nUPDATE", "SELECT x FROM t FOR `UPDATE`",
	"SELECT x FROM t LOCK IN SHARE MODE", "SELECT x FROM t FOR SHARE", "SELECT NEXT VALUE FOR s",
	"SELECT NEXT/**/VALUE FOR s", "SELECT SQL_CALC_FOUND_ROWS * FROM t", "SELECT /*! SQL_CALC_FOUND_ROWS */ * FROM t",
	"SELECT GET_LOCK('a', 1)", "SELECT GET_LOCK /* x */ ('a', 1)", "SELECT GET_LOCK\n('a', 1)",
	"SELECT /*!GET_LOCK*/('a', 1)", "SELECT /*!GET_LOCK */ ('a', 1)", "SELECT `GET_LOCK`('a')",
	"SELECT get_lock('a', 1), release_lock('a'), is_used_lock('a'), release_all_locks()",
	"SELECT LAST_INSERT_ID()", "SELECT LAST_INSERT_ID(5)", "SELECT LAST_INSERT_ID( )", "SELECT LAST_INSERT_ID(",
	"SELECT LAST_INSERT_ID(;", "SELECT LAST_INSERT_ID(/*x*/)", "SELECT LAST_INSERT_ID(@x)", "SELECT LAST_INSERT_ID('x')",
	"SELECT LAST_INSERT_ID(`x`)", "SELECT LAST_INSERT_ID(1.5)", "SELECT LAST_INSERT_ID(id + 1) FROM t",
	"SELECT /*!LAST_INSERT_ID(*/ 1)", "SELECT LAST_INSERT_ID/*!(*/)", "INSERT INTO t VALUES (LAST_INSERT_ID(), 1)",
	"SELECT FOUND_ROWS(), ROW_COUNT()", "SELECT NEXTVAL(s), LASTVAL(s), SETVAL(s, 1)",
	"SELECT 'a\\'@x' FROM t", "SELECT 'a''@x' FROM t", "SELECT \"a\\\"@x\" FROM t", "SELECT `a``@x` FROM t",
	"SELECT 'unclosed @x", "SELECT `unclosed @x", "SELECT 'a\\", "SELECT x--@y", "SELECT x-- @y\n, 1", "SELECT x --",
	"SELECT x /* @y */ , 1", "SELECT x /* unclosed @y", "SELECT x # @y", "SELECT * FROM t /*! WHERE @x */",
	"SELECT * FROM t /*!50001 WHERE @x */ AND 1", "SELECT * FROM t /*M!100100 WHERE @x */", "SELECT 2*3 */ @x",
	"SELECT 2 */ @x", "/*!SELECT 1 */ */ @x", "/*!SELECT 1 ; SELECT @x */", "SELECT a:=1", "SELECT @a:=1",
	"SELECT 'u'@'h'", "SELECT `u`@`h`", "SELECT x@y", "SELECT @@warning_count", "SELECT @@session.last_insert_id",
	"SELECT a.b.c FROM d.e", "SELECT 1; SELECT @x; SELECT 2", "SELECT 1;; FOR UPDATE", "SELECT x FROM t; UPDATE t SET a=1",
	"SELECT x FOR; UPDATE", "SELECT (((1))) FROM t", "SELECT 1))) FROM t", "SELECT é_INTO, 名前 FROM t",
	"SELECT INTO\x00x", "SELECT\x01INTO", "SELECT x FROM t WHERE a = -1 AND b = -- c\n 2", "SELECT 1-1, 2/2, 3*3",
	"INSERT INTO t SELECT * FROM u FOR UPDATE", "UPDATE t SET a = GET_LOCK('x', 0)", "DELETE FROM t WHERE id = @id",
	"WITH a AS (SELECT 1) SELECT * FROM a FOR UPDATE", "EXPLAIN SELECT GET_LOCK('a', 1)", "DO LAST_INSERT_ID(1)",
	"SELECT x FROM t WHERE y IN (SELECT LAST_INSERT_ID())", "SELECT\tLAST_INSERT_ID\t()", "SELECT $INTO, _INTO, INTO$",
	"SELECT 0x1F, 0b01, 1e, 1e+, 1.e5, 1..2, .e5", "SELECT 12INTO", "SELECT 12 INTO @x",
	"SELECT .5.INTO", "SELECT 1.5.INTO", "SELECT .5e1.INTO", "SELECT x.5.INTO",
}

func TestSkimMatchesTokens(t *testing.T) {
	for _, sql := range skimCases {
		checkSkim(t, sql)
	}
	_, entries := readCorpus(t)
	for _, e := range entries {
		checkSkim(t, e.sql)
	}
}

// skimFragments are the pieces TestSkimGenerated builds statements from:
// words scan looks for, what hides them, what ends a statement.
var skimFragments = []string{
	"SELECT", "INSERT", "UPDATE", "DELETE", "FROM", "t", "x", "INTO", "into", "FOR", "for", "IN", "SHARE",
	"NEXT", "VALUE", "SQL_CALC_FOUND_ROWS", "GET_LOCK", "LAST_INSERT_ID", "FOUND_ROWS", "ROW_COUNT",
	"RELEASE_LOCK", "IS_USED_LOCK", "RELEASE_ALL_LOCKS", "NEXTVAL", "SETVAL", "LASTVAL", "SET", "BEGIN",
	"(", ")", "()", ",", ".", "=", ":=", ":", ";", "@", "@x", "@@x", "@@session.error_count", "@`a b`",
	"'", "\"", "`", "\\", "'s'", "\"s\"", "`q`", "''", "``", "1", "1.5", ".5", "1e3", "1e", "12ab", "0x1F",
	"-", "--", "-- ", "#", "/", "/*", "*/", "/*!", "/*!50001", "/*M!100100", "*", "\n", " ", " ", " ", "\t",
	"é", "+", "-1", "<=", "!",
}

// TestSkimGenerated compares the skimmer with the token path on random
// sequences of skimFragments (a fixed seed: the run is repeatable).
func TestSkimGenerated(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.Reset()
		b.WriteString(skimFragments[rng.IntN(4)]) // a statement to skim
		b.WriteByte(' ')
		for k := rng.IntN(24); k >= 0; k-- {
			b.WriteString(skimFragments[rng.IntN(len(skimFragments))])
			if rng.IntN(3) == 0 {
				b.WriteByte(' ')
			}
		}
		checkSkim(t, b.String())
	}
}

// TestNextIsColon checks nextIsColon against peek at every token of the
// corpus and of generated statements.
func TestNextIsColon(t *testing.T) {
	check := func(sql string) {
		for _, nb := range []bool{false, true} {
			p := parser{lx: lexer{src: sql, noBackslash: nb}, noScan: true}
			for p.advanceAny(); p.tok.kind != tkEOF; p.advanceAny() {
				n := p.peek()
				want := n.kind == tkPunct && sql[n.start] == ':'
				got := p.nextIsColon()
				require.Equal(t, want, got, "%q at %d: nextIsColon = %v, want %v", sql, p.tok.start, got, want)
			}
		}
	}
	for _, sql := range []string{
		"lbl: BEGIN", "lbl : LOOP", "lbl/**/: WHILE", "lbl -- c\n: REPEAT", "lbl #c\n:", "x:=1", "x :=1",
		"/*!lbl*/:", "/*!lbl */ : x", "a::b", "a:", "a", "a /* : */ b",
	} {
		check(sql)
	}
	_, entries := readCorpus(t)
	for _, e := range entries {
		check(e.sql)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	for i := 0; i < 2000; i++ {
		b.Reset()
		for k := rng.IntN(16); k >= 0; k-- {
			b.WriteString(skimFragments[rng.IntN(len(skimFragments))])
			if rng.IntN(3) == 0 {
				b.WriteByte(' ')
			}
		}
		check(b.String())
	}
}

// TestScanWordFilters checks that mayScanWord, which spares most words a
// call of word, lets through every word word looks for, in any case. (The
// list here must follow word's.)
func TestScanWordFilters(t *testing.T) {
	for _, w := range []string{"INTO", "SHARE", "VALUE", "UPDATE", "SQL_CALC_FOUND_ROWS"} {
		for _, s := range []string{w, strings.ToLower(w)} {
			assert.True(t, mayScanWord(s), "mayScanWord(%q) = false", s)
		}
	}
}
