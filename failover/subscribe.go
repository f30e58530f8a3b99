package failover

import "fmt"

// Subscribe calls fn for every event, in order, on the goroutine that
// observed it (the monitor's, or one calling ReportFailure), just after the
// change became visible through Writer, WaitWriter and Stats. Subscribers
// are called in subscription order. fn must return quickly and must not
// call ReportFailure; hand slow work to another goroutine, or use Events.
// The returned function unsubscribes.
func (m *Monitor) Subscribe(fn func(Event)) (unsubscribe func()) {
	m.mu.Lock()
	id := m.nextSub
	m.nextSub++
	m.subs[id] = fn
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.subs, id)
		m.mu.Unlock()
	}
}

// Events returns a channel that receives every event, buffered to hold
// buffer events; when the buffer is full, events are dropped rather than
// stalling the monitor. The returned function unsubscribes; the channel is
// not closed, so stop reading after calling it.
func (m *Monitor) Events(buffer int) (<-chan Event, func()) {
	ch := make(chan Event, buffer)
	cancel := m.Subscribe(func(ev Event) {
		select {
		case ch <- ev:
		default:
		}
	})
	return ch, cancel
}

// InvalidateOnWriterChange calls inv.Invalidate whenever the writer
// changes from one verified host to another, so that a pool drops its
// connections to the old writer. The returned function stops it.
func (m *Monitor) InvalidateOnWriterChange(inv Invalidator) (stop func()) {
	return m.Subscribe(func(ev Event) {
		if ev.Kind == EventWriterChanged {
			inv.Invalidate(fmt.Sprintf("failover: writer changed from %s to %s", ev.From.Addr, ev.To.Addr))
		}
	})
}

// subscribersLocked returns the current subscribers in subscription order.
func (m *Monitor) subscribersLocked() []func(Event) {
	if len(m.subs) == 0 {
		return nil
	}
	out := make([]func(Event), 0, len(m.subs))
	for id := 0; id < m.nextSub; id++ {
		if fn, ok := m.subs[id]; ok {
			out = append(out, fn)
		}
	}
	return out
}

// deliver calls every subscriber with every event; the caller holds emitMu.
func (m *Monitor) deliver(subs []func(Event), evs []Event) {
	for _, ev := range evs {
		for _, fn := range subs {
			fn(ev)
		}
	}
}
