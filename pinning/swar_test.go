package pinning

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSWAR checks the word-at-a-time searches (and quotedEnd, which uses
// them) against byte loops at every
// start of random strings over a small alphabet (so matches are frequent
// and borrows between bytes happen).
func TestSWAR(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte("`'\"\\a\x00\x01\x7f\x80\xff_`")
	for n := 0; n < 40; n++ {
		for k := 0; k < 50; k++ {
			b := make([]byte, n)
			for i := range b {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
			s := string(b)
			for p := 0; p <= n; p++ {
				for _, c := range []byte("`'\"") {
					want := p
					for want < n && s[want] != c {
						want++
					}
					got := indexByteFrom(s, p, c)
					require.Equal(t, want, got, "indexByteFrom(%q, %d, %q) = %d, want %d", s, p, c, got, want)
					want = p
					for want < n && s[want] != c && s[want] != '\\' {
						want++
					}
					got = indexQuoteFrom(s, p, c)
					require.Equal(t, want, got, "indexQuoteFrom(%q, %d, %q) = %d, want %d", s, p, c, got, want)
				}
				if p < n && (s[p] == '`' || s[p] == '\'' || s[p] == '"') {
					for _, bs := range []bool{false, true} {
						e, esc, cl := quotedEnd(s, p, s[p], bs)
						we, wesc, wcl := quotedEndLoop(s, p, s[p], bs)
						require.Equal(t, we, e, "quotedEnd(%q, %d, %v) = %d %v %v, want %d %v %v", s, p, bs, e, esc, cl, we, wesc, wcl)
						require.Equal(t, wesc, esc, "quotedEnd(%q, %d, %v) = %d %v %v, want %d %v %v", s, p, bs, e, esc, cl, we, wesc, wcl)
						require.Equal(t, wcl, cl, "quotedEnd(%q, %d, %v) = %d %v %v, want %d %v %v", s, p, bs, e, esc, cl, we, wesc, wcl)
					}
				}
				if p < n && s[p] == '`' {
					want, _, _ := quotedEnd(s, p, '`', false)
					require.Equal(t, want, backtickEnd(s, p), "backtickEnd(%q, %d) = %d, want %d", s, p, backtickEnd(s, p), want)
				}
			}
		}
	}
}

// quotedEndLoop is quotedEnd as a plain byte loop, the reference for the
// word-at-a-time one.
func quotedEndLoop(src string, p int, q byte, backslash bool) (end int, escaped, closed bool) {
	p++
	for p < len(src) {
		c := src[p]
		if c != q && c != '\\' {
			p++
			continue
		}
		switch {
		case c == '\\' && backslash:
			escaped = true
			p += 2
		case c == q:
			if p+1 < len(src) && src[p+1] == q {
				escaped = true
				p += 2
				continue
			}
			return p + 1, escaped, true
		default:
			p++
		}
	}
	return len(src), escaped, false
}
