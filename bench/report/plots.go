package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Plot is a chart written next to the report.
type Plot struct {
	File  string // name under the output directory
	Alt   string
	Chart Chart
}

// sweepPlots are the throughput and p99 latency of the sweep against
// concurrency.
func sweepPlots(s *SweepSuite, m Machine) []Plot {
	if s == nil || len(s.Points) == 0 {
		return nil
	}
	var tput, p99 []ChartSeries
	for _, series := range s.Config.Series {
		var t, l []XY
		for _, p := range s.Points {
			if p.Series != series.Name {
				continue
			}
			t = append(t, XY{float64(p.Goroutines), p.Throughput()})
			l = append(l, XY{float64(p.Goroutines), float64(p.P99) / float64(time.Millisecond)})
		}
		dashed := series.Driver != "rdsmux" && series.MaxOpen != nil
		emph := series.Driver == "rdsmux"
		tput = append(tput, ChartSeries{Name: series.Name, Points: t, Dashed: dashed, Emphasis: emph})
		p99 = append(p99, ChartSeries{Name: series.Name, Points: l, Dashed: dashed, Emphasis: emph})
	}
	common := fmt.Sprintf("%q in a closed loop against one local MariaDB, %d CPUs shared by client and server; ",
		SweepQuery, m.CPUs)
	rounds := plural(s.Config.Rounds, "round", "rounds")
	date := m.Date.Format("2006-01-02")
	tsub := common + fmt.Sprintf("median of %s of %s per point. %s.", rounds, s.Config.Duration, date)
	lsub := common + fmt.Sprintf("p99 of every query of %s of %s per point. %s.", rounds, s.Config.Duration, date)
	return []Plot{
		{File: "throughput.svg", Alt: "Queries per second against concurrency, go-sql-driver vs rdsmux",
			Chart: Chart{Title: "Queries per second vs concurrency (higher is better)", Subtitle: tsub,
				XLabel: "concurrent goroutines (log scale)", YLabel: "queries per second", LogX: true, Series: tput}},
		{File: "latency.svg", Alt: "p99 latency against concurrency, go-sql-driver vs rdsmux",
			Chart: Chart{Title: "p99 latency vs concurrency (lower is better)", Subtitle: lsub,
				XLabel: "concurrent goroutines (log scale)", YLabel: "p99 latency, ms (log scale)", LogX: true, LogY: true,
				Series: p99}},
	}
}

// writePlots writes each plot's SVG file into dir.
func writePlots(dir string, plots []Plot) error {
	for _, p := range plots {
		f, err := os.Create(filepath.Join(dir, p.File))
		if err != nil {
			return err
		}
		err = p.Chart.WriteSVG(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", p.File, err)
		}
	}
	return nil
}
