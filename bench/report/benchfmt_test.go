package main

import (
	"os"
	"strings"
	"testing"
)

func TestParseBenchRealOutput(t *testing.T) {
	f, err := os.Open("testdata/pool.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, err := ParseBench(f)
	if err != nil {
		t.Fatal(err)
	}
	if out.CPU != "AMD EPYC" {
		t.Errorf("CPU = %q", out.CPU)
	}
	if len(out.Benches) != 10 {
		t.Fatalf("%d results, want 10: %+v", len(out.Benches), out.Benches)
	}
	b := out.Benches[0]
	if b.Pkg != "github.com/rdsmux/rdsmux/pool" || b.Name != "BenchmarkBorrowRelease/impl=rdsmux" || b.Procs != 2 || b.N != 1000 {
		t.Errorf("first = %+v", b)
	}
	if v, ok := b.NsPerOp(); !ok || v != 106.8 {
		t.Errorf("ns/op = %v, %v", v, ok)
	}
	if b.Units["B/op"] != 0 || b.Units["allocs/op"] != 0 || len(b.Units) != 3 {
		t.Errorf("units = %v", b.Units)
	}
	last := out.Benches[len(out.Benches)-1]
	if last.Pkg != "github.com/rdsmux/rdsmux/pool/internal/core" || last.Name != "BenchmarkAcquireRelease/impl=puddle" {
		t.Errorf("last = %+v", last)
	}
	if len(out.Fails) != 0 {
		t.Errorf("fails = %v", out.Fails)
	}
}

func TestParseBenchLines(t *testing.T) {
	in := strings.Join([]string{
		"pkg: example.com/x",
		"BenchmarkA-8   \t  500\t  2000 ns/op\t  12.5 MB/s\t  3 custom-unit",
		"BenchmarkNoProcs 10 5 ns/op",
		"BenchmarkName-with-dash-4 10 5 ns/op",
		"BenchmarkLogs-2 \t[mysql] 2026/01/01 packets.go:58: unexpected EOF", // name split from its numbers
		"     300\t  4000 ns/op\t 10 B/op\t 1 allocs/op",
		"BenchmarkOdd-2 10 5",         // a value without a unit
		"BenchmarkZero-2 0 5 ns/op",   // no iterations
		"BenchmarkNaN-2 10 NaN ns/op", // not a number we can use
		"Benchmark-2 10 5 ns/op",      // no name
		"--- FAIL: BenchmarkBroken",
		"FAIL\texample.com/x\t0.1s",
	}, "\n")
	out, err := ParseBench(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name  string
		procs int
		n     int
		ns    float64
	}{
		{"BenchmarkA", 8, 500, 2000},
		{"BenchmarkNoProcs", 1, 10, 5},
		{"BenchmarkName-with-dash", 4, 10, 5},
		{"BenchmarkLogs", 2, 300, 4000},
	}
	if len(out.Benches) != len(want) {
		t.Fatalf("got %d results %+v, want %d", len(out.Benches), out.Benches, len(want))
	}
	for i, w := range want {
		b := out.Benches[i]
		ns, _ := b.NsPerOp()
		if b.Name != w.name || b.Procs != w.procs || b.N != w.n || ns != w.ns || b.Pkg != "example.com/x" {
			t.Errorf("result %d = %+v, want %+v", i, b, w)
		}
	}
	if got := out.Benches[0].Units; got["MB/s"] != 12.5 || got["custom-unit"] != 3 {
		t.Errorf("custom units = %v", got)
	}
	if len(out.Fails) != 2 {
		t.Errorf("fails = %q", out.Fails)
	}
}

func FuzzParseBench(f *testing.F) {
	if b, err := os.ReadFile("testdata/pool.txt"); err == nil {
		f.Add(string(b))
	}
	f.Add("BenchmarkX-2 \t 10 \t 5 ns/op\n")
	f.Add("BenchmarkX-2 \tlog\n 10 5 ns/op 1 B/op\n")
	f.Fuzz(func(t *testing.T, in string) {
		out, err := ParseBench(strings.NewReader(in))
		if err != nil {
			return // a line longer than the scanner takes
		}
		for _, b := range out.Benches {
			if !strings.HasPrefix(b.Name, "Benchmark") || len(b.Name) <= len("Benchmark") || b.N <= 0 || b.Procs <= 0 {
				t.Fatalf("bad result %+v", b)
			}
			for u, v := range b.Units {
				if u == "" || v != v {
					t.Fatalf("bad unit %q = %v", u, v)
				}
			}
		}
		// Whatever it parsed, the comparison must not panic.
		for _, c := range Compare(out.Benches) {
			if c.HasRatio() && c.Ratio < 0 {
				t.Fatalf("negative ratio %+v", c)
			}
		}
	})
}
