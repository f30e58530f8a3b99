package core

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testWindow = time.Second

func withClaimWindow(c *Config[*fakeConn]) { c.ClaimWindow = testWindow }

func mustReclaim(t *testing.T, h *harness, part *Partition[*fakeConn], c Claim[*fakeConn]) *Resource[*fakeConn] {
	t.Helper()
	r, err := h.p.Reclaim(part, c)
	if err != nil {
		t.Fatalf("Reclaim: %v", err)
	}
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
	if r != a {
		t.Fatalf("reclaimed conn %d, want %d", r.Value().id, a.Value().id)
	}
	if r.IdleFor() != time.Millisecond || r.Waited() != 0 {
		t.Fatalf("IdleFor %v, Waited %v", r.IdleFor(), r.Waited())
	}
	if s := h.p.Stats(); s.Borrowed != 1 || s.Idle != 1 || s.DialsSucceeded != 2 {
		t.Fatalf("stats: %+v", s)
	}
	// The claim was used up: a second Reclaim with it fails.
	if _, err := h.p.Reclaim(part, c); !errors.Is(err, ErrClaimBorrowed) {
		t.Fatalf("second Reclaim with the same claim: %v", err)
	}
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
	if other != a {
		t.Fatal("acquirer did not get the only idle resource")
	}
	other.Release()
	if s := h.p.Stats(); s.Idle != 1 {
		t.Fatalf("setup: %+v", s)
	}
	// Idle again, but not untouched: the borrow count tells.
	if _, err := h.p.Reclaim(part, c); !errors.Is(err, ErrClaimBorrowed) {
		t.Fatalf("Reclaim after another borrow: %v, want ErrClaimBorrowed", err)
	}
	again := h.acquire(part, "")
	if again != a || c.Took(again) {
		t.Fatal("Took: true for the claimed resource after another holder had it")
	}
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
	if _, err := h.p.Reclaim(part, c); !errors.Is(err, ErrClaimBorrowed) {
		t.Fatalf("Reclaim of a resource handed to a waiter: %v", err)
	}
	w.Release()
	if _, err := h.p.Reclaim(part, c); !errors.Is(err, ErrClaimBorrowed) {
		t.Fatalf("Reclaim after the waiter released it: %v", err)
	}
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
			if _, err := h.p.Reclaim(part, c); !errors.Is(err, ErrClaimClosed) {
				t.Fatalf("Reclaim: %v, want ErrClaimClosed", err)
			}
		})
	}
}

func TestReclaimEdgeCases(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 2, MaxIdle: 2}, withClaimWindow, func(c *Config[*fakeConn]) { c.MaxLifetime = time.Hour })
	part := h.p.Partition("u")
	if _, err := h.p.Reclaim(part, Claim[*fakeConn]{}); !errors.Is(err, ErrNoClaim) {
		t.Fatalf("zero claim: %v", err)
	}
	if !(Claim[*fakeConn]{}).IsZero() {
		t.Fatal("zero Claim not IsZero")
	}

	// Past its lifetime while idle (no Maintain ran): still handed back;
	// its Release closes it.
	a := h.acquire(part, "")
	c := a.ReleaseClaim()
	if c.IsZero() {
		t.Fatal("ReleaseClaim returned the zero Claim")
	}
	h.advance(2 * time.Hour)
	r := mustReclaim(t, h, part, c)
	r.Release()
	h.settle()
	if s := h.p.Stats(); s.Closed[ReasonLifetime] != 1 || s.Size != 0 {
		t.Fatalf("stats: %+v", s)
	}

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
	if _, err := h.p.Reclaim(part, cb); !errors.Is(err, ErrClosed) {
		t.Fatalf("Reclaim after Close: %v", err)
	}
}

func TestClaimSteersOtherAcquirers(t *testing.T) {
	h := newHarness(t, Limits{MaxSize: 3, MaxIdle: 3}, withClaimWindow)
	part := h.p.Partition("u")
	a, b := h.acquire(part, ""), h.acquire(part, "")
	b.Release()
	ca := a.ReleaseClaim() // the most recent, but claimed
	if got := h.acquire(part, ""); got != b {
		t.Fatalf("acquirer got conn %d, want the unclaimed %d", got.Value().id, b.Value().id)
	} else {
		got.Release()
	}
	if mustReclaim(t, h, part, ca) != a {
		t.Fatal("claimant did not get its resource back")
	}

	// After the window the claim no longer steers: plain LIFO.
	b = h.acquire(part, "") // the only idle one
	b.Release()
	ca = a.ReleaseClaim()
	h.advance(testWindow)
	if got := h.acquire(part, ""); got != a {
		t.Fatalf("after the window got conn %d, want the most recent %d", got.Value().id, a.Value().id)
	} else {
		got.Release()
	}
	if _, err := h.p.Reclaim(part, ca); !errors.Is(err, ErrClaimBorrowed) {
		t.Fatalf("Reclaim after the window and a borrow: %v", err)
	}

	// Nothing but claimed resources idle: the one claimed longest ago is
	// taken, nothing dialed.
	dials := h.p.Stats().DialsSucceeded
	x, y := h.acquire(part, ""), h.acquire(part, "")
	cx := x.ReleaseClaim()
	h.advance(time.Millisecond)
	cy := y.ReleaseClaim()
	if got := h.acquire(part, ""); got != x {
		t.Fatalf("got conn %d, want the one claimed longest ago %d", got.Value().id, x.Value().id)
	} else {
		got.Release() // x: unclaimed, on top
	}
	if s := h.p.Stats(); s.DialsSucceeded != dials {
		t.Fatalf("a claim caused a dial: %+v", s)
	}
	if _, err := h.p.Reclaim(part, cx); !errors.Is(err, ErrClaimBorrowed) {
		t.Fatalf("Reclaim of the taken resource: %v", err)
	}
	// Unclaim: y's claimant gives up, so y beats the claimed x; the
	// Unclaim of a claim gone stale (x was borrowed since) is a no-op.
	x = h.acquire(part, "") // on top and unclaimed
	staleX := cx
	cx = x.ReleaseClaim()
	h.p.Unclaim(staleX)
	h.p.Unclaim(cy)
	got := h.acquire(part, "")
	if got != y {
		t.Fatalf("got conn %d, want the unclaimed %d", got.Value().id, y.Value().id)
	}
	if mustReclaim(t, h, part, cx) != x {
		t.Fatal("x's claim did not hold")
	}
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
	if got != a || m != MatchExact {
		t.Fatalf("got conn %d match %d, want %d exact", got.Value().id, m, a.Value().id)
	}
	got2, m2, _ := h.p.Acquire(context.Background(), part, "tz", 0)
	if got2 != c || m2 != MatchExact {
		t.Fatalf("got conn %d match %d, want claimed exact %d", got2.Value().id, m2, c.Value().id)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	if r != mine {
		t.Fatalf("got conn %d, want my own %d (now unclaimed)", r.Value().id, mine.Value().id)
	}
	if !cMine.Took(r) {
		t.Fatal("Took: false for the claimed resource taken back untouched")
	}
	theirs = h.acquire(part, "")
	if cMine.Took(theirs) {
		t.Fatal("Took: true for another resource")
	}
	theirs.Release()
	// Given up on a failed Acquire too.
	c := r.ReleaseClaim()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := h.p.AcquireAfter(ctx, part, "", 0, c); !errors.Is(err, context.Canceled) {
		t.Fatalf("AcquireAfter on a done context: %v", err)
	}
	h.p.mu.Lock()
	claimed := r.claimed
	h.p.mu.Unlock()
	if claimed {
		t.Fatal("claim not given up by a failed AcquireAfter")
	}
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
				if err != nil {
					t.Error(err)
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
					if !errors.Is(err, ErrClaimBorrowed) && !errors.Is(err, ErrClaimClosed) {
						t.Errorf("Reclaim: %v", err)
						return
					}
					lost.Add(1)
					continue
				}
				claim = Claim[*fakeConn]{}
				reclaimed.Add(1)
				if got := r.Value().owner; got != token {
					t.Errorf("reclaimed a resource someone else held since (owner %x, want %x)", got, token)
				}
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
	if s := h.p.Stats(); s.Borrowed != 0 || live != 0 {
		t.Fatalf("after Close: %d alive, stats %+v", live, s)
	}
	if reclaimed.Load() == 0 {
		t.Fatalf("no Reclaim succeeded (%d lost): the test exercised nothing", lost.Load())
	}
	t.Logf("reclaimed %d, lost %d", reclaimed.Load(), lost.Load())
}
