package core

import "time"

// Borrow timeouts share one timer per pool rather than one per waiter: the
// timer is armed for the earliest deadline of the queued waiters, and when
// it fires it fails the waiters whose deadline passed and re-arms for the
// next. A waiter costs no timer operation unless its deadline is earlier
// than the one armed (the first waiter after a quiet spell, or a shorter
// timeout than those queued), so that a pool at its cap, where every
// Acquire waits, does not start and stop a timer per Acquire. A deadline
// whose waiter was served leaves the timer armed; it fires once, finds
// nothing due, and re-arms for the oldest waiter's, about once per
// timeout while waiters keep coming.
//
// Deadlines are on the process's monotonic clock (Pool.mono), also when
// Config.Now is a test clock, since the timer runs on that clock.

// mono returns the monotonic clock reading in nanoseconds since New.
func (p *Pool[T]) mono() int64 { return int64(time.Since(p.monoBase)) }

// armLocked makes the deadline timer fire no later than deadline (a
// Pool.mono reading); mono is a recent reading.
func (p *Pool[T]) armLocked(deadline, mono int64) {
	if p.timerAt != 0 && p.timerAt <= deadline {
		return
	}
	p.timerAt = deadline
	d := time.Duration(deadline - mono)
	if p.timer == nil {
		p.timer = time.AfterFunc(d, p.expire)
		return
	}
	p.timer.Reset(d)
}

// expire runs when the deadline timer fires (on the timer's goroutine): it
// fails the waiters whose deadline passed with a *TimeoutError and re-arms
// the timer for the earliest deadline left.
func (p *Pool[T]) expire() {
	mono := p.mono()
	now := mono
	if !p.nowIsMono {
		now = p.now()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timerAt = 0
	if p.closed {
		return
	}
	var next int64
	for _, part := range p.partList {
		for w := part.waiters.head; w != nil; {
			after := w.next
			switch {
			case w.deadline == 0:
			case w.deadline <= mono:
				p.dequeueLocked(w)
				p.counters.WaitNanos += now - w.start
				p.counters.Timeouts++
				w.deliverLocked(delivery[T]{err: &TimeoutError{
					Timeout:  time.Duration(w.timeout),
					Size:     p.size,
					Borrowed: p.borrowed,
					MaxSize:  p.limits.MaxSize,
					Waiting:  p.waiting,
				}})
				w.wake()
			case next == 0 || w.deadline < next:
				next = w.deadline
			}
			w = after
		}
	}
	if next != 0 {
		p.armLocked(next, mono)
	}
}

// stopTimerLocked disarms the deadline timer (Close).
func (p *Pool[T]) stopTimerLocked() {
	if p.timer != nil {
		p.timer.Stop()
	}
	p.timerAt = 0
}
