package main

import (
	"sync"
	"time"
)

// livenessTimeout is how long /healthz waits for the pool's and the
// listener's locks before it reports the process wedged.
const livenessTimeout = 2 * time.Second

// liveness answers /healthz: the process is alive when a statistics
// snapshot, which takes the pool's locks, completes in time. A deadlocked
// pool makes /healthz answer 503, so that a supervisor restarts the
// process; draining or an unreachable database does not (that is
// /readyz's business: a restart would not fix it).
type liveness struct {
	check   func() // takes the locks a wedged process would hold
	timeout time.Duration

	mu       sync.Mutex
	inFlight chan struct{} // guarded by mu; closed when the running check ends; nil when none runs
}

// alive runs check (at most one at a time: a wedged check is waited for
// again rather than piled up) and reports whether it ended within timeout.
func (l *liveness) alive() bool {
	l.mu.Lock()
	done := l.inFlight
	if done == nil {
		done = make(chan struct{})
		l.inFlight = done
		go func() { // ends when check returns
			l.check()
			l.mu.Lock()
			l.inFlight = nil
			l.mu.Unlock()
			close(done)
		}()
	}
	l.mu.Unlock()
	select {
	case <-done:
		return true
	case <-time.After(l.timeout):
		return false
	}
}
