package core

import "time"

// delivery is what a waiter receives: a borrowed resource or an error.
type delivery[T any] struct {
	r     *Resource[T]
	match Match
	err   error
}

// waiter is one queued Acquire. Waiters are recycled through Pool.waiters.
// Whoever dequeues a waiter (except abandon, the waiter's own dequeue)
// writes d under Pool.mu and then sends on ch, which has capacity 1, once
// per time the waiter was queued: under Pool.mu, or just after releasing
// it (see putLocked), so a waiter receives without holding Pool.mu. The
// waiter reads d after its receive.
type waiter[T any] struct {
	ch chan struct{}
	d  delivery[T]

	// Guarded by Pool.mu.
	part       *Partition[T]
	tag        string
	seq        uint64
	start      int64 // Pool.now reading at enqueue
	deadline   int64 // Pool.mono reading at which the timeout fires; 0: none
	timeout    int64 // the Acquire's timeout, for its TimeoutError
	queued     bool
	prev, next *waiter[T]
}

// deliverLocked gives w, just dequeued, its delivery; wake tells it.
func (w *waiter[T]) deliverLocked(d delivery[T]) { w.d = d }

// wake tells w that its delivery is there. A hand-over of a resource wakes
// its waiter after releasing Pool.mu, so that the wake-up (which may start
// another thread) does not lengthen the critical section every Acquire and
// Release passes through; w may be nil (nobody to wake).
func (w *waiter[T]) wake() {
	if w != nil {
		w.ch <- struct{}{}
	}
}

// waiterList is a FIFO of waiters. Guarded by Pool.mu.
type waiterList[T any] struct {
	head, tail *waiter[T]
	n          int
}

func (l *waiterList[T]) push(w *waiter[T]) {
	w.prev, w.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
	l.n++
}

func (l *waiterList[T]) remove(w *waiter[T]) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.prev, w.next = nil, nil
	l.n--
}

// at returns the i-th waiter (0 is the head) or nil.
func (l *waiterList[T]) at(i int) *waiter[T] {
	w := l.head
	for ; w != nil && i > 0; i-- {
		w = w.next
	}
	return w
}

func (p *Pool[T]) getWaiter() *waiter[T] {
	if w, ok := p.waiters.Get().(*waiter[T]); ok {
		return w
	}
	return &waiter[T]{ch: make(chan struct{}, 1)}
}

func (p *Pool[T]) putWaiter(w *waiter[T]) {
	w.part, w.tag, w.d = nil, "", delivery[T]{}
	p.waiters.Put(w)
}

// enqueueLocked queues w for part; with timeout > 0 it arms the pool's
// deadline timer (see deadline.go) for w, at the reading mono of Pool.mono.
func (p *Pool[T]) enqueueLocked(w *waiter[T], part *Partition[T], tag string, now int64, timeout time.Duration, mono int64) {
	p.seq++
	w.part, w.tag, w.seq, w.start, w.queued = part, tag, p.seq, now, true
	w.deadline, w.timeout = 0, int64(timeout)
	part.waiters.push(w)
	p.waiting++
	if timeout > 0 && mono+int64(timeout) > mono { // a timeout of centuries overflows: none
		w.deadline = mono + int64(timeout)
		p.armLocked(w.deadline, mono)
	}
}

// dequeueLocked unlinks w from its partition's queue.
func (p *Pool[T]) dequeueLocked(w *waiter[T]) {
	w.part.waiters.remove(w)
	w.queued = false
	p.waiting--
}
