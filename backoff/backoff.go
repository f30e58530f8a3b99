// Package backoff spaces out retries: a jittered, doubling delay and a
// sleep that ends early when its context does. The pool (dials during a
// borrow), iamauth (reconnecting through a credential rotation) and
// failover (between hosts of the wrong role) retry with it.
//
//	for try := 0; ; try++ {
//		if err := attempt(ctx); err == nil {
//			return nil
//		}
//		if err := backoff.Sleep(ctx, backoff.Delay(try, 10*time.Millisecond, time.Second)); err != nil {
//			return err
//		}
//	}
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Delay returns the pause before retry number try (counted from 0): a
// random duration in [d/2, d], where d is minDelay doubled try times and
// capped at maxDelay. The jitter keeps clients that failed together from
// retrying together. A maxDelay below minDelay is taken as minDelay; a
// minDelay of 0 or less gives 0.
func Delay(try int, minDelay, maxDelay time.Duration) time.Duration {
	if minDelay <= 0 {
		return 0
	}
	maxDelay = max(maxDelay, minDelay)
	d := minDelay
	for i := 0; i < try && d < maxDelay; i++ {
		d *= 2
	}
	return Jitter(min(d, maxDelay))
}

// Jitter returns a random duration in [d/2, d]; 0 for d <= 0.
func Jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// Sleep pauses for d, or until ctx ends: then it returns ctx.Err() (at
// once if ctx has already ended, even for d <= 0). It returns nil after a
// full pause.
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
