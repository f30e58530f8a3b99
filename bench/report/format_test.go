package main

import (
	"testing"
	"time"
)

func TestFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{fmtNs(85.64), "85.6 ns"},
		{fmtNs(105), "105 ns"},
		{fmtNs(1234), "1.23 µs"},
		{fmtNs(45_600_000), "45.6 ms"},
		{fmtNs(2e9), "2.00 s"},
		{fmtNs(0), "-"},
		{fmtRatio(0.8123), "0.81×"},
		{fmtRatio(0), "-"},
		{fmtRange(0.78, 0.85, 3), "0.78–0.85"},
		{fmtRange(0.78, 0.85, 1), "-"},
		{fmtCount(Stat{Median: 2, N: 1}), "2"},
		{fmtCount(Stat{Median: 2.5, N: 1}), "2.5"},
		{fmtCount(Stat{}), "-"},
		{fmtPair("2", "0"), "2 → 0"},
		{fmtDur(412 * time.Millisecond), "412ms"},
		{fmtDur(1250 * time.Millisecond), "1.25s"},
		{fmtDur(2500 * time.Microsecond), "2.5ms"},
		{fmtDur(850 * time.Microsecond), "850µs"},
		{fmtDur(0), "0"},
		{fmtOps(12345.6), "12,346"},
		{thousands(-1234567), "-1,234,567"},
		{thousands(999), "999"},
		{pkgShort("github.com/rdsmux/rdsmux/pool/internal/core"), "core"},
		{plural(1, "round", "rounds"), "1 round"},
		{plural(3, "round", "rounds"), "3 rounds"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
