package core

import "time"

// resource states; guarded by Pool.mu.
const (
	stateIdle uint8 = iota
	stateBorrowed
	stateClosing
)

// Resource is one pooled value. Between Acquire and Release/Destroy it
// belongs to the acquirer, which alone may call SetTag, Release and Destroy
// (exactly one of the last two, once).
type Resource[T any] struct {
	value T
	pool  *Pool[T]
	part  *Partition[T]

	// tag is written by the holder while borrowed and read by the pool under
	// mu while idle; Release's lock orders the two.
	tag string

	// idleFor is written under mu when the resource is handed out and read
	// by the holder afterwards.
	idleFor time.Duration
	// waited is written under mu when the resource is handed out and read
	// by the holder afterwards.
	waited time.Duration

	// Guarded by pool.mu (borrows is also read by the holder, ordered by
	// the lock that handed the resource out).
	state     uint8
	claimed   bool   // idle, released with ReleaseClaim, mark not yet dropped
	borrows   uint64 // times handed out; a Claim compares it
	gen       uint64 // pool generation at dial time; see Pool.Invalidate
	created   int64  // clock reading at dial completion
	expires   int64  // clock reading after which the resource is retired; 0: never
	idleSince int64  // clock reading when it last went idle
}

// Value returns the pooled value.
func (r *Resource[T]) Value() T { return r.value }

// Partition returns the partition the resource belongs to.
func (r *Resource[T]) Partition() *Partition[T] { return r.part }

// Tag returns the resource's tag ("" for a fresh resource). Only the holder
// may call it.
func (r *Resource[T]) Tag() string { return r.tag }

// SetTag records what state the value is in, for later Acquires to prefer
// it. Only the holder may call it, before Release.
func (r *Resource[T]) SetTag(tag string) { r.tag = tag }

// IdleFor is how long the resource sat idle before this Acquire handed it
// out (0 for a fresh one or one handed over directly by a releaser).
func (r *Resource[T]) IdleFor() time.Duration { return r.idleFor }

// Waited is how long the Acquire that handed the resource out waited for
// it (0 when it was idle).
func (r *Resource[T]) Waited() time.Duration { return r.waited }

// Release returns the resource to the pool: to the first waiter of its
// partition, or to the idle list. A resource past its lifetime, from before
// an Invalidate, or released after Close is closed instead.
func (r *Resource[T]) Release() { r.release(false) }

// release is Release; claim marks r as claimed if it goes idle.
func (r *Resource[T]) release(claim bool) {
	p := r.pool
	now := p.now()
	var w *waiter[T]
	p.mu.Lock()
	p.givenBackLocked(r)
	switch {
	case p.closed:
		p.retireLocked(r, ReasonPoolClosed)
		p.mu.Unlock()
		p.close(r.value)
		return
	case r.gen != p.gen:
		p.closeLocked(r, ReasonInvalidated)
	case r.expires != 0 && now >= r.expires:
		p.closeLocked(r, ReasonLifetime)
	default:
		w = p.putLocked(r, now)
		r.claimed = claim && r.state == stateIdle
	}
	p.mu.Unlock()
	w.wake()
}

// Destroy closes the resource instead of returning it, counting reason.
func (r *Resource[T]) Destroy(reason Reason) {
	p := r.pool
	p.mu.Lock()
	p.givenBackLocked(r)
	if p.closed {
		p.retireLocked(r, reason)
		p.mu.Unlock()
		p.close(r.value)
		return
	}
	p.closeLocked(r, reason)
	p.mu.Unlock()
}
