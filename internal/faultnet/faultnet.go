// Package faultnet puts a fault-injecting TCP relay between a client and a
// server on loopback, so tests can add latency, reset connections, blackhole
// traffic or cut the network without touching the server process.
//
// It is a plain relay of the standard library (it used to wrap Shopify's
// toxiproxy, whose dependency tree then landed in every importer's go.mod):
// each accepted connection gets its own connection to the upstream, and two
// copy loops consult the faults in force before passing each chunk on, so a
// fault applies to open connections as well as new ones.
package faultnet

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Proxy is a fault relay listening on a loopback port and forwarding to an
// upstream address.
type Proxy struct {
	t        testing.TB
	upstream string

	mu        sync.Mutex
	addr      string             // guarded by mu; the listening address, kept across Cut
	ln        net.Listener       // guarded by mu; nil while cut
	links     map[*link]struct{} // guarded by mu; open connection pairs
	latency   time.Duration      // guarded by mu
	blackhole bool               // guarded by mu
	resetPeer bool               // guarded by mu
	accepting sync.WaitGroup     // the accept loop of the current listener
	copying   sync.WaitGroup     // every copy loop
	closed    chan struct{}      // closed at cleanup: ends latency waits
}

// link is one client connection and its upstream connection.
type link struct {
	client, server net.Conn
	once           sync.Once
	dead           bool // guarded by Proxy.mu; set once data was dropped
}

func (l *link) close(rst bool) {
	l.once.Do(func() {
		if tc, ok := l.client.(*net.TCPConn); ok && rst {
			_ = tc.SetLinger(0) // closing now sends a RST
		}
		l.client.Close()
		l.server.Close()
	})
}

// New starts a fault relay on 127.0.0.1 in front of upstream (which must be
// a loopback address) and stops it at t.Cleanup.
func New(t testing.TB, upstream string) *Proxy {
	t.Helper()
	if !strings.HasPrefix(upstream, "127.") && !strings.HasPrefix(upstream, "[::1]") &&
		!strings.HasPrefix(upstream, "localhost:") {
		t.Fatalf("faultnet: upstream %q is not a loopback address", upstream)
	}
	p := &Proxy{t: t, upstream: upstream, links: map[*link]struct{}{}, closed: make(chan struct{})}
	p.listen("127.0.0.1:0")
	t.Cleanup(func() {
		close(p.closed)
		p.Cut()
		p.copying.Wait()
	})
	return p
}

// listen opens the listener on addr and starts its accept loop.
func (p *Proxy) listen(addr string) {
	p.t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatalf("faultnet: listening on %s: %v", addr, err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	p.accepting.Add(1)
	go p.accept(ln) // ends when Cut closes ln
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.accepting.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		l := &link{client: c, server: s}
		p.mu.Lock()
		if p.ln != ln { // cut meanwhile
			p.mu.Unlock()
			l.close(false)
			return
		}
		p.links[l] = struct{}{}
		p.copying.Add(2)
		p.mu.Unlock()
		go p.pump(l, c, s, true)  // ends when the link closes
		go p.pump(l, s, c, false) // likewise
	}
}

// pump copies src to dst chunk by chunk, applying the faults in force.
func (p *Proxy) pump(l *link, src, dst net.Conn, fromClient bool) {
	defer p.copying.Done()
	defer func() {
		l.close(false)
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			if p.blackhole {
				l.dead = true
			}
			dead, reset, delay := l.dead, p.resetPeer && fromClient, p.latency
			p.mu.Unlock()
			switch {
			case dead: // dropped: the stream is broken for good
				continue
			case reset:
				l.close(true)
				return
			case delay > 0:
				select {
				case <-time.After(delay):
				case <-p.closed:
					return
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil { // EOF or closed: the deferred close ends the other pump too
			return
		}
	}
}

// Addr is the relay's listening address; clients dial it instead of the
// upstream.
func (p *Proxy) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// Latency delays data in both directions by d, per chunk relayed.
func (p *Proxy) Latency(d time.Duration) {
	p.mu.Lock()
	p.latency = d
	p.mu.Unlock()
}

// Blackhole stops all data in both directions without closing anything: the
// peers see neither data nor a reset, as with a dead host or a dropped
// route. New connections are accepted and then hang.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	p.blackhole = true
	p.mu.Unlock()
}

// ResetPeer resets every connection (TCP RST) as soon as data arrives from
// the client, and new ones likewise.
func (p *Proxy) ResetPeer() {
	p.mu.Lock()
	p.resetPeer = true
	p.mu.Unlock()
}

// Cut closes every open connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	p.accepting.Wait()
	for _, l := range links {
		l.close(false)
	}
}

// Restore accepts connections again after Cut, on the same address.
func (p *Proxy) Restore() {
	p.t.Helper()
	p.mu.Lock()
	up := p.ln != nil
	p.mu.Unlock()
	if !up {
		p.listen(p.Addr())
	}
}

// Clear removes every fault; connections blackholed so far stay broken, new
// ones work.
func (p *Proxy) Clear() {
	p.mu.Lock()
	p.latency, p.blackhole, p.resetPeer = 0, false, false
	p.mu.Unlock()
}
