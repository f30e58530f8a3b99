package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// sysbenchScript and sysbenchMarkdown are the listener benchmark's script
// and the table it writes (both relative to the repository root).
const (
	sysbenchScript   = "bench/sysbench.sh"
	sysbenchMarkdown = "bench/out/sysbench.md"
)

// SysbenchSuite is sysbench run directly against MariaDB and through the
// listener, by bench/sysbench.sh.
type SysbenchSuite struct {
	Section
	Tables   []Table
	Headline [][]string // rows for the report's headline table
}

// Sysbench runs bench/sysbench.sh and reads the Markdown it writes.
func (r Runner) Sysbench(ctx context.Context) *SysbenchSuite {
	s := &SysbenchSuite{}
	start := time.Now()
	defer func() { s.Elapsed = time.Since(start) }()
	if _, err := os.Stat(filepath.Join(r.Root, sysbenchScript)); err != nil {
		s.Skipped = "listener section not run: " + sysbenchScript + " missing"
		return s
	}
	md := filepath.Join(r.Root, sysbenchMarkdown)
	if err := os.Remove(md); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.Err = err
		return s
	}
	cmd := Command{Args: []string{"bash", sysbenchScript}, Timeout: 10 * time.Minute, Log: "sysbench.txt"}
	if r.Opts.Quick {
		cmd.Env = []string{"QUICK=1"}
	}
	s.Commands = []Command{cmd}
	r.Log("sysbench: %s", cmd)
	_, s.Err = cmd.Run(ctx, r.Root, r.Opts.Scratch)
	f, err := os.Open(md)
	if err != nil {
		s.Err = errors.Join(s.Err, fmt.Errorf("%s did not write %s: %w", sysbenchScript, sysbenchMarkdown, err))
		return s
	}
	defer f.Close()
	s.Tables, err = ParseTables(f)
	if err == nil && len(s.Tables) == 0 {
		err = fmt.Errorf("%s holds no table", sysbenchMarkdown)
	}
	s.Err = errors.Join(s.Err, err)
	return s
}

func (r *Report) writeSysbench(w io.Writer) {
	fmt.Fprintln(w, "## Listener: sysbench direct vs through rdsmux")
	fmt.Fprintln(w)
	s := r.Sysbench
	if s == nil {
		fmt.Fprintln(w, "**Not run**.")
		fmt.Fprintln(w)
		return
	}
	if !writeSection(w, s.Section) {
		return
	}
	for _, t := range s.Tables {
		t.Write(w)
		fmt.Fprintln(w)
	}
}

// Plots are the charts drawn from the sysbench tables (none yet when the
// tables' shape is not recognized).
func (s *SysbenchSuite) Plots(Machine) []Plot { return nil }
