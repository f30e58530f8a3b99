package core

import "time"

// Partition is the set of resources that may serve one key (for rdsmux: one
// database user). Resources never move between partitions.
type Partition[T any] struct {
	key string

	// Guarded by Pool.mu.
	idle    []*Resource[T] // LIFO: the most recently released is last
	waiters waiterList[T]
	dialing int // dials in flight for this partition
}

// Key returns the partition's key.
func (part *Partition[T]) Key() string { return part.key }

// Match says how well an idle resource's tag fit an Acquire's tag.
type Match uint8

const (
	// MatchExact: the resource's tag equals the requested tag.
	MatchExact Match = iota
	// MatchClean: the resource has the empty tag, the request another one.
	MatchClean
	// MatchOther: the resource has a different, non-empty tag.
	MatchOther
)

func match(want, have string) Match {
	switch {
	case want == have:
		return MatchExact
	case have == "":
		return MatchClean
	default:
		return MatchOther
	}
}

// popIdleLocked takes the best idle resource for tag and returns how its
// tag fit. Candidates rank by match (exact, then clean, then other) and,
// within a match, unclaimed before claimed (a resource released with
// ReleaseClaim less than claimWindow ago, whose claimant may come back for
// it). Among unclaimed equals the most recently released wins (LIFO);
// among claimed equals the least recently released, whose claimant has
// had the longest time to come back. A claimed resource is still taken
// when nothing else is idle: claims steer, they never make an acquirer
// wait or dial. Resources past their lifetime are closed on the way. It
// returns nil if none is idle.
//
// The scan stops at the first exact, unclaimed match from the top, which
// is the top itself unless the resources above it were released under a
// claim within the window or carry other tags.
func (p *Pool[T]) popIdleLocked(part *Partition[T], tag string, now int64) (*Resource[T], Match) {
	for {
		idle := part.idle
		if len(idle) == 0 {
			return nil, MatchExact
		}
		best, bestRank := -1, rankWorst
		for i := len(idle) - 1; i >= 0; i-- {
			r := idle[i]
			rank := 2 * int(match(tag, r.tag))
			if r.claimed && now-r.idleSince < p.claimWindow {
				rank++
			}
			if rank < bestRank || rank == bestRank && rank&1 == 1 {
				best, bestRank = i, rank
				if rank == 0 {
					break
				}
			}
		}
		r := idle[best]
		if r.expires != 0 && now >= r.expires {
			p.closeLocked(r, ReasonLifetime)
			continue
		}
		p.removeIdleLocked(r, best)
		p.handOutLocked(r, durationBetween(r.idleSince, now))
		return r, Match(bestRank / 2)
	}
}

// rankWorst is worse than any rank popIdleLocked gives.
const rankWorst = 2*int(MatchOther) + 2

// removeIdleLocked unlinks r, found at index i, from its partition's idle
// list, keeping the order of the rest.
func (p *Pool[T]) removeIdleLocked(r *Resource[T], i int) {
	idle := r.part.idle
	if i < len(idle)-1 {
		copy(idle[i:], idle[i+1:])
	}
	idle[len(idle)-1] = nil
	r.part.idle = idle[:len(idle)-1]
	p.idle--
}

// lruIdleLocked returns the idle resource, of any partition, that has been
// idle longest, or nil.
func (p *Pool[T]) lruIdleLocked() *Resource[T] {
	var lru *Resource[T]
	for _, part := range p.partList {
		if len(part.idle) > 0 && (lru == nil || part.idle[0].idleSince < lru.idleSince) {
			lru = part.idle[0]
		}
	}
	return lru
}

func durationBetween(from, to int64) (d time.Duration) {
	if to > from {
		return time.Duration(to - from)
	}
	return 0
}

// Waiting reports whether acquirers of part are waiting, so that a
// resource of part released now would go straight to one of them.
func (p *Pool[T]) Waiting(part *Partition[T]) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return part.waiters.n > 0
}
