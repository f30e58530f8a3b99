package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// phase is one run of the scenario with one way of reaching the database.
// The demo runs the phases in order; a new way (the listener, a failover
// drill) is one more entry in phases.
type phase struct {
	name  string // column heading in the report
	about string // printed before the phase runs
	open  func(ctx context.Context, d *database, o options) (client, error)
}

// phases are the known phases, in the order they run.
var phases = []phase{
	{
		name:  "direct",
		about: "go-sql-driver, a new connection for every request, as a naive Lambda handler would",
		open:  openDirect,
	},
	{
		name:  "rdsmux",
		about: "every handler on one shared rdsmux pool",
		open:  openRdsmux,
	},
}

// step is a stretch of constant traffic: handlers concurrent handlers,
// each running requests back to back (with think time between them), for
// dur.
type step struct {
	handlers int
	dur      time.Duration
}

// result is what a phase measured.
type result struct {
	phase      string
	requests   int64            // successful requests
	errors     int64            // failed requests
	errorKinds map[string]int64 // failed requests per kind of error
	p50, p99   time.Duration    // latency of successful requests
	elapsed    time.Duration

	peakHandlers   int   // most handlers running at once
	peakClient     int   // most client connections at once (sampled)
	peakDB         int   // most database connections at once, as the client counts them (sampled)
	opened         int64 // database connections opened
	maxWaiting     int   // most handlers waiting for a database connection (sampled); -1: n/a
	serverPeak     int   // most connections at once, as the server counts them
	serverExact    bool
	serverAfterEnd int // connections the server still had after the phase closed its client

	pins map[string]int64 // nil when the phase does not pin
}

// recorder collects one phase's outcomes from many handlers.
type recorder struct {
	ok, failed atomic.Int64

	mu        sync.Mutex
	kinds     map[string]int64  // guarded by mu
	latencies [][]time.Duration // guarded by mu; one slice per finished handler
}

func (r *recorder) fail(err error) {
	r.failed.Add(1)
	k := errorKind(err)
	r.mu.Lock()
	r.kinds[k]++
	r.mu.Unlock()
}

func (r *recorder) handlerDone(lat []time.Duration) {
	r.mu.Lock()
	r.latencies = append(r.latencies, lat)
	r.mu.Unlock()
}

// runPhase runs the steps of traffic against client c, reporting live
// samples to progress, and returns what it measured. A handler finishes
// the request it is running when the phase ends; requests still running
// a grace period later are cancelled and not counted.
func runPhase(ctx context.Context, p phase, c client, view serverView, o options, progress func(sample)) result {
	rec := &recorder{kinds: map[string]int64{}}
	res := result{phase: p.name, maxWaiting: -1}

	stop := make(chan struct{}) // closed when the traffic ends
	reqCtx, cancelRequests := context.WithCancel(ctx)
	defer cancelRequests()
	var target atomic.Int64 // handlers that should be running
	var running atomic.Int64
	var counter atomic.Uint64 // request numbers
	var handlers sync.WaitGroup

	handler := func(idx int64) {
		defer running.Add(-1)
		h := c.handler()
		defer h.close()
		rng := rand.New(rand.NewPCG(uint64(idx), uint64(time.Now().UnixNano())))
		var lat []time.Duration
		defer func() { rec.handlerDone(lat) }()
		for idx < target.Load() {
			select {
			case <-stop:
				return
			default:
			}
			n := counter.Add(1)
			rctx, cancel := context.WithTimeout(reqCtx, o.requestTimeout)
			start := time.Now()
			err := h.request(rctx, rng, n)
			d := time.Since(start)
			cancel()
			switch {
			case err == nil:
				rec.ok.Add(1)
				lat = append(lat, d)
			case reqCtx.Err() != nil:
				return // cut off by the phase's end: not counted
			default:
				rec.fail(err)
			}
			if o.think > 0 {
				// Jittered think time: the rest of the handler's work,
				// and the next event's arrival.
				t := time.NewTimer(o.think/2 + rand.N(o.think))
				select {
				case <-t.C:
				case <-stop:
					t.Stop()
					return
				}
			}
		}
	}

	// The sampler: client gauges and the server's count, every tick.
	samplerDone := make(chan struct{})
	var peakSampledServer int
	start := time.Now()
	go func() { // owned by runPhase; ends when stop is closed
		defer close(samplerDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			g := c.gauges()
			srv, err := view.Connected(ctx)
			if err != nil {
				srv = -1
			}
			res.peakClient = max(res.peakClient, g.clientConns)
			res.peakDB = max(res.peakDB, g.dbConns)
			res.maxWaiting = max(res.maxWaiting, g.waiting)
			peakSampledServer = max(peakSampledServer, srv)
			progress(sample{
				phase: p.name, elapsed: time.Since(start), handlers: int(running.Load()),
				done: rec.ok.Load() + rec.failed.Load(), errors: rec.failed.Load(),
				g: g, serverConns: srv,
			})
		}
	}()

	var started int64
	for _, s := range o.steps() {
		target.Store(int64(s.handlers))
		for ; started < int64(s.handlers); started++ {
			running.Add(1)
			handlers.Add(1)
			go func(idx int64) { // owned by runPhase; ends at stop or when target drops below idx
				defer handlers.Done()
				handler(idx)
			}(started)
		}
		res.peakHandlers = max(res.peakHandlers, s.handlers)
		select {
		case <-time.After(s.dur):
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(stop)
	<-samplerDone
	res.elapsed = time.Since(start)
	// The server's peak, read before any request is cancelled (a
	// cancelled query makes rdsmux open a connection for KILL QUERY).
	if n, exact, err := view.Peak(ctx); err == nil && exact {
		res.serverPeak, res.serverExact = n, true
	} else {
		res.serverPeak = peakSampledServer
	}
	finished := make(chan struct{})
	go func() { handlers.Wait(); close(finished) }() // ends when every handler has
	select {
	case <-finished:
	case <-time.After(2 * time.Second):
		cancelRequests()
		<-finished
	}

	res.requests, res.errors = rec.ok.Load(), rec.failed.Load()
	res.errorKinds = rec.kinds
	var all []time.Duration
	for _, l := range rec.latencies {
		all = append(all, l...)
	}
	slices.Sort(all)
	res.p50, res.p99 = quantile(all, 0.50), quantile(all, 0.99)
	sum := c.summary()
	res.pins, res.opened = sum.pins, sum.opened
	res.peakClient = max(res.peakClient, sum.peakClient)
	res.peakDB = max(res.peakDB, sum.peakDB)
	return res
}

// quantile of sorted durations (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// waitForServerIdle waits until the server has no client connections of
// the demo's (bounded), so the next phase starts from zero; it returns
// the count it last saw.
func waitForServerIdle(ctx context.Context, view serverView, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		n, err := view.Connected(ctx)
		if err != nil || n <= 0 || time.Now().After(deadline) || errors.Is(ctx.Err(), context.Canceled) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}
