package rdsmux

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkObserveStatement is what timing one statement costs the driver
// (the timestamps and the two histograms); it must not allocate.
func BenchmarkObserveStatement(b *testing.B) {
	var l latency
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		sent := time.Now()
		l.observe(start, sent, time.Now())
	}
}

func TestObserveStatementDoesNotAllocate(t *testing.T) {
	var l latency
	start := time.Now()
	require.Zero(t, testing.AllocsPerRun(100, func() { l.observe(start, start, time.Now()) }), "observe allocates")
	got := l.resp.Snapshot()
	require.EqualValues(t, 101, got.Count(), "observations recorded")
	require.Positive(t, got.Sum, "sum of the observations")
}
