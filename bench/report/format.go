package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchunit"
)

// table is a Markdown table; right lists the right-aligned columns.
type table struct {
	head  []string
	right []int
	rows  [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	line := func(cells []string) { fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | ")) }
	line(t.head)
	rule := make([]string, len(t.head))
	for i := range rule {
		rule[i] = "---"
	}
	for _, i := range t.right {
		rule[i] = "---:"
	}
	line(rule)
	for _, r := range t.rows {
		line(r)
	}
	fmt.Fprintln(w)
}

// fmtSec is a time/op median with its confidence interval: "153ns ± 2%".
func fmtSec(s benchmath.Summary) string {
	if s.Center == 0 {
		return "—"
	}
	return benchunit.Scale(s.Center, benchunit.Decimal) + "s ± " + s.PctRangeString()
}

// fmtNum is a count (allocs, bytes, queries per second): "1,234".
func fmtNum(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func fmtRatio(r float64) string {
	if r == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", r)
}

// fmtDur rounds a duration to three significant digits: 104ms, 9.1ms.
func fmtDur(d time.Duration) string {
	for r := time.Duration(1); r < time.Hour; r *= 10 {
		if d < 1000*r {
			return d.Round(r).String()
		}
	}
	return d.Round(time.Second).String()
}

// roundsNote describes the spread of a ratio measured over n rounds.
func roundsNote(lo, hi float64, n int) string {
	if n == 1 {
		return "one run"
	}
	return fmt.Sprintf("median of %d rounds, range %.2f–%.2f", n, lo, hi)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
