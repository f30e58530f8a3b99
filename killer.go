package rdsmux

import (
	"context"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// killer stops statements whose context was cancelled. go-sql-driver closes
// the socket at once, but the server keeps running the statement (and
// holding its locks) until it notices, so rdsmux sends KILL QUERY over a
// control connection of its own: opened on demand, one per server, closed
// after a minute without use. A connection id names a session only on its
// own server, so KILL QUERY goes only over a control connection to the
// statement's server (the same serverIdentity); when a new control
// connection reaches another one (the writer changed since the statement's
// backend was dialed), no KILL is sent, and the statement ends when its
// server notices the closed socket. KILLs are sent one at a time; when more
// than killQueueLen are waiting, further ones are dropped and logged.
type killer struct {
	logger *slog.Logger

	mu   sync.Mutex       // guards dial
	dial driver.Connector // the partition's newest way to connect

	queue chan killReq  // statements to KILL QUERY
	stop  chan struct{} // closed by close
	once  sync.Once     // starts run
	done  sync.WaitGroup
}

// killReq asks for KILL QUERY id on server; done, if not nil, is closed
// when it was sent or given up.
type killReq struct {
	id     int64
	server string
	done   chan struct{}
}

// control is a control connection, owned by the killer's run goroutine.
type control struct {
	conn driver.Conn
	used time.Time
}

const (
	killQueueLen    = 256
	killIdleTimeout = time.Minute
	killTimeout     = 5 * time.Second
	// killMaxControls bounds the control connections kept open: one per
	// server a statement was cancelled on, which is one or two unless the
	// writer changes often.
	killMaxControls = 4
)

func newKiller(dial driver.Connector, logger *slog.Logger) *killer {
	return &killer{dial: dial, logger: logger, queue: make(chan killReq, killQueueLen), stop: make(chan struct{})}
}

// kill asks server to stop the statement running on connection id and
// waits until the request was sent (at most killTimeout). The backend calls
// it from Close, so that the pool frees the connection's slot only once the
// server has been told to end it.
func (k *killer) kill(id int64, server string) {
	k.once.Do(func() {
		k.done.Add(1)
		go k.run()
	})
	req := killReq{id: id, server: server, done: make(chan struct{})}
	select {
	case k.queue <- req:
	case <-k.stop:
		return
	default:
		k.logger.Warn("rdsmux: too many cancelled statements waiting for KILL QUERY; dropped one", "connection_id", id, "server", server)
		return
	}
	select {
	case <-req.done:
	case <-time.After(killTimeout):
	}
}

// setDial switches to newer credentials for the next control connection.
func (k *killer) setDial(dial driver.Connector) {
	k.mu.Lock()
	k.dial = dial
	k.mu.Unlock()
}

// close stops the control goroutine after it has sent what is queued.
func (k *killer) close() {
	close(k.stop)
	k.done.Wait()
}

// run is the killer's goroutine, started by the first kill and ended by
// close; it owns the control connections.
func (k *killer) run() {
	defer k.done.Done()
	controls := map[string]*control{} // by server identity
	defer func() {
		for _, c := range controls {
			c.conn.Close()
		}
	}()
	tick := time.NewTicker(killIdleTimeout / 4)
	defer tick.Stop()
	for {
		var req killReq
		select {
		case req = <-k.queue:
		case now := <-tick.C:
			for server, c := range controls {
				if now.Sub(c.used) >= killIdleTimeout {
					c.conn.Close()
					delete(controls, server)
				}
			}
			continue
		case <-k.stop:
			// Send what is already queued, then stop.
			select {
			case req = <-k.queue:
			default:
				return
			}
		}
		k.send(controls, req)
		close(req.done)
	}
}

// send runs KILL QUERY for req over the control connection to req.server,
// dialing one if there is none; a control connection that fails is closed
// and forgotten.
func (k *killer) send(controls map[string]*control, req killReq) {
	ctx, cancel := context.WithTimeout(context.Background(), killTimeout)
	defer cancel()
	c := controls[req.server]
	if c == nil {
		k.mu.Lock()
		dial := k.dial
		k.mu.Unlock()
		conn, err := dial.Connect(ctx)
		if err != nil {
			k.logger.Warn("rdsmux: could not connect to KILL a cancelled statement", "connection_id", req.id, "server", req.server, "err", err)
			return
		}
		q, ok := conn.(driver.QueryerContext)
		if _, isExecer := conn.(driver.ExecerContext); !ok || !isExecer {
			conn.Close()
			k.logger.Warn("rdsmux: cannot KILL a cancelled statement: the control connection does not implement driver.QueryerContext and driver.ExecerContext", "connection_id", req.id)
			return
		}
		_, server, err := serverIdentity(ctx, q)
		if err != nil {
			conn.Close()
			k.logger.Warn("rdsmux: could not connect to KILL a cancelled statement", "connection_id", req.id, "server", req.server, "err", err)
			return
		}
		keep := len(controls) < killMaxControls && controls[server] == nil
		if keep {
			controls[server] = &control{conn: conn, used: time.Now()}
		}
		if server != req.server {
			if !keep {
				conn.Close()
			}
			// A KILL here could stop an unrelated session that has the
			// same id on this server.
			k.logger.Info("rdsmux: not sending KILL QUERY for a cancelled statement: a new connection reaches another server than the statement's (the writer changed); the statement ends when its server notices the closed connection",
				"connection_id", req.id, "server", req.server, "reached", server)
			return
		}
		if c = controls[server]; !keep {
			c = &control{conn: conn} // over the bound: used once, then closed
			defer conn.Close()
		}
	}
	c.used = time.Now()
	_, err := c.conn.(driver.ExecerContext).ExecContext(ctx, fmt.Sprintf("KILL QUERY %d", req.id), nil)
	if err != nil {
		// 1094: unknown thread id; the connection is already gone.
		k.logger.Debug("rdsmux: KILL QUERY of a cancelled statement failed", "connection_id", req.id, "server", req.server, "err", err)
		if v, ok := c.conn.(driver.Validator); ok && !v.IsValid() && controls[req.server] == c {
			c.conn.Close()
			delete(controls, req.server)
		}
	}
}
