package main

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// clientSSL is CLIENT_SSL, the capability flag a client's first packet (an
// SSLRequest or a handshake response) sets when it switches to TLS.
const clientSSL = 0x800

// tlsCounter counts the client connections open now with and without TLS
// (RDS Proxy's ClientConnectionsTLS and ClientConnectionsNoTLS), from the
// capability flags of each client's first packet as it passes through.
type tlsCounter struct {
	secure, plain atomic.Int64
}

// countingListener wraps the listener's accepted connections for t.
type countingListener struct {
	net.Listener
	t *tlsCounter
}

// Accept implements net.Listener.
func (l countingListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: nc, t: l.t}, nil
}

// countingConn watches the first 8 bytes a client sends (packet header and
// capability flags) and counts the connection in t until it is closed.
type countingConn struct {
	net.Conn
	t *tlsCounter

	// Owned by the goroutine reading the connection.
	head []byte
	seen bool

	mu      sync.Mutex
	counted *atomic.Int64 // guarded by mu; nil until classified or after Close
	closed  bool          // guarded by mu
}

// Read implements net.Conn.
func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.seen && n > 0 {
		c.head = append(c.head, p[:min(n, 8-len(c.head))]...)
		if len(c.head) == 8 {
			c.seen = true
			caps := uint32(c.head[4]) | uint32(c.head[5])<<8 | uint32(c.head[6])<<16 | uint32(c.head[7])<<24
			g := &c.t.plain
			if caps&clientSSL != 0 {
				g = &c.t.secure
			}
			c.mu.Lock()
			if !c.closed {
				c.counted = g
				g.Add(1)
			}
			c.mu.Unlock()
		}
	}
	return n, err
}

// Close implements net.Conn.
func (c *countingConn) Close() error {
	c.mu.Lock()
	if c.counted != nil {
		c.counted.Add(-1)
		c.counted = nil
	}
	c.closed = true
	c.mu.Unlock()
	return c.Conn.Close()
}

// SyscallConn exposes the socket, which the listener uses to notice
// clients that went away mid-command.
func (c *countingConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("rdsmux: the client connection exposes no socket")
	}
	return sc.SyscallConn()
}
