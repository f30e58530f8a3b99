package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// writeReport prints the results side by side, one column per phase.
func writeReport(out io.Writer, results []result, serverCounter string) {
	rows := [][]string{{""}}
	for _, r := range results {
		rows[0] = append(rows[0], r.phase)
	}
	add := func(label string, cell func(r result) string) {
		row := []string{label}
		for _, r := range results {
			row = append(row, cell(r))
		}
		rows = append(rows, row)
	}
	add("requests (ok)", func(r result) string { return thousands(r.requests) })
	add("requests/s", func(r result) string {
		return thousands(int64(float64(r.requests) / max(r.elapsed.Seconds(), 0.001)))
	})
	add("errors", func(r result) string { return thousands(r.errors) })
	for _, kind := range topKinds(results, 4) {
		add("  "+kind, func(r result) string {
			if n := r.errorKinds[kind]; n > 0 {
				return thousands(n)
			}
			return "-"
		})
	}
	if other := otherKinds(results, 4); other != nil {
		add("  other errors", func(r result) string { return thousands(other[r.phase]) })
	}
	add("latency p50", func(r result) string { return fmtLatency(r.p50, r.requests) })
	add("latency p99", func(r result) string { return fmtLatency(r.p99, r.requests) })
	add("peak concurrent handlers", func(r result) string { return thousands(int64(r.peakHandlers)) })
	add("peak client connections", func(r result) string { return thousands(int64(r.peakClient)) })
	add("peak database connections", func(r result) string { return thousands(int64(r.peakDB)) })
	add("  by the server's count", func(r result) string {
		s := thousands(int64(r.serverPeak))
		if !r.serverExact {
			s += " (sampled)"
		}
		return s
	})
	add("multiplexing (client : db)", func(r result) string {
		if r.peakDB == 0 {
			return "-"
		}
		return fmt.Sprintf("%s : %s = %.0f:1", thousands(int64(r.peakClient)), thousands(int64(r.peakDB)),
			float64(r.peakClient)/float64(r.peakDB))
	})
	add("database connections opened", func(r result) string { return thousands(r.opened) })
	add("most handlers waiting", func(r result) string {
		if r.maxWaiting < 0 {
			return "- (no queue)"
		}
		return thousands(int64(r.maxWaiting))
	})
	add("pins by reason", func(r result) string {
		if r.pins == nil {
			return "-"
		}
		if len(r.pins) == 0 {
			return "none"
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(r.pins)) {
			parts = append(parts, fmt.Sprintf("%s %s", k, thousands(r.pins[k])))
		}
		return strings.Join(parts, ", ")
	})

	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], len(c))
		}
	}
	for i, row := range rows {
		var b strings.Builder
		for j, c := range row {
			if j == 0 {
				fmt.Fprintf(&b, "%-*s", widths[0], c)
			} else {
				fmt.Fprintf(&b, "  %*s", widths[j], c)
			}
		}
		fmt.Fprintln(out, strings.TrimRight(b.String(), " "))
		if i == 0 {
			fmt.Fprintln(out, strings.Repeat("-", len(strings.TrimRight(b.String(), " "))))
		}
	}
	fmt.Fprintln(out, "\nLatency is per successful request, connecting included.")
	fmt.Fprintf(out, "The server's count is %s.\n", serverCounter)
	if slices.ContainsFunc(results, func(r result) bool { return r.serverPeak > r.peakDB }) {
		fmt.Fprintln(out, "The server counts a connection from accept to teardown, a client from the end of the\n"+
			"handshake to Close, so the server sees a few more: connections still authenticating or\n"+
			"refused, and those closed and not yet torn down (rdsmux closes a backend after a pinned\n"+
			"session, as go-sql-driver cannot reset one).")
	}
}

// topKinds returns the error kinds with the most errors over all phases.
func topKinds(results []result, n int) []string {
	total := map[string]int64{}
	for _, r := range results {
		for k, c := range r.errorKinds {
			total[k] += c
		}
	}
	kinds := slices.Collect(maps.Keys(total))
	slices.SortFunc(kinds, func(a, b string) int {
		if total[a] != total[b] {
			return int(total[b] - total[a])
		}
		return strings.Compare(a, b)
	})
	return kinds[:min(n, len(kinds))]
}

// otherKinds sums, per phase, the errors outside the top n kinds; nil if
// there are none.
func otherKinds(results []result, n int) map[string]int64 {
	top := topKinds(results, n)
	var other map[string]int64
	for _, r := range results {
		for k, c := range r.errorKinds {
			if !slices.Contains(top, k) {
				if other == nil {
					other = map[string]int64{}
				}
				other[r.phase] += c
			}
		}
	}
	return other
}

func fmtLatency(d time.Duration, n int64) string {
	if n == 0 {
		return "-"
	}
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
}
