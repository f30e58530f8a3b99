package pool

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLatencyRecorderSum(t *testing.T) {
	var r LatencyRecorder
	r.Observe(3 * time.Microsecond)
	r.Observe(time.Millisecond)
	r.Observe(-time.Second) // a clock step: counted as 0
	s := r.Snapshot()
	require.Equal(t, int64(3), s.Count(), "snapshot = %+v", s)
	require.Equal(t, time.Millisecond+3*time.Microsecond, s.Sum, "snapshot = %+v", s)
	require.Equal(t, int64(1), s.Counts[0], "snapshot = %+v", s)
}

// BenchmarkLatencyRecorder is the cost of one observation; it must not
// allocate.
func BenchmarkLatencyRecorder(b *testing.B) {
	var r LatencyRecorder
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := 37 * time.Microsecond
		for pb.Next() {
			r.Observe(d)
		}
	})
}
