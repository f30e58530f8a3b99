package main

import (
	"context"
	"os"
	"runtime"
	"time"

	"github.com/rdsmux/rdsmux/proxy"
)

// While the listener serves one client command at a time, a second P
// (GOMAXPROCS > 1) gives it nothing to run in parallel, yet the runtime's
// scheduling around the idle P costs each command CPU and latency. On a
// 2-core VM shared with the database, sysbench oltp_point_select at one
// thread ran at 0.82x HAProxy's rate through the listener at Go's default
// GOMAXPROCS (2), at 70 µs of the listener's CPU per query, and at 1.0x
// with GOMAXPROCS=1, at 40 µs (HAProxy 35 µs; the same system calls per
// query either way). At 64 threads one P was slower (0.8x the rate at
// two), since a goroutine then waits whenever the single thread is
// preempted.
//
// So the governor follows the parallelism the listener has: it samples the
// commands in flight every procsTick and runs on one P while, over
// procsDownAfter, there was at most about one (mean at most
// procsDownBelow); as soon as commands overlap (mean at least procsUpAt
// over procsUpAfter) it gives the runtime back its default
// (runtime.SetDefaultGOMAXPROCS, which follows a container's CPU limit).
// It does nothing when the default is already 1, and is off when the
// GOMAXPROCS environment variable is set: the operator's number stands.
const (
	procsTick      = 10 * time.Millisecond
	procsDownAfter = time.Second           // a whole second of at most one command
	procsDownBelow = 1.0                   // mean commands in flight to drop to one P
	procsUpAfter   = 30 * time.Millisecond // overlap noticed this quickly
	procsUpAt      = 1.5                   // mean commands in flight to restore the default
	procsHistory   = procsDownAfter / procsTick
)

// procsGovernor sizes GOMAXPROCS to the commands in flight (see above).
// Its run goroutine is the only writer of GOMAXPROCS while it runs.
type procsGovernor struct {
	inFlight func() int64 // the listener's commands in flight

	// Test seams: the runtime's GOMAXPROCS calls.
	setOne     func() // runtime.GOMAXPROCS(1)
	setDefault func() // runtime.SetDefaultGOMAXPROCS()
	ticks      <-chan time.Time

	// Owned by run.
	samples [procsHistory]int64 // ring of the latest samples
	n       int                 // samples taken since the last change (at most procsHistory)
	next    int                 // where the next sample goes
	one     bool                // GOMAXPROCS is 1 by the governor's doing
}

// newProcsGovernor returns the governor for a listener whose commands in
// flight inFlight reports, or nil when it has nothing to do: GOMAXPROCS is
// set in the environment, or Go's default is already 1.
func newProcsGovernor(inFlight func() int64) *procsGovernor {
	if _, set := os.LookupEnv("GOMAXPROCS"); set || runtime.GOMAXPROCS(0) <= 1 {
		return nil
	}
	return &procsGovernor{
		inFlight:   inFlight,
		setOne:     func() { runtime.GOMAXPROCS(1) },
		setDefault: runtime.SetDefaultGOMAXPROCS,
	}
}

// procsGovernorFor returns the governor of the listener's endpoints (srv,
// and reader's when there is one), or nil when -gomaxprocs-follow-load is
// off or newProcsGovernor has nothing to do.
func procsGovernorFor(cfg *config, srv *proxy.Server, reader *readerEndpoint) *procsGovernor {
	if !cfg.procsFollowLoad {
		return nil
	}
	inFlight := srv.CommandsInFlight
	if reader != nil {
		inFlight = func() int64 { return srv.CommandsInFlight() + reader.srv.CommandsInFlight() }
	}
	return newProcsGovernor(inFlight)
}

// run samples until ctx ends, then gives the runtime back its default.
func (g *procsGovernor) run(ctx context.Context) {
	ticks := g.ticks
	if ticks == nil {
		t := time.NewTicker(procsTick)
		defer t.Stop()
		ticks = t.C
	}
	defer func() {
		if g.one {
			g.setDefault()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			g.sample(g.inFlight())
		}
	}
}

// sample records one sample and changes GOMAXPROCS when the history says.
func (g *procsGovernor) sample(v int64) {
	g.samples[g.next] = v
	g.next = (g.next + 1) % len(g.samples)
	g.n = min(g.n+1, len(g.samples))
	switch {
	case g.one && g.mean(int(procsUpAfter/procsTick)) >= procsUpAt:
		g.setDefault()
		g.one, g.n = false, 0
	case !g.one && g.n == len(g.samples) && g.mean(len(g.samples)) <= procsDownBelow:
		g.setOne()
		g.one, g.n = true, 0
	}
}

// mean is the mean of the latest k samples, 0 until there are k since the
// last change.
func (g *procsGovernor) mean(k int) float64 {
	if g.n < k {
		return 0
	}
	var sum int64
	for i := 1; i <= k; i++ {
		sum += g.samples[(g.next-i+len(g.samples))%len(g.samples)]
	}
	return float64(sum) / float64(k)
}
