package rdsmux

import (
	"testing"
	"time"
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
	if n := testing.AllocsPerRun(100, func() { l.observe(start, start, time.Now()) }); n != 0 {
		t.Fatalf("observe allocates %v times", n)
	}
	if got := l.resp.Snapshot(); got.Count() != 101 || got.Sum <= 0 {
		t.Fatalf("recorded %d observations, sum %v", got.Count(), got.Sum)
	}
}
