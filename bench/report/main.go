// Command report writes bench/REPORT.md and its plots from the raw output
// bench/run.sh keeps in bench/out/: benchstat-format `go test -bench`
// output (pool, driver, sweep), bench/sysbench.sh's CSV and table, the
// failover drill's JSON lines and examples/demo's JSON and table. It runs
// nothing itself; the comparisons use golang.org/x/perf's benchmath, as
// benchstat does (medians, 95% confidence intervals, Mann-Whitney U).
//
//	(cd bench && go run ./report -in out -out .)
package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	in := flag.String("in", "out", "`dir` with bench/run.sh's raw output")
	out := flag.String("out", ".", "`dir` for REPORT.md and the SVG plots")
	invoked := flag.String("invoked", "bench/run.sh", "the command line shown under Reproduce")
	elapsed := flag.String("elapsed", "", "how long the run took")
	suites := flag.String("suites", "pool driver sweep sysbench failover demo", "the suites that ran")
	flag.Parse()
	r := &report{in: *in, out: *out, invoked: *invoked, elapsed: *elapsed, suites: strings.Fields(*suites)}
	var buf bytes.Buffer
	err := r.write(&buf)
	if err == nil {
		err = os.WriteFile(filepath.Join(*out, "REPORT.md"), buf.Bytes(), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "report: wrote", filepath.Join(*out, "REPORT.md"))
}

// intros has the report's fixed text: each section's title and
// introduction after a "<!-- name -->" line, {placeholders} filled in.
//
//go:embed sections.md
var intros string

// intro is the text of sections.md after "<!-- name -->".
func intro(name string) string {
	_, s, _ := strings.Cut(intros, "<!-- "+name+" -->\n")
	s, _, _ = strings.Cut(s, "<!-- ")
	return strings.TrimRight(s, "\n") + "\n\n"
}

// report is what REPORT.md is made of.
type report struct {
	in, out, invoked, elapsed string
	suites                    []string
	headline                  table
	errs                      []error // inputs that could not be read; they fail the run
}

func (r *report) file(name string) string {
	b, err := os.ReadFile(filepath.Join(r.in, name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		r.errs = append(r.errs, err)
	}
	return string(b)
}

func (r *report) write(w io.Writer) error {
	machine := map[string]string{}
	for _, l := range strings.Split(r.file("machine.tsv"), "\n") {
		if k, v, ok := strings.Cut(l, "\t"); ok {
			machine[k] = v
		}
	}
	var body bytes.Buffer
	r.headline = table{head: []string{"what", "baseline", "rdsmux vs baseline", "significance or spread"}}
	for _, s := range r.suites {
		if f, ok := sections[s]; ok {
			fmt.Fprint(&body, intro(s))
			r.writeRun(&body, s)
			f(r, &body)
		}
	}
	fill := strings.NewReplacer("{invoked}", r.invoked, "{elapsed}", r.elapsed, "{cpus}", machine["CPUs (nproc)"],
		"{date}", strings.Replace(strings.TrimSuffix(machine["date"], "Z"), "T", " ", 1)+" UTC")
	fill.WriteString(w, intro("header"))
	r.headline.write(w)
	mt := table{head: []string{"", ""}}
	for _, k := range []string{"CPUs (nproc)", "CPU", "OS", "Go", "MariaDB", "sysbench"} {
		mt.add(k, machine[k])
	}
	mt.add("load average (1, 5, 15 min) before → after", machine["load before"]+" → "+machine["load after"])
	mt.add("commit", machine["commit"])
	mt.add("date", machine["date"])
	fmt.Fprintln(w, "## Machine")
	fmt.Fprintln(w)
	mt.write(w)
	fill.WriteString(w, intro("reproduce"))
	_, err := w.Write(body.Bytes())
	return errors.Join(append(r.errs, err)...)
}

// writeRun lists a suite's commands, how long they took and whether they
// failed.
func (r *report) writeRun(w io.Writer, suite string) {
	fmt.Fprintf(w, "```sh\n%s```\n\n", r.file(suite+".cmd"))
	for _, l := range strings.Split(r.file("failed.txt"), "\n") {
		if strings.HasPrefix(l, suite+": ") {
			fmt.Fprintf(w, "**Failed** (what it measured is below): `%s`\n\n", strings.ReplaceAll(l, "`", "'"))
		}
	}
	secs := 0
	for _, f := range strings.Fields(r.file(suite + ".took")) {
		n, _ := strconv.Atoi(f)
		secs += n
	}
	fmt.Fprintf(w, "Took %dm%02ds.\n\n", secs/60, secs%60)
}

// benchSamples reads a suite's go test -bench output.
func (r *report) benchSamples(suite string) []*sample {
	ss, err := parseBench(strings.NewReader(r.file(suite+".txt")), suite+".txt")
	if err != nil {
		r.errs = append(r.errs, err)
	}
	return ss
}

// headBench adds a go test comparison to the headline.
func (r *report) headBench(label string, c comparison, what string) {
	r.headline.add(label, c.base.impl, "**"+fmtRatio(c.ratio)+"** "+what, c.significance())
}

// sections write each suite's tables after its title, intro and run
// (sections.md, writeRun).
var sections = map[string]func(*report, io.Writer){
	"pool": func(r *report, w io.Writer) {
		ss := r.benchSamples("pool")
		cs, _ := compare(ss, "sec/op")
		for _, c := range cs {
			if n := c.subj.kase; slices.Contains([]string{"BorrowRelease",
				"BorrowReleaseContended", "AcquireRelease", "AcquireReleaseContended"}, n) {
				r.headBench(caseName(c.subj, ""), c, "the time per operation")
			}
		}
		writeBenchSuite(w, ss, "")
	},
	"driver": func(r *report, w io.Writer) {
		ss := r.benchSamples("driver")
		cs, _ := compare(ss, "sec/op")
		for _, c := range cs {
			r.headBench("driver: "+caseName(c.subj, "Driver/"), c, "the time per operation")
		}
		writeBenchSuite(w, ss, "Driver/")
	},
	"sweep": func(r *report, w io.Writer) {
		sw := newSweep(r.benchSamples("sweep"))
		if len(sw.levels) == 0 {
			return
		}
		top := sw.levels[len(sw.levels)-1]
		var tput, lat []line
		for _, s := range sweepSeries {
			t, l := line{name: s.short}, line{name: s.short}
			for _, n := range sw.levels {
				t.xs, t.ys = append(t.xs, float64(n)), append(t.ys, sw.qps(s.impl, n))
				l.xs, l.ys = append(l.xs, float64(n)), append(l.ys, float64(sw.latency(s.impl, "p99", n))/1e6)
			}
			tput, lat = append(tput, t), append(lat, l)
			if s.impl != subject && sw.points[s.impl][top] != nil && sw.points[subject][top] != nil {
				if c, ok := pair(sw.points[s.impl][top], sw.points[subject][top], "q/s"); ok {
					r.headBench(fmt.Sprintf("sweep: queries/s at %d goroutines", top), c, "the queries per second")
					r.headline.rows[len(r.headline.rows)-1][1] = s.long
				}
			}
		}
		r.errs = append(r.errs, plotLines(filepath.Join(r.out, "throughput.svg"), "Queries per second against"+
			" concurrency", "goroutines", "queries per second", true, tput), plotLines(filepath.Join(r.out,
			"latency.svg"), "p99 latency against concurrency", "goroutines", "p99 latency (ms)", true, lat))
		writeSweep(w, sw)
	},
	"sysbench": func(r *report, w io.Writer) {
		runs, err := readSysbench(filepath.Join(r.in, "sysbench.csv"))
		if err != nil {
			r.errs = append(r.errs, err)
			return
		}
		files, err := sysbenchPlots(r.out, runs)
		r.errs = append(r.errs, err)
		for _, f := range files {
			fmt.Fprintf(w, "![%s: transactions per second against threads, direct vs through the listener](%s)\n\n",
				strings.Replace(strings.TrimSuffix(f, ".svg"), "-", " ", 1), f)
		}
		md := r.file("sysbench.md")
		if _, rest, ok := strings.Cut(md, "\n\n"); ok && strings.HasPrefix(md, "# ") {
			md = rest // its title
		}
		fmt.Fprintln(w, md)
		top := slices.Max(distinct(runs, func(s sysbenchRun) int { return s.threads }))
		for _, wl := range distinct(runs, func(s sysbenchRun) string { return s.workload }) {
			for _, ps := range distinct(runs, func(s sysbenchRun) string { return s.psMode }) {
				med, lo, hi, n := sysbenchRatio(runs, wl, ps, "listener", "direct", top)
				if n == 0 {
					continue
				}
				note := roundsNote(lo, hi, n)
				if h, _, _, hn := sysbenchRatio(runs, wl, ps, "haproxy", "direct", top); hn > 0 {
					note += "; HAProxy (TCP mode, no multiplexing) " + fmtRatio(h)
				}
				r.headline.add(fmt.Sprintf("listener: sysbench %s, %s, ps-mode=%s", wl, plural(top, "thread", "threads"), ps),
					"sysbench direct to MariaDB", "**"+fmtRatio(med)+"** the transactions per second", note)
			}
		}
		// The relay comparison, cell by cell: what issue "Speed" measures
		// the listener against.
		for _, wl := range distinct(runs, func(s sysbenchRun) string { return s.workload }) {
			for _, ps := range distinct(runs, func(s sysbenchRun) string { return s.psMode }) {
				for _, th := range distinct(runs, func(s sysbenchRun) int { return s.threads }) {
					med, lo, hi, n := sysbenchRatio(runs, wl, ps, "listener", "haproxy", th)
					if n == 0 {
						continue
					}
					r.headline.add(fmt.Sprintf("listener: sysbench %s, %s, ps-mode=%s", wl, plural(th, "thread", "threads"), ps),
						"HAProxy in TCP mode, a backend connection per client", "**"+fmtRatio(med)+
							"** the transactions per second", roundsNote(lo, hi, n))
				}
			}
		}
	},
	"failover": func(r *report, w io.Writer) {
		ds, err := readDrills(filepath.Join(r.in, "failover.jsonl"))
		r.errs = append(r.errs, err)
		if len(ds) > 0 {
			writeDrills(w, ds)
		}
		for _, d := range ds {
			r.headline.add("failover ("+d.Variant+"): promotion → first write", fmt.Sprintf("go-sql-driver to a"+
				" fixed address: recovered in %d of %d runs", d.FixedRecovered, d.Runs), "**"+fmtDur(d.PromotionP50)+
				"** (p50)", fmt.Sprintf("max %s over %s", fmtDur(d.PromotionMax), plural(d.Runs, "run", "runs")))
		}
		if s := poolFailoverLine(r.file("failover.txt")); s != "" {
			fmt.Fprintf(w, "%s\n\n", s)
		}
	},
	"demo": func(r *report, w io.Writer) {
		text, db := demoText(r.file("demo.txt"))
		if db != "" {
			fmt.Fprintf(w, "Database: %s\n\n", db)
		}
		fmt.Fprintf(w, "```\n%s\n```\n\n", text)
		var ps []demoPhase
		if err := json.Unmarshal([]byte(r.file("demo.json")), &ps); err != nil || len(ps) != 2 {
			r.errs = append(r.errs, fmt.Errorf("demo.json: want the direct and rdsmux phases: %v", err))
			return
		}
		d, m := ps[0], ps[1]
		for _, row := range [][3]string{
			{"errors", fmtNum(float64(d.Errors)), fmtNum(float64(m.Errors))},
			{"latency p99", fmtDur(time.Duration(d.P99)), fmtDur(time.Duration(m.P99))},
			{"peak database connections", strconv.Itoa(d.PeakDB), strconv.Itoa(m.PeakDB)},
		} {
			r.headline.add("demo, 10 → 1,000 handlers: "+row[0], "connection per request: "+row[1], "**"+row[2]+"**", "one run")
		}
	},
}
