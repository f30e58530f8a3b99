package proxy

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/rdsmux/rdsmux/failover"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// A reader endpoint, as RDS Proxy gives Aurora users: a Target whose
// Failover dialer has failover.RoleReader sends each new backend connection
// to the healthy reader with the fewest outstanding borrows (connections
// of this Target to it that a session holds now; see pool.Borrower), then
// the fewest connections of this Target open (ties go round-robin), so
// that a pool's borrows spread over the readers; when no reader is healthy
// it falls back to the writer, as RDS Proxy does (unless the dialer's
// NoWriterFallback is set, when it waits for a reader). Serve such a
// Target's pool with its own Server on its own address: cmd/rdsmux
// -reader-listen does.

// readerLoad counts the open and the borrowed connections of a reader
// Target per host.
type readerLoad struct {
	mu sync.Mutex
	// Guarded by mu.
	open   map[string]int       // host address -> connections open
	out    map[string]int       // host address -> connections borrowed now
	failed map[string]time.Time // host address -> avoid until
	next   int                  // round-robin among ties
}

// readerFailTTL is how long a reader this Target failed to reach is
// avoided (the monitor may take a refresh or two to list it as down).
const readerFailTTL = 5 * time.Second

// pickReader returns the usable reader with the fewest borrows out, then
// the fewest connections open, or false when there is none.
func (l *readerLoad) pickReader(top *failover.Topology) (failover.Host, bool) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var ties []int // indexes in top.Readers of the least loaded
	bestOut, bestOpen := 0, 0
	for i := range top.Readers {
		h := &top.Readers[i]
		if isDown(top, h.Addr) {
			continue
		}
		if until, ok := l.failed[h.Addr]; ok {
			if now.Before(until) {
				continue
			}
			delete(l.failed, h.Addr)
		}
		out, open := l.out[h.Addr], l.open[h.Addr]
		switch {
		case len(ties) == 0 || out < bestOut || out == bestOut && open < bestOpen:
			ties, bestOut, bestOpen = append(ties[:0], i), out, open
		case out == bestOut && open == bestOpen:
			ties = append(ties, i)
		}
	}
	if len(ties) == 0 {
		return failover.Host{}, false
	}
	k := 0
	if len(ties) > 1 {
		k = l.next % len(ties)
		l.next++
	}
	return top.Readers[ties[k]], true
}

func isDown(top *failover.Topology, addr string) bool {
	for i := range top.Down {
		if top.Down[i].Addr == addr {
			return true
		}
	}
	return false
}

// readerSlot is one open connection of a reader Target, counted in its
// reader's load until closed.
type readerSlot struct {
	l    *readerLoad
	addr string
	once sync.Once
}

// opened counts a new connection to addr.
func (l *readerLoad) opened(addr string) *readerSlot {
	l.mu.Lock()
	if l.open == nil {
		l.open = make(map[string]int)
	}
	l.open[addr]++
	l.mu.Unlock()
	return &readerSlot{l: l, addr: addr}
}

// close uncounts the connection (once).
func (s *readerSlot) close() {
	s.once.Do(func() {
		s.l.mu.Lock()
		s.l.open[s.addr]--
		if s.l.open[s.addr] <= 0 {
			delete(s.l.open, s.addr)
		}
		s.l.mu.Unlock()
	})
}

// borrowed counts the connection as borrowed by a session (true) or given
// back (false); the pool calls it through BackendConn.Borrowed.
func (s *readerSlot) borrowed(on bool) {
	s.l.mu.Lock()
	if s.l.out == nil {
		s.l.out = make(map[string]int)
	}
	if on {
		s.l.out[s.addr]++
	} else if s.l.out[s.addr]--; s.l.out[s.addr] <= 0 {
		delete(s.l.out, s.addr)
	}
	s.l.mu.Unlock()
}

// fail records that addr could not be reached.
func (l *readerLoad) fail(addr string) {
	l.mu.Lock()
	if l.failed == nil {
		l.failed = make(map[string]time.Time)
	}
	l.failed[addr] = time.Now().Add(readerFailTTL)
	l.mu.Unlock()
}

// ReaderConnections returns, for a reader Target, how many of its
// connections are open per host address.
func (b *Target) ReaderConnections() map[string]int {
	b.readers.mu.Lock()
	defer b.readers.mu.Unlock()
	m := make(map[string]int, len(b.readers.open))
	for k, v := range b.readers.open {
		m[k] = v
	}
	return m
}

// ReaderBorrows returns, for a reader Target, how many of its connections
// are borrowed by a session now, per host address.
func (b *Target) ReaderBorrows() map[string]int {
	b.readers.mu.Lock()
	defer b.readers.mu.Unlock()
	m := make(map[string]int, len(b.readers.out))
	for k, v := range b.readers.out {
		m[k] = v
	}
	return m
}

// connectReader connects a reader Target's connection: to the least
// loaded healthy reader (fewest borrows out, then fewest open), else (writer fallback) wherever the dialer goes.
func (b *Target) connectReader(ctx context.Context, cfg *wire.ClientConfig) (*wire.ClientConn, connHooks, error) {
	d := b.Failover
	for {
		top := d.Monitor().Topology()
		h, ok := b.readers.pickReader(&top)
		var nc net.Conn
		var err error
		if ok {
			var nd net.Dialer
			nc, err = nd.DialContext(ctx, "tcp", h.Addr)
			if err != nil {
				b.readers.fail(h.Addr)
				d.Monitor().ReportFailure(h.Addr, err)
				if werr := d.Backoff(ctx); werr != nil {
					return nil, connHooks{}, fmt.Errorf("proxy: dialing the reader %s: %w (and the wait for another ended: %w)", h.Addr, err, werr)
				}
				continue
			}
		} else if nc, h, err = d.DialHost(ctx); err != nil {
			// No healthy reader: the dialer falls back to the writer.
			return nil, connHooks{}, err
		}
		cc, retry, err := b.handshakeConfirmed(ctx, cfg, nc, h)
		if retry {
			continue
		}
		if err != nil {
			return nil, connHooks{}, err
		}
		slot := b.readers.opened(h.Addr)
		return cc, connHooks{untrack: slot.close, reader: slot}, nil
	}
}
