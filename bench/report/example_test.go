package main

import (
	"fmt"
	"os"
	"strings"
)

// Pairs rdsmux with its baseline in `go test -bench` output and prints
// the ratio of their times per operation.
func ExampleCompare() {
	out := `pkg: github.com/rdsmux/rdsmux/pool
BenchmarkBorrowRelease/impl=rdsmux-2   1000000   80.0 ns/op   0 B/op   0 allocs/op
BenchmarkBorrowRelease/impl=puddle-2   1000000  100.0 ns/op   0 B/op   0 allocs/op
`
	parsed, err := ParseBench(strings.NewReader(out))
	if err != nil {
		panic(err)
	}
	for _, c := range Compare(parsed.Benches) {
		fmt.Printf("%s: rdsmux %s, %s %s: %s\n", c.Case, fmtNs(c.Subject.NsOp.Median),
			c.Baseline.Impl, fmtNs(c.Baseline.NsOp.Median), fmtRatio(c.Ratio))
	}
	// Output:
	// BorrowRelease: rdsmux 80.0 ns, puddle 100 ns: 0.80×
}

// Draws a two-line chart as SVG.
func ExampleChart_WriteSVG() {
	c := Chart{Title: "Queries per second", XLabel: "goroutines", YLabel: "q/s", LogX: true,
		Series: []ChartSeries{
			{Name: "go-sql-driver", Points: []XY{{1, 5000}, {16, 9000}, {256, 8000}}},
			{Name: "rdsmux", Points: []XY{{1, 8000}, {16, 30000}, {256, 24000}}, Emphasis: true},
		}}
	if err := c.WriteSVG(os.Stdout); err != nil {
		panic(err)
	}
}
