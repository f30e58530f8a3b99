package core

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests of this file race releases (which hand a resource straight to
// the oldest waiter, waking it after the pool's lock is released) against
// waiters' contexts ending and the pool's shared deadline timer.

// testSeed returns RDSMUX_SEED if set, else a fresh seed, and logs it so a
// failing run can be replayed.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("RDSMUX_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "RDSMUX_SEED must be a number")
		seed = n
	}
	t.Logf("seed %d (replay with RDSMUX_SEED=%d)", seed, seed)
	return seed
}

// TestHandoffCancelTimeoutRandomized runs goroutines that acquire with
// contexts cancelled at random moments (before, while, or after they are
// queued), with random borrow timeouts, and hold, release, destroy or
// release-and-reclaim what they get. It checks that a resource never has
// two holders, that every Acquire returns (a lost wake-up hangs the test),
// that errors are the ones the call could get, that no resource is lost or
// leaked (the harness checks every value is closed after Close), and that
// the counters add up.
func TestHandoffCancelTimeoutRandomized(t *testing.T) {
	seed := testSeed(t)
	const (
		size       = 3
		goroutines = 24
		ops        = 400
	)
	h := newHarness(t, Limits{MaxSize: size, MaxIdle: size})
	parts := []*Partition[*fakeConn]{h.p.Partition("a"), h.p.Partition("b")}
	var holders sync.Map // *fakeConn -> *atomic.Int32 (holder id + 1, 0 free)
	holderOf := func(c *fakeConn) *atomic.Int32 {
		v, _ := holders.LoadOrStore(c, new(atomic.Int32))
		return v.(*atomic.Int32)
	}
	var acquired, failed, timeouts, cancels atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			var claim Claim[*fakeConn]
			for range ops {
				part := parts[rng.IntN(len(parts))]
				ctx, cancel := context.WithCancel(context.Background())
				cancelled := false
				switch rng.IntN(10) {
				case 0: // already done
					cancel()
					cancelled = true
				case 1, 2: // cancelled by another goroutine at a random moment
					spins := rng.IntN(50)
					go func() {
						for range spins {
							runtime.Gosched()
						}
						cancel()
					}()
					cancelled = true
				case 3: // a context deadline, about as short as a hold
					ctx, cancel = context.WithTimeout(ctx, time.Duration(rng.IntN(200))*time.Microsecond)
					cancelled = true
				}
				var timeout time.Duration
				if rng.IntN(3) == 0 {
					timeout = time.Duration(1+rng.IntN(300)) * time.Microsecond
				}
				r, _, err := h.p.AcquireAfter(ctx, part, strconv.Itoa(rng.IntN(2)), timeout, claim)
				claim = Claim[*fakeConn]{}
				ctxErr := ctx.Err()
				cancel()
				if err != nil {
					failed.Add(1)
					var te *TimeoutError
					switch {
					case errors.As(err, &te):
						timeouts.Add(1)
						if !assert.NotZero(t, timeout, "timeout error without a timeout: %v", err) ||
							!assert.Equal(t, timeout, te.Timeout) {
							return
						}
					case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
						cancels.Add(1)
						if !assert.True(t, cancelled && ctxErr != nil, "context error %v from a live context", err) {
							return
						}
					default:
						assert.Fail(t, "unexpected error", "%v", err)
						return
					}
					continue
				}
				acquired.Add(1)
				if !assert.Equal(t, part, r.Partition(), "resource of another partition") {
					return
				}
				owner := holderOf(r.Value())
				if !assert.True(t, owner.CompareAndSwap(0, int32(g+1)), "resource %d handed to goroutine %d while goroutine %d holds it",
					r.Value().id, g, owner.Load()-1) {
					return
				}
				for range rng.IntN(20) {
					runtime.Gosched()
				}
				owner.Store(0)
				r.SetTag(strconv.Itoa(rng.IntN(2)))
				switch rng.IntN(12) {
				case 0:
					r.Destroy(ReasonBroken)
				case 1, 2:
					c := r.ReleaseClaim()
					if back, err := h.p.Reclaim(part, c); err == nil {
						acquired.Add(1)
						if !assert.True(t, owner.CompareAndSwap(0, int32(g+1)), "reclaimed resource %d is held by goroutine %d",
							back.Value().id, owner.Load()-1) {
							return
						}
						owner.Store(0)
						back.Release()
					}
				case 3, 4:
					claim = r.ReleaseClaim() // given up by the next AcquireAfter
				default:
					r.Release()
				}
			}
			h.p.Unclaim(claim)
		}()
	}
	wg.Wait()
	h.settle()
	s := h.p.Stats()
	t.Logf("acquired %d, failed %d (%d timeouts, %d cancelled), waits %d", acquired.Load(), failed.Load(),
		timeouts.Load(), cancels.Load(), s.Waits)
	assert.Zero(t, s.Borrowed, "borrowed after every holder released: %+v", s)
	assert.Zero(t, s.Waiting, "waiting after every Acquire returned: %+v", s)
	assert.Equal(t, s.Idle, s.Size, "resources neither idle nor closed: %+v", s)
	assert.Equal(t, timeouts.Load(), s.Timeouts, "timeout count")
	assert.LessOrEqual(t, s.Canceled, cancels.Load(), "cancel count")
	h.mu.Lock()
	defer h.mu.Unlock()
	assert.LessOrEqual(t, h.maxLive, size, "values alive at once")
}

// A waiter with a short timeout queued behind one with a long timeout
// times out on its own (the shared timer is moved earlier), the long one
// keeps waiting and is served by the next release.
func TestTimeoutShorterThanQueued(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 1, MaxIdle: 1})
	part := h.p.Partition("u")
	held := h.acquire(part, "")
	long := make(chan error, 1)
	go func() {
		r, _, err := h.p.Acquire(context.Background(), part, "", time.Hour)
		if err == nil {
			r.Release()
		}
		long <- err
	}()
	waitFor(t, "long waiter queued", func() bool { return h.p.Stats().Waiting == 1 })
	_, _, err := h.p.Acquire(context.Background(), part, "", time.Millisecond)
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, time.Millisecond, te.Timeout)
	assert.Equal(t, 1, te.Waiting, "the long waiter still waits")
	held.Release()
	require.NoError(t, <-long)
	s := h.p.Stats()
	assert.Equal(t, int64(1), s.Timeouts)
	assert.Zero(t, s.Waiting)
}

// The shared timer armed for a waiter that was served fires later for
// nobody, and re-arms for the waiters queued since: they still time out.
func TestTimeoutAfterServedWaiter(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 1, MaxIdle: 1})
	part := h.p.Partition("u")
	held := h.acquire(part, "")
	served := make(chan *Resource[*fakeConn], 1)
	go func() {
		r, _, err := h.p.Acquire(context.Background(), part, "", 2*time.Millisecond)
		assert.NoError(t, err)
		served <- r
	}()
	waitFor(t, "first waiter queued", func() bool { return h.p.Stats().Waiting == 1 })
	held.Release()
	held = <-served // holds the only resource; the timer stays armed for its old deadline
	for i := range 3 {
		_, _, err := h.p.Acquire(context.Background(), part, "", time.Duration(i+3)*time.Millisecond)
		var te *TimeoutError
		require.ErrorAs(t, err, &te, "waiter %d", i)
	}
	held.Release()
	assert.Equal(t, int64(3), h.p.Stats().Timeouts)
}

// Close fails queued waiters, with or without a timeout, and disarms the
// timer.
func TestCloseFailsTimedWaiters(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 1, MaxIdle: 1})
	part := h.p.Partition("u")
	held := h.acquire(part, "")
	errs := make(chan error, 2)
	for _, timeout := range []time.Duration{0, time.Hour} {
		go func() {
			_, _, err := h.p.Acquire(context.Background(), part, "", timeout)
			errs <- err
		}()
	}
	waitFor(t, "waiters queued", func() bool { return h.p.Stats().Waiting == 2 })
	h.p.Close()
	for range 2 {
		assert.ErrorIs(t, <-errs, ErrClosed)
	}
	held.Release()
}

// A timeout too long for the clock (the largest Duration) means none: the
// waiter waits for a release.
func TestTimeoutBeyondTheClock(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 1, MaxIdle: 1})
	part := h.p.Partition("u")
	held := h.acquire(part, "")
	got := make(chan error, 1)
	go func() {
		r, _, err := h.p.Acquire(context.Background(), part, "", time.Duration(1<<63-1))
		if err == nil {
			r.Release()
		}
		got <- err
	}()
	waitFor(t, "waiter queued", func() bool { return h.p.Stats().Waiting == 1 })
	held.Release()
	require.NoError(t, <-got)
}
