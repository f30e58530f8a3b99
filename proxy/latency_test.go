package proxy

import (
	"testing"
	"time"
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
	if n := testing.AllocsPerRun(100, func() { s.observeCommand(start, start) }); n != 0 {
		t.Fatalf("observeCommand allocates %v times", n)
	}
	st := s.counts.respLatency.Snapshot()
	if st.Count() != 101 || st.Sum <= 0 {
		t.Fatalf("recorded %d observations, sum %v", st.Count(), st.Sum)
	}
}
