package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// sweepRatio is rdsmux's throughput over a baseline's at one level: the
// median of the per-round ratios and their range.
type sweepRatio struct{ med, lo, hi float64 }

// sweepRatios returns, for each level, rdsmux's throughput over each
// baseline series', keyed by baseline name.
func sweepRatios(s *SweepSuite) (subject string, ratios map[string]map[int]sweepRatio) {
	ratios = map[string]map[int]sweepRatio{}
	points := map[string]map[int]SweepPoint{}
	for _, p := range s.Points {
		if points[p.Series] == nil {
			points[p.Series] = map[int]SweepPoint{}
		}
		points[p.Series][p.Goroutines] = p
	}
	for _, ser := range s.Config.Series {
		if ser.Driver == "rdsmux" {
			subject = ser.Name
			break
		}
	}
	if subject == "" {
		return "", ratios
	}
	for _, ser := range s.Config.Series {
		if ser.Name == subject {
			continue
		}
		ratios[ser.Name] = map[int]sweepRatio{}
		for _, level := range s.Config.Levels {
			med, lo, hi := ratio(points[subject][level].OpsPerSec, points[ser.Name][level].OpsPerSec)
			ratios[ser.Name][level] = sweepRatio{med, lo, hi}
		}
	}
	return subject, ratios
}

func (r *Report) writeSweep(w io.Writer) {
	fmt.Fprintln(w, "## Throughput and latency against concurrency")
	fmt.Fprintln(w)
	s := r.Sweep
	fmt.Fprintf(w, "`bench/report` itself (sweep.go) starts a throwaway MariaDB and runs `%s` in a closed loop"+
		" from N goroutines, each series on a fresh `*sql.DB` (`SetMaxOpenConns(N)` unless said otherwise), measured"+
		" after a warm-up, the series in alternating order from round to round. The series:\n\n", SweepQuery)
	for _, ser := range DefaultSeries() {
		fmt.Fprintf(w, "- **%s**: %s\n", ser.Short, ser.Name)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "For a query with arguments go-sql-driver by default prepares a server-side statement, executes"+
		" it and closes it: three round trips per query. rdsmux keeps the statements it prepares cached on each"+
		" backend connection and executes them again: one round trip. With `interpolateParams=true`"+
		" go-sql-driver sends one text query instead. Compare rdsmux with that series to see what is left"+
		" once the prepare cost is out of the picture, and with the 16-connection series for the same number"+
		" of server connections.")
	fmt.Fprintln(w)
	if s == nil {
		fmt.Fprintln(w, "**Not run**.")
		fmt.Fprintln(w)
		return
	}
	if !writeSection(w, s.Section) || len(s.Points) == 0 {
		return
	}
	for _, p := range r.Plots {
		if p.File == "throughput.svg" || p.File == "latency.svg" {
			fmt.Fprintf(w, "![%s](%s)\n\n", p.Alt, p.File)
		}
	}
	subject, ratios := sweepRatios(s)
	byKey := map[string]map[int]SweepPoint{}
	for _, p := range s.Points {
		if byKey[p.Series] == nil {
			byKey[p.Series] = map[int]SweepPoint{}
		}
		byKey[p.Series][p.Goroutines] = p
	}
	t := Table{Header: []string{"goroutines"}}
	right := []int{}
	for _, ser := range s.Config.Series {
		t.Header = append(t.Header, ser.Short+" q/s")
	}
	for _, ser := range s.Config.Series {
		if ser.Name != subject {
			t.Header = append(t.Header, "rdsmux ÷ "+ser.Short)
		}
	}
	for i := range t.Header {
		right = append(right, i)
	}
	for _, level := range s.Config.Levels {
		row := []string{fmt.Sprint(level)}
		for _, ser := range s.Config.Series {
			row = append(row, fmtOps(byKey[ser.Name][level].Throughput()))
		}
		for _, ser := range s.Config.Series {
			if ser.Name != subject {
				row = append(row, "**"+fmtRatio(ratios[ser.Name][level].med)+"**")
			}
		}
		t.Rows = append(t.Rows, row)
	}
	t.Write(w, right...)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Queries per second, median over %s of %s each; ratios are rdsmux's throughput over the"+
		" other's (above 1: rdsmux serves more).\n\n", plural(s.Config.Rounds, "round", "rounds"), s.Config.Duration)

	lt := Table{Header: []string{"goroutines"}}
	for _, ser := range s.Config.Series {
		lt.Header = append(lt.Header, ser.Short+" p50 / p99")
	}
	errs := 0
	for _, level := range s.Config.Levels {
		row := []string{fmt.Sprint(level)}
		for _, ser := range s.Config.Series {
			p := byKey[ser.Name][level]
			errs += p.Errors
			row = append(row, fmtDur(p.P50)+" / "+fmtDur(p.P99))
		}
		lt.Rows = append(lt.Rows, row)
	}
	lt.Write(w, right[:len(lt.Header)]...)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Latency per query over every round. Errors during measurement: %d.\n\n", errs)
}

// spread formats the range of a ratio over n rounds for the headline.
func spread(lo, hi float64, n int) string {
	if n < 2 || lo <= 0 {
		return "one run"
	}
	return fmtRange(lo, hi, n) + " over " + plural(n, "round", "rounds")
}

func (r *Report) writeFailover(w io.Writer) {
	fmt.Fprintln(w, "## Failover")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "A primary/replica pair with real binlog replication under steady writes; the primary fails"+
		" (SIGKILL, or a network blackhole in front of it that stops data without a reset), the replica is"+
		" promoted, and the drill measures how long until writes succeed again. rdsmux's failover dialer"+
		" (package failover, `read_only` probing of the two hosts, library defaults unless the variant says"+
		" otherwise) runs next to plain go-sql-driver configured with the old writer's address, the baseline:"+
		" it can only succeed again if the old writer comes back. Every drill also checks that no acknowledged"+
		" write is lost or duplicated.")
	fmt.Fprintln(w)
	s := r.Failover
	if s == nil {
		fmt.Fprintln(w, "**Not run**.")
		fmt.Fprintln(w)
		return
	}
	if !writeSection(w, s.Section) {
		return
	}
	if len(s.Drills) > 0 {
		t := Table{Header: []string{"variant", "runs", "promotion → first write p50 / max", "failure → first write p50 / max",
			"detection p50 / max", "client errors per run", "go-sql-driver, fixed address"}}
		for _, d := range s.Drills {
			t.Rows = append(t.Rows, []string{d.Name, fmt.Sprint(d.Runs),
				"**" + fmtDur(d.PromotionP50) + "** / " + fmtDur(d.PromotionMax),
				fmtDur(d.FailureP50) + " / " + fmtDur(d.FailureMax),
				fmtDur(d.DetectionP50) + " / " + fmtDur(d.DetectionMax),
				fmt.Sprintf("%.1f", d.ErrorsPerRun),
				fmt.Sprintf("recovered in %d of %d runs within %s of the promotion", d.FixedRecovered, d.FixedRuns, d.FixedWithin)})
		}
		t.Write(w, 1, 5)
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Client errors are the statements that failed during the failover (none is retried: their"+
			" outcome is unknown to the client).")
		fmt.Fprintln(w)
	}
	if p := s.Pool; p != nil {
		fmt.Fprintf(w, "Through the driver's pool (`TestFailoverThroughThePool`: 4 writers and a reader through"+
			" `rdsmux.Open` with `failover=readonly`, the primary SIGKILLed): first write **%s** after the"+
			" promotion; %s acknowledged (%d still in replication when the primary died, found on the old"+
			" primary), %d write errors, %d read errors, %s closed on failover.\n\n",
			fmtDur(p.Recovery), plural(p.Acked, "write", "writes"), p.InReplication, p.WriteErrors, p.ReadErrors,
			plural(p.ClosedOnFailover, "backend connection", "backend connections"))
	}
	if len(s.Unparsed) > 0 {
		fmt.Fprintln(w, "Lines the report could not parse (format changed?):")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "```")
		fmt.Fprintln(w, strings.Join(s.Unparsed, "\n"))
		fmt.Fprintln(w, "```")
		fmt.Fprintln(w)
	}
}

func (r *Report) writeDemo(w io.Writer) {
	fmt.Fprintln(w, "## Demo: the burst")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "`examples/demo` replays the article's scenario: traffic jumps from 10 to 1,000 concurrent"+
		" handlers, first each opening its own connection per request (direct), then all sharing one rdsmux"+
		" pool of 20 connections, against a MariaDB with `max_connections=150`.")
	fmt.Fprintln(w)
	s := r.Demo
	if s == nil {
		fmt.Fprintln(w, "**Not run**.")
		fmt.Fprintln(w)
		return
	}
	if !writeSection(w, s.Section) || s.Report == nil {
		return
	}
	if s.Report.Database != "" {
		fmt.Fprintf(w, "Database: %s.\n\n", s.Report.Database)
	}
	fmt.Fprintln(w, "```")
	fmt.Fprintln(w, s.Report.Text)
	fmt.Fprintln(w, "```")
	fmt.Fprintln(w)
}

// writeHeadline is the summary the README quotes.
func (r *Report) writeHeadline(w io.Writer) {
	fmt.Fprintln(w, "## Headline")
	fmt.Fprintln(w)
	t := Table{Header: []string{"what", "baseline", "rdsmux vs baseline", "spread"}}
	addBench := func(suite string, s *BenchSuite, cases ...string) {
		if s == nil {
			return
		}
		for _, c := range s.Comparisons {
			if !c.HasRatio() || (len(cases) > 0 && !slices.Contains(cases, c.Case)) {
				continue
			}
			label := caseName(c, s.Trim)
			if suite != "" {
				label = suite + ": " + label
			}
			n := min(c.Subject.NsOp.N, c.Baseline.NsOp.N)
			t.Rows = append(t.Rows, []string{label, c.Baseline.Impl,
				"**" + fmtRatio(c.Ratio) + "** the time per operation", spread(c.RatioMin, c.RatioMax, n)})
		}
	}
	addBench("", r.Pool, "BorrowRelease", "BorrowReleaseContended", "AcquireRelease", "AcquireReleaseContended")
	addBench("driver", r.Driver)
	if s := r.Sweep; s != nil && len(s.Points) > 0 {
		subject, ratios := sweepRatios(s)
		top := s.Config.Levels[len(s.Config.Levels)-1]
		for _, ser := range s.Config.Series {
			if ser.Name == subject {
				continue
			}
			r := ratios[ser.Name][top]
			t.Rows = append(t.Rows, []string{fmt.Sprintf("sweep: queries/s at %d goroutines", top), ser.Name,
				"**" + fmtRatio(r.med) + "** the queries per second", spread(r.lo, r.hi, s.Config.Rounds)})
		}
	}
	if s := r.Sysbench; s != nil {
		t.Rows = append(t.Rows, s.headline()...)
	}
	if s := r.Failover; s != nil {
		for _, d := range s.Drills {
			t.Rows = append(t.Rows, []string{"failover (" + d.Name + "): promotion → first write",
				fmt.Sprintf("go-sql-driver to a fixed address: recovered in %d of %d runs", d.FixedRecovered, d.FixedRuns),
				"**" + fmtDur(d.PromotionP50) + "** (p50)", fmt.Sprintf("max %s over %s", fmtDur(d.PromotionMax), plural(d.Runs, "run", "runs"))})
		}
	}
	if s := r.Demo; s != nil && s.Report != nil {
		d := s.Report
		for _, row := range []struct{ label, what string }{
			{"errors", "errors"},
			{"latency p99", "latency p99"},
			{"peak database connections", "peak database connections"},
		} {
			b, m := d.Cell(row.label, "direct"), d.Cell(row.label, "rdsmux")
			if b == "" || m == "" {
				continue
			}
			t.Rows = append(t.Rows, []string{"demo, 10 → 1,000 handlers: " + row.what, "connection per request: " + b, "**" + m + "**", "one run"})
		}
	}
	if len(t.Rows) == 0 {
		fmt.Fprintln(w, "Nothing was measured.")
		fmt.Fprintln(w)
		return
	}
	fmt.Fprintln(w, "Spread is the range of the per-round ratios: a wide one means the run was noisy (see the load"+
		" average under Machine) and the ratio is rough.")
	fmt.Fprintln(w)
	t.Write(w)
	fmt.Fprintln(w)
}
