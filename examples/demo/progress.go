package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// sample is one live reading of a running phase.
type sample struct {
	phase       string
	elapsed     time.Duration
	handlers    int
	done        int64 // requests finished, failed ones included
	errors      int64
	g           gauges
	serverConns int // -1: unknown
}

// progress prints live samples: on a terminal one line refreshed in place
// several times a second, elsewhere (CI logs, tests) one line a second.
type progress struct {
	out      io.Writer
	tty      bool
	every    time.Duration
	mu       sync.Mutex // guards the fields below
	last     time.Time
	lastDone int64
	lastLen  int
}

func newProgress(out io.Writer, tty bool) *progress {
	every := time.Second
	if tty {
		every = 250 * time.Millisecond
	}
	return &progress{out: out, tty: tty, every: every}
}

func (p *progress) update(s sample) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.last.IsZero() {
		p.last, p.lastDone = now.Add(-s.elapsed), 0
	}
	if now.Sub(p.last) < p.every {
		return
	}
	rate := float64(s.done-p.lastDone) / now.Sub(p.last).Seconds()
	p.last, p.lastDone = now, s.done

	waiting := "-"
	if s.g.waiting >= 0 {
		waiting = fmt.Sprint(s.g.waiting)
	}
	server := "?"
	if s.serverConns >= 0 {
		server = fmt.Sprint(s.serverConns)
	}
	line := fmt.Sprintf("  %-7s %5.1fs  handlers %5d  %8s req/s  errors %8s  client conns %5d  db conns %4d (server %s)  waiting %s",
		s.phase, s.elapsed.Seconds(), s.handlers, thousands(int64(rate)), thousands(s.errors),
		s.g.clientConns, s.g.dbConns, server, waiting)
	if p.tty {
		pad := ""
		if n := p.lastLen - len(line); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		fmt.Fprint(p.out, "\r"+line+pad)
		p.lastLen = len(line)
		return
	}
	fmt.Fprintln(p.out, line)
}

// end finishes a phase's live output.
func (p *progress) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.lastLen > 0 {
		fmt.Fprintln(p.out)
	}
	p.last, p.lastDone, p.lastLen = time.Time{}, 0, 0
}

// thousands formats n with thousands separators.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
