package proxy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// A client that goes away while its command runs (a cancelled context in
// go-sql-driver closes the socket, a killed process, a Lambda timeout) is
// not noticed by its serve goroutine, which is busy reading the backend's
// answer: the statement would run to its end, holding a backend (and its
// locks) for nobody. The server's watcher looks, every
// vanishCheckInterval, at the clients whose command has been running since
// its previous look, and asks the kernel whether their peer has closed the
// connection (a FIN or a reset, without reading anything). For each that
// has:
//   - a client waiting for a backend stops waiting;
//   - a client whose statement runs on a backend has that relay cut; before
//     the backend's pool slot is freed, the statement is stopped on the
//     server with KILL QUERY (over a control connection of the partition's
//     account, outside the pool), and the backend is closed, not reused.
//
// A client that vanishes without a FIN (a host that lost power) is not seen
// this way; TCP keepalive and IdleClientTimeout remain the bound there.

// vanishCheckInterval is how often the watcher looks for clients that went
// away during a command. A command must run through one whole interval
// before its client is checked, so quick commands cost nothing.
const vanishCheckInterval = 200 * time.Millisecond

// Bounds of the control connections used for KILL QUERY.
const (
	killTimeout     = 5 * time.Second
	killIdleTimeout = time.Minute
)

// watcher is the Server's goroutine that finds vanished clients, and the
// control connections it and the clients use to stop their statements.
type watcher struct {
	once sync.Once     // starts run
	stop chan struct{} // closed by stopWatch
	done chan struct{} // closed when run returns

	// killMu guards controls, and is held while a KILL is sent: KILLs go
	// one at a time (they are rare).
	killMu   sync.Mutex
	controls map[string]*controlConn // by partition key and server address
}

// controlConn is an unpooled backend connection for KILL QUERY.
type controlConn struct {
	be   *BackendConn
	conn pool.Conn // as DialControl returned it; closing it frees its slot of a fleet budget
	used time.Time
}

// startWatch starts the watcher once, for Serve.
func (s *Server) startWatch() {
	w := &s.watch
	w.once.Do(func() {
		w.stop = make(chan struct{})
		w.done = make(chan struct{})
		go s.watchVanished()
	})
}

// stopWatch stops the watcher and closes the control connections; it is
// safe to call more than once, and when the watcher never started.
func (s *Server) stopWatch() {
	w := &s.watch
	w.once.Do(func() {}) // a watcher that never started never will
	if w.stop != nil {
		select {
		case <-w.stop:
		default:
			close(w.stop)
		}
		<-w.done
	}
	w.killMu.Lock()
	for key, cc := range w.controls {
		_ = cc.conn.Close()
		delete(w.controls, key)
	}
	w.killMu.Unlock()
}

// watchVanished is the watcher goroutine; stopWatch ends it.
func (s *Server) watchVanished() {
	defer close(s.watch.done)
	t := time.NewTicker(vanishCheckInterval)
	defer t.Stop()
	var suspects []*clientConn
	for {
		select {
		case <-s.watch.stop:
			return
		case <-t.C:
		}
		suspects = s.longCommands(suspects[:0])
		for _, c := range suspects {
			if peerClosed(c.nc) {
				c.vanish()
			}
		}
		clear(suspects)
		s.closeIdleControls(time.Now().Add(-killIdleTimeout))
	}
}

// longCommands appends to dst the clients whose current command was
// already running at the previous look.
func (s *Server) longCommands(dst []*clientConn) []*clientConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.clients {
		if c.longCommand() {
			dst = append(dst, c)
		}
	}
	return dst
}

// longCommand reports whether c is in the middle of the same command as at
// the previous look, and remembers the command for the next one.
func (c *clientConn) longCommand() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	long := !c.idle && c.commands != 0 && c.commands == c.watched && !c.vanished && !c.killed
	c.watched = c.commands
	return long
}

// vanish marks c as gone: a wait for a backend ends, a relay in progress is
// cut (finish then stops the statement on the server).
func (c *clientConn) vanish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.vanished || c.idle {
		return
	}
	c.vanished = true
	if c.cancelWait != nil {
		c.cancelWait()
	}
	if c.cur != nil {
		_ = c.cur.NetConn().SetDeadline(aLongTimeAgo)
	}
	c.srv.counts.vanished.Add(1)
	c.srv.log.Debug("rdsmux/proxy: client went away during a command; stopping it", "client", c.id, "user", c.user)
}

// isVanished reports whether the watcher found c gone.
func (c *clientConn) isVanished() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vanished
}

// stopVanished runs, in finish, for a client that vanished while its
// statement ran on be: the statement is KILLed on the server before be's
// slot is freed, so that the server never runs more statements than the
// pool holds connections.
func (c *clientConn) stopVanished(be *BackendConn) {
	if err := c.srv.killQuery(c.key, be); err != nil {
		c.srv.log.Warn("rdsmux/proxy: could not stop the statement of a client that went away; "+
			"the server ends it when it next writes to the closed connection", "client", c.id, "user", c.user, "err", err)
		return
	}
	c.srv.counts.vanishKills.Add(1)
}

// erNoSuchThread is ER_NO_SUCH_THREAD: the connection to KILL is gone.
const erNoSuchThread = 1094

// errKillElsewhere: the control connection reached another server than the
// statement's backend (a pool whose Dial is not Backend.Dial, and follows
// the writer); a KILL there could stop an unrelated session with the same
// connection id, so none is sent.
var errKillElsewhere = errors.New("rdsmux/proxy: the control connection reached another server than the statement's; not sending KILL QUERY")

// killQuery sends KILL QUERY for the statement running on be, as the
// partition key's account, over a control connection to the same server
// address as be: Backend.Dial dials that address itself, not through its
// DialContext (a failover dialer reaches the current writer, and the
// statement may run on a former one). It refuses to send the KILL anywhere
// else.
func (s *Server) killQuery(key string, be *BackendConn) error {
	id := be.cc.Handshake().ConnectionID
	addr := be.cc.NetConn().RemoteAddr().String()
	slot := key + "\x00" + addr
	w := &s.watch
	w.killMu.Lock()
	defer w.killMu.Unlock()
	ctx, cancel := context.WithTimeout(s.ctx, killTimeout)
	defer cancel()
	cc := w.controls[slot]
	if cc != nil && !cc.be.IsValid() {
		_ = cc.conn.Close()
		delete(w.controls, slot)
		cc = nil
	}
	if cc == nil {
		conn, err := s.Pool.DialControl(context.WithValue(ctx, exactAddrKey{}, addr), key)
		if err != nil {
			return fmt.Errorf("rdsmux/proxy: opening a control connection for KILL QUERY: %w", err)
		}
		ctl, ok := pool.Unwrap(conn).(*BackendConn)
		if !ok {
			_ = conn.Close()
			return fmt.Errorf("rdsmux/proxy: misconfigured listener: the pool's Dial must be proxy.Backend.Dial (got %T)", conn)
		}
		if got := ctl.cc.NetConn().RemoteAddr().String(); got != addr {
			_ = conn.Close()
			return fmt.Errorf("%w (statement on %s, control connection to %s)", errKillElsewhere, addr, got)
		}
		if w.controls == nil {
			w.controls = make(map[string]*controlConn)
		}
		cc = &controlConn{be: ctl, conn: conn}
		w.controls[slot] = cc
	}
	cc.used = time.Now()
	err := cc.be.Exec(ctx, "KILL QUERY "+strconv.FormatUint(uint64(id), 10))
	var e *wire.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e) && e.Code == erNoSuchThread:
		return nil // the connection ended by itself
	case errors.As(err, &e):
		return fmt.Errorf("rdsmux/proxy: KILL QUERY %d: %w", id, err)
	}
	_ = cc.conn.Close()
	delete(w.controls, slot)
	return fmt.Errorf("rdsmux/proxy: KILL QUERY %d: %w", id, err)
}

// closeIdleControls closes control connections unused since before.
func (s *Server) closeIdleControls(before time.Time) {
	w := &s.watch
	w.killMu.Lock()
	defer w.killMu.Unlock()
	for key, cc := range w.controls {
		if cc.used.Before(before) {
			_ = cc.conn.Close()
			delete(w.controls, key)
		}
	}
}
