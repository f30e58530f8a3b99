package main

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Chart is a line chart rendered as standalone SVG text (no plotting
// dependency): title, subtitle, axes with ticks and labels, one polyline
// with point markers per series, and a legend under the plot.
type Chart struct {
	Title, Subtitle string
	XLabel, YLabel  string
	LogX            bool                 // x on a log2 scale (goroutines, threads)
	LogY            bool                 // y on a log10 scale (latency)
	YFormat         func(float64) string // tick labels; nil: FormatSI
	Series          []ChartSeries
}

// ChartSeries is one line.
type ChartSeries struct {
	Name     string
	Points   []XY
	Dashed   bool
	Emphasis bool   // drawn thicker and on top (rdsmux)
	Color    string // overrides the palette (and the emphasis colour)
}

// XY is one point.
type XY struct{ X, Y float64 }

// palette is colour-blind safe (Okabe-Ito); emphasized series take
// emphasisColor.
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#000000"}

const (
	emphasisColor        = "#D55E00"
	chartW               = 820
	marginL, marginR     = 80, 30
	plotH                = 300
	legendRowH           = 20
	tickLen              = 5
	subtitleChars        = 110 // characters per subtitle line at 12px
	fontFamily           = "DejaVu Sans, Helvetica, Arial, sans-serif"
	axisColor, gridColor = "#333333", "#dddddd"
	ink, subtitleColor   = "#222222", "#555555"
)

// WriteSVG renders the chart. A linear y axis starts at 0; the x axis
// spans the points' range with a tick at each point's x.
func (c Chart) WriteSVG(w io.Writer) error {
	yf := c.YFormat
	if yf == nil {
		yf = FormatSI
	}
	var xs, ys []float64
	for _, s := range c.Series {
		for _, p := range s.Points {
			if !slices.Contains(xs, p.X) {
				xs = append(xs, p.X)
			}
			ys = append(ys, p.Y)
		}
	}
	if len(xs) == 0 {
		return fmt.Errorf("chart %q has no points", c.Title)
	}
	slices.Sort(xs)
	tx := func(x float64) float64 { return x }
	if c.LogX {
		if xs[0] <= 0 {
			return fmt.Errorf("chart %q: a log x axis needs positive x", c.Title)
		}
		tx = math.Log2
	}
	x0, x1 := tx(xs[0]), tx(xs[len(xs)-1])
	if x1 == x0 {
		x0, x1 = x0-1, x1+1
	}
	var yticks []float64
	ty := func(y float64) float64 { return y }
	if c.LogY {
		if slices.Min(ys) <= 0 {
			return fmt.Errorf("chart %q: a log y axis needs positive y", c.Title)
		}
		yticks = logTicks(slices.Min(ys), slices.Max(ys))
		ty = math.Log10
	} else {
		yticks = linearTicks(slices.Max(ys))
	}
	y0, y1 := ty(yticks[0]), ty(yticks[len(yticks)-1])

	sub := wrap(c.Subtitle, subtitleChars)
	marginT := 44 + 16*len(sub)
	plotW := chartW - marginL - marginR
	legendTop := marginT + plotH + 75
	chartH := legendTop + legendRowH*len(c.Series) + 10
	px := func(x float64) float64 { return float64(marginL) + (tx(x)-x0)/(x1-x0)*float64(plotW) }
	py := func(y float64) float64 { return float64(marginT+plotH) - (ty(y)-y0)/(y1-y0)*float64(plotH) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="%s">`+"\n",
		chartW, chartH, chartW, chartH, fontFamily)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", chartW, chartH)
	fmt.Fprintf(&b, `<text x="%d" y="28" font-size="18" font-weight="bold" fill="%s">%s</text>`+"\n", marginL, ink, esc(c.Title))
	for i, l := range sub {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" fill="%s">%s</text>`+"\n", marginL, 48+16*i, subtitleColor, esc(l))
	}
	for _, y := range yticks {
		yy := num(py(y))
		fmt.Fprintf(&b, `<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="%s" stroke-width="1"/>`+"\n",
			marginL, yy, marginL+plotW, yy, gridColor)
		fmt.Fprintf(&b, `<text x="%d" y="%s" font-size="12" text-anchor="end" fill="%s">%s</text>`+"\n",
			marginL-tickLen-4, num(py(y)+4), ink, esc(yf(y)))
	}
	for _, x := range xs {
		xx := num(px(x))
		fmt.Fprintf(&b, `<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="%s" stroke-width="1"/>`+"\n",
			xx, marginT+plotH, xx, marginT+plotH+tickLen, axisColor)
		fmt.Fprintf(&b, `<text x="%s" y="%d" font-size="12" text-anchor="middle" fill="%s">%s</text>`+"\n",
			xx, marginT+plotH+tickLen+15, ink, esc(FormatSI(x)))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="1.5"/>`+"\n",
		marginL, marginT, marginL, marginT+plotH, axisColor)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="1.5"/>`+"\n",
		marginL, marginT+plotH, marginL+plotW, marginT+plotH, axisColor)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="13" text-anchor="middle" fill="%s">%s</text>`+"\n",
		marginL+plotW/2, marginT+plotH+42, ink, esc(c.XLabel))
	fmt.Fprintf(&b, `<text x="20" y="%d" font-size="13" text-anchor="middle" fill="%s" transform="rotate(-90 20 %d)">%s</text>`+"\n",
		marginT+plotH/2, ink, marginT+plotH/2, esc(c.YLabel))

	// Emphasized series are drawn last, on top; the legend keeps the
	// series' order.
	order := make([]int, 0, len(c.Series))
	for i, s := range c.Series {
		if !s.Emphasis {
			order = append(order, i)
		}
	}
	for i, s := range c.Series {
		if s.Emphasis {
			order = append(order, i)
		}
	}
	style := func(i int) (color, width, dash string) {
		s := c.Series[i]
		color, width = palette[i%len(palette)], "2"
		if s.Emphasis {
			color, width = emphasisColor, "3.5"
		}
		if s.Color != "" {
			color = s.Color
		}
		if s.Dashed {
			dash = ` stroke-dasharray="7 4"`
		}
		return color, width, dash
	}
	for _, i := range order {
		s := c.Series[i]
		color, width, dash := style(i)
		pts := make([]string, 0, len(s.Points))
		for _, p := range s.Points {
			pts = append(pts, num(px(p.X))+","+num(py(p.Y)))
		}
		fmt.Fprintf(&b, `<g><title>%s</title>`+"\n", esc(s.Name))
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="%s" stroke-linejoin="round"%s/>`+"\n",
			strings.Join(pts, " "), color, width, dash)
		for _, p := range s.Points {
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3.5" fill="%s"><title>%s: %s at %s</title></circle>`+"\n",
				num(px(p.X)), num(py(p.Y)), color, esc(s.Name), esc(yf(p.Y)), esc(FormatSI(p.X)))
		}
		fmt.Fprintln(&b, `</g>`)
	}
	for i, s := range c.Series {
		color, width, dash := style(i)
		ly := legendTop + i*legendRowH
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="%s"%s/>`+"\n",
			marginL, ly, marginL+34, ly, color, width, dash)
		fmt.Fprintf(&b, `<circle cx="%d" cy="%d" r="3.5" fill="%s"/>`+"\n", marginL+17, ly, color)
		weight := ""
		if s.Emphasis {
			weight = ` font-weight="bold"`
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="13" fill="%s"%s>%s</text>`+"\n", marginL+44, ly+4, ink, weight, esc(s.Name))
	}
	fmt.Fprintln(&b, `</svg>`)
	_, err := io.WriteString(w, b.String())
	return err
}

// linearTicks returns ticks from 0 to at or above ymax, 1, 2 or 5 times a
// power of ten apart, about 5 of them.
func linearTicks(ymax float64) []float64 {
	step, top := niceScale(ymax)
	var ticks []float64
	for i := 0; ; i++ {
		y := float64(i) * step
		ticks = append(ticks, y)
		if y >= top*(1-1e-9) || i > 100 {
			return ticks
		}
	}
}

// niceScale returns a tick step (1, 2 or 5 times a power of ten) and the
// axis top (a multiple of the step at or above max), for about 5 ticks.
func niceScale(ymax float64) (step, top float64) {
	if ymax <= 0 || math.IsNaN(ymax) || math.IsInf(ymax, 0) {
		return 1, 1
	}
	raw := ymax / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / mag; {
	case f <= 1:
		step = mag
	case f <= 2:
		step = 2 * mag
	case f <= 5:
		step = 5 * mag
	default:
		step = 10 * mag
	}
	return step, math.Ceil(ymax/step-1e-9) * step
}

// logTicks returns 1-2-5 ticks from the one at or below lo to the one at
// or above hi; only powers of ten when that spans more than three decades.
func logTicks(lo, hi float64) []float64 {
	steps := []float64{1, 2, 5}
	if math.Log10(hi)-math.Log10(lo) > 3 {
		steps = []float64{1}
	}
	var all []float64
	for e := math.Floor(math.Log10(lo)) - 1; e <= math.Ceil(math.Log10(hi))+1; e++ {
		for _, s := range steps {
			all = append(all, s*math.Pow(10, e))
		}
	}
	first, last := 0, len(all)-1
	for i, t := range all {
		if t <= lo*(1+1e-9) {
			first = i
		}
	}
	for i := len(all) - 1; i >= 0; i-- {
		if all[i] >= hi*(1-1e-9) {
			last = i
		}
	}
	return all[first : last+1]
}

// wrap splits s into lines of at most n characters at spaces (a longer
// word stays whole).
func wrap(s string, n int) []string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(s) {
		if cur != "" && len(cur)+1+len(w) > n {
			lines = append(lines, cur)
			cur = ""
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// FormatSI formats a number briefly: 950, 1.5k, 12k, 2.5M, 0.25.
func FormatSI(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e6:
		return trimZero(strconv.FormatFloat(v/1e6, 'f', 1, 64)) + "M"
	case a >= 1e3:
		return trimZero(strconv.FormatFloat(v/1e3, 'f', 1, 64)) + "k"
	case a == math.Trunc(a):
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return trimZero(strconv.FormatFloat(v, 'f', 2, 64))
	}
}

func trimZero(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func esc(s string) string { return html.EscapeString(s) }
