package main

import (
	"strings"
)

// DemoReport is the end of the demo's output (examples/demo): its table
// and the notes under it, and the table's cells by row label.
type DemoReport struct {
	Database string   // the demo's "Database: ..." line, without the prefix
	Text     string   // the table and its notes, as printed
	Phases   []string // column headers: "direct", "rdsmux"
	// Rows maps a row label ("requests/s", "latency p99") to its cells,
	// one per phase.
	Rows map[string][]string
}

// Cell returns the cell of row label for phase, "" if there is none.
func (d DemoReport) Cell(label, phase string) string {
	for i, p := range d.Phases {
		if p == phase && i < len(d.Rows[label]) {
			return d.Rows[label][i]
		}
	}
	return ""
}

// ParseDemo finds the demo's report table in its output: a header line of
// phase names over a line of dashes, rows up to the first blank line, then
// notes to the end. ok is false if there is no such table.
func ParseDemo(out string) (d DemoReport, ok bool) {
	lines := strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n")
	for _, l := range lines {
		if v, found := strings.CutPrefix(l, "Database: "); found {
			d.Database = strings.TrimSuffix(strings.TrimSpace(v), ".")
		}
	}
	dash := -1
	for i := len(lines) - 1; i > 0; i-- {
		if l := strings.TrimSpace(lines[i]); len(l) >= 10 && strings.Trim(l, "-") == "" {
			dash = i
			break
		}
	}
	if dash < 1 {
		return d, false
	}
	d.Phases = strings.Fields(lines[dash-1])
	if len(d.Phases) == 0 {
		return d, false
	}
	d.Rows = map[string][]string{}
	end := dash + 1
	for ; end < len(lines) && strings.TrimSpace(lines[end]) != ""; end++ {
		label, cells := splitDemoRow(lines[end], len(d.Phases))
		if label != "" {
			d.Rows[label] = cells
		}
	}
	d.Text = strings.TrimRight(strings.Join(lines[dash-1:], "\n"), "\n ")
	return d, len(d.Rows) > 0
}

// splitDemoRow splits a row into its label and n cells. Cells are
// right-aligned and separated by at least two spaces; a cell may hold
// single spaces ("148 : 148 = 1:1", "- (no queue)").
func splitDemoRow(line string, n int) (label string, cells []string) {
	var parts []string
	for _, p := range strings.Split(strings.TrimRight(line, " "), "  ") {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) < n+1 {
		return "", nil
	}
	// The label may itself hold double spaces only at its indent; extra
	// parts beyond n cells belong to the label.
	k := len(parts) - n
	return strings.Join(parts[:k], " "), parts[k:]
}
