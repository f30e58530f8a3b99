package proxy

import (
	"errors"
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
//     server with KILL QUERY (the pool's Killer, over a control connection
//     of the partition's account to the same server, outside the pool),
//     and the backend is closed, not reused.
//
// A client that vanishes without a FIN (a host that lost power) is not seen
// this way; TCP keepalive and IdleClientTimeout remain the bound there.

// vanishCheckInterval is how often the watcher looks for clients that went
// away during a command. A command must run through one whole interval
// before its client is checked, so quick commands cost nothing.
const vanishCheckInterval = 200 * time.Millisecond

// watcher is the Server's goroutine that finds vanished clients, and the
// Killer it and the clients use to stop their statements.
type watcher struct {
	once sync.Once     // starts run
	stop chan struct{} // closed by stopWatch
	done chan struct{} // closed when run returns

	killOnce sync.Once    // creates killer
	killer   *pool.Killer // set by killOnce
}

// killer returns the Server's Killer, creating it on first use.
func (s *Server) killer() *pool.Killer {
	w := &s.watch
	w.killOnce.Do(func() { w.killer = pool.NewKiller(s.Pool, pool.KillerConfig{ErrorNumber: wireErrorNumber}) })
	return w.killer
}

// wireErrorNumber is the killer's KillerConfig.ErrorNumber.
func wireErrorNumber(err error) (uint16, bool) {
	var e *wire.Error
	if errors.As(err, &e) {
		return e.Code, true
	}
	return 0, false
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
	s.killer().Close()
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
	c.srv.log.Debug("proxy: client went away during a command; stopping it", "client", c.id, "user", c.user)
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
	if err := c.srv.killer().Kill(c.srv.ctx, c.key, be); err != nil {
		c.srv.log.Warn("proxy: could not stop the statement of a client that went away; "+
			"the server ends it when it next writes to the closed connection", "client", c.id, "user", c.user, "err", err)
		return
	}
	c.srv.counts.vanishKills.Add(1)
}
