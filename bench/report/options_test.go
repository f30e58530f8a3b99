package main

import (
	"io"
	"reflect"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	o, err := ParseOptions(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Quick || o.Rounds != 5 || o.BenchTime != "500ms" || o.SweepFor != time.Second || o.SweepRounds != 2 || o.DrillRuns != 3 ||
		!reflect.DeepEqual(o.Suites, allSuites) || len(o.Levels) != 9 || o.OutDir != "bench" || o.Scratch != "bench/out" {
		t.Errorf("defaults = %+v", o)
	}
	q, err := ParseOptions([]string{"-quick", "-rounds", "2", "-suites", "pool, demo", "-levels", "1,8"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !q.Quick || q.Rounds != 2 || q.BenchTime != "200ms" || q.DrillRuns != 1 || q.SweepRounds != 1 ||
		!reflect.DeepEqual(q.Suites, []string{"pool", "demo"}) || !reflect.DeepEqual(q.Levels, []int{1, 8}) {
		t.Errorf("quick = %+v", q)
	}
	if !q.runs("pool") || q.runs("driver") {
		t.Error("runs")
	}
	for _, bad := range [][]string{{"-suites", "nope"}, {"-levels", "0"}, {"-levels", "x"}, {"extra"}} {
		if _, err := ParseOptions(bad, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
