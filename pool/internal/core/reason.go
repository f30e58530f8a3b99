package core

// Reason says why a resource was closed.
type Reason uint8

// Close reasons. The core uses Lifetime, IdleTimeout, Evicted, Rebalanced,
// Invalidated and PoolClosed; the others are for holders' Destroy calls.
const (
	ReasonBroken      Reason = iota // the holder found the connection broken
	ReasonHealthCheck               // liveness check before reuse failed
	ReasonLifetime                  // MaxLifetime (with jitter) reached
	ReasonIdleTimeout               // idle beyond the idle limit for longer than IdleTimeout
	ReasonEvicted                   // idle, closed to make room for another partition's waiter
	ReasonRebalanced                // released while another partition's waiter needed the slot
	ReasonInvalidated               // from before an Invalidate (failover)
	ReasonDirty                     // state unknown and could not be reset
	ReasonSetupFailed               // dialed but its setup (init query etc.) failed
	ReasonPoolClosed                // the pool was closed
	ReasonControl                   // a slot reserved for a control connection was given back
	NumReasons        int    = iota
)

var reasonNames = [NumReasons]string{
	ReasonBroken:      "broken",
	ReasonHealthCheck: "health_check",
	ReasonLifetime:    "lifetime",
	ReasonIdleTimeout: "idle_timeout",
	ReasonEvicted:     "evicted",
	ReasonRebalanced:  "rebalanced",
	ReasonInvalidated: "invalidated",
	ReasonDirty:       "dirty",
	ReasonSetupFailed: "setup_failed",
	ReasonPoolClosed:  "pool_closed",
	ReasonControl:     "control",
}

// String returns the reason's snake_case name, as used in metrics.
func (r Reason) String() string {
	if int(r) < NumReasons {
		return reasonNames[r]
	}
	return "unknown"
}
