package proxy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkObserveCommand is what recording a command's two latencies
// costs on the relay path; it must not allocate.
func BenchmarkObserveCommand(b *testing.B) {
	var s Server
	start := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		s.observeCommand(start, start)
	}
}

func TestObserveCommandDoesNotAllocate(t *testing.T) {
	var s Server
	start := time.Now()
	n := testing.AllocsPerRun(100, func() { s.observeCommand(start, start) })
	require.Equal(t, float64(0), n, "observeCommand allocates %v times", n)
	st := s.counts.respLatency.Snapshot()
	require.Equal(t, int64(101), st.Count(), "recorded %d observations, sum %v", st.Count(), st.Sum)
	require.Greater(t, st.Sum, time.Duration(0), "recorded %d observations, sum %v", st.Count(), st.Sum)
}
