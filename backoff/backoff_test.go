package backoff_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/backoff"
)

func TestDelayDoublesWithinJitterUpToTheCap(t *testing.T) {
	const lo, hi = 10 * time.Millisecond, 500 * time.Millisecond
	for try, want := range []time.Duration{10, 20, 40, 80, 160, 320, 500, 500} {
		want *= time.Millisecond
		for range 100 {
			d := backoff.Delay(try, lo, hi)
			require.GreaterOrEqual(t, d, want/2, "try %d", try)
			require.LessOrEqual(t, d, want, "try %d", try)
		}
	}
}

func TestDelayEdgeCases(t *testing.T) {
	require.Zero(t, backoff.Delay(3, 0, time.Second))
	require.Zero(t, backoff.Delay(3, -time.Second, time.Second))
	// A cap below the minimum is the minimum.
	d := backoff.Delay(5, time.Second, time.Millisecond)
	require.GreaterOrEqual(t, d, 500*time.Millisecond)
	require.LessOrEqual(t, d, time.Second)
	// No overflow for many tries.
	require.LessOrEqual(t, backoff.Delay(1000, time.Millisecond, time.Hour), time.Hour)
}

func TestJitter(t *testing.T) {
	require.Zero(t, backoff.Jitter(0))
	require.Zero(t, backoff.Jitter(-1))
	for range 100 {
		d := backoff.Jitter(3)
		require.True(t, d >= 1 && d <= 3, "Jitter(3) = %d", d)
	}
}

func TestSleepEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, backoff.Sleep(ctx, time.Hour), context.Canceled)
	require.ErrorIs(t, backoff.Sleep(ctx, 0), context.Canceled)

	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- backoff.Sleep(ctx, time.Hour) }() // ends with cancel
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

func TestSleepReturnsNilAfterThePause(t *testing.T) {
	require.NoError(t, backoff.Sleep(context.Background(), 0))
	require.NoError(t, backoff.Sleep(context.Background(), time.Millisecond))
}
