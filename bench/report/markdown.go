package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Table is a Markdown table: a header row and data rows of cells.
type Table struct {
	Header []string
	Rows   [][]string
}

// Col returns the index of the first header cell that contains want
// (case-insensitive), or -1.
func (t Table) Col(want string) int {
	want = strings.ToLower(want)
	for i, h := range t.Header {
		if strings.Contains(strings.ToLower(h), want) {
			return i
		}
	}
	return -1
}

// Cell returns row r's cell in column c, "" when out of range.
func (t Table) Cell(r, c int) string {
	if r < 0 || r >= len(t.Rows) || c < 0 || c >= len(t.Rows[r]) {
		return ""
	}
	return t.Rows[r][c]
}

// Write renders the table as GitHub-flavoured Markdown. Columns whose
// index is in right are right-aligned.
func (t Table) Write(w io.Writer, right ...int) {
	row := func(cells []string) {
		var b strings.Builder
		b.WriteString("|")
		for i := range t.Header {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			b.WriteString(" " + escapeCell(c) + " |")
		}
		fmt.Fprintln(w, b.String())
	}
	row(t.Header)
	var b strings.Builder
	b.WriteString("|")
	for i := range t.Header {
		sep := " --- |"
		for _, r := range right {
			if r == i {
				sep = " ---: |"
			}
		}
		b.WriteString(sep)
	}
	fmt.Fprintln(w, b.String())
	for _, r := range t.Rows {
		row(r)
	}
}

func escapeCell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// ParseTables returns every Markdown table in r: a row of cells between
// pipes, a delimiter row of dashes (optionally with colons), then data
// rows, up to the first line that is not a row. Escaped pipes (\|) stay in
// their cell.
func ParseTables(r io.Reader) ([]Table, error) {
	var (
		tables []Table
		lines  []string
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(lines); i++ {
		if !isRow(lines[i]) || !isDelimiter(lines[i+1]) {
			continue
		}
		t := Table{Header: splitRow(lines[i])}
		i += 2
		for ; i < len(lines) && isRow(lines[i]); i++ {
			t.Rows = append(t.Rows, splitRow(lines[i]))
		}
		tables = append(tables, t)
		i-- // the loop's i++ looks at the line that ended the table
	}
	return tables, nil
}

func isRow(line string) bool { return len(line) >= 2 && line[0] == '|' }

func isDelimiter(line string) bool {
	if !isRow(line) {
		return false
	}
	cells := splitRow(line)
	if len(cells) == 0 {
		return false
	}
	for _, c := range cells {
		c = strings.Trim(c, ":")
		if len(c) < 1 || strings.Trim(c, "-") != "" {
			return false
		}
	}
	return true
}

// splitRow splits "| a | b \| c |" into ["a", "b | c"].
func splitRow(line string) []string {
	line = strings.TrimPrefix(line, "|")
	if strings.HasSuffix(line, "|") && !strings.HasSuffix(line, `\|`) {
		line = line[:len(line)-1]
	}
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}
