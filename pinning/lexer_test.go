package pinning

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// lexAll renders the tokens of src as kind:text, space-separated.
func lexAll(src string, noBackslash bool) string {
	l := lexer{src: src, noBackslash: noBackslash}
	var parts []string
	for {
		t := l.next()
		if t.kind == tkEOF {
			break
		}
		k := [...]string{"eof", "w", "q", "s", "n", "u", "v", "p", "a"}[t.kind]
		if t.exec {
			k += "!"
		}
		parts = append(parts, k+":"+src[t.start:t.end])
	}
	return strings.Join(parts, " ")
}

func TestLexer(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"SELECT a,b FROM t", "w:SELECT w:a p:, w:b w:FROM w:t"},
		{"x:=1", "w:x a::= n:1"},
		{"'a''b' \"c\\\"d\" `e``f`", `s:'a''b' s:"c\"d" q:` + "`e``f`"},
		{"@x @`y z` @'q' @@session.sql_mode @@x", "u:@x u:@`y z` u:@'q' v:@@session.sql_mode v:@@x"},
		{"'u'@'h' `u`@`h`", "s:'u' p:@ s:'h' q:`u` p:@ q:`h`"},
		{"1.5e-3 .5 0x1F 1abc 12", "n:1.5e-3 n:.5 w:0x1F w:1abc n:12"},
		{"a -- c\nb #d\nc /* e */ d", "w:a w:b w:c w:d"},
		{"a --x", "w:a p:- p:- w:x"},
		{"a--", "w:a"},
		{"/*!40101 SET x */ y", "w!:SET w!:x w:y"},
		{"/*M!100100 a */ b /*m!c*/", "w!:a w:b w!:c"},
		{"/*+ hint */ a", "w:a"},
		{"'open", "s:'open"},
		{"/* open", ""},
		{"a;b", "w:a p:; w:b"},
		{"é_名前 x", "w:é_名前 w:x"},
	} {
		got := lexAll(tc.src, false)
		assert.Equal(t, tc.want, got, "lex %q:\n got %s\nwant %s", tc.src, got, tc.want)
	}
	got := lexAll(`'a\' b`, true)
	assert.Equal(t, `s:'a\' w:b`, got, "NO_BACKSLASH_ESCAPES: %s", got)
}
