package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rdsmux/rdsmux/pool"
)

// dialLogInterval is how often dial failures are logged while they
// continue (the first one is logged at once).
const dialLogInterval = 10 * time.Second

// health follows whether the database can be reached, from the pool's
// dials and from probes, for /readyz, and logs dial failures (rate
// limited) so that an operator sees them without -debug.
type health struct {
	log    *slog.Logger
	window time.Duration // unready once failing this long without a success
	now    func() time.Time

	draining atomic.Bool

	mu sync.Mutex
	// Guarded by mu.
	lastSuccess time.Time // or the start
	failing     bool      // the latest attempt failed
	lastLog     time.Time // of the last failure logged
	suppressed  int       // failures not logged since lastLog
}

func newHealth(log *slog.Logger, window time.Duration) *health {
	h := &health{log: log, window: window, now: time.Now}
	h.lastSuccess = h.now()
	return h
}

// ready reports whether /readyz answers 200, and why not.
func (h *health) ready() (bool, string) {
	if h.draining.Load() {
		return false, "draining"
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failing && h.now().Sub(h.lastSuccess) >= h.window {
		return false, "database unreachable since " + h.lastSuccess.UTC().Format(time.RFC3339)
	}
	return true, "ok"
}

// record notes one attempt to reach the database.
func (h *health) record(err error, what string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if err == nil {
		if h.failing {
			h.log.Info("rdsmux: the database answers again", "via", what, "failures_not_logged", h.suppressed)
		}
		h.failing, h.lastSuccess, h.suppressed = false, now, 0
		return
	}
	first := !h.failing
	h.failing = true
	if first || now.Sub(h.lastLog) >= dialLogInterval {
		h.log.Warn("rdsmux: cannot connect to the database", "via", what, "err", err,
			"failing_for", now.Sub(h.lastSuccess).Round(time.Millisecond).String(), "failures_not_logged", h.suppressed)
		h.lastLog, h.suppressed = now, 0
		return
	}
	h.suppressed++
}

// wrapDial returns dial reporting each outcome to h.
func (h *health) wrapDial(dial func(ctx context.Context, key string) (pool.Conn, error)) func(ctx context.Context, key string) (pool.Conn, error) {
	return func(ctx context.Context, key string) (pool.Conn, error) {
		c, err := dial(ctx, key)
		if err != nil && ctx.Err() != nil {
			return c, err // the borrower gave up: says nothing of the database
		}
		h.record(err, "pool dial")
		return c, err
	}
}

// probe logs in to the database every interval (as the backend account
// of user()) and reports the outcome, until ctx ends. A probe is a full
// login, not a bare TCP connect: handshakes left half done count against
// the server's max_connect_errors and would get the listener's host
// blocked.
func (h *health) probe(ctx context.Context, interval time.Duration, dial func(ctx context.Context, key string) (pool.Conn, error), user func() string) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, max(interval, time.Second))
		c, err := dial(pctx, user())
		cancel()
		if ctx.Err() != nil {
			if c != nil {
				c.Close()
			}
			return
		}
		if c != nil {
			c.Close()
		}
		h.record(err, "readiness probe")
	}
}
