package core

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOnBorrow: OnBorrow sees every hand-out (fresh, idle, reclaimed) and
// every give-back (Release, ReleaseClaim, Destroy), so that a count per
// value is back at zero when nothing is borrowed.
func TestOnBorrow(t *testing.T) {
	var mu sync.Mutex
	out := map[int]int{} // fakeConn id -> borrowed now
	calls := 0
	h := newHarness(t, Limits{MaxSize: 2, MaxIdle: 2}, func(c *Config[*fakeConn]) {
		c.OnBorrow = func(v *fakeConn, borrowed bool) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if borrowed {
				out[v.id]++
			} else {
				out[v.id]--
			}
		}
	})
	check := func(step string, want map[int]int) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		for id, n := range out {
			assert.Equal(t, want[id], n, "%s: value %d borrowed %d times, want %d", step, id, n, want[id])
		}
	}
	part := h.p.Partition("u")
	a := h.acquire(part, "") // dialed, handed to the waiter
	b := h.acquire(part, "")
	check("two fresh", map[int]int{a.Value().id: 1, b.Value().id: 1})
	a.Release()
	check("one released", map[int]int{b.Value().id: 1})
	a2 := h.acquire(part, "") // from the idle list
	require.Same(t, a, a2, "expected the idle resource back")
	check("idle reused", map[int]int{a.Value().id: 1, b.Value().id: 1})
	cl := a2.ReleaseClaim()
	check("released with a claim", map[int]int{b.Value().id: 1})
	a3, err := h.p.Reclaim(part, cl)
	require.NoError(t, err, "Reclaim: %v", err)
	check("reclaimed", map[int]int{a3.Value().id: 1, b.Value().id: 1})
	a3.Destroy(ReasonBroken)
	b.Release()
	check("all given back", nil)
	h.settle()
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 8, calls, "OnBorrow called %d times, want 8 (4 hand-outs, 4 give-backs)", calls)
}
