package core

import (
	"context"
	"fmt"
	"time"
)

// TimeoutError is returned by Acquire when its timeout fires before a
// resource is available. The counts are from the moment it fired.
type TimeoutError struct {
	Timeout  time.Duration
	Size     int // resources existing (idle, borrowed, dialing, closing)
	Borrowed int
	MaxSize  int
	Waiting  int // other acquirers still waiting
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("timed out after %v waiting for a resource: %d of %d borrowed, %d waiting",
		e.Timeout, e.Borrowed, e.MaxSize, e.Waiting)
}

// DialFailedError is returned by Acquire when a dial failed and its error
// was handed to this acquirer. Waited is how long the acquirer had waited
// by then, so that a caller that retries within a deadline of its own needs
// no clock reading of its own on the path that succeeds.
type DialFailedError struct {
	Err    error // the dial function's error
	Waited time.Duration
}

func (e *DialFailedError) Error() string { return e.Err.Error() }

func (e *DialFailedError) Unwrap() error { return e.Err }

// Acquire borrows a resource of part, preferring an idle one whose tag is
// tag (see Match). If none is idle it waits, first come first served, until
// one is released or dialed for it, ctx is done, or timeout (if > 0)
// passes (then it returns a *TimeoutError). A cancelled Acquire returns at
// once; a dial it caused goes on and serves the next waiter or idles.
//
// The Match result is how the resource's tag fit; a resource handed over by
// a releaser or fresh from a dial may have any tag.
func (p *Pool[T]) Acquire(ctx context.Context, part *Partition[T], tag string, timeout time.Duration) (*Resource[T], Match, error) {
	return p.AcquireAfter(ctx, part, tag, timeout, Claim[T]{})
}

// AcquireAfter is Acquire for a claimant that gives up prev (its claim on
// the resource it released last, see ReleaseClaim) in the same step: if
// that resource is still idle and untouched it loses its claimed mark
// first, and so is an ordinary candidate for this Acquire (the most
// recently released unclaimed one, it is usually the one taken). prev may
// be the zero Claim; it is given up whatever the outcome.
func (p *Pool[T]) AcquireAfter(ctx context.Context, part *Partition[T], tag string, timeout time.Duration, prev Claim[T]) (*Resource[T], Match, error) {
	if err := ctx.Err(); err != nil {
		if prev.r != nil {
			p.Unclaim(prev)
		}
		return nil, 0, err
	}
	now := p.now()
	p.mu.Lock()
	p.unclaimLocked(prev)
	if p.closed {
		p.mu.Unlock()
		return nil, 0, ErrClosed
	}
	p.counters.Acquires++
	if part.waiters.n == 0 {
		if r, m := p.popIdleLocked(part, tag, now); r != nil {
			p.mu.Unlock()
			return r, m, nil
		}
	}
	w := p.getWaiter()
	mono := now
	if timeout > 0 && !p.nowIsMono {
		mono = p.mono()
	}
	p.enqueueLocked(w, part, tag, now, timeout, mono)
	p.counters.Waits++
	p.fillLocked()
	atCap := p.atCap != nil && p.size >= p.limits.MaxSize
	p.mu.Unlock()
	if atCap {
		p.atCap()
	}
	return p.wait(ctx, w, now)
}

// wait blocks until w is served (a resource, a dial error, its timeout
// from the deadline timer, ErrClosed) or ctx is done.
func (p *Pool[T]) wait(ctx context.Context, w *waiter[T], start int64) (*Resource[T], Match, error) {
	if done := ctx.Done(); done == nil {
		<-w.ch // a context that never ends: no select
	} else {
		select {
		case <-w.ch:
		case <-done:
			p.abandon(w, ctx.Err(), start)
		}
	}
	d := w.d
	p.putWaiter(w)
	return d.r, d.match, d.err
}

// abandon takes w out of the queue after its context ended, and gives it
// ctxErr as its delivery. If w was dequeued in the meantime its delivery
// is there or on its way, and stands.
func (p *Pool[T]) abandon(w *waiter[T], ctxErr error, start int64) {
	now := p.now()
	p.mu.Lock()
	if !w.queued {
		p.mu.Unlock()
		<-w.ch
		return
	}
	p.dequeueLocked(w)
	p.counters.WaitNanos += now - start
	p.counters.Canceled++
	p.mu.Unlock()
	w.d = delivery[T]{err: ctxErr}
}

// putLocked hands r (borrowed or fresh, counted in size but not in borrowed)
// to the first waiter of its partition, or gives its slot to another
// partition's waiter, or idles it. Over a lowered MaxSize it closes r
// first, waiters or not, so that a lower cap takes hold under load too.
// A waiter it hands r to is returned, for the caller to wake once it has
// released mu.
func (p *Pool[T]) putLocked(r *Resource[T], now int64) *waiter[T] {
	part := r.part
	if p.size-p.closing > p.limits.MaxSize {
		p.closeLocked(r, ReasonEvicted)
		return nil
	}
	if w := part.waiters.head; w != nil {
		p.dequeueLocked(w)
		p.handOutLocked(r, 0)
		r.waited = durationBetween(w.start, now)
		p.counters.WaitNanos += int64(r.waited)
		w.deliverLocked(delivery[T]{r: r, match: match(w.tag, r.tag)})
		return w
	}
	if p.waiting > 0 && p.size >= p.limits.MaxSize && p.unmetLocked() > p.closing {
		p.closeLocked(r, ReasonRebalanced)
		return nil
	}
	r.state = stateIdle
	r.idleSince = now
	part.idle = append(part.idle, r)
	p.idle++
	return nil
}

// handOutLocked marks r (not idle, not counted in borrowed) as handed out
// to a new holder after sitting idle for idleFor.
func (p *Pool[T]) handOutLocked(r *Resource[T], idleFor time.Duration) {
	r.state = stateBorrowed
	r.claimed = false
	r.borrows++
	r.idleFor = idleFor
	r.waited = 0
	p.borrowed++
	if p.onBorrow != nil {
		p.onBorrow(r.value, true)
	}
}

// givenBackLocked counts r, borrowed until now, as given back.
func (p *Pool[T]) givenBackLocked(r *Resource[T]) {
	p.borrowed--
	if p.onBorrow != nil {
		p.onBorrow(r.value, false)
	}
}

// closeLocked closes r (idle or borrowed-and-returned) on its own goroutine.
// Its slot stays taken until the close completes, so that the number of
// live connections never exceeds MaxSize.
func (p *Pool[T]) closeLocked(r *Resource[T], reason Reason) {
	if r.state == stateIdle {
		for i, x := range r.part.idle {
			if x == r {
				p.removeIdleLocked(r, i)
				break
			}
		}
	}
	r.state = stateClosing
	p.closing++
	p.counters.Closed[reason]++
	p.wg.Add(1)
	go p.closeAsync(r)
}

func (p *Pool[T]) closeAsync(r *Resource[T]) {
	defer p.wg.Done()
	p.close(r.value)
	p.mu.Lock()
	p.closing--
	p.size--
	p.fillLocked()
	p.mu.Unlock()
}

// retireLocked accounts for r being closed synchronously by the caller after
// the pool was closed.
func (p *Pool[T]) retireLocked(r *Resource[T], reason Reason) {
	r.state = stateClosing
	p.size--
	p.counters.Closed[reason]++
}

// unmetLocked counts waiters that no dial in flight will serve.
func (p *Pool[T]) unmetLocked() int {
	n := 0
	for _, part := range p.partList {
		if d := part.waiters.n - part.dialing; d > 0 {
			n += d
		}
	}
	return n
}

// fillLocked starts dials for waiters that no dial in flight will serve,
// oldest waiter first, while the cap allows; at the cap it closes idle
// resources (of partitions nobody waits for) to make room.
func (p *Pool[T]) fillLocked() {
	for p.waiting > 0 && !p.closed {
		var next *Partition[T]
		var nextSeq uint64
		unmet := 0
		for _, part := range p.partList {
			d := part.waiters.n - part.dialing
			if d <= 0 {
				continue
			}
			unmet += d
			if w := part.waiters.at(part.dialing); next == nil || w.seq < nextSeq {
				next, nextSeq = part, w.seq
			}
		}
		if next == nil {
			return
		}
		if p.size < p.limits.MaxSize {
			p.startDialLocked(next)
			continue
		}
		if p.closing >= unmet || p.idle == 0 {
			return // closes in flight will make room, or nothing can
		}
		p.closeLocked(p.lruIdleLocked(), ReasonEvicted)
	}
}

func (p *Pool[T]) startDialLocked(part *Partition[T]) {
	p.size++
	p.dialing++
	part.dialing++
	p.wg.Add(1)
	go p.dialOne(part, p.gen)
}

// dialOne dials one resource for part and hands it to the first waiter, or
// idles it; a dial error goes to the first waiter.
func (p *Pool[T]) dialOne(part *Partition[T], gen uint64) {
	defer p.wg.Done()
	ctx, cancel := p.dialCtx, context.CancelFunc(func() {})
	if p.dialTimeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, p.dialTimeout)
	}
	v, err := p.dial(ctx, part.key)
	cancel()
	now := p.now()

	p.mu.Lock()
	part.dialing--
	p.dialing--
	if err != nil {
		p.size--
		p.counters.DialsFailed++
		if w := part.waiters.head; w != nil {
			p.dequeueLocked(w)
			p.counters.WaitNanos += now - w.start
			w.deliverLocked(delivery[T]{err: &DialFailedError{Err: err, Waited: durationBetween(w.start, now)}})
			w.wake()
		}
		p.fillLocked()
		p.mu.Unlock()
		return
	}
	p.counters.DialsSucceeded++
	r := &Resource[T]{value: v, pool: p, part: part, gen: gen, created: now, expires: p.expiry(now), state: stateBorrowed}
	var w *waiter[T]
	switch {
	case p.closed:
		p.retireLocked(r, ReasonPoolClosed)
		p.mu.Unlock()
		p.close(v)
		return
	case gen != p.gen:
		p.closeLocked(r, ReasonInvalidated)
	default:
		w = p.putLocked(r, now)
	}
	p.mu.Unlock()
	w.wake()
}
