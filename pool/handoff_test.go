package pool

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSessionsHandoffRandomized runs sessions of two users over a small
// pool, with borrow timeouts, and contexts cancelled at random moments,
// through Session.Acquire and Done. Every borrow must end with a backend
// or with the error its caller could get, every backend must come back,
// and the counters must add up. The seed is printed; RDSMUX_SEED replays
// it.
func TestSessionsHandoffRandomized(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("RDSMUX_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "RDSMUX_SEED must be a number")
		seed = n
	}
	t.Logf("seed %d (replay with RDSMUX_SEED=%d)", seed, seed)
	m := newMemServer()
	p, err := New(Config{Dial: m.Dial, MaxConnections: 3, HealthCheckIdle: -1, ConnectionBorrowTimeout: 300 * time.Microsecond})
	require.NoError(t, err)
	defer p.Close()
	const sessions, statements = 16, 300
	var mu sync.Mutex
	var ok, timeouts, cancels int64
	var wg sync.WaitGroup
	for g := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			s := p.NewSession("u"+strconv.Itoa(g%2), SessionOptions{})
			defer s.Close(context.Background())
			var nOK, nTimeout, nCancel int64
			defer func() {
				mu.Lock()
				ok, timeouts, cancels = ok+nOK, timeouts+nTimeout, cancels+nCancel
				mu.Unlock()
			}()
			for range statements {
				ctx, cancel := context.WithCancel(context.Background())
				if rng.IntN(4) == 0 {
					spins := rng.IntN(40)
					go func() {
						for range spins {
							runtime.Gosched()
						}
						cancel()
					}()
				}
				b, err := s.Acquire(ctx)
				ctxErr := ctx.Err()
				switch {
				case err == nil:
					nOK++
					for range rng.IntN(10) {
						runtime.Gosched()
					}
					s.Done(context.Background(), b, nil, Status{})
				case errors.Is(err, ErrBorrowTimeout):
					nTimeout++
				case errors.Is(err, context.Canceled):
					nCancel++
					if !assert.Error(t, ctxErr, "context error %v from a live context", err) {
						cancel()
						return
					}
				default:
					assert.Fail(t, "unexpected error", "%v", err)
					cancel()
					return
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	st := p.Stats()
	t.Logf("%d borrowed, %d timed out, %d cancelled; %d waited", ok, timeouts, cancels, st.WaitCount)
	assert.Equal(t, ok+timeouts+cancels, st.BorrowRequests, "every Acquire counted once")
	assert.Equal(t, timeouts, st.BorrowTimeouts)
	assert.Zero(t, st.DatabaseConnectionsCurrentlyBorrowed, "backends still out: %+v", st)
	assert.Zero(t, st.WaitingNow)
	assert.LessOrEqual(t, st.DatabaseConnections, 3)
	waitUntil(t, "closes done, open backends idle", func() bool {
		st := p.Stats()
		return st.DatabaseConnections == st.IdleConnections && st.ConnectionsOpening == 0
	})
}
