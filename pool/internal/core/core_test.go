package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeConn is an in-memory value; the core never looks inside it.
type fakeConn struct {
	id     int
	closed atomic.Bool
	owner  int // written by holders only (unsynchronized: -race checks they never overlap)
}

// harness builds a pool of *fakeConn whose dials can be held and failed,
// with a manual clock, and tracks how many values are alive at once.
type harness struct {
	t     *testing.T
	p     *Pool[*fakeConn]
	clock atomic.Int64

	mu       sync.Mutex
	nextID   int
	live     int
	maxLive  int
	dialErr  error
	gate     chan struct{} // if non-nil, dials wait for a receive-able value
	dialKeys []string
}

func newHarness(t *testing.T, limits Limits, opts ...func(*Config[*fakeConn])) *harness {
	h := &harness{t: t}
	cfg := Config[*fakeConn]{
		Dial:   h.dial,
		Close:  h.closeConn,
		Limits: limits,
		Now:    h.clock.Load,
	}
	for _, o := range opts {
		o(&cfg)
	}
	h.p = New(cfg)
	t.Cleanup(func() {
		h.p.Close()
		h.mu.Lock()
		defer h.mu.Unlock()
		assert.Equal(t, 0, h.live, "%d values still alive after Close", h.live)
	})
	return h
}

func (h *harness) dial(ctx context.Context, key string) (*fakeConn, error) {
	h.mu.Lock()
	gate := h.gate
	h.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dialKeys = append(h.dialKeys, key)
	if h.dialErr != nil {
		return nil, h.dialErr
	}
	h.nextID++
	h.live++
	if h.live > h.maxLive {
		h.maxLive = h.live
	}
	return &fakeConn{id: h.nextID}, nil
}

func (h *harness) closeConn(c *fakeConn) {
	assert.False(h.t, c.closed.Swap(true), "conn %d closed twice", c.id)
	h.mu.Lock()
	h.live--
	h.mu.Unlock()
}

func (h *harness) advance(d time.Duration) { h.clock.Add(int64(d)) }

func (h *harness) acquire(part *Partition[*fakeConn], tag string) *Resource[*fakeConn] {
	h.t.Helper()
	r, _, err := h.p.Acquire(context.Background(), part, tag, 0)
	require.NoError(h.t, err, "Acquire: %v", err)
	return r
}

// settle waits until no dial or close is in flight.
func (h *harness) settle() {
	h.t.Helper()
	for i := 0; ; i++ {
		s := h.p.Stats()
		if s.Dialing == 0 && s.Closing == 0 {
			return
		}
		if i > 10000 {
			h.t.Fatalf("pool does not settle: %+v", s)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// waitFor polls cond; the tests' ordering never depends on timing, only on
// reaching a state.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i > 20000 {
			t.Fatalf("never reached: %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func TestLIFOReuse(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 3, MaxIdle: 3})
	part := h.p.Partition("u")
	a, b, c := h.acquire(part, ""), h.acquire(part, ""), h.acquire(part, "")
	a.Release()
	b.Release()
	c.Release()
	got := h.acquire(part, "")
	defer got.Release()
	require.Same(t, c, got, "got conn %d, want the most recently released %d", got.Value().id, c.Value().id)
}

func TestTagPreference(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 3, MaxIdle: 3})
	part := h.p.Partition("u")
	a, b, c := h.acquire(part, ""), h.acquire(part, ""), h.acquire(part, "")
	a.SetTag("tz=utc")
	b.SetTag("") // clean
	c.SetTag("sql_mode=x")
	a.Release()
	b.Release()
	c.Release()

	got, m, _ := h.p.Acquire(context.Background(), part, "tz=utc", 0)
	require.Same(t, a, got, "want exact match a, got %d match %d", got.Value().id, m)
	require.Equal(t, MatchExact, m, "want exact match a, got %d match %d", got.Value().id, m)
	got2, m2, _ := h.p.Acquire(context.Background(), part, "other", 0)
	require.Same(t, b, got2, "want clean b, got %d match %d", got2.Value().id, m2)
	require.Equal(t, MatchClean, m2, "want clean b, got %d match %d", got2.Value().id, m2)
	got3, m3, _ := h.p.Acquire(context.Background(), part, "other", 0)
	require.Same(t, c, got3, "want other c, got %d match %d", got3.Value().id, m3)
	require.Equal(t, MatchOther, m3, "want other c, got %d match %d", got3.Value().id, m3)
	got.Release()
	got2.Release()
	got3.Release()
}

func TestCapNeverExceeded(t *testing.T) {
	const max = 4
	h := newHarness(t, Limits{MaxSize: max, MaxIdle: max})
	parts := []*Partition[*fakeConn]{h.p.Partition("a"), h.p.Partition("b"), h.p.Partition("c")}
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				part := parts[(g+i)%len(parts)]
				r, _, err := h.p.Acquire(context.Background(), part, "", 0)
				if !assert.NoError(t, err) {
					return
				}
				assert.Same(t, part, r.Partition(), "resource of another partition")
				if i%7 == 0 {
					r.Destroy(ReasonBroken)
				} else {
					r.Release()
				}
			}
		}()
	}
	wg.Wait()
	h.settle()
	h.mu.Lock()
	defer h.mu.Unlock()
	require.LessOrEqual(t, h.maxLive, max, "%d values alive at once, cap %d", h.maxLive, max)
}

func TestWaitersServedInOrder(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 1, MaxIdle: 1})
	part := h.p.Partition("u")
	held := h.acquire(part, "")

	const n = 8
	order := make(chan int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.acquire(part, "")
			order <- i
			r.Release()
		}()
		// Enqueue strictly one after another.
		waitFor(t, "waiter queued", func() bool { return h.p.Stats().Waiting == i+1 })
	}
	held.Release()
	wg.Wait()
	close(order)
	want := 0
	for got := range order {
		require.Equal(t, want, got, "waiter %d served at position %d", got, want)
		want++
	}
}

func TestTimeout(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 1, MaxIdle: 1})
	part := h.p.Partition("u")
	held := h.acquire(part, "")
	defer held.Release()
	_, _, err := h.p.Acquire(context.Background(), part, "", time.Millisecond)
	var te *TimeoutError
	require.ErrorAs(t, err, &te, "err = %v, want *TimeoutError", err)
	require.Equal(t, 1, te.Borrowed, "timeout counts = %+v", te)
	require.Equal(t, 1, te.MaxSize, "timeout counts = %+v", te)
	require.Equal(t, 0, te.Waiting, "timeout counts = %+v", te)
	s := h.p.Stats()
	require.Equal(t, int64(1), s.Timeouts, "stats after timeout = %+v", s)
	require.Equal(t, 0, s.Waiting, "stats after timeout = %+v", s)
}

func TestCancelledAcquireDoesNotKillDial(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 1, MaxIdle: 1})
	gate := make(chan struct{})
	h.gate = gate
	part := h.p.Partition("u")

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := h.p.Acquire(ctx, part, "", 0)
		errc <- err
	}()
	waitFor(t, "dial started", func() bool { return h.p.Stats().Dialing == 1 })
	cancel()
	err := <-errc
	require.ErrorIs(t, err, context.Canceled, "cancelled Acquire returned %v", err)
	// A second acquirer is served by the dial the first one started.
	done := make(chan *Resource[*fakeConn], 1)
	go func() { done <- h.acquire(part, "") }()
	waitFor(t, "second waiter queued", func() bool { return h.p.Stats().Waiting == 1 })
	s := h.p.Stats()
	require.Equal(t, 1, s.Dialing, "second acquirer started another dial: %+v", s)
	gate <- struct{}{}
	r := <-done
	require.Equal(t, 1, r.Value().id, "got conn %d, want the first dial's", r.Value().id)
	r.Release()
}

func TestCancelledAcquireResultIdles(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 1, MaxIdle: 1})
	gate := make(chan struct{})
	h.gate = gate
	part := h.p.Partition("u")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := h.p.Acquire(ctx, part, "", 0)
	require.ErrorIs(t, err, context.Canceled, "Acquire on a done context: %v", err)
	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, _, err := h.p.Acquire(ctx, part, "", 0); errc <- err }()
	waitFor(t, "dial started", func() bool { return h.p.Stats().Dialing == 1 })
	cancel()
	<-errc
	gate <- struct{}{}
	waitFor(t, "dialed conn idles", func() bool { return h.p.Stats().Idle == 1 })
}

func TestDialErrorGoesToWaiter(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 2, MaxIdle: 2})
	boom := errors.New("connection refused")
	h.dialErr = boom
	part := h.p.Partition("u")
	_, _, err := h.p.Acquire(context.Background(), part, "", 0)
	require.ErrorIs(t, err, boom, "err = %v, want dial error", err)
	h.settle()
	s := h.p.Stats()
	require.Equal(t, 0, s.Size, "stats after failed dial: %+v", s)
	require.Equal(t, int64(1), s.DialsFailed, "stats after failed dial: %+v", s)
}

func TestPartitionsIsolatedAndEvicted(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 2, MaxIdle: 2})
	a, b := h.p.Partition("alice"), h.p.Partition("bob")
	r1, r2 := h.acquire(a, ""), h.acquire(a, "")
	r1.Release()
	r2.Release()
	// Both slots hold alice's idle conns; bob must get a fresh one of his
	// own, made room for by closing alice's longest idle.
	rb := h.acquire(b, "")
	require.NotSame(t, r1, rb, "bob got alice's conn")
	require.NotSame(t, r2, rb, "bob got alice's conn")
	require.Same(t, b, rb.Partition(), "bob got alice's conn")
	h.settle()
	s := h.p.Stats()
	require.Equal(t, int64(1), s.Closed[ReasonEvicted], "stats: %+v", s)
	require.Equal(t, 2, s.Size, "stats: %+v", s)
	rb.Release()
	h.mu.Lock()
	defer h.mu.Unlock()
	require.LessOrEqual(t, h.maxLive, 2, "%d alive, cap 2", h.maxLive)
}

func TestReleaseRebalancesToOtherPartition(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 1, MaxIdle: 1})
	a, b := h.p.Partition("alice"), h.p.Partition("bob")
	ra := h.acquire(a, "")
	got := make(chan *Resource[*fakeConn], 1)
	go func() { got <- h.acquire(b, "") }()
	waitFor(t, "bob waits", func() bool { return h.p.Stats().Waiting == 1 })
	ra.Release()
	rb := <-got
	require.Same(t, b, rb.Partition(), "bob got alice's conn")
	rb.Release()
	s := h.p.Stats()
	require.Equal(t, int64(1), s.Closed[ReasonRebalanced], "stats: %+v", s)
}

func TestLifetimeAndIdleTimeout(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 4, MaxIdle: 1, IdleTimeout: time.Minute}, func(c *Config[*fakeConn]) {
		c.MaxLifetime = time.Hour
		c.LifetimeJitter = 10 * time.Minute
	})
	part := h.p.Partition("u")
	rs := []*Resource[*fakeConn]{h.acquire(part, ""), h.acquire(part, ""), h.acquire(part, "")}
	for _, r := range rs {
		r.Release()
	}
	h.p.Maintain()
	s := h.p.Stats()
	require.Equal(t, 3, s.Idle, "idle closed before IdleTimeout: %+v", s)
	h.advance(time.Minute)
	h.p.Maintain()
	h.settle()
	s = h.p.Stats()
	require.Equal(t, 1, s.Idle, "after IdleTimeout: %+v", s)
	require.Equal(t, int64(2), s.Closed[ReasonIdleTimeout], "after IdleTimeout: %+v", s)
	// The survivor is the most recently used.
	r := h.acquire(part, "")
	require.Same(t, rs[2], r, "kept conn %d, want the most recently used", r.Value().id)
	h.advance(50 * time.Minute) // 51 min: within jitter range, maybe expired
	h.advance(9 * time.Minute)  // 60 min: expired whatever the jitter
	r.Release()
	h.settle()
	s = h.p.Stats()
	require.Equal(t, 0, s.Idle, "after lifetime: %+v", s)
	require.Equal(t, int64(1), s.Closed[ReasonLifetime], "after lifetime: %+v", s)
}

func TestLifetimeJitterSpreads(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 64, MaxIdle: 64}, func(c *Config[*fakeConn]) {
		c.MaxLifetime = time.Hour
		c.LifetimeJitter = 30 * time.Minute
	})
	part := h.p.Partition("u")
	seen := map[int64]bool{}
	var rs []*Resource[*fakeConn]
	for i := 0; i < 64; i++ {
		r := h.acquire(part, "")
		require.LessOrEqual(t, r.expires, int64(time.Hour), "expiry %v outside (30m, 1h]", time.Duration(r.expires))
		require.Greater(t, r.expires, int64(30*time.Minute), "expiry %v outside (30m, 1h]", time.Duration(r.expires))
		seen[r.expires] = true
		rs = append(rs, r)
	}
	for _, r := range rs {
		r.Release()
	}
	require.GreaterOrEqual(t, len(seen), 32, "only %d distinct expiries among 64", len(seen))
}

func TestInvalidate(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 2, MaxIdle: 2})
	part := h.p.Partition("u")
	idle, held := h.acquire(part, ""), h.acquire(part, "")
	idle.Release()
	h.p.Invalidate()
	h.settle()
	s := h.p.Stats()
	require.Equal(t, 0, s.Idle, "idle not closed by Invalidate: %+v", s)
	require.Equal(t, int64(1), s.Closed[ReasonInvalidated], "idle not closed by Invalidate: %+v", s)
	held.Release()
	h.settle()
	s = h.p.Stats()
	require.Equal(t, 0, s.Size, "borrowed not closed on release: %+v", s)
	require.Equal(t, int64(2), s.Closed[ReasonInvalidated], "borrowed not closed on release: %+v", s)
	r := h.acquire(part, "")
	require.NotSame(t, idle, r, "old conn handed out after Invalidate")
	require.NotSame(t, held, r, "old conn handed out after Invalidate")
	r.Release()
}

func TestInvalidateDuringDial(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 1, MaxIdle: 1})
	gate := make(chan struct{})
	h.gate = gate
	part := h.p.Partition("u")
	got := make(chan *Resource[*fakeConn], 1)
	go func() { got <- h.acquire(part, "") }()
	waitFor(t, "dial started", func() bool { return h.p.Stats().Dialing == 1 })
	h.p.Invalidate()
	gate <- struct{}{} // the old-generation dial completes and is closed
	gate <- struct{}{} // the waiter is served by a new one
	r := <-got
	require.Equal(t, 2, r.Value().id, "waiter got conn %d, want the post-Invalidate dial", r.Value().id)
	r.Release()
}

func TestCloseFailsWaitersAndClosesReleased(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 1, MaxIdle: 1})
	part := h.p.Partition("u")
	held := h.acquire(part, "")
	errc := make(chan error, 1)
	go func() { _, _, err := h.p.Acquire(context.Background(), part, "", 0); errc <- err }()
	waitFor(t, "waiter queued", func() bool { return h.p.Stats().Waiting == 1 })
	h.p.Close()
	err := <-errc
	require.ErrorIs(t, err, ErrClosed, "waiter got %v, want ErrClosed", err)
	held.Release()
	require.True(t, held.Value().closed.Load(), "conn released after Close was not closed")
	_, _, err = h.p.Acquire(context.Background(), part, "", 0)
	require.ErrorIs(t, err, ErrClosed, "Acquire after Close: %v", err)
}

func TestSetLimitsShrinks(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 4, MaxIdle: 4})
	part := h.p.Partition("u")
	var rs []*Resource[*fakeConn]
	for i := 0; i < 4; i++ {
		rs = append(rs, h.acquire(part, ""))
	}
	rs[0].Release()
	rs[1].Release()
	h.p.SetLimits(Limits{MaxSize: 1, MaxIdle: 1})
	rs[2].Release()
	rs[3].Release()
	h.settle()
	s := h.p.Stats()
	require.Equal(t, 1, s.Size, "after shrink: %+v", s)
	require.Equal(t, 1, s.Idle, "after shrink: %+v", s)
}

func TestStressRace(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 3, MaxIdle: 2})
	parts := []*Partition[*fakeConn]{h.p.Partition("a"), h.p.Partition("b")}
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				ctx, cancel := context.WithCancel(context.Background())
				if i%5 == 0 {
					cancel()
				}
				r, _, err := h.p.Acquire(ctx, parts[i%2], fmt.Sprint(i%3), time.Duration(i%4)*time.Millisecond)
				cancel()
				if err != nil {
					continue
				}
				r.SetTag(fmt.Sprint(g % 3))
				switch i % 11 {
				case 0:
					r.Destroy(ReasonBroken)
				case 1:
					h.p.Invalidate()
					r.Release()
				case 2:
					h.p.Maintain()
					r.Release()
				default:
					r.Release()
				}
			}
		}()
	}
	wg.Wait()
	h.settle()
	s := h.p.Stats()
	require.Equal(t, 0, s.Borrowed, "inconsistent after stress: %+v", s)
	require.Equal(t, 0, s.Waiting, "inconsistent after stress: %+v", s)
	require.Equal(t, s.Idle, s.Size, "inconsistent after stress: %+v", s)
	h.mu.Lock()
	defer h.mu.Unlock()
	require.LessOrEqual(t, h.maxLive, 3, "%d alive, cap 3", h.maxLive)
}
