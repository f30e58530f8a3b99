package fleet

import (
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/redistest"
	"github.com/rdsmux/rdsmux/pool"
)

// target is a pool as a Member sees it, without a database: it has open
// connections up to its cap, as many as busy+waiting ask for, and closes
// down to a lowered cap at once. The database-backed tests are in
// pool_test.go and process_test.go.
type target struct {
	mu sync.Mutex
	// Guarded by mu.
	demand   int // borrows in flight (busy or waiting)
	capOpen  int
	maxOpen  int // most connections open at once
	capCalls int
}

func (t *target) SetBudgetCap(maxOpen, _ int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.capOpen = maxOpen
	t.capCalls++
	t.maxOpen = max(t.maxOpen, t.openLocked())
}

func (t *target) openLocked() int { return min(t.demand, t.capOpen) }

func (t *target) BudgetUsage() pool.BudgetUsage {
	t.mu.Lock()
	defer t.mu.Unlock()
	open := t.openLocked()
	return pool.BudgetUsage{Open: open, Busy: open, Waiting: t.demand - open, MaxIdlePercent: 50}
}

func (t *target) setDemand(n int) {
	t.mu.Lock()
	t.demand = n
	t.mu.Unlock()
}

func (t *target) cap() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.capOpen
}

func newMember(t *testing.T, url, name string, total int, mod ...func(*Config)) (*Member, *target) {
	t.Helper()
	cfg := Config{URL: url, Name: name, LeaseTTL: time.Second, Heartbeat: 100 * time.Millisecond}
	for _, f := range mod {
		f(&cfg)
	}
	m, err := New(cfg)
	require.NoError(t, err)
	tg := &target{}
	m.Attach(tg)
	m.SetTotal(total)
	t.Cleanup(m.Detach)
	return m, tg
}

func sumCaps(ts []*target) int {
	n := 0
	for _, t := range ts {
		n += t.cap()
	}
	return n
}

func TestBudgetSharedFairly(t *testing.T) {
	r := redistest.Start(t)
	const total = 12
	var ts []*target
	for range 4 {
		_, tg := newMember(t, r.URL(), "db", total)
		tg.setDemand(100)
		ts = append(ts, tg)
	}
	// Each ends with its fair share (3); never more than the budget in all.
	require.Eventually(t, func() bool {
		for _, tg := range ts {
			if tg.cap() != total/4 {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond)
	for range 20 {
		assert.LessOrEqual(t, sumCaps(ts), total)
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIdleProcessGivesBackToBusyOne(t *testing.T) {
	r := redistest.Start(t)
	a, ta := newMember(t, r.URL(), "db", 10)
	ta.setDemand(10)
	require.Eventually(t, func() bool { return ta.cap() == 10 }, 10*time.Second, 10*time.Millisecond)

	// B arrives: A is above its fair share (5) while B is below its own,
	// so A shrinks and B gets 5.
	_, tb := newMember(t, r.URL(), "db", 10)
	tb.setDemand(10)
	require.Eventually(t, func() bool { return ta.cap() == 5 && tb.cap() == 5 }, 10*time.Second, 10*time.Millisecond)

	// A's load ends: B takes what A gave back.
	ta.setDemand(0)
	start := time.Now()
	require.Eventually(t, func() bool { return tb.cap() >= 9 }, 10*time.Second, 10*time.Millisecond)
	t.Logf("B got the slots %v after A's load ended", time.Since(start))
	assert.LessOrEqual(t, ta.cap()+tb.cap(), 10)
	assert.Equal(t, 10, a.Stats().Total)
}

func TestDeadProcessLosesItsSlots(t *testing.T) {
	r := redistest.Start(t)
	a, ta := newMember(t, r.URL(), "db", 4)
	ta.setDemand(4)
	require.Eventually(t, func() bool { return ta.cap() == 4 }, 10*time.Second, 10*time.Millisecond)
	_, tb := newMember(t, r.URL(), "db", 4)
	tb.setDemand(4)
	require.Eventually(t, func() bool { return tb.cap() == 2 }, 10*time.Second, 10*time.Millisecond)

	// A stops renewing without leaving, as a killed process would: its
	// client is closed first, so its last request fails.
	require.NoError(t, a.client.Close())
	close(a.stop)
	<-a.done
	a.stopOnce.Do(func() {})
	start := time.Now()
	// The lease lapses after a TTL and B renews within a heartbeat
	// (1.1 s); the bound leaves a busy machine room, the time is logged.
	require.Eventually(t, func() bool { return tb.cap() == 4 }, 5*(a.cfg.LeaseTTL+a.cfg.Heartbeat), 10*time.Millisecond,
		"B takes the slots of a member that stopped renewing")
	t.Logf("B took A's slots %v after A stopped (lease TTL 1s, heartbeat 100ms)", time.Since(start))
}

func TestFallbackAndRejoin(t *testing.T) {
	r := redistest.Start(t)
	a, ta := newMember(t, r.URL(), "db", 10, func(c *Config) { c.FallbackCap = 3 })
	ta.setDemand(8)
	require.Eventually(t, func() bool { return ta.cap() >= 8 }, 10*time.Second, 10*time.Millisecond)

	r.Kill()
	// The slots held stay until the lease would have expired, then the
	// fallback cap applies.
	require.Eventually(t, func() bool { return a.Stats().Fallback }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, 3, ta.cap())
	st := a.Stats()
	assert.Positive(t, st.RenewalFailures)
	assert.EqualValues(t, 1, st.FallbackEntered)

	r.Restart()
	require.Eventually(t, func() bool { return !a.Stats().Fallback && ta.cap() >= 8 }, 10*time.Second, 10*time.Millisecond)
}

func TestNoRedisAtStartFallsBack(t *testing.T) {
	r := redistest.Start(t)
	url := r.URL()
	r.Kill()
	a, ta := newMember(t, url, "db", 10)
	ta.setDemand(5)
	require.Eventually(t, func() bool { return a.Stats().Fallback }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1, ta.cap(), "never reached Redis: the fallback is one connection")
}

func TestConfigErrors(t *testing.T) {
	_, err := New(Config{URL: "redis://127.0.0.1:1/0"})
	assert.ErrorContains(t, err, "Name")
	_, err = New(Config{Name: "x"})
	assert.ErrorContains(t, err, "URL")
	_, err = New(Config{Name: "x", URL: "http://127.0.0.1"})
	assert.ErrorContains(t, err, "redis://")
	_, err = New(Config{Name: "x", URL: "redis://127.0.0.1:1/0", LeaseTTL: time.Second, Heartbeat: time.Second})
	assert.ErrorContains(t, err, "half")
}

// TestRedisCluster: the budget's keys share a hash tag, so the script runs
// on a Redis Cluster (which refuses keys of different slots in one
// script, CROSSSLOT).
func TestRedisCluster(t *testing.T) {
	r := redistest.Start(t, redistest.WithCluster())
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{r.Addr()}})
	t.Cleanup(func() { client.Close() })
	a, ta := newMember(t, "", "db", 4, func(c *Config) { c.Client = client })
	_, tb := newMember(t, "", "db", 4, func(c *Config) { c.Client = client })
	ta.setDemand(4)
	tb.setDemand(4)
	require.Eventually(t, func() bool { return ta.cap() == 2 && tb.cap() == 2 }, 10*time.Second, 10*time.Millisecond)
	assert.Zero(t, a.Stats().RenewalFailures)
}

// TestRedisClusterURL: cluster=true in the URL makes a cluster client.
func TestRedisClusterURL(t *testing.T) {
	r := redistest.Start(t, redistest.WithCluster())
	a, ta := newMember(t, "redis://"+r.Addr()+"?cluster=true", "db", 4)
	ta.setDemand(4)
	require.Eventually(t, func() bool { return ta.cap() == 4 }, 10*time.Second, 10*time.Millisecond)
	assert.Zero(t, a.Stats().RenewalFailures)
	_, ok := a.client.(*redis.ClusterClient)
	assert.True(t, ok, "a cluster client")
}

func TestURLSettings(t *testing.T) {
	m, err := New(Config{Name: "x", URL: "redis://127.0.0.1:1/0?lease_ttl=8s&heartbeat=500ms&block=4&fallback_cap=2"})
	require.NoError(t, err)
	t.Cleanup(m.Detach)
	assert.Equal(t, 8*time.Second, m.cfg.LeaseTTL)
	assert.Equal(t, 500*time.Millisecond, m.cfg.Heartbeat)
	assert.Equal(t, 4, m.cfg.Block)
	assert.Equal(t, 2, m.cfg.FallbackCap)
	assert.Equal(t, "redis://127.0.0.1:1/0", m.cfg.URL, "go-redis gets the URL without them")

	_, err = New(Config{Name: "x", URL: "redis://127.0.0.1:1/0?lease_ttl=soon"})
	assert.ErrorContains(t, err, "lease_ttl")
}

// TestOneSlotEach: a budget with room for exactly one connection per
// process gives every process one, however much each wants.
func TestOneSlotEach(t *testing.T) {
	r := redistest.Start(t)
	var ts []*target
	for range 5 {
		_, tg := newMember(t, r.URL(), "db", 5)
		tg.setDemand(50)
		ts = append(ts, tg)
	}
	require.Eventually(t, func() bool {
		for _, tg := range ts {
			if tg.cap() != 1 {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond)
}
