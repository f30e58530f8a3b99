package core

import "time"

// delivery is what a waiter receives: a borrowed resource or an error.
type delivery[T any] struct {
	r     *Resource[T]
	match Match
	err   error
}

// waiter is one queued Acquire. Waiters are recycled through Pool.waiters;
// ch has capacity 1 and is only sent to under Pool.mu, by whoever dequeues
// the waiter.
type waiter[T any] struct {
	ch    chan delivery[T]
	timer *time.Timer // stopped when not in use

	// Guarded by Pool.mu.
	part       *Partition[T]
	tag        string
	seq        uint64
	start      int64 // clock reading at enqueue
	queued     bool
	prev, next *waiter[T]
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
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &waiter[T]{ch: make(chan delivery[T], 1), timer: t}
}

func (p *Pool[T]) putWaiter(w *waiter[T]) {
	w.part, w.tag = nil, ""
	p.waiters.Put(w)
}

// enqueueLocked queues w for part.
func (p *Pool[T]) enqueueLocked(w *waiter[T], part *Partition[T], tag string, now int64) {
	p.seq++
	w.part, w.tag, w.seq, w.start, w.queued = part, tag, p.seq, now, true
	part.waiters.push(w)
	p.waiting++
}

// dequeueLocked unlinks w from its partition's queue.
func (p *Pool[T]) dequeueLocked(w *waiter[T]) {
	w.part.waiters.remove(w)
	w.queued = false
	p.waiting--
}
