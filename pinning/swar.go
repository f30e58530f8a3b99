package pinning

import "math/bits"

// Word-at-a-time byte search for the ends of quoted names and strings
// (the lexer's quotedEnd, the skimmer's fast paths). These are mostly short
// (5-30 bytes): too short for strings.IndexByte's call to pay off, while a
// byte loop takes a branch per byte. These functions test eight bytes per
// step with plain arithmetic.

const (
	swarOnes = 0x0101010101010101 // 0x01 in every byte
	swarHigh = 0x8080808080808080 // 0x80 in every byte
)

// load64 returns the eight bytes of s from p as a little-endian word (the
// compiler makes this one load).
func load64(s string, p int) uint64 {
	b := s[p : p+8]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// zeroByte returns 0 if no byte of x is zero; otherwise its lowest set bit
// is the high bit of x's first (least significant) zero byte. Bits above
// it may be set falsely (a borrow), so only the lowest one counts.
func zeroByte(x uint64) uint64 { return (x - swarOnes) &^ x & swarHigh }

// indexByteFrom returns the index of the first c in src at or after p, or
// len(src) if there is none.
func indexByteFrom(src string, p int, c byte) int {
	for ; p+8 <= len(src); p += 8 {
		if z := zeroByte(load64(src, p) ^ swarOnes*uint64(c)); z != 0 {
			return p + bits.TrailingZeros64(z)>>3
		}
	}
	for p < len(src) && src[p] != c {
		p++
	}
	return p
}

// indexQuoteFrom returns the index of the first q or backslash in src at
// or after p, or len(src) if there is none. (Of the two masks' union, the
// lowest bit is a true match: a false bit in either mask has a true one
// below it.)
func indexQuoteFrom(src string, p int, q byte) int {
	for ; p+8 <= len(src); p += 8 {
		w := load64(src, p)
		if z := zeroByte(w^swarOnes*uint64(q)) | zeroByte(w^swarOnes*'\\'); z != 0 {
			return p + bits.TrailingZeros64(z)>>3
		}
	}
	for p < len(src) && src[p] != q && src[p] != '\\' {
		p++
	}
	return p
}
