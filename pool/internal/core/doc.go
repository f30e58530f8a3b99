// Package core is the concurrency core of the rdsmux pool: a generic,
// partitioned, capped pool of resources with FIFO waiters, LIFO idle reuse,
// tag-aware selection, lifetimes and idle reaping. It knows nothing about
// databases; package pool puts the policy (health checks, settings replay,
// resets, sessions) on top of it.
//
// # Model
//
// Every resource belongs to one Partition (for rdsmux: one database user) and
// is never handed to an acquirer of another partition. One cap (MaxSize)
// bounds all partitions together: it counts idle, borrowed, dialing and
// closing resources, so the number of live connections never exceeds it,
// not even while a connection is being torn down to make room for another.
//
// An Acquire is served, in this order, by an idle resource of its partition
// (preferring one whose tag equals the requested tag, then one with the empty
// tag, then any; within each, one that nobody claimed; then the most
// recently used), or by queueing as a waiter. Waiters are
// served strictly first come, first served within a partition, and slots
// freed under the cap go to the partition whose oldest unserved waiter is
// oldest. A waiter may be handed a resource released by another holder or
// the result of a dial that some other acquirer started.
//
// Dials run on their own goroutine with a context derived from the pool (not
// from the acquirer) and bounded by DialTimeout, so an acquirer that gives up
// returns at once while the dial completes for whoever waits next, or idles.
//
// # Claims
//
// A holder that may need exactly the same resource for its next use (rdsmux:
// a statement that reads what the session's previous statement left on its
// connection, such as ROW_COUNT()) releases it with ReleaseClaim and keeps
// the returned Claim. Every hand-out of a resource bumps its borrow count,
// and Reclaim gives the claimant the resource back only while it is idle and
// its count is the one the claim recorded, that is, while nobody else has
// held it since; otherwise it says whether the resource was borrowed or
// closed meanwhile. Claims are checked under the pool's lock, so a Reclaim
// races safely with other acquirers, Maintain, Invalidate and Close. For
// ClaimWindow after the release, other acquirers take a claimed idle
// resource only when no unclaimed one fits as well; a claim never makes
// anyone wait or dial, and a released resource still goes straight to a
// waiter, so under saturation claims are mostly lost.
package core
