package main

import (
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// limitListener gives the embedded server what a real one has and the
// embedded one lacks: a connection limit that refuses the connection over
// it with MySQL error 1040 "Too many connections" (go-mysql-server would
// queue or drop it silently), and the server-side counters the demo
// cross-checks its report with.
type limitListener struct {
	net.Listener
	limit int64

	current atomic.Int64 // connections accepted and not yet closed
	peak    atomic.Int64 // most connections at once since resetPeak
	refused atomic.Int64 // connections refused over the limit

	refusals sync.WaitGroup // refuse goroutines; Close waits for them
}

func newLimitListener(l net.Listener, limit int) *limitListener {
	return &limitListener{Listener: l, limit: int64(limit)}
}

// Accept returns the next connection within the limit; connections over it
// are answered with error 1040 and closed.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		n := l.current.Add(1)
		if n > l.limit {
			l.current.Add(-1)
			l.refused.Add(1)
			l.refusals.Add(1)
			go l.refuse(c)
			continue
		}
		for {
			p := l.peak.Load()
			if n <= p || l.peak.CompareAndSwap(p, n) {
				break
			}
		}
		return &countedConn{Conn: c, l: l}, nil
	}
}

// Close stops accepting and waits for refusals in flight.
func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.refusals.Wait()
	return err
}

// resetPeak starts a new peak from the current count, as FLUSH STATUS
// does for MariaDB's Max_used_connections.
func (l *limitListener) resetPeak() { l.peak.Store(l.current.Load()) }

// tooManyConnections is the ERR packet a MySQL server sends instead of its
// greeting when it is full: error 1040, SQLSTATE 08004.
var tooManyConnections = func() []byte {
	payload := []byte{0xff, 0, 0, '#', '0', '8', '0', '0', '4'}
	binary.LittleEndian.PutUint16(payload[1:3], 1040)
	payload = append(payload, "Too many connections"...)
	pkt := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), 0}
	return append(pkt, payload...)
}()

// refuse answers c with error 1040 and closes it. It runs in its own
// goroutine, owned by the listener, so a slow client cannot stall Accept.
func (l *limitListener) refuse(c net.Conn) {
	defer l.refusals.Done()
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write(tooManyConnections)
	_ = c.Close()
}

// countedConn gives its slot back when closed.
type countedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.current.Add(-1) })
	return c.Conn.Close()
}
