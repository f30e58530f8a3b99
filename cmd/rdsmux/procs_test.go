package main

import (
	"context"
	"database/sql"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// fakeGovernor is a governor whose GOMAXPROCS calls are counted, fed
// samples by hand.
func fakeGovernor() (g *procsGovernor, ones, defaults *int) {
	ones, defaults = new(int), new(int)
	g = &procsGovernor{setOne: func() { *ones++ }, setDefault: func() { *defaults++ }}
	return g, ones, defaults
}

// TestProcsGovernorFollowsOverlap: a second of at most one command in
// flight drops to one P; overlapping commands restore the default within
// procsUpAfter; a mean just above one keeps the default.
func TestProcsGovernorFollowsOverlap(t *testing.T) {
	g, ones, defaults := fakeGovernor()
	for i := range int(procsHistory) - 1 {
		g.sample(int64(i % 2)) // a lone client: 0 or 1 in flight
	}
	assert.Zero(t, *ones, "dropped before a whole second of samples")
	g.sample(1)
	assert.Equal(t, 1, *ones, "a second of at most one command in flight")
	assert.True(t, g.one)

	for range int(procsUpAfter/procsTick) - 1 {
		g.sample(2)
	}
	assert.Zero(t, *defaults, "restored before procsUpAfter of samples")
	g.sample(2)
	assert.Equal(t, 1, *defaults, "overlapping commands restore the default")
	assert.False(t, g.one)

	// Back at the default: a mean of 1.2 is overlap enough to stay.
	for i := range 5 * int(procsHistory) {
		g.sample(int64(1 + min(1, i%5/4)))
	}
	assert.Equal(t, 1, *ones, "dropped again with commands overlapping")
	// A single overlapping sample at one P is not enough.
	for range int(procsHistory) {
		g.sample(0)
	}
	assert.Equal(t, 2, *ones)
	g.sample(3)
	g.sample(0)
	g.sample(0)
	assert.Equal(t, 1, *defaults, "restored by one busy sample in three")
}

// TestProcsGovernorRestoresOnStop: run gives the runtime its default back
// when it ends at one P.
func TestProcsGovernorRestoresOnStop(t *testing.T) {
	g, ones, defaults := fakeGovernor()
	ticks := make(chan time.Time)
	g.ticks = ticks
	g.inFlight = func() int64 { return 0 }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { // ends with cancel below
		defer close(done)
		g.run(ctx)
	}()
	for range int(procsHistory) {
		ticks <- time.Now()
	}
	cancel()
	<-done
	assert.Equal(t, 1, *ones)
	assert.Equal(t, 1, *defaults, "not restored when run ended")
}

// TestProcsGovernorOffWhenSet: GOMAXPROCS in the environment is the
// operator's number, and -gomaxprocs-follow-load=false turns it off.
func TestProcsGovernorOffWhenSet(t *testing.T) {
	t.Setenv("GOMAXPROCS", "2")
	assert.Nil(t, newProcsGovernor(func() int64 { return 0 }))
}

// TestGOMAXPROCSFollowsLoad runs the listener against MariaDB: with one
// client running queries one after another it goes to one P within about
// a second; as soon as four clients overlap it is back at Go's default;
// and when it stops the default stands. On a machine where the default is
// one P there is nothing to follow, and the governor is off.
func TestGOMAXPROCSFollowsLoad(t *testing.T) {
	def := runtime.GOMAXPROCS(0)
	if def <= 1 {
		assert.Nil(t, newProcsGovernor(func() int64 { return 0 }), "a governor with one CPU")
		return
	}
	db := mariadbtest.Start(t)
	db.CreateUser(t, "app", "pw")
	r := startRun(t, "-target", db.Addr(), "-user", "app:pw")
	c, err := sql.Open("mysql", "app:pw@tcp("+r.clients+")/test")
	must(t, err)
	defer c.Close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var stopOnce sync.Once
	stopClient := func() {
		stopOnce.Do(func() { close(stop) })
		wg.Wait()
	}
	defer stopClient()
	wg.Go(func() { // one client, a query at a time; ends with stop
		for {
			select {
			case <-stop:
				return
			default:
			}
			var v int
			if err := c.QueryRow("SELECT 1").Scan(&v); err != nil {
				t.Errorf("SELECT 1: %v", err)
				return
			}
		}
	})
	assert.Eventually(t, func() bool { return runtime.GOMAXPROCS(0) == 1 }, 10*time.Second, 10*time.Millisecond,
		"one client's queries did not bring GOMAXPROCS to 1")
	assert.Equal(t, 1.0, value(t, scrape(t, r.metrics), "rdsmux_gomaxprocs"))

	for range 4 {
		wg.Go(func() { // overlapping sleeps
			var v int
			assert.NoError(t, c.QueryRow("SELECT SLEEP(1)").Scan(&v))
		})
	}
	assert.Eventually(t, func() bool { return runtime.GOMAXPROCS(0) == def }, 5*time.Second, 5*time.Millisecond,
		"overlapping commands did not restore GOMAXPROCS to %d", def)
	assert.Equal(t, float64(def), value(t, scrape(t, r.metrics), "rdsmux_gomaxprocs"))
	stopClient()
	require.Eventually(t, func() bool { return runtime.GOMAXPROCS(0) == 1 }, 10*time.Second, 10*time.Millisecond)
	r.stop(t)
	assert.Equal(t, def, runtime.GOMAXPROCS(0), "the stopped listener left GOMAXPROCS at 1")
}
