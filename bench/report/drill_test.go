package main

import (
	"fmt"
	"testing"
	"time"
)

// drillLine prints a summary as failover/drill_test.go's summarize does.
func drillLine(name string) string {
	return fmt.Sprintf("drill %s: n=%d  promotion->first write p50=%v max=%v  failure->first write p50=%v max=%v  detection p50=%v max=%v  "+
		"client errors=%d (%.1f/run)  acked-but-unreplicated=%d  fixed-address go-sql-driver recovered in %d/%d runs within %v\n",
		name, 3, 412*time.Millisecond, 1200*time.Millisecond, 612*time.Millisecond, 1400*time.Millisecond,
		0*time.Millisecond, 2*time.Second, 7, 7.0/3, 1, 0, 3, 3*time.Second)
}

func TestParseDrill(t *testing.T) {
	d, ok := ParseDrill(drillLine("blackhole, check 200ms, probe timeout 300ms"))
	if !ok {
		t.Fatalf("not parsed: %q", drillLine("x"))
	}
	want := Drill{Name: "blackhole, check 200ms, probe timeout 300ms", Runs: 3,
		PromotionP50: 412 * time.Millisecond, PromotionMax: 1200 * time.Millisecond,
		FailureP50: 612 * time.Millisecond, FailureMax: 1400 * time.Millisecond,
		DetectionP50: 0, DetectionMax: 2 * time.Second,
		ClientErrors: 7, ErrorsPerRun: 2.3, AckedUnreplicated: 1,
		FixedRecovered: 0, FixedRuns: 3, FixedWithin: 3 * time.Second}
	if d != want {
		t.Errorf("got  %+v\nwant %+v", d, want)
	}
	for _, bad := range []string{"", "drill x: n=3", "--- PASS: TestFailoverDrillRepeated", drillLine("x")[:60]} {
		if _, ok := ParseDrill(bad); ok {
			t.Errorf("parsed %q", bad)
		}
	}
}

func TestParsePoolFailover(t *testing.T) {
	line := "    failover_test.go:120: recovery: first write 523.4ms after promotion; 4312 writes acknowledged, " +
		"2 still in replication when the primary died; write errors 5, read errors 1; backend connections closed on failover: 4"
	p, ok := ParsePoolFailover(line)
	if !ok {
		t.Fatal("not parsed")
	}
	want := PoolFailover{Recovery: 523400 * time.Microsecond, Acked: 4312, InReplication: 2, WriteErrors: 5, ReadErrors: 1, ClosedOnFailover: 4}
	if p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}
	if _, ok := ParsePoolFailover("recovery: first write soon after promotion"); ok {
		t.Error("parsed a partial line")
	}
}

func FuzzParseDrill(f *testing.F) {
	f.Add(drillLine("kill"))
	f.Add("recovery: first write 1s after promotion; 1 writes acknowledged, 0 still in replication when the primary died; write errors 0, read errors 0; backend connections closed on failover: 0")
	f.Fuzz(func(t *testing.T, line string) {
		if d, ok := ParseDrill(line); ok && (d.Name == "" || d.Runs < 0) {
			t.Fatalf("bad drill %+v", d)
		}
		if p, ok := ParsePoolFailover(line); ok && p.Acked < 0 {
			t.Fatalf("bad pool failover %+v", p)
		}
	})
}
