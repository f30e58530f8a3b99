package main

import (
	"os"
	"strings"
	"testing"
)

func TestParseDemo(t *testing.T) {
	out, err := os.ReadFile("testdata/demo.txt")
	if err != nil {
		t.Fatal(err)
	}
	d, ok := ParseDemo(string(out))
	if !ok {
		t.Fatal("no table found")
	}
	if len(d.Phases) != 2 || d.Phases[0] != "direct" || d.Phases[1] != "rdsmux" {
		t.Fatalf("phases %q", d.Phases)
	}
	for _, c := range []struct{ label, phase, want string }{
		{"requests/s", "direct", "1,126"},
		{"requests/s", "rdsmux", "7,776"},
		{"errors", "direct", "38,744"},
		{"errors", "rdsmux", "0"},
		{"1040 Too many connections", "rdsmux", "-"},
		{"latency p99", "rdsmux", "44.9ms"},
		{"peak database connections", "rdsmux", "20"},
		{"multiplexing (client : db)", "direct", "148 : 148 = 1:1"},
		{"most handlers waiting", "direct", "- (no queue)"},
		{"pins by reason", "rdsmux", "user-variable 777"},
		{"nope", "rdsmux", ""},
		{"errors", "nope", ""},
	} {
		if got := d.Cell(c.label, c.phase); got != c.want {
			t.Errorf("Cell(%q, %q) = %q, want %q", c.label, c.phase, got, c.want)
		}
	}
	if !strings.HasPrefix(d.Text, "                                      direct") || !strings.HasSuffix(d.Text, "as go-sql-driver cannot reset one).") {
		t.Errorf("text:\n%s", d.Text)
	}
	if strings.Contains(d.Text, "req/s") {
		t.Error("progress lines in the table text")
	}
	if d.Database != "a throwaway MariaDB 10.11.19 on 127.0.0.1:39409, max_connections=150" {
		t.Errorf("database = %q", d.Database)
	}
}

func TestParseDemoNoTable(t *testing.T) {
	for _, out := range []string{"", "demo: cannot start\n", "x\n----------\n\n"} {
		if _, ok := ParseDemo(out); ok {
			t.Errorf("found a table in %q", out)
		}
	}
}

func FuzzParseDemo(f *testing.F) {
	if b, err := os.ReadFile("testdata/demo.txt"); err == nil {
		f.Add(string(b))
	}
	f.Add("  a  b\n----------\nx  1  2\n")
	f.Fuzz(func(t *testing.T, out string) {
		d, ok := ParseDemo(out)
		if !ok {
			return
		}
		for label, cells := range d.Rows {
			if len(cells) != len(d.Phases) {
				t.Fatalf("row %q has %d cells for %d phases", label, len(cells), len(d.Phases))
			}
		}
	})
}
