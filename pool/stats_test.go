package pool

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Borrows served at once with nothing to apply are counted in one counter
// (exactAtOnce) that Stats spreads over BorrowRequests' companions:
// ReuseExactMatch and the latency histogram's first bucket.
func TestStatsCountQuickBorrows(t *testing.T) {
	m := newMemServer()
	p, err := New(Config{Dial: m.Dial, MaxConnections: 2, HealthCheckIdle: -1})
	require.NoError(t, err)
	defer p.Close()
	ctx := context.Background()
	s := p.NewSession("u", SessionOptions{})
	const n = 10
	for range n {
		b, err := s.Acquire(ctx)
		require.NoError(t, err)
		s.Done(ctx, b, nil, Status{})
	}
	st := p.Stats()
	assert.Equal(t, int64(n), st.BorrowRequests)
	assert.Equal(t, int64(n), st.ReuseExactMatch, "every borrow matched (the first waited for its dial)")
	assert.Equal(t, int64(n), st.DatabaseConnectionsBorrowLatency.Count(), "one latency observation per borrow")
	assert.GreaterOrEqual(t, st.DatabaseConnectionsBorrowLatency.Counts[0], int64(n-1), "borrows from the idle list take no time")
	assert.Equal(t, int64(1), st.WaitCount, "only the first borrow waited (for the dial)")
}
