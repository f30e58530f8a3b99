package proxy_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCommandsInFlight: the gauge counts the commands the listener has
// read and not yet answered, a wait for a backend included, and falls to 0
// when they end, whether the clients stay or leave mid-command.
func TestCommandsInFlight(t *testing.T) {
	e := startEnv(t, withBackends(2))
	db := e.open(t, "")
	db.SetMaxOpenConns(3)
	assert.Zero(t, e.srv.CommandsInFlight())
	var one int
	require.NoError(t, db.QueryRow("SELECT 1").Scan(&one))
	assert.Zero(t, e.srv.CommandsInFlight(), "after an answered command")

	// Three sleeps on two backends: two run, one waits for a backend.
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			var v int
			assert.NoError(t, db.QueryRow("SELECT SLEEP(1)").Scan(&v))
		})
	}
	assert.Eventually(t, func() bool { return e.srv.CommandsInFlight() == 3 }, 5*time.Second, time.Millisecond,
		"two running sleeps and one waiting for a backend")
	assert.Equal(t, int64(3), e.srv.Stats().CommandsInFlight)
	wg.Wait()
	assert.Zero(t, e.srv.CommandsInFlight(), "after the sleeps")

	// A client that goes away mid-command.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := db.ExecContext(ctx, "DO SLEEP(5)")
	require.Error(t, err)
	assert.Eventually(t, func() bool { return e.srv.CommandsInFlight() == 0 }, 10*time.Second, 5*time.Millisecond,
		"a command whose client went away stays counted")
}
