package core

import "errors"

// Errors of Reclaim.
var (
	// ErrClaimBorrowed: the claimed resource was handed out to another
	// acquirer (or to a waiter, at its release) after the claim was taken.
	ErrClaimBorrowed = errors.New("claimed resource was borrowed by another acquirer since it was released")
	// ErrClaimClosed: the claimed resource was closed (lifetime, idle
	// limit, Invalidate, eviction, Destroy) after the claim was taken.
	ErrClaimClosed = errors.New("claimed resource was closed since it was released")
	// ErrNoClaim: Reclaim was given the zero Claim.
	ErrNoClaim = errors.New("no claim")
)

// Claim names one resource as it was when its holder gave it up: the
// resource and how many times it had been handed out then. A holder takes
// a Claim (Resource.ReleaseClaim, Resource.Claim) to get exactly that
// resource back later with Pool.Reclaim, and only if nobody borrowed it in
// between. The zero Claim claims nothing. A Claim is a small value; keep it
// by value.
type Claim[T any] struct {
	r       *Resource[T]
	borrows uint64
}

// IsZero reports whether c claims nothing.
func (c Claim[T]) IsZero() bool { return c.r == nil }

// Took reports whether r, just handed to the caller by Acquire or
// AcquireAfter, is the resource c claims and nobody else held it in
// between. Only the holder of r may call it.
func (c Claim[T]) Took(r *Resource[T]) bool { return c.r == r && r.borrows == c.borrows+1 }

// Claim returns a claim on r as it is now. Only the holder may call it,
// before Release or Destroy; after Destroy the claim can only fail with
// ErrClaimClosed, which tells why the resource is gone.
func (r *Resource[T]) Claim() Claim[T] { return Claim[T]{r: r, borrows: r.borrows} }

// ReleaseClaim is Release for a holder that may want r back for its next
// use: it returns a Claim for Pool.Reclaim. If r goes idle it is also
// marked as claimed: for Config.ClaimWindow other acquirers pass it over
// when another idle resource fits as well (see Acquire). The mark ends when
// r is handed out, when the claimant calls Reclaim, Unclaim or AcquireAfter
// with the claim, or when the window passes.
func (r *Resource[T]) ReleaseClaim() Claim[T] {
	c := r.Claim()
	r.release(true)
	return c
}

// Reclaim hands the holder of c exactly the resource c claims, if it is
// idle and has not been handed out since c was taken; it never waits,
// dials or picks another resource. A resource past its lifetime is handed
// out all the same (its Release closes it). c must claim a resource of
// part (it panics otherwise).
//
// It fails with ErrClaimBorrowed if the resource was handed out since,
// ErrClaimClosed if it was closed, ErrNoClaim for the zero Claim, and
// ErrClosed if the pool is closed. It is O(k) with k the number of
// resources of part released after the claimed one, so O(1) when the
// claimant comes straight back.
func (p *Pool[T]) Reclaim(part *Partition[T], c Claim[T]) (*Resource[T], error) {
	r := c.r
	if r == nil {
		return nil, ErrNoClaim
	}
	if r.part != part {
		panic("core: Reclaim of a claim on another partition's resource")
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return nil, ErrClosed
	case r.state == stateClosing:
		return nil, ErrClaimClosed
	case r.borrows != c.borrows || r.state != stateIdle:
		return nil, ErrClaimBorrowed
	}
	idle := part.idle
	for i := len(idle) - 1; i >= 0; i-- {
		if idle[i] == r {
			p.removeIdleLocked(r, i)
			break
		}
	}
	p.handOutLocked(r, durationBetween(r.idleSince, now))
	return r, nil
}

// Unclaim ends c's mark on its resource, if the resource is still idle and
// untouched since, so that other acquirers take it as any other. The
// claimant calls it when it will not Reclaim (its session ends or resets).
// The zero Claim is a no-op.
func (p *Pool[T]) Unclaim(c Claim[T]) {
	if c.r == nil {
		return
	}
	p.mu.Lock()
	p.unclaimLocked(c)
	p.mu.Unlock()
}

func (p *Pool[T]) unclaimLocked(c Claim[T]) {
	if r := c.r; r != nil && r.state == stateIdle && r.borrows == c.borrows {
		r.claimed = false
	}
}
