package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// fmtNs formats nanoseconds per operation with a unit that keeps three
// significant digits: "85.6 ns", "12.3 µs", "1.23 ms".
func fmtNs(ns float64) string {
	switch {
	case ns <= 0:
		return "-"
	case ns < 1e3:
		return sig3(ns) + " ns"
	case ns < 1e6:
		return sig3(ns/1e3) + " µs"
	case ns < 1e9:
		return sig3(ns/1e6) + " ms"
	default:
		return sig3(ns/1e9) + " s"
	}
}

// sig3 formats v with three significant digits (no exponent).
func sig3(v float64) string {
	if v == 0 {
		return "0"
	}
	d := 2 - int(math.Floor(math.Log10(math.Abs(v))))
	d = max(d, 0)
	return strconv.FormatFloat(v, 'f', d, 64)
}

// fmtRatio formats a ratio as "0.81×"; "-" when there is none.
func fmtRatio(r float64) string {
	if r <= 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		return "-"
	}
	return strconv.FormatFloat(r, 'f', 2, 64) + "×"
}

// fmtRange formats the spread of a ratio over rounds: "0.78–0.85"; "-"
// for a single round.
func fmtRange(lo, hi float64, rounds int) string {
	if rounds < 2 || lo <= 0 {
		return "-"
	}
	return strconv.FormatFloat(lo, 'f', 2, 64) + "–" + strconv.FormatFloat(hi, 'f', 2, 64)
}

// fmtCount formats a per-op count (allocs, bytes): integral values
// without decimals.
func fmtCount(s Stat) string {
	if s.N == 0 {
		return "-"
	}
	v := s.Median
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// fmtPair formats "baseline → rdsmux".
func fmtPair(base, subject string) string {
	if base == "" {
		return subject
	}
	return base + " → " + subject
}

// fmtDur rounds a duration for a table: "350ms", "1.25s", "850µs".
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d >= time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
	default:
		return d.Round(time.Microsecond).String()
	}
}

// fmtOps formats operations per second with thousands separators.
func fmtOps(v float64) string {
	if v <= 0 {
		return "-"
	}
	return thousands(int64(math.Round(v)))
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// pkgShort is the last element of an import path.
func pkgShort(pkg string) string {
	if i := strings.LastIndexByte(pkg, '/'); i >= 0 {
		return pkg[i+1:]
	}
	return pkg
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
