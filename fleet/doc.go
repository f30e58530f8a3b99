// Package fleet shares one connection budget among every rdsmux process
// that connects to one database (pods, tasks, listener replicas), through
// Redis or Valkey, as RDS Proxy enforces one budget for all its clients.
//
// Each process is a Member of a named budget; the Member holds slots under
// a lease in Redis and sets its pool's cap to them:
//
//	m, err := fleet.New(fleet.Config{URL: "redis://cache:6379/0", Name: "orders-db"})
//	p, err := pool.New(pool.Config{Dial: dial, MaxConnections: 200, Budget: m}) // 200 for the whole fleet
//
// The driver (DSN parameter fleet=) and the listener (-fleet) do this
// themselves. Every connection the pool opens counts, control connections
// included; connections opened beside the pool count through Track. Stats
// says whether the process runs on its fallback cap.
//
// The lease model, its guarantees (never above the budget while Redis
// answers, starvation-free fair shares) and the behaviour when Redis fails
// are in docs/design.md ("The fleet budget").
package fleet
