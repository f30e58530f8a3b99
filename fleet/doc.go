// Package fleet shares one connection budget among every rdsmux process
// that connects to one database (pods, tasks, listener replicas), through
// Redis or Valkey, as RDS Proxy enforces one budget for all its clients.
//
// # Model
//
// Each process is a Member of a named budget. It holds slots under a lease:
// one Lua script (EVALSHA, run atomically by the server, with the server's
// clock) renews the lease, drops the leases of processes that stopped
// renewing, and decides how many slots the process may hold. The Member
// sets its pool's cap to that number (pool.Config.Budget); every
// connection the pool opens counts, control connections (KILL QUERY)
// included, and so do connections opened beside the pool and reported
// with Track (failover probes, through failover.ProbeConfig.Track). The Redis keys (a sorted set of leases, hashes of slots held
// and wanted, the total) share one hash tag and expire by themselves when
// the fleet is gone.
//
// Slots are renewed every Heartbeat (LeaseTTL/5, 1s by default) and taken
// in blocks of Block beyond the need, so a borrow never waits for Redis
// while the process holds spare slots: the pool's borrow path does not
// call Redis at all. When borrows wait at the cap, the pool wakes the
// Member, which asks for more at once (at most once per
// MinRequestInterval); a Member whose last request was refused asks again
// at its next heartbeat, when the others have renewed and given back what
// they no longer need.
//
// # Guarantees
//
//   - While Redis answers, the slots recorded for all live processes never
//     exceed the total, and a process never opens more connections than it
//     holds slots: the database sees at most the budget from the fleet.
//     (A process that must shrink keeps the slots of its open connections
//     recorded until they are closed.)
//   - A process that dies (SIGKILL, crash, partition) loses its slots when
//     its lease expires, LeaseTTL after its last renewal; the others take
//     them at their next renewal, so within LeaseTTL + Heartbeat.
//   - Starvation-free: the fair share is total/processes (at least 1). A
//     process asking for no more than its fair share is never refused what
//     is free; a process holding more than its fair share while another
//     below its own asks for slots is told to shrink to its fair share (its
//     pool closes idle connections at once and busy ones as they come
//     back), so every live process gets min(want, fair share) within a
//     heartbeat plus the time its peers' borrowed connections take to come
//     back. When the budget is smaller than the number of processes, only
//     some processes get a slot.
//   - Idle connections move: while others wait and nothing is free, a
//     process keeps at most its share of MaxIdleConnectionsPercent of the
//     budget idle.
//
// # When Redis fails
//
// A renewal that fails or takes longer than a heartbeat is retried at the
// next one; borrows never wait for Redis. The process keeps the slots it
// holds (and cannot grow) until its lease would have expired, then falls
// back to FallbackCap (by default the smaller of its last fair share and
// the slots it held, at least 1), logs it at Warn, and reports it in Stats (Fallback,
// FallbackEntered). It rejoins at the first renewal that succeeds,
// reporting the connections it has open; a process above its share then
// shrinks as above.
//
// A process that comes back with connections open while Redis does not
// know it (its lease lapsed while Redis was out of reach, or Redis lost its
// data: a restart without persistence, a failover to a replica that missed
// the latest writes) starts a settling period of one lease TTL: nobody is
// granted more than it has open until every process has had time to
// re-register what it has, so the processes coming back from their
// fallback caps are not overbooked by the first one back.
//
// Limits: during a fallback the fleet's total is only bounded by the sum of
// the fallback caps, which is about the budget when every process lost
// Redis together (a Redis outage) and the budget plus the cut-off
// processes' caps when only some did (a partition: Redis expires the
// cut-off processes' leases and gives their slots to the others). A
// process starting during a settling period waits for it to end (at most
// one lease TTL) before its first connection. When the budget is smaller
// than the number of processes, the processes without a slot wait.
package fleet
