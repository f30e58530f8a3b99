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
// control connection of its own: one per connector, opened on demand,
// closed after a minute without use. KILLs are sent one at a time; when more
// than killQueueLen are waiting, further ones are dropped and logged (the
// server still ends those statements when it next writes to the closed
// socket).
type killer struct {
	logger *slog.Logger

	mu   sync.Mutex       // guards dial
	dial driver.Connector // the partition's newest way to connect

	queue chan killReq  // statements to KILL QUERY
	stop  chan struct{} // closed by close
	once  sync.Once     // starts run
	done  sync.WaitGroup
}

// killReq asks for KILL QUERY id; done, if not nil, is closed when sent.
type killReq struct {
	id   int64
	done chan struct{}
}

const (
	killQueueLen    = 256
	killIdleTimeout = time.Minute
	killTimeout     = 5 * time.Second
)

func newKiller(dial driver.Connector, logger *slog.Logger) *killer {
	return &killer{dial: dial, logger: logger, queue: make(chan killReq, killQueueLen), stop: make(chan struct{})}
}

// kill asks the server to stop the statement running on connection id and
// waits until the request was sent (at most killTimeout). The backend calls
// it from Close, so that the pool frees the connection's slot only once the
// server has been told to end it.
func (k *killer) kill(id int64) {
	k.once.Do(func() {
		k.done.Add(1)
		go k.run()
	})
	req := killReq{id: id, done: make(chan struct{})}
	select {
	case k.queue <- req:
	case <-k.stop:
		return
	default:
		k.logger.Warn("rdsmux: too many cancelled statements waiting for KILL QUERY; dropped one", "connection_id", id)
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

// run owns the control connection.
func (k *killer) run() {
	defer k.done.Done()
	var conn driver.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	idle := time.NewTimer(killIdleTimeout)
	defer idle.Stop()
	for {
		var req killReq
		select {
		case req = <-k.queue:
		case <-idle.C:
			if conn != nil {
				conn.Close()
				conn = nil
			}
			idle.Reset(killIdleTimeout)
			continue
		case <-k.stop:
			// Send what is already queued, then stop.
			select {
			case req = <-k.queue:
			default:
				return
			}
		}
		conn = k.send(conn, req.id)
		close(req.done)
		idle.Reset(killIdleTimeout)
	}
}

// send runs KILL QUERY id, dialing the control connection if needed; it
// returns the connection to keep (nil after a failure).
func (k *killer) send(conn driver.Conn, id int64) driver.Conn {
	ctx, cancel := context.WithTimeout(context.Background(), killTimeout)
	defer cancel()
	if conn == nil {
		var err error
		k.mu.Lock()
		dial := k.dial
		k.mu.Unlock()
		if conn, err = dial.Connect(ctx); err != nil {
			k.logger.Warn("rdsmux: could not connect to KILL a cancelled statement", "connection_id", id, "err", err)
			return nil
		}
	}
	_, err := conn.(driver.ExecerContext).ExecContext(ctx, fmt.Sprintf("KILL QUERY %d", id), nil)
	if err != nil {
		// 1094: unknown thread id; the connection is already gone.
		k.logger.Debug("rdsmux: KILL QUERY of a cancelled statement failed", "connection_id", id, "err", err)
		if v, ok := conn.(driver.Validator); ok && !v.IsValid() {
			conn.Close()
			return nil
		}
	}
	return conn
}
