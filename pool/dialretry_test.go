package pool

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// flakyDial fails its first n dials with err, then dials m.
func flakyDial(m *memServer, n int64, err error) (func(context.Context, string) (Conn, error), *atomic.Int64) {
	var calls atomic.Int64
	return func(ctx context.Context, user string) (Conn, error) {
		if calls.Add(1) <= n {
			return nil, err
		}
		return m.Dial(ctx, user)
	}, &calls
}

// newDialPool is newMemPool with the given dial function.
func newDialPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	p, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return p
}

var errRefused = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}

func TestBorrowRetriesTransientDialFailures(t *testing.T) {
	m := newMemServer()
	dial, calls := flakyDial(m, 3, errRefused)
	p := newDialPool(t, Config{Dial: dial, MaxConnections: 2, ConnectionBorrowTimeout: 10 * time.Second})
	s := p.NewSession("u", SessionOptions{})
	b, err := s.Acquire(context.Background())
	require.NoError(t, err, "a network blip failed the borrow: %v", err)
	s.Done(context.Background(), b, nil, Status{})
	require.Equal(t, int64(4), calls.Load(), "dials %d, retries %d; want 4 and 3", calls.Load(), p.Stats().DialRetries)
	require.Equal(t, int64(3), p.Stats().DialRetries, "dials %d, retries %d; want 4 and 3", calls.Load(), p.Stats().DialRetries)
}

func TestBorrowFailsAtOnceOnPermanentDialFailure(t *testing.T) {
	m := newMemServer()
	denied := errors.New("Error 1045 (28000): Access denied for user 'u'")
	dial, calls := flakyDial(m, 1000, denied)
	p := newDialPool(t, Config{Dial: dial, MaxConnections: 2, ConnectionBorrowTimeout: 10 * time.Second})
	_, err := p.NewSession("u", SessionOptions{}).Acquire(context.Background())
	var de *DialError
	require.ErrorAs(t, err, &de, "got %v, want the dial error", err)
	require.ErrorIs(t, err, denied, "got %v, want the dial error", err)
	require.Equal(t, int64(1), calls.Load(), "a permanent failure was retried %d times", calls.Load()-1)
}

func TestBorrowRetryStopsAtTheBorrowTimeoutAndContext(t *testing.T) {
	m := newMemServer()
	dial, _ := flakyDial(m, 1<<40, errRefused)
	p := newDialPool(t, Config{Dial: dial, MaxConnections: 2, ConnectionBorrowTimeout: 200 * time.Millisecond})
	_, err := p.NewSession("u", SessionOptions{}).Acquire(context.Background())
	require.ErrorIs(t, err, syscall.ECONNREFUSED, "got %v, want the last dial error once the borrow timeout is spent", err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = p.NewSession("u", SessionOptions{}).Acquire(ctx)
	require.Error(t, err, "a cancelled borrow succeeded")
}
