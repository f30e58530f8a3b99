package core

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testWindow = time.Second

func withClaimWindow(c *Config[*fakeConn]) { c.ClaimWindow = testWindow }

func mustReclaim(t *testing.T, h *harness, part *Partition[*fakeConn], c Claim[*fakeConn]) *Resource[*fakeConn] {
	t.Helper()
	r, err := h.p.Reclaim(part, c)
	require.NoError(t, err, "Reclaim: %v", err)
	return r
}

func TestReclaimTakesBackUntouched(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 2, MaxIdle: 2}, withClaimWindow)
	part := h.p.Partition("u")
	a, b := h.acquire(part, ""), h.acquire(part, "")
	c := a.ReleaseClaim()
	b.Release() // released after a: on top of the idle list
	h.advance(time.Millisecond)
	r := mustReclaim(t, h, part, c)
	require.Same(t, a, r, "reclaimed conn %d, want %d", r.Value().id, a.Value().id)
	require.Equal(t, time.Millisecond, r.IdleFor(), "IdleFor %v, Waited %v", r.IdleFor(), r.Waited())
	require.Equal(t, time.Duration(0), r.Waited(), "IdleFor %v, Waited %v", r.IdleFor(), r.Waited())
	s := h.p.Stats()
	require.Equal(t, 1, s.Borrowed, "stats: %+v", s)
	require.Equal(t, 1, s.Idle, "stats: %+v", s)
	require.Equal(t, int64(2), s.DialsSucceeded, "stats: %+v", s)
	// The claim was used up: a second Reclaim with it fails.
	_, err := h.p.Reclaim(part, c)
	require.ErrorIs(t, err, ErrClaimBorrowed, "second Reclaim with the same claim: %v", err)
	r.Release()
}

func TestReclaimFailsAfterAnotherBorrow(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 1, MaxIdle: 1}, withClaimWindow)
	part := h.p.Partition("u")
	a := h.acquire(part, "")
	c := a.ReleaseClaim()
	// The only idle resource is claimed: another acquirer takes it all
	// the same (a claim never makes anyone wait), then gives it back.
	other := h.acquire(part, "")
	require.Same(t, a, other, "acquirer did not get the only idle resource")
	other.Release()
	s := h.p.Stats()
	require.Equal(t, 1, s.Idle, "setup: %+v", s)
	// Idle again, but not untouched: the borrow count tells.
	_, err := h.p.Reclaim(part, c)
	require.ErrorIs(t, err, ErrClaimBorrowed, "Reclaim after another borrow: %v, want ErrClaimBorrowed", err)
	again := h.acquire(part, "")
	require.Same(t, a, again, "Took: true for the claimed resource after another holder had it")
	require.False(t, c.Took(again), "Took: true for the claimed resource after another holder had it")
	again.Release()
}

func TestReclaimFailsWhenReleasedToWaiter(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 1, MaxIdle: 1}, withClaimWindow)
	part := h.p.Partition("u")
	a := h.acquire(part, "")
	got := make(chan *Resource[*fakeConn], 1)
	go func() { got <- h.acquire(part, "") }()
	waitFor(t, "waiter queued", func() bool { return h.p.Stats().Waiting == 1 })
	c := a.ReleaseClaim() // straight to the waiter
	w := <-got
	_, err := h.p.Reclaim(part, c)
	require.ErrorIs(t, err, ErrClaimBorrowed, "Reclaim of a resource handed to a waiter: %v", err)
	w.Release()
	_, err = h.p.Reclaim(part, c)
	require.ErrorIs(t, err, ErrClaimBorrowed, "Reclaim after the waiter released it: %v", err)
}

func TestReclaimFailsWhenClosed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits Limits
		cfg    func(*Config[*fakeConn])
		close  func(h *harness, r *Resource[*fakeConn]) Claim[*fakeConn]
	}{
		{"idle timeout", Limits{MaxSize: 2, MaxIdle: 0, IdleTimeout: time.Minute}, nil,
			func(h *harness, r *Resource[*fakeConn]) Claim[*fakeConn] {
				c := r.ReleaseClaim()
				h.advance(time.Minute)
				h.p.Maintain()
				return c
			}},
		{"invalidate while idle", Limits{MaxSize: 2, MaxIdle: 2}, nil,
			func(h *harness, r *Resource[*fakeConn]) Claim[*fakeConn] {
				c := r.ReleaseClaim()
				h.p.Invalidate()
				return c
			}},
		{"invalidate while borrowed", Limits{MaxSize: 2, MaxIdle: 2}, nil,
			func(h *harness, r *Resource[*fakeConn]) Claim[*fakeConn] {
				h.p.Invalidate()
				return r.ReleaseClaim() // closed instead of idled
			}},
		{"lifetime at release", Limits{MaxSize: 2, MaxIdle: 2}, func(c *Config[*fakeConn]) { c.MaxLifetime = time.Hour },
			func(h *harness, r *Resource[*fakeConn]) Claim[*fakeConn] {
				h.advance(time.Hour)
				return r.ReleaseClaim()
			}},
		{"destroyed", Limits{MaxSize: 2, MaxIdle: 2}, nil,
			func(h *harness, r *Resource[*fakeConn]) Claim[*fakeConn] {
				c := r.Claim()
				r.Destroy(ReasonBroken)
				return c
			}},
		{"evicted for another partition", Limits{MaxSize: 1, MaxIdle: 1}, nil,
			func(h *harness, r *Resource[*fakeConn]) Claim[*fakeConn] {
				c := r.ReleaseClaim()
				h.acquire(h.p.Partition("other"), "").Release()
				return c
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []func(*Config[*fakeConn]){withClaimWindow}
			if tc.cfg != nil {
				opts = append(opts, tc.cfg)
			}
			h := newHarness(t, tc.limits, opts...)
			part := h.p.Partition("u")
			c := tc.close(h, h.acquire(part, ""))
			_, err := h.p.Reclaim(part, c)
			require.ErrorIs(t, err, ErrClaimClosed, "Reclaim: %v, want ErrClaimClosed", err)
		})
	}
}

func TestReclaimEdgeCases(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 2, MaxIdle: 2}, withClaimWindow, func(c *Config[*fakeConn]) { c.MaxLifetime = time.Hour })
	part := h.p.Partition("u")
	_, err := h.p.Reclaim(part, Claim[*fakeConn]{})
	require.ErrorIs(t, err, ErrNoClaim, "zero claim: %v", err)
	require.True(t, (Claim[*fakeConn]{}).IsZero(), "zero Claim not IsZero")

	// Past its lifetime while idle (no Maintain ran): still handed back;
	// its Release closes it.
	a := h.acquire(part, "")
	c := a.ReleaseClaim()
	require.False(t, c.IsZero(), "ReleaseClaim returned the zero Claim")
	h.advance(2 * time.Hour)
	r := mustReclaim(t, h, part, c)
	r.Release()
	h.settle()
	s := h.p.Stats()
	require.Equal(t, int64(1), s.Closed[ReasonLifetime], "stats: %+v", s)
	require.Equal(t, 0, s.Size, "stats: %+v", s)

	// A claim on another partition's resource is a programming error.
	b := h.acquire(part, "")
	cb := b.ReleaseClaim()
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("Reclaim on the wrong partition did not panic")
			}
		}()
		_, _ = h.p.Reclaim(h.p.Partition("other"), cb)
	}()

	h.p.Close()
	_, err = h.p.Reclaim(part, cb)
	require.ErrorIs(t, err, ErrClosed, "Reclaim after Close: %v", err)
}

func TestClaimSteersOtherAcquirers(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 3, MaxIdle: 3}, withClaimWindow)
	part := h.p.Partition("u")
	a, b := h.acquire(part, ""), h.acquire(part, "")
	b.Release()
	ca := a.ReleaseClaim() // the most recent, but claimed
	got := h.acquire(part, "")
	require.Same(t, b, got, "acquirer got conn %d, want the unclaimed %d", got.Value().id, b.Value().id)
	got.Release()
	require.Same(t, a, mustReclaim(t, h, part, ca), "claimant did not get its resource back")

	// After the window the claim no longer steers: plain LIFO.
	b = h.acquire(part, "") // the only idle one
	b.Release()
	ca = a.ReleaseClaim()
	h.advance(testWindow)
	got = h.acquire(part, "")
	require.Same(t, a, got, "after the window got conn %d, want the most recent %d", got.Value().id, a.Value().id)
	got.Release()
	_, err := h.p.Reclaim(part, ca)
	require.ErrorIs(t, err, ErrClaimBorrowed, "Reclaim after the window and a borrow: %v", err)

	// Nothing but claimed resources idle: the one claimed longest ago is
	// taken, nothing dialed.
	dials := h.p.Stats().DialsSucceeded
	x, y := h.acquire(part, ""), h.acquire(part, "")
	cx := x.ReleaseClaim()
	h.advance(time.Millisecond)
	cy := y.ReleaseClaim()
	got = h.acquire(part, "")
	require.Same(t, x, got, "got conn %d, want the one claimed longest ago %d", got.Value().id, x.Value().id)
	got.Release() // x: unclaimed, on top
	s := h.p.Stats()
	require.Equal(t, dials, s.DialsSucceeded, "a claim caused a dial: %+v", s)
	_, err = h.p.Reclaim(part, cx)
	require.ErrorIs(t, err, ErrClaimBorrowed, "Reclaim of the taken resource: %v", err)
	// Unclaim: y's claimant gives up, so y beats the claimed x; the
	// Unclaim of a claim gone stale (x was borrowed since) is a no-op.
	x = h.acquire(part, "") // on top and unclaimed
	staleX := cx
	cx = x.ReleaseClaim()
	h.p.Unclaim(staleX)
	h.p.Unclaim(cy)
	got = h.acquire(part, "")
	require.Same(t, y, got, "got conn %d, want the unclaimed %d", got.Value().id, y.Value().id)
	require.Same(t, x, mustReclaim(t, h, part, cx), "x's claim did not hold")
	got.Release()
	x.Release()
}

func TestClaimRanksBelowTagMatch(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 3, MaxIdle: 3}, withClaimWindow)
	part := h.p.Partition("u")
	a, b, c := h.acquire(part, ""), h.acquire(part, ""), h.acquire(part, "")
	a.SetTag("tz")
	b.SetTag("") // clean
	c.SetTag("tz")
	a.Release()
	b.Release()
	c.ReleaseClaim()
	// Exact and unclaimed (a) beats exact and claimed (c) beats clean (b).
	got, m, _ := h.p.Acquire(context.Background(), part, "tz", 0)
	require.Same(t, a, got, "got conn %d match %d, want %d exact", got.Value().id, m, a.Value().id)
	require.Equal(t, MatchExact, m, "got conn %d match %d, want %d exact", got.Value().id, m, a.Value().id)
	got2, m2, _ := h.p.Acquire(context.Background(), part, "tz", 0)
	require.Same(t, c, got2, "got conn %d match %d, want claimed exact %d", got2.Value().id, m2, c.Value().id)
	require.Equal(t, MatchExact, m2, "got conn %d match %d, want claimed exact %d", got2.Value().id, m2, c.Value().id)
	got.Release()
	got2.Release()
}

func TestAcquireAfterGivesUpOwnClaim(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 2, MaxIdle: 2}, withClaimWindow)
	part := h.p.Partition("u")
	mine, theirs := h.acquire(part, ""), h.acquire(part, "")
	cMine := mine.ReleaseClaim()
	theirs.ReleaseClaim() // on top, claimed by someone else
	r, _, err := h.p.AcquireAfter(context.Background(), part, "", 0, cMine)
	require.NoError(t, err)
	require.Same(t, mine, r, "got conn %d, want my own %d (now unclaimed)", r.Value().id, mine.Value().id)
	require.True(t, cMine.Took(r), "Took: false for the claimed resource taken back untouched")
	theirs = h.acquire(part, "")
	require.False(t, cMine.Took(theirs), "Took: true for another resource")
	theirs.Release()
	// Given up on a failed Acquire too.
	c := r.ReleaseClaim()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = h.p.AcquireAfter(ctx, part, "", 0, c)
	require.ErrorIs(t, err, context.Canceled, "AcquireAfter on a done context: %v", err)
	h.p.mu.Lock()
	claimed := r.claimed
	h.p.mu.Unlock()
	require.False(t, claimed, "claim not given up by a failed AcquireAfter")
}

// TestReclaimRace runs claimants against each other, other borrowers, the
// reaper, Invalidate, SetLimits, Destroy and finally Close. The invariant:
// a successful Reclaim returns a resource nobody else held since its
// claimant released it. Holders write the resource's owner field without
// synchronization of their own, so -race also proves that holders never
// overlap.
func TestReclaimRace(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 3, MaxIdle: 1, IdleTimeout: time.Millisecond}, withClaimWindow,
		func(c *Config[*fakeConn]) { c.MaxLifetime = 50 * time.Millisecond })
	parts := []*Partition[*fakeConn]{h.p.Partition("a"), h.p.Partition("b")}
	var reclaimed, lost, ops atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 1; g <= 5; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part := parts[g%2]
			var claim Claim[*fakeConn]
			for i := 0; ; i++ {
				ops.Add(1)
				r, _, err := h.p.AcquireAfter(context.Background(), part, "", 0, claim)
				claim = Claim[*fakeConn]{}
				if errors.Is(err, ErrClosed) {
					return
				}
				if !assert.NoError(t, err) {
					return
				}
				token := g<<32 | i
				r.Value().owner = token
				if i%13 == 0 {
					r.Destroy(ReasonBroken)
					continue
				}
				claim = r.ReleaseClaim()
				if i%2 == 0 {
					continue // an ordinary next use
				}
				if i%3 == 0 {
					runtime.Gosched() // let others borrow it in between
				}
				r, err = h.p.Reclaim(part, claim)
				switch {
				case errors.Is(err, ErrClosed):
					return
				case err != nil:
					if !assert.True(t, errors.Is(err, ErrClaimBorrowed) || errors.Is(err, ErrClaimClosed), "Reclaim: %v", err) {
						return
					}
					lost.Add(1)
					continue
				}
				claim = Claim[*fakeConn]{}
				reclaimed.Add(1)
				got := r.Value().owner
				assert.Equal(t, token, got, "reclaimed a resource someone else held since (owner %x, want %x)", got, token)
				r.Value().owner = token
				claim = r.ReleaseClaim()
			}
		}()
	}
	wg.Add(1)
	go func() { // chaos
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			h.advance(time.Millisecond)
			switch i % 4 {
			case 0:
				h.p.Maintain()
			case 1:
				h.p.SetLimits(Limits{MaxSize: 2 + i%6, MaxIdle: 1, IdleTimeout: time.Millisecond})
			case 2:
				if i%40 == 2 {
					h.p.Invalidate()
				}
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	waitFor(t, "enough operations", func() bool { return ops.Load() >= 5*2000 })
	close(stop)
	h.p.Close() // while claimants are mid-flight
	wg.Wait()
	h.settle()
	h.mu.Lock()
	live := h.live
	h.mu.Unlock()
	s := h.p.Stats()
	require.Equal(t, 0, s.Borrowed, "after Close: %d alive, stats %+v", live, s)
	require.Equal(t, 0, live, "after Close: %d alive, stats %+v", live, s)
	require.NotEqual(t, int64(0), reclaimed.Load(), "no Reclaim succeeded (%d lost): the test exercised nothing", lost.Load())
	t.Logf("reclaimed %d, lost %d", reclaimed.Load(), lost.Load())
}
