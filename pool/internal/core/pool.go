package core

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// ErrClosed is returned by Acquire on a closed pool.
var ErrClosed = errors.New("pool is closed")

// Config configures a Pool. Dial and Close are required.
type Config[T any] struct {
	// Dial creates a value for the partition with the given key. It runs on
	// its own goroutine with a context that is cancelled by Close and
	// bounded by DialTimeout.
	Dial func(ctx context.Context, key string) (T, error)
	// Close disposes of a value. It is called without locks held, on its own
	// goroutine unless the pool is closed.
	Close func(T)
	// Limits are the initial limits; see SetLimits.
	Limits Limits
	// DialTimeout bounds each Dial (0: no bound beyond Close).
	DialTimeout time.Duration
	// MaxLifetime retires a resource this long after it was dialed, minus a
	// random jitter in [0, LifetimeJitter); 0 means no limit.
	MaxLifetime    time.Duration
	LifetimeJitter time.Duration
	// ClaimWindow is how long after a ReleaseClaim other acquirers pass the
	// resource over while another idle resource fits as well, so that its
	// claimant finds it with Reclaim. 0: claims never steer the choice
	// (Reclaim works all the same while nobody took the resource).
	ClaimWindow time.Duration
	// Now returns a monotonic clock reading in nanoseconds. nil uses the
	// process's monotonic clock.
	Now func() int64
	// AtCap, if set, is called (without locks, on the acquirer's
	// goroutine) when an Acquire queues while the pool is at MaxSize, so
	// that whoever sets the limits (a fleet budget) can raise them. It
	// must not block. Acquires served from the idle list never call it.
	AtCap func()
	// OnBorrow, if set, is called with the pool's lock held when a
	// resource is handed out to a holder (true) and when its holder gives
	// it back by Release, ReleaseClaim or Destroy (false), so that a
	// resource can count how often it is out. It must be quick and must
	// not call into the pool.
	OnBorrow func(v T, borrowed bool)
}

// Limits are the pool's size limits.
type Limits struct {
	// MaxSize caps resources of all partitions together (idle, borrowed,
	// dialing and closing). New makes it at least 1; SetLimits accepts 0
	// (nothing is dialed and acquirers wait until it is raised), which a
	// fleet budget uses while the process holds no slot.
	MaxSize int
	// MaxIdle is how many idle resources may stay idle indefinitely; idle
	// resources beyond it are closed by Maintain once idle for IdleTimeout.
	MaxIdle int
	// IdleTimeout; 0 closes excess idle resources at the first Maintain.
	IdleTimeout time.Duration
}

// Pool is a partitioned, capped pool of T. It is safe for concurrent use.
type Pool[T any] struct {
	dial        func(ctx context.Context, key string) (T, error)
	close       func(T)
	now         func() int64
	dialTimeout time.Duration
	lifetime    int64
	jitter      int64
	claimWindow int64
	atCap       func()        // nil: none
	onBorrow    func(T, bool) // nil: none

	dialCtx     context.Context // cancelled by Close
	cancelDials context.CancelFunc
	wg          sync.WaitGroup // dial and close goroutines
	waiters     sync.Pool      // of *waiter[T]
	monoBase    time.Time      // Pool.mono's zero
	nowIsMono   bool           // now is mono (Config.Now is nil)

	mu sync.Mutex
	// Guarded by mu.
	limits   Limits
	closed   bool
	gen      uint64
	parts    map[string]*Partition[T]
	partList []*Partition[T]
	seq      uint64 // waiter arrival counter
	size     int    // idle + borrowed + dialing + closing
	idle     int
	borrowed int
	dialing  int
	closing  int
	waiting  int
	counters Counters
	// timer is the deadline timer (deadline.go), nil until the first
	// waiter with a timeout; timerAt is the mono reading it fires at, 0
	// when not armed.
	timer   *time.Timer
	timerAt int64
}

// Counters are cumulative counts since the pool was created.
type Counters struct {
	Acquires       int64 // Acquire calls on an open pool
	Waits          int64 // Acquires that had to wait
	WaitNanos      int64 // total time spent waiting by Acquires that waited
	Timeouts       int64 // waits ended by the Acquire's timeout
	Canceled       int64 // waits ended by the Acquire's context
	DialsSucceeded int64
	DialsFailed    int64
	Closed         [NumReasons]int64
}

// New returns a pool. It starts no goroutine until the first dial.
func New[T any](cfg Config[T]) *Pool[T] {
	if cfg.Limits.MaxSize < 1 {
		cfg.Limits.MaxSize = 1
	}
	p := &Pool[T]{
		dial:        cfg.Dial,
		close:       cfg.Close,
		now:         cfg.Now,
		dialTimeout: cfg.DialTimeout,
		lifetime:    int64(cfg.MaxLifetime),
		jitter:      int64(cfg.LifetimeJitter),
		claimWindow: int64(cfg.ClaimWindow),
		atCap:       cfg.AtCap,
		onBorrow:    cfg.OnBorrow,
		limits:      cfg.Limits,
		parts:       make(map[string]*Partition[T]),
	}
	p.monoBase = time.Now()
	if p.now == nil {
		p.now, p.nowIsMono = p.mono, true
	}
	p.dialCtx, p.cancelDials = context.WithCancel(context.Background())
	return p
}

// Partition returns the partition for key, creating it on first use.
// Partitions live as long as the pool; keep the result instead of looking it
// up on every Acquire.
func (p *Pool[T]) Partition(key string) *Partition[T] {
	p.mu.Lock()
	defer p.mu.Unlock()
	part := p.parts[key]
	if part == nil {
		part = &Partition[T]{key: key}
		p.parts[key] = part
		p.partList = append(p.partList, part)
	}
	return part
}

// SetLimits changes the limits. Lowering MaxSize closes idle resources down
// to it; borrowed ones are closed as they come back until the pool fits.
func (p *Pool[T]) SetLimits(l Limits) {
	l.MaxSize = max(l.MaxSize, 0)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.limits = l
	for p.size-p.closing > p.limits.MaxSize && p.idle > 0 {
		p.closeLocked(p.lruIdleLocked(), ReasonEvicted)
	}
	p.fillLocked()
}

// Limits returns the current limits.
func (p *Pool[T]) Limits() Limits {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.limits
}

// Invalidate retires every resource that exists now: idle ones are closed at
// once, borrowed ones when they are released, and dials in flight are closed
// when they complete. Waiters are then served by new dials.
func (p *Pool[T]) Invalidate() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	for _, part := range p.partList {
		for len(part.idle) > 0 {
			p.closeLocked(part.idle[len(part.idle)-1], ReasonInvalidated)
		}
	}
}

// Close closes the pool: idle resources are closed, waiters fail with
// ErrClosed, dials in flight are cancelled, and resources still borrowed are
// closed when released. Close waits for dials and closes it started.
func (p *Pool[T]) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.stopTimerLocked()
	for _, part := range p.partList {
		for len(part.idle) > 0 {
			p.closeLocked(part.idle[len(part.idle)-1], ReasonPoolClosed)
		}
		for w := part.waiters.head; w != nil; w = part.waiters.head {
			p.dequeueLocked(w)
			w.deliverLocked(delivery[T]{err: ErrClosed})
			w.wake()
		}
	}
	p.mu.Unlock()
	p.cancelDials()
	p.wg.Wait()
}

// Stats is a snapshot of the pool's gauges and counters.
type Stats struct {
	Limits
	Size     int // idle + borrowed + dialing + closing
	Idle     int
	Borrowed int
	Dialing  int
	Closing  int
	Waiting  int
	Counters
}

// Stats returns a snapshot.
func (p *Pool[T]) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.statsLocked()
}

func (p *Pool[T]) statsLocked() Stats {
	return Stats{
		Limits:   p.limits,
		Size:     p.size,
		Idle:     p.idle,
		Borrowed: p.borrowed,
		Dialing:  p.dialing,
		Closing:  p.closing,
		Waiting:  p.waiting,
		Counters: p.counters,
	}
}

// expiryLocked returns the clock reading at which a resource dialed at now
// is retired, or 0.
func (p *Pool[T]) expiry(now int64) int64 {
	if p.lifetime <= 0 {
		return 0
	}
	e := now + p.lifetime
	if p.jitter > 0 {
		e -= rand.Int64N(p.jitter)
	}
	return e
}
