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

// popIdleLocked takes the best idle resource for tag: the most recent exact
// match, else the most recent clean one, else the most recent one. Resources
// past their lifetime are closed on the way. It returns nil if none is idle.
func (p *Pool[T]) popIdleLocked(part *Partition[T], tag string, now int64) (*Resource[T], Match) {
	for {
		idle := part.idle
		if len(idle) == 0 {
			return nil, MatchExact
		}
		best, bestMatch := len(idle)-1, match(tag, idle[len(idle)-1].tag)
		for i := best - 1; i >= 0 && bestMatch != MatchExact; i-- {
			if m := match(tag, idle[i].tag); m < bestMatch {
				best, bestMatch = i, m
			}
		}
		r := idle[best]
		if r.expires != 0 && now >= r.expires {
			p.closeLocked(r, ReasonLifetime)
			continue
		}
		p.removeIdleLocked(r, best)
		r.state = stateBorrowed
		r.idleFor = durationBetween(r.idleSince, now)
		r.waited = 0
		p.borrowed++
		return r, bestMatch
	}
}

// removeIdleLocked unlinks r, found at index i, from its partition's idle
// list, keeping the order of the rest.
func (p *Pool[T]) removeIdleLocked(r *Resource[T], i int) {
	idle := r.part.idle
	copy(idle[i:], idle[i+1:])
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
