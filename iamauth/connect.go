package iamauth

import (
	"context"
	"fmt"
	"time"

	"github.com/rdsmux/rdsmux/backoff"
)

// Defaults for Connect.
const (
	// DefaultRetryWindow bounds how long Connect keeps retrying rejected
	// credentials (a rotation window) before it gives up.
	DefaultRetryWindow = 30 * time.Second
	// DefaultMinBackoff and DefaultMaxBackoff bound the pause between
	// retries after the first, immediate one.
	DefaultMinBackoff = 50 * time.Millisecond
	DefaultMaxBackoff = 2 * time.Second
)

// ConnectOption configures Connect and NewConnector.
type ConnectOption func(*connectOptions)

type connectOptions struct {
	window     time.Duration
	minBackoff time.Duration
	maxBackoff time.Duration
	observe    func(Attempt)
}

// Attempt describes one dial made by Connect, for metrics and logs. Its
// Credential prints redacted.
type Attempt struct {
	// N counts dials within one Connect call, from 1.
	N int
	// Credential is what the dial used.
	Credential Credential
	// Err is the dial's error, nil on success.
	Err error
}

// WithRetryWindow bounds how long Connect keeps retrying after the server
// rejects a credential or the Provider reports a rotation in progress
// (default DefaultRetryWindow). The context's deadline, if sooner, wins.
func WithRetryWindow(d time.Duration) ConnectOption {
	return func(o *connectOptions) { o.window = d }
}

// WithBackoff sets the pause between retries: it starts at min, doubles up
// to max, and is jittered. The first retry after a rejection is immediate.
func WithBackoff(minDelay, maxDelay time.Duration) ConnectOption {
	return func(o *connectOptions) { o.minBackoff, o.maxBackoff = minDelay, maxDelay }
}

// WithObserver calls fn after every dial Connect makes (for metrics such as
// connections set up with old versus new credentials). fn must be fast and
// safe for concurrent use.
func WithObserver(fn func(Attempt)) ConnectOption {
	return func(o *connectOptions) { o.observe = fn }
}

var defaultConnectOptions = connectOptions{window: DefaultRetryWindow, minBackoff: DefaultMinBackoff, maxBackoff: DefaultMaxBackoff}

// newConnectOptions applies opts to the defaults. (With options, o escapes
// to the heap: Connector computes them once.)
func newConnectOptions(opts []ConnectOption) connectOptions {
	if len(opts) == 0 {
		return defaultConnectOptions
	}
	o := defaultConnectOptions
	for _, fn := range opts {
		fn(&o)
	}
	if o.minBackoff <= 0 {
		o.minBackoff = time.Millisecond
	}
	if o.maxBackoff < o.minBackoff {
		o.maxBackoff = o.minBackoff
	}
	return o
}

// Connect dials a backend with credentials from p, tolerating rotation: when
// the server rejects the credential (IsAccessDenied) and p is an Invalidator,
// it invalidates the credential, fetches again and retries at once; if that
// is rejected too, or p reports ErrRotationPending or a temporary fetch
// failure, it keeps retrying with jittered exponential backoff for up to the
// retry window. Any other error is returned as is. A Provider that cannot be
// invalidated (Static) gets no retry: its credential will not change.
//
// dial receives the credential and must not keep it beyond the handshake.
// The pool's dial function and the listener's backend side call Connect.
func Connect[T any](ctx context.Context, p Provider, dial func(context.Context, Credential) (T, error), opts ...ConnectOption) (T, error) {
	return connect(ctx, p, dial, newConnectOptions(opts))
}

func connect[T any](ctx context.Context, p Provider, dial func(context.Context, Credential) (T, error), o connectOptions) (T, error) {
	var zero T
	var start time.Time // set at the first retry: the happy path reads no clock
	var lastErr error
	dials, rejections := 0, 0
	for try := 0; ; try++ {
		cred, err := p.Credentials(ctx)
		if err == nil {
			dials++
			conn, derr := dial(ctx, cred)
			if o.observe != nil {
				o.observe(Attempt{N: dials, Credential: cred, Err: derr})
			}
			if derr == nil {
				return conn, nil
			}
			if !IsAccessDenied(derr) {
				return zero, derr
			}
			inv, ok := p.(Invalidator)
			if !ok {
				return zero, fmt.Errorf("iamauth: the server rejected the credential for user %q from %s; it cannot be refreshed, fix the configured password: %w", cred.User, cred.Source, derr)
			}
			inv.Invalidate(cred)
			rejections++
			lastErr = fmt.Errorf("the server rejected the credential for user %q from %s: %w", cred.User, cred.Source, derr)
			if rejections == 1 {
				continue // re-fetch once and retry at once
			}
		} else {
			if !isRetryable(err) {
				return zero, err
			}
			lastErr = err
		}
		if ctx.Err() != nil {
			return zero, fmt.Errorf("iamauth: connect: %w (last error: %w)", context.Cause(ctx), lastErr)
		}
		if start.IsZero() {
			start = time.Now()
		}
		elapsed := time.Since(start)
		if elapsed >= o.window {
			return zero, fmt.Errorf("iamauth: connect: gave up after %v and %d dials; check that the database password and the credential source agree: %w", elapsed.Round(time.Millisecond), dials, lastErr)
		}
		d := min(backoff.Delay(try, o.minBackoff, o.maxBackoff), o.window-elapsed)
		if backoff.Sleep(ctx, d) != nil {
			return zero, fmt.Errorf("iamauth: connect: %w (last error: %w)", context.Cause(ctx), lastErr)
		}
	}
}
