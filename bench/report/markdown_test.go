package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestParseTables(t *testing.T) {
	in := `# sysbench

Some text | with a pipe.

| workload | threads | direct tps | listener tps |
|---|--:|:---:|---|
| oltp_point_select | 1 | 1200.5 | 1100.0 |
| a \| b | 16 |  | x |

| one |
| --- |
| 1 |
not a row
| lone | row |
`
	ts, err := ParseTables(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Table{
		{Header: []string{"workload", "threads", "direct tps", "listener tps"}, Rows: [][]string{
			{"oltp_point_select", "1", "1200.5", "1100.0"},
			{"a | b", "16", "", "x"},
		}},
		{Header: []string{"one"}, Rows: [][]string{{"1"}}},
	}
	if !reflect.DeepEqual(ts, want) {
		t.Fatalf("got %#v\nwant %#v", ts, want)
	}
	if c := ts[0].Col("LISTENER"); c != 3 {
		t.Errorf("Col = %d", c)
	}
	if c := ts[0].Col("nope"); c != -1 {
		t.Errorf("Col(nope) = %d", c)
	}
	if ts[0].Cell(1, 0) != "a | b" || ts[0].Cell(5, 0) != "" || ts[0].Cell(0, 9) != "" {
		t.Errorf("Cell")
	}
}

func TestTableWriteRoundTrip(t *testing.T) {
	tab := Table{Header: []string{"case", "ratio"}, Rows: [][]string{{"a|b", "0.81×"}, {"short"}}}
	var b bytes.Buffer
	tab.Write(&b, 1)
	wantText := "| case | ratio |\n| --- | ---: |\n| a\\|b | 0.81× |\n| short |  |\n"
	if b.String() != wantText {
		t.Fatalf("Write:\n%s\nwant:\n%s", b.String(), wantText)
	}
	ts, err := ParseTables(&b)
	if err != nil || len(ts) != 1 {
		t.Fatal(ts, err)
	}
	if got := ts[0].Rows; !reflect.DeepEqual(got, [][]string{{"a|b", "0.81×"}, {"short", ""}}) {
		t.Errorf("round trip rows = %q", got)
	}
}

func FuzzParseTables(f *testing.F) {
	f.Add("| a | b |\n|---|---|\n| 1 | 2 |\n")
	f.Add("| a \\| b |\n| :-: |\n")
	f.Add("|\n|-|\n|")
	f.Fuzz(func(t *testing.T, in string) {
		ts, err := ParseTables(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, tab := range ts {
			if len(tab.Header) == 0 {
				t.Fatalf("table without header from %q", in)
			}
			// What was parsed renders and parses back to the same cells.
			var b bytes.Buffer
			tab.Write(&b)
			back, err := ParseTables(&b)
			if err != nil || len(back) != 1 || !reflect.DeepEqual(back[0].Header, tab.Header) {
				t.Fatalf("round trip of %#v: %#v, %v\n%s", tab, back, err, b.String())
			}
		}
	})
}
