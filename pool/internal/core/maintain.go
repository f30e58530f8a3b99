package core

// Maintain closes idle resources past their lifetime, and idle resources
// beyond Limits.MaxIdle that have been idle for at least
// Limits.IdleTimeout (longest idle first). The owner of the pool calls it
// periodically.
func (p *Pool[T]) Maintain() {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	for _, part := range p.partList {
		for i := len(part.idle) - 1; i >= 0; i-- {
			if r := part.idle[i]; r.expires != 0 && now >= r.expires {
				p.closeLocked(r, ReasonLifetime)
			}
		}
	}
	for p.idle > p.limits.MaxIdle {
		r := p.lruIdleLocked()
		if now-r.idleSince < int64(p.limits.IdleTimeout) {
			break
		}
		p.closeLocked(r, ReasonIdleTimeout)
	}
}
