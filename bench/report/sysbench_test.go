package main

import (
	"os"
	"strings"
	"testing"
)

func TestParseSysbench(t *testing.T) {
	b, err := os.ReadFile("testdata/sysbench.md")
	if err != nil {
		t.Fatal(err)
	}
	body, rows, err := ParseSysbench(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(body, "#") || !strings.Contains(body, "| workload | ps-mode |") {
		t.Errorf("body:\n%s", body)
	}
	if len(rows) != 6 {
		t.Fatalf("%d rows", len(rows))
	}
	want := SysbenchRow{Workload: "oltp_point_select", PSMode: "auto", Threads: 1, DirectTPS: 13333, ListenTPS: 6593,
		DirectP95: 0.163, ListenP95: 0.324, AddedP50: 43}
	if rows[0] != want {
		t.Errorf("row 0 = %+v, want %+v", rows[0], want)
	}
	if r := rows[0].Ratio(); r < 0.494 || r > 0.495 {
		t.Errorf("ratio = %v", r)
	}
	if ws := sysbenchWorkloads(rows); len(ws) != 2 || ws[1] != "oltp_read_write" {
		t.Errorf("workloads = %q", ws)
	}
	s := &SysbenchSuite{Rows: rows}
	if h := s.headline(); len(h) != 2 || !strings.Contains(h[0][0], "64 threads") || h[0][2] != "**0.25×** the transactions per second" {
		t.Errorf("headline = %q", h)
	}
	plots := s.Plots(Machine{CPUs: 2})
	if len(plots) != 2 || plots[0].File != "sysbench-oltp_point_select.svg" || len(plots[0].Chart.Series) != 2 {
		t.Fatalf("plots = %+v", plots)
	}
	if err := writePlots(t.TempDir(), plots); err != nil {
		t.Fatal(err)
	}
}

func TestParseSysbenchRelayAndJunk(t *testing.T) {
	md := "# t\n\n| workload | ps-mode | threads | direct tps | listener tps | ratio | direct p95 ms | listener p95 ms | added p50 µs | TCP relay tps | relay ratio |\n" +
		"|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n" +
		"| w | auto | 8 | 100 | 90 | 0.90 | 1 | 2 | 3 | 95 | 0.95 |\n" +
		"| w | auto | x | 100 | 90 | 0.90 | 1 | 2 | 3 | 95 | 0.95 |\n" +
		"| w | auto | 8 | nan? | 90 | 0.90 | 1 | 2 | 3 | 95 | 0.95 |\n"
	_, rows, err := ParseSysbench(md)
	if err != nil || len(rows) != 1 || rows[0].RelayTPS != 95 || rows[0].Threads != 8 {
		t.Fatalf("rows %+v, err %v", rows, err)
	}
	plots := (&SysbenchSuite{Rows: rows}).Plots(Machine{})
	if len(plots) != 1 || len(plots[0].Chart.Series) != 3 {
		t.Errorf("plots = %+v", plots)
	}
	if _, _, err := ParseSysbench("# nothing\n\nno table\n"); err == nil {
		t.Error("no error without a table")
	}
}

func TestParseSysbenchHAProxy(t *testing.T) {
	md := "| workload | ps-mode | threads | direct tps | listener tps | ratio | direct p95 ms | listener p95 ms | added p50 µs |" +
		" TCP relay tps | relay ratio | relay added p50 µs | HAProxy tps | HAProxy ratio | HAProxy added p50 µs |\n" +
		"|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n" +
		"| w | auto | 64 | 100 | 45 | 0.45 | 1 | 2 | 3 | 40 | 0.40 | 9 | 39 | 0.39 | 12 |\n"
	_, rows, err := ParseSysbench(md)
	if err != nil || len(rows) != 1 || rows[0].RelayTPS != 40 || rows[0].HAProxyTPS != 39 || rows[0].AddedP50 != 3 {
		t.Fatalf("rows %+v, err %v", rows, err)
	}
	if plots := (&SysbenchSuite{Rows: rows}).Plots(Machine{}); len(plots) != 1 || len(plots[0].Chart.Series) != 4 {
		t.Errorf("plots = %+v", plots)
	}
	h := (&SysbenchSuite{Rows: rows}).headline()
	if len(h) != 1 || !strings.Contains(h[0][3], "HAProxy") || !strings.Contains(h[0][3], "0.39") {
		t.Errorf("headline = %q", h)
	}
	if env := strings.Join(sysbenchEnv(false, true, "o.md"), " "); !strings.Contains(env, "HAPROXY=1") {
		t.Errorf("env = %s", env)
	}
}

func FuzzParseSysbench(f *testing.F) {
	if b, err := os.ReadFile("testdata/sysbench.md"); err == nil {
		f.Add(string(b))
	}
	f.Add("| threads | direct tps | listener tps |\n|-|-|-|\n| 1 | 2 | 3 |\n")
	f.Fuzz(func(t *testing.T, md string) {
		_, rows, err := ParseSysbench(md)
		if err != nil {
			return
		}
		for _, r := range rows {
			if r.Threads < 1 || r.DirectTPS < 0 || r.ListenTPS < 0 || r.Ratio() < 0 {
				t.Fatalf("bad row %+v", r)
			}
		}
		s := &SysbenchSuite{Rows: rows}
		for _, p := range s.Plots(Machine{}) {
			var b strings.Builder
			if err := p.Chart.WriteSVG(&b); err != nil {
				t.Fatalf("plot %s: %v", p.File, err)
			}
		}
		_ = s.headline()
	})
}
