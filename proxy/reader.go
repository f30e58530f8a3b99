package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/rdsmux/rdsmux/failover"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// A reader endpoint, as RDS Proxy gives Aurora users: a Backend whose
// Failover dialer has failover.RoleReader sends each new backend connection
// to the healthy reader with the fewest connections of this Backend open
// (ties go round-robin), so that a pool's borrows spread over the readers;
// when no reader is healthy it falls back to the writer, as RDS Proxy does
// (unless the dialer's NoWriterFallback is set, when it waits for a
// reader). Serve such a Backend's pool with its own Server on its own
// address: cmd/rdsmux -reader-listen does.

// readerLoad counts the open connections of a reader Backend per host.
type readerLoad struct {
	mu sync.Mutex
	// Guarded by mu.
	open   map[string]int       // host address -> connections open
	failed map[string]time.Time // host address -> avoid until
	next   int                  // round-robin among ties
}

// readerFailTTL is how long a reader this Backend failed to reach is
// avoided (the monitor may take a refresh or two to list it as down).
const readerFailTTL = 5 * time.Second

// pickReader returns the usable reader with the fewest connections open,
// or false when there is none.
func (l *readerLoad) pickReader(top *failover.Topology) (failover.Host, bool) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	best, bestN, ties := -1, 0, 0
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
		n := l.open[h.Addr]
		switch {
		case best < 0 || n < bestN:
			best, bestN, ties = i, n, 1
		case n == bestN:
			ties++
		}
	}
	if best < 0 {
		return failover.Host{}, false
	}
	if ties > 1 {
		k := l.next % ties
		l.next++
		for i := range top.Readers {
			h := &top.Readers[i]
			if l.open[h.Addr] != bestN || isDown(top, h.Addr) || now.Before(l.failed[h.Addr]) {
				continue
			}
			if k == 0 {
				return *h, true
			}
			k--
		}
	}
	return top.Readers[best], true
}

func isDown(top *failover.Topology, addr string) bool {
	for i := range top.Down {
		if top.Down[i].Addr == addr {
			return true
		}
	}
	return false
}

// opened counts a new connection to addr and returns what uncounts it.
func (l *readerLoad) opened(addr string) func() {
	l.mu.Lock()
	if l.open == nil {
		l.open = make(map[string]int)
	}
	l.open[addr]++
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.open[addr]--
			if l.open[addr] <= 0 {
				delete(l.open, addr)
			}
			l.mu.Unlock()
		})
	}
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

// ReaderConnections returns, for a reader Backend, how many of its
// connections are open per host address.
func (b *Backend) ReaderConnections() map[string]int {
	b.readers.mu.Lock()
	defer b.readers.mu.Unlock()
	m := make(map[string]int, len(b.readers.open))
	for k, v := range b.readers.open {
		m[k] = v
	}
	return m
}

// connectReader connects a reader Backend's connection: to the least
// loaded healthy reader, else (writer fallback) wherever the dialer goes.
func (b *Backend) connectReader(ctx context.Context, cfg *wire.ClientConfig) (*wire.ClientConn, func(), error) {
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
					return nil, nil, fmt.Errorf("rdsmux/proxy: dialing the reader %s: %w (and the wait for another ended: %w)", h.Addr, err, werr)
				}
				continue
			}
		} else if nc, h, err = d.DialHost(ctx); err != nil {
			// No healthy reader: the dialer falls back to the writer.
			return nil, nil, err
		}
		cc, err := b.handshakeOn(ctx, cfg, nc, h.Addr)
		if err != nil {
			return nil, nil, err
		}
		if q := d.RoleQuery(); q != "" {
			v, _, err := cc.QueryValue(ctx, q)
			if err == nil {
				err = d.ConfirmRole(h, v != "" && v != "0")
			}
			if err != nil {
				_ = cc.Close()
				if !errors.Is(err, failover.ErrWrongRole) {
					return nil, nil, fmt.Errorf("rdsmux/proxy: checking the role of %s: %w", h.Addr, err)
				}
				if werr := d.Backoff(ctx); werr != nil {
					return nil, nil, fmt.Errorf("rdsmux/proxy: waiting for a reader: %w (last tried: %w)", werr, err)
				}
				continue
			}
		}
		return cc, b.readers.opened(h.Addr), nil
	}
}
