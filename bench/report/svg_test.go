package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"reflect"
	"strings"
	"testing"
)

func testChart() Chart {
	return Chart{Title: "Queries <per> second & more", Subtitle: strings.Repeat("long subtitle ", 20),
		XLabel: "goroutines", YLabel: "q/s", LogX: true,
		Series: []ChartSeries{
			{Name: "go-sql-driver", Points: []XY{{1, 5000}, {4, 9000}, {16, 12000}}},
			{Name: "capped", Points: []XY{{1, 5100}, {4, 8000}, {16, 8000}}, Dashed: true},
			{Name: "rdsmux", Points: []XY{{1, 8000}, {4, 20000}, {16, 31000}}, Emphasis: true},
		}}
}

// TestWriteSVGWellFormed parses the SVG as XML and checks what a reader
// needs: title, axis labels, a tick per x, one line per series, legend.
func TestWriteSVGWellFormed(t *testing.T) {
	for _, logY := range []bool{false, true} {
		c := testChart()
		c.LogY = logY
		var b bytes.Buffer
		if err := c.WriteSVG(&b); err != nil {
			t.Fatal(err)
		}
		var texts []string
		polylines := 0
		dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
		inText := false
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("not well-formed XML: %v\n%s", err, b.String())
			}
			switch tk := tok.(type) {
			case xml.StartElement:
				inText = tk.Name.Local == "text"
				if tk.Name.Local == "polyline" {
					polylines++
				}
			case xml.EndElement:
				inText = false
			case xml.CharData:
				if inText {
					texts = append(texts, string(tk))
				}
			}
		}
		all := strings.Join(texts, "\n")
		for _, want := range []string{"Queries <per> second & more", "goroutines", "q/s", "1", "4", "16", "go-sql-driver", "capped", "rdsmux"} {
			if !strings.Contains(all, want) {
				t.Errorf("logY=%v: no text %q in %q", logY, want, all)
			}
		}
		if polylines != 3 {
			t.Errorf("%d polylines", polylines)
		}
		if !strings.Contains(b.String(), `stroke-dasharray`) || !strings.Contains(b.String(), emphasisColor) {
			t.Error("dashed or emphasized series not drawn as such")
		}
	}
}

func TestWriteSVGErrors(t *testing.T) {
	if err := (Chart{Title: "empty"}).WriteSVG(io.Discard); err == nil {
		t.Error("no error for a chart without points")
	}
	c := testChart()
	c.Series[0].Points[0].X = 0
	if err := c.WriteSVG(io.Discard); err == nil {
		t.Error("no error for x=0 on a log axis")
	}
	c = testChart()
	c.LogY = true
	c.Series[0].Points[0].Y = 0
	if err := c.WriteSVG(io.Discard); err == nil {
		t.Error("no error for y=0 on a log axis")
	}
	// One point: the axes still have a range.
	one := Chart{Title: "one", Series: []ChartSeries{{Name: "a", Points: []XY{{3, 0}}}}}
	var b bytes.Buffer
	if err := one.WriteSVG(&b); err != nil || strings.Contains(b.String(), "NaN") {
		t.Errorf("single point: %v\n%s", err, b.String())
	}
}

func TestTicks(t *testing.T) {
	for _, tc := range []struct {
		max  float64
		want []float64
	}{
		{31000, []float64{0, 10000, 20000, 30000, 40000}},
		{9.5, []float64{0, 2, 4, 6, 8, 10}},
		{0, []float64{0, 1}},
	} {
		if got := linearTicks(tc.max); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("linearTicks(%v) = %v, want %v", tc.max, got, tc.want)
		}
	}
	if got, want := logTicks(0.3, 45), []float64{0.2, 0.5, 1, 2, 5, 10, 20, 50}; !almostEqual(got, want) {
		t.Errorf("logTicks = %v, want %v", got, want)
	}
	if got, want := logTicks(0.05, 400), []float64{0.01, 0.1, 1, 10, 100, 1000}; !almostEqual(got, want) {
		t.Errorf("logTicks wide = %v, want %v", got, want)
	}
}

func almostEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if d := a[i] - b[i]; d > 1e-9*b[i] || d < -1e-9*b[i] {
			return false
		}
	}
	return true
}

func TestFormatSI(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 950: "950", 1500: "1.5k", 12000: "12k", 2.5e6: "2.5M", 0.25: "0.25", 0.1: "0.1", 256: "256"} {
		if got := FormatSI(v); got != want {
			t.Errorf("FormatSI(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestWrap(t *testing.T) {
	got := wrap("aa bb cc dd", 5)
	if !reflect.DeepEqual(got, []string{"aa bb", "cc dd"}) {
		t.Errorf("wrap = %q", got)
	}
	if got := wrap("", 5); len(got) != 0 {
		t.Errorf("wrap empty = %q", got)
	}
}
