package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sysbenchRun is one line of bench/sysbench.sh's CSV output.
type sysbenchRun struct {
	workload, psMode, target string
	threads                  int
	tps                      float64
	round                    int // 1 for a CSV without the round column
}

func readSysbench(path string) ([]sysbenchRun, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1 // older files have no round column
	recs, err := cr.ReadAll()
	if err != nil || len(recs) < 2 {
		return nil, fmt.Errorf("%s: %w (want a header and a line per run)", path, err)
	}
	var out []sysbenchRun
	for _, r := range recs[1:] {
		if len(r) < 5 {
			return nil, fmt.Errorf("%s: bad line %q", path, r)
		}
		th, err1 := strconv.Atoi(r[2])
		tps, err2 := strconv.ParseFloat(r[4], 64)
		round, err3 := 1, error(nil)
		if len(r) > 8 {
			round, err3 = strconv.Atoi(r[8])
		}
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("%s: bad line %q", path, r)
		}
		out = append(out, sysbenchRun{workload: r[0], psMode: r[1], threads: th, target: r[3], tps: tps, round: round})
	}
	return out, nil
}

// sysbenchRounds is a cell's throughput for target, round by round (index
// round-1; 0 where it did not run); nil if it never ran.
func sysbenchRounds(runs []sysbenchRun, workload, ps, target string, threads int) []float64 {
	var out []float64
	for _, r := range runs {
		if r.workload == workload && r.psMode == ps && r.target == target && r.threads == threads && r.round > 0 {
			for len(out) < r.round {
				out = append(out, 0)
			}
			out[r.round-1] = r.tps
		}
	}
	return out
}

// sysbenchTPS is a cell's median throughput over the rounds, 0 if it did
// not run.
func sysbenchTPS(runs []sysbenchRun, workload, ps, target string, threads int) float64 {
	return median(sysbenchRounds(runs, workload, ps, target, threads))
}

// sysbenchRatio compares target with base in a cell the way
// bench/sysbench.sh does: the ratio within each round (the two ran back to
// back), then the median and range of those ratios; n is the number of
// rounds with both.
func sysbenchRatio(runs []sysbenchRun, workload, ps, target, base string, threads int) (med, lo, hi float64, n int) {
	t := sysbenchRounds(runs, workload, ps, target, threads)
	b := sysbenchRounds(runs, workload, ps, base, threads)
	var rs []float64
	for i := range min(len(t), len(b)) {
		if t[i] > 0 && b[i] > 0 {
			rs = append(rs, t[i]/b[i])
		}
	}
	if len(rs) == 0 {
		return 0, 0, 0, 0
	}
	return median(rs), slices.Min(rs), slices.Max(rs), len(rs)
}

// median is the median of vs, 0 for none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(vs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// distinct lists a field's values in the order first seen.
func distinct[T comparable](runs []sysbenchRun, f func(sysbenchRun) T) []T {
	var out []T
	for _, r := range runs {
		if v := f(r); !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// sysbenchPlots writes a plot per workload: transactions per second
// against threads for each target and ps-mode.
func sysbenchPlots(dir string, runs []sysbenchRun) ([]string, error) {
	var files []string
	for _, w := range distinct(runs, func(r sysbenchRun) string { return r.workload }) {
		var lines []line
		for _, t := range distinct(runs, func(r sysbenchRun) string { return r.target }) {
			for _, ps := range distinct(runs, func(r sysbenchRun) string { return r.psMode }) {
				l := line{name: t + ", ps-mode=" + ps}
				for _, th := range distinct(runs, func(r sysbenchRun) int { return r.threads }) {
					l.xs, l.ys = append(l.xs, float64(th)), append(l.ys, sysbenchTPS(runs, w, ps, t, th))
				}
				lines = append(lines, l)
			}
		}
		file := "sysbench-" + w + ".svg"
		if err := plotLines(filepath.Join(dir, file), "sysbench "+w+", direct vs through the listener", "threads",
			"transactions per second", true, lines); err != nil {
			return nil, err
		}
		files = append(files, file)
	}
	return files, nil
}

// drill is one variant of the failover drill, as
// failover/drill_test.go writes it to RDSMUX_DRILL_JSON.
type drill struct {
	Variant        string        `json:"variant"`
	Runs           int           `json:"runs"`
	PromotionP50   time.Duration `json:"promotion_p50_ns"`
	PromotionMax   time.Duration `json:"promotion_max_ns"`
	FailureP50     time.Duration `json:"failure_p50_ns"`
	FailureMax     time.Duration `json:"failure_max_ns"`
	DetectionP50   time.Duration `json:"detection_p50_ns"`
	DetectionMax   time.Duration `json:"detection_max_ns"`
	ClientErrors   int           `json:"client_errors"`
	FixedRecovered int           `json:"fixed_recovered"`
	FixedWait      time.Duration `json:"fixed_wait_ns"`
}

func readDrills(path string) ([]drill, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []drill
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var d drill
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, d)
	}
	return out, nil
}

func writeDrills(w io.Writer, ds []drill) {
	t := table{head: []string{"variant", "runs", "promotion → first write p50 / max", "failure → first write p50 / max",
		"detection p50 / max", "client errors per run", "go-sql-driver, fixed address"}, right: []int{1, 5}}
	for _, d := range ds {
		t.add(d.Variant, strconv.Itoa(d.Runs), "**"+fmtDur(d.PromotionP50)+"** / "+fmtDur(d.PromotionMax),
			fmtDur(d.FailureP50)+" / "+fmtDur(d.FailureMax), fmtDur(d.DetectionP50)+" / "+fmtDur(d.DetectionMax),
			fmt.Sprintf("%.1f", float64(d.ClientErrors)/float64(max(d.Runs, 1))),
			fmt.Sprintf("recovered in %d of %d runs within %s of the promotion", d.FixedRecovered, d.Runs, d.FixedWait))
	}
	t.write(w)
	fmt.Fprintln(w, "Client errors are the statements that failed during the failover (none is retried: their"+
		" outcome is unknown to the client).")
	fmt.Fprintln(w)
}

// poolFailoverLine finds TestFailoverThroughThePool's summary in its log
// and says it in a sentence.
func poolFailoverLine(log string) string {
	i := strings.Index(log, "recovery: first write ")
	if i < 0 {
		return ""
	}
	var rec string
	var acked, repl, werr, rerr, closed int
	_, err := fmt.Sscanf(log[i:], "recovery: first write %s after promotion; %d writes acknowledged, %d still in"+
		" replication when the primary died; write errors %d, read errors %d; backend connections closed on failover: %d",
		&rec, &acked, &repl, &werr, &rerr, &closed)
	if err != nil {
		return "Through the driver's pool: its log line changed shape (" + err.Error() + "); see bench/out/failover.txt."
	}
	if d, err := time.ParseDuration(rec); err == nil {
		rec = fmtDur(d)
	}
	return fmt.Sprintf("Through the driver's pool (`TestFailoverThroughThePool`: 4 writers and a reader through"+
		" `rdsmux.Open` with `failover=readonly`, the primary SIGKILLed): first write **%s** after the promotion;"+
		" %s acknowledged (%d still in replication when the primary died, found on the old primary), %d write"+
		" errors, %d read errors, %s closed on failover.", rec, plural(acked, "write", "writes"), repl, werr, rerr,
		plural(closed, "backend connection", "backend connections"))
}

// demoPhase is one phase of examples/demo as its -json flag writes it.
type demoPhase struct {
	Phase  string `json:"phase"`
	Errors int64  `json:"errors"`
	P99    int64  `json:"p99_ns"`
	PeakDB int    `json:"peak_db_connections"`
}

// demoText is the demo's closing table as it printed it, from the line
// above the rule of dashes to the end, and its "Database: " sentence.
func demoText(out string) (table, database string) {
	lines := strings.Split(strings.TrimRight(out, "\n "), "\n")
	for i, l := range lines {
		if db, ok := strings.CutPrefix(l, "Database: "); ok {
			database = db
		}
		if t := strings.TrimSpace(l); i > 0 && len(t) > 10 && strings.Trim(t, "-") == "" {
			table = strings.Join(lines[i-1:], "\n")
		}
	}
	return table, database
}
