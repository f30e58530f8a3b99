package pool

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
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
	if err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatalf("a network blip failed the borrow: %v", err)
	}
	s.Done(context.Background(), b, nil, Status{})
	if calls.Load() != 4 || p.Stats().DialRetries != 3 {
		t.Fatalf("dials %d, retries %d; want 4 and 3", calls.Load(), p.Stats().DialRetries)
	}
}

func TestBorrowFailsAtOnceOnPermanentDialFailure(t *testing.T) {
	m := newMemServer()
	denied := errors.New("Error 1045 (28000): Access denied for user 'u'")
	dial, calls := flakyDial(m, 1000, denied)
	p := newDialPool(t, Config{Dial: dial, MaxConnections: 2, ConnectionBorrowTimeout: 10 * time.Second})
	_, err := p.NewSession("u", SessionOptions{}).Acquire(context.Background())
	var de *DialError
	if !errors.As(err, &de) || !errors.Is(err, denied) {
		t.Fatalf("got %v, want the dial error", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("a permanent failure was retried %d times", calls.Load()-1)
	}
}

func TestBorrowRetryStopsAtTheBorrowTimeoutAndContext(t *testing.T) {
	m := newMemServer()
	dial, _ := flakyDial(m, 1<<40, errRefused)
	p := newDialPool(t, Config{Dial: dial, MaxConnections: 2, ConnectionBorrowTimeout: 200 * time.Millisecond})
	_, err := p.NewSession("u", SessionOptions{}).Acquire(context.Background())
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("got %v, want the last dial error once the borrow timeout is spent", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.NewSession("u", SessionOptions{}).Acquire(ctx); err == nil {
		t.Fatal("a cancelled borrow succeeded")
	}
}
