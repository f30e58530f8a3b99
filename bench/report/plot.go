package main

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// line is one series of a plot.
type line struct {
	name   string
	xs, ys []float64
}

// plotLines writes a line chart with points as an SVG file; logX puts x
// on a log scale (goroutines and threads double from point to point).
func plotLines(path, title, xLabel, yLabel string, logX bool, lines []line) error {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xLabel, yLabel
	if logX {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	for i, l := range lines {
		xys := make(plotter.XYs, 0, len(l.xs))
		for j := range l.xs {
			if l.ys[j] > 0 {
				xys = append(xys, plotter.XY{X: l.xs[j], Y: l.ys[j]})
			}
		}
		if len(xys) == 0 {
			continue
		}
		ln, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("plotting %s: %w", l.name, err)
		}
		ln.Color, pts.Color = plotutil.Color(i), plotutil.Color(i)
		pts.Shape = plotutil.Shape(i)
		p.Add(ln, pts)
		p.Legend.Add(l.name, ln, pts)
	}
	return p.Save(8*vg.Inch, 4.5*vg.Inch, path)
}
