package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sysbenchScript is the listener benchmark (relative to the repository
// root); it writes a Markdown table to $OUT.
const sysbenchScript = "bench/sysbench.sh"

// SysbenchRow is one line of bench/sysbench.sh's table: a workload at a
// thread count and ps-mode, run directly against MariaDB and through the
// listener back to back.
type SysbenchRow struct {
	Workload, PSMode     string
	Threads              int
	DirectTPS, ListenTPS float64
	RelayTPS             float64 // 0 unless the script ran with RELAY=1
	HAProxyTPS           float64 // 0 unless the script ran with HAPROXY=1
	DirectP95, ListenP95 float64 // ms
	AddedP50             float64 // µs per event
}

// Ratio is the listener's throughput over direct.
func (r SysbenchRow) Ratio() float64 {
	if r.DirectTPS <= 0 {
		return 0
	}
	return r.ListenTPS / r.DirectTPS
}

// SysbenchSuite is sysbench run directly against MariaDB and through the
// listener, by bench/sysbench.sh.
type SysbenchSuite struct {
	Section
	Markdown string // the script's Markdown without its title
	Rows     []SysbenchRow
	Settings []string // the environment the script ran with
}

// sysbenchEnv is what the report asks of bench/sysbench.sh: shorter runs
// than its defaults, so that the whole report stays within its time, and
// HAProxy as a second baseline where it is installed (a relay that does
// nothing but copy bytes: the floor under any proxy on this machine).
func sysbenchEnv(quick, haproxy bool, out string) []string {
	env := []string{"TIME=5", "WARMUP=2"}
	if quick {
		env = []string{"TIME=2", "WARMUP=1", "PS_MODES=auto"}
	}
	if haproxy {
		env = append(env, "HAPROXY=1")
	}
	return append(env, "OUT="+out)
}

// haveHAProxy reports whether haproxy is installed.
func haveHAProxy() bool {
	_, err := exec.LookPath("haproxy")
	return err == nil
}

// Sysbench runs bench/sysbench.sh and reads the Markdown it writes.
func (r Runner) Sysbench(ctx context.Context) *SysbenchSuite {
	s := &SysbenchSuite{}
	start := time.Now()
	defer func() { s.Elapsed = time.Since(start) }()
	if _, err := os.Stat(filepath.Join(r.Root, sysbenchScript)); err != nil {
		s.Skipped = "listener section not run: " + sysbenchScript + " missing"
		return s
	}
	out := filepath.Join(r.Opts.Scratch, "sysbench.md")
	md := out
	if !filepath.IsAbs(md) {
		md = filepath.Join(r.Root, md)
	}
	if err := os.Remove(md); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.Err = err
		return s
	}
	cmd := Command{Env: sysbenchEnv(r.Opts.Quick, haveHAProxy(), out), Args: []string{"bash", sysbenchScript}, Timeout: 10 * time.Minute, Log: "sysbench.txt"}
	s.Commands = []Command{cmd}
	r.Log("sysbench: %s", cmd)
	_, s.Err = cmd.Run(ctx, r.Root, r.Opts.Scratch)
	b, err := os.ReadFile(md)
	if err != nil {
		s.Err = errors.Join(s.Err, fmt.Errorf("%s did not write %s: %w", sysbenchScript, out, err))
		return s
	}
	s.Markdown, s.Rows, err = ParseSysbench(string(b))
	s.Err = errors.Join(s.Err, err)
	return s
}

// ParseSysbench reads bench/sysbench.sh's Markdown: it returns the text
// without its title and the rows of the table whose header has "direct
// tps" and "listener tps" (other columns found by name; missing ones stay
// zero).
func ParseSysbench(md string) (body string, rows []SysbenchRow, err error) {
	lines := strings.Split(md, "\n")
	if len(lines) > 0 && strings.HasPrefix(lines[0], "# ") {
		lines = lines[1:]
	}
	body = strings.TrimSpace(strings.Join(lines, "\n"))
	tables, err := ParseTables(strings.NewReader(md))
	if err != nil {
		return body, nil, err
	}
	for _, t := range tables {
		dcol, lcol := t.Col("direct tps"), t.Col("listener tps")
		if dcol < 0 || lcol < 0 {
			continue
		}
		col := map[string]int{"workload": t.Col("workload"), "ps": t.Col("ps-mode"), "threads": t.Col("threads"),
			"relay": t.Col("relay tps"), "haproxy": t.Col("haproxy tps"), "dp95": t.Col("direct p95"), "lp95": t.Col("listener p95"), "p50": t.Col("added p50")}
		for i := range t.Rows {
			f := func(name string) float64 {
				v, err := strconv.ParseFloat(t.Cell(i, col[name]), 64)
				if err != nil || !finite(v) {
					return 0
				}
				return v
			}
			th, err := strconv.Atoi(t.Cell(i, col["threads"]))
			if err != nil || th < 1 {
				continue
			}
			d, derr := strconv.ParseFloat(t.Cell(i, dcol), 64)
			l, lerr := strconv.ParseFloat(t.Cell(i, lcol), 64)
			if derr != nil || lerr != nil || d < 0 || l < 0 || !finite(d) || !finite(l) {
				continue
			}
			rows = append(rows, SysbenchRow{Workload: t.Cell(i, col["workload"]), PSMode: t.Cell(i, col["ps"]), Threads: th,
				DirectTPS: d, ListenTPS: l, RelayTPS: max(f("relay"), 0), HAProxyTPS: max(f("haproxy"), 0),
				DirectP95: f("dp95"), ListenP95: f("lp95"), AddedP50: f("p50")})
		}
		break
	}
	if len(rows) == 0 {
		return body, nil, errors.New("no sysbench table (a header with \"direct tps\" and \"listener tps\") in the script's output")
	}
	return body, rows, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// sysbenchWorkloads returns the workloads in the order they appear.
func sysbenchWorkloads(rows []SysbenchRow) []string {
	var ws []string
	for _, r := range rows {
		if !slices.Contains(ws, r.Workload) {
			ws = append(ws, r.Workload)
		}
	}
	return ws
}

// Plots draws one chart per workload: transactions per second against
// threads, direct and through the listener, per ps-mode.
func (s *SysbenchSuite) Plots(m Machine) []Plot {
	if s == nil {
		return nil
	}
	var plots []Plot
	for _, w := range sysbenchWorkloads(s.Rows) {
		var modes []string
		for _, r := range s.Rows {
			if r.Workload == w && !slices.Contains(modes, r.PSMode) {
				modes = append(modes, r.PSMode)
			}
		}
		var series []ChartSeries
		for _, target := range []string{"direct", "listener", "relay", "haproxy"} {
			for _, mode := range modes {
				var pts []XY
				for _, r := range s.Rows {
					if r.Workload != w || r.PSMode != mode {
						continue
					}
					v := map[string]float64{"direct": r.DirectTPS, "listener": r.ListenTPS, "relay": r.RelayTPS, "haproxy": r.HAProxyTPS}[target]
					if v > 0 {
						pts = append(pts, XY{float64(r.Threads), v})
					}
				}
				if len(pts) == 0 {
					continue
				}
				name := map[string]string{"direct": "sysbench direct to MariaDB", "listener": "through the rdsmux listener",
					"relay": "through a plain TCP relay", "haproxy": "through HAProxy (TCP mode)"}[target] + ", ps-mode=" + mode
				// Colour by target, dashes by ps-mode.
				color := map[string]string{"direct": palette[0], "listener": emphasisColor, "relay": palette[2], "haproxy": palette[3]}[target]
				series = append(series, ChartSeries{Name: name, Points: pts, Color: color,
					Emphasis: target == "listener" && mode == modes[0], Dashed: mode != modes[0]})
			}
		}
		if len(series) == 0 {
			continue
		}
		plots = append(plots, Plot{File: "sysbench-" + fileSafe(w) + ".svg",
			Alt: "sysbench " + w + ": transactions per second against threads, direct vs through the listener",
			Chart: Chart{Title: "sysbench " + w + ": transactions per second (higher is better)",
				Subtitle: fmt.Sprintf("bench/sysbench.sh: direct and through the listener back to back, one local MariaDB, "+
					"%d CPUs shared by sysbench, listener and server. %s.", m.CPUs, m.Date.Format("2006-01-02")),
				XLabel: "sysbench threads (log scale)", YLabel: "transactions per second", LogX: true, Series: series}})
	}
	return plots
}

func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// headline rows: each workload at its highest thread count, per ps-mode.
func (s *SysbenchSuite) headline() [][]string {
	var out [][]string
	top := map[string]int{}
	for _, r := range s.Rows {
		top[r.Workload] = max(top[r.Workload], r.Threads)
	}
	for _, r := range s.Rows {
		if r.Threads != top[r.Workload] || r.Ratio() <= 0 {
			continue
		}
		note := "one run"
		if r.HAProxyTPS > 0 && r.DirectTPS > 0 {
			note = "one run; HAProxy (TCP mode, no multiplexing) " + fmtRatio(r.HAProxyTPS/r.DirectTPS)
		}
		out = append(out, []string{fmt.Sprintf("listener: sysbench %s, %d threads, ps-mode=%s", r.Workload, r.Threads, r.PSMode),
			"sysbench direct to MariaDB", "**" + fmtRatio(r.Ratio()) + "** the transactions per second", note})
	}
	return out
}

func (r *Report) writeSysbench(w io.Writer) {
	fmt.Fprintln(w, "## Listener: sysbench direct vs through rdsmux")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "`bench/sysbench.sh` runs sysbench against a throwaway MariaDB directly and through the listener"+
		" (`cmd/rdsmux`, 16 backend connections), back to back for each workload, ps-mode and thread count."+
		" The ratio is the listener's transactions per second over direct (above 1: the listener serves more)."+
		" Its own output follows; the report runs it with shorter runs than its defaults (the environment is"+
		" in the command).")
	fmt.Fprintln(w)
	s := r.Sysbench
	if s == nil {
		fmt.Fprintln(w, "**Not run**.")
		fmt.Fprintln(w)
		return
	}
	if !writeSection(w, s.Section) {
		return
	}
	for _, p := range r.Plots {
		if strings.HasPrefix(p.File, "sysbench-") {
			fmt.Fprintf(w, "![%s](%s)\n\n", p.Alt, p.File)
		}
	}
	if s.Markdown != "" {
		fmt.Fprintln(w, s.Markdown)
		fmt.Fprintln(w)
	}
}
