package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// clientConn is one client connection. Its serve goroutine owns it and
// everything it holds (the wire connection, the pool session, the borrowed
// backend); other goroutines (Shutdown, Close) touch only the fields under
// mu and the net.Conn's deadlines.
type clientConn struct {
	srv *Server
	nc  net.Conn
	id  uint32 // connection id announced in the handshake

	// Owned by the serve goroutine.
	sc          *wire.ServerConn
	sess        *pool.Session
	user        string
	key         string      // pool partition
	multiStmts  bool        // the client may send ;-separated batches
	noBackslash bool        // sql_mode has NO_BACKSLASH_ESCAPES
	status      wire.Status // server status reported in local answers
	res         pinning.Result
	stmts       map[uint32]*clientStmt
	nextStmtID  uint32
	cursors     int                    // statements with a cursor open on the held backend
	trans       [2]*wire.EOFTranslator // by the backend's CLIENT_DEPRECATE_EOF
	scratch     []byte
	// metaDefs holds back the column definitions of an execute's
	// result until relay knows whether the client needs them (see
	// metacache.go); its packets are reused.
	metaDefs [][]byte
	// waitCtx bounds the client's waits for a backend: the watcher
	// cancels it (cancelWait) when the client goes away.
	waitCtx context.Context

	mu sync.Mutex
	// Guarded by mu.
	idle    bool             // waiting for the next command
	busy    bool             // a command is in flight (counted in counts.inFlight)
	holding bool             // the session holds a backend between commands
	cur     *wire.ClientConn // the backend a command is being relayed on
	killed  bool             // Close interrupted this client
	// commands counts the commands started (setBusy); watched is the
	// count the watcher saw at its previous look, vanished whether it
	// found the client gone during a command (see vanish.go).
	commands   uint64
	watched    uint64
	vanished   bool
	cancelWait context.CancelFunc
	// readDeadline is the idle read deadline waitIdle last set; zero
	// when none is known to be in force (something else moved it).
	readDeadline time.Time
}

// errCloseClient ends the client connection after a command whose error
// packet was already sent.
var errCloseClient = errors.New("proxy: closing the client connection")

// serve runs the client connection to its end.
func (c *clientConn) serve() {
	defer c.srv.removeClient(c)
	defer c.nc.Close()
	if !c.handshake() {
		return
	}
	defer c.cancelWait()
	defer c.endSession()
	defer c.setIdle()
	for {
		if !c.waitIdle() {
			return
		}
		cmd, p, err := c.sc.ReadCommand()
		c.setBusy()
		if err != nil {
			c.readFailed(err)
			return
		}
		c.srv.counts.commands.Add(1)
		if err := c.dispatch(cmd, p); err != nil {
			if !errors.Is(err, errCloseClient) && !errors.Is(err, io.EOF) {
				c.srv.log.Debug("proxy: closing client connection", "client", c.id, "user", c.user, "err", err)
			}
			return
		}
		c.setHolding(c.sess.Held() != nil)
	}
}

// handshake authenticates the client and starts its session.
func (c *clientConn) handshake() bool {
	s := c.srv
	timeout := s.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	sc, err := wire.Accept(ctx, c.nc, s.wireCfg, c.id)
	if err != nil {
		var e *wire.Error
		switch {
		case errors.As(err, &e) && e.Code == wire.ErSecureTransportNeeded:
			s.counts.setupTLS.Add(1)
			s.counts.setupAuth.Add(1)
		case errors.As(err, &e) && (e.Code == wire.ErAccessDenied || e.Code == wire.ErDBAccessDenied):
			s.counts.setupAuth.Add(1)
		default:
			s.counts.setupFailed.Add(1)
		}
		s.log.Debug("proxy: client handshake failed", "client", c.id, "remote", c.nc.RemoteAddr().String(), "err", err)
		return false
	}
	s.counts.setupOK.Add(1)
	waitCtx, cancelWait := context.WithCancel(s.ctx)
	c.mu.Lock()
	c.waitCtx, c.cancelWait = waitCtx, cancelWait
	c.mu.Unlock()
	c.sc = sc
	c.stmts = make(map[uint32]*clientStmt)
	c.multiStmts = sc.Capabilities()&wire.ClientMultiStatements != 0
	c.startSession(sc.Response())
	return true
}

// startSession starts the pool session for an authenticated user.
func (c *clientConn) startSession(r *wire.HandshakeResponse) {
	c.user = r.User
	c.key = partitionKey(r.User, c.sc.Capabilities())
	opts := pool.SessionOptions{Mode: c.srv.Mode, Schema: r.Database, Settings: collationSettings(r.Charset)}
	c.sess = c.srv.Pool.NewSession(c.key, opts)
	c.status = wire.StatusAutocommit
	c.noBackslash = false
}

// cleanupTimeout bounds what a client's end does on its backend (rollback,
// reset).
const cleanupTimeout = 5 * time.Second

// endSession closes the client's session: a held backend is rolled back,
// reset or closed, never given back dirty.
func (c *clientConn) endSession() {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := c.sess.Close(ctx); err != nil {
		c.srv.log.Debug("proxy: cleaning up a client's backend", "client", c.id, "err", err)
	}
	c.setHolding(false)
}

// waitIdle prepares to read the next command: it applies the idle timeout,
// or returns false when the server drains and this client holds nothing.
func (c *clientConn) waitIdle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killed || (c.srv.isDraining() && !c.holding) {
		return false
	}
	if idle := c.srv.idle; idle > 0 {
		// Moving the deadline updates a runtime timer: it is moved only
		// once it lags by more than a hundredth of the timeout (at most
		// a second), so an idle client is closed after at least 99% of
		// the timeout (or the timeout less a second).
		want := time.Now().Add(idle)
		if c.readDeadline.IsZero() || want.Sub(c.readDeadline) > min(idle/100, time.Second) {
			_ = c.nc.SetReadDeadline(want)
			c.readDeadline = want
		}
	}
	c.idle = true
	c.endCommandLocked()
	return true
}

// setBusy records that a command was read (or the read failed): the
// client is no longer idle, and a command is in flight until waitIdle or
// setIdle.
func (c *clientConn) setBusy() {
	c.mu.Lock()
	c.idle = false
	c.commands++
	if !c.busy {
		c.busy = true
		c.srv.counts.inFlight.Add(1)
	}
	c.mu.Unlock()
}

// setIdle ends the command in flight, if any, as the client's connection
// ends.
func (c *clientConn) setIdle() {
	c.mu.Lock()
	c.endCommandLocked()
	c.mu.Unlock()
}

// endCommandLocked ends the command in flight, if any. Called with c.mu
// held.
func (c *clientConn) endCommandLocked() {
	if c.busy {
		c.busy = false
		c.srv.counts.inFlight.Add(-1)
	}
}

func (c *clientConn) setHolding(h bool) {
	c.mu.Lock()
	c.holding = h
	c.mu.Unlock()
}

// kickIfIdle interrupts the read of an idle client that holds no backend,
// for Shutdown. Called with the server's mu held.
func (c *clientConn) kickIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle && !c.holding {
		_ = c.nc.SetReadDeadline(aLongTimeAgo)
		c.readDeadline = time.Time{}
	}
}

// interrupt stops the client at once, for Close: its connection and any
// relay in progress are cut.
func (c *clientConn) interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.killed = true
	_ = c.nc.SetDeadline(aLongTimeAgo)
	c.readDeadline = time.Time{}
	if c.cur != nil {
		_ = c.cur.NetConn().SetDeadline(aLongTimeAgo)
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// setRelay records the backend a command runs on, so that Close and the
// watcher can cut it; nil when the command is over. It reports whether
// the watcher found the client gone: a relay it may have cut.
func (c *clientConn) setRelay(cc *wire.ClientConn) (vanished bool) {
	c.mu.Lock()
	c.cur = cc
	killed, vanished := c.killed, c.vanished
	c.mu.Unlock()
	if (killed || vanished) && cc != nil {
		_ = cc.NetConn().SetDeadline(aLongTimeAgo)
	}
	return vanished
}

// readFailed handles a failed command read: the client went away, idled
// out, was drained, or sent a malformed or oversized packet.
func (c *clientConn) readFailed(err error) {
	s := c.srv
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		if !s.isDraining() {
			s.counts.idleTimeouts.Add(1)
			s.log.Debug("proxy: closing idle client connection", "client", c.id, "user", c.user, "idle", s.idle)
		}
	case errors.Is(err, wire.ErrPacketTooLarge):
		s.counts.protoErrors.Add(1)
		_ = c.sc.WriteError(wire.NewError(wire.ErNetPacketTooLarge, wire.StateCommLink,
			"Got a packet bigger than 'max_allowed_packet' bytes (rdsmux listener limit: %d)", c.sc.MaxPacketSize()))
		s.log.Info("proxy: client sent an oversized packet; closing it", "client", c.id, "user", c.user, "err", err)
	case errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrPacketSequence):
		s.counts.protoErrors.Add(1)
		_ = c.sc.WriteError(wire.NewError(wire.ErNetReadError, wire.StateCommLink, "Got an error reading communication packets"))
		s.log.Info("proxy: client sent a malformed packet; closing it", "client", c.id, "user", c.user, "err", err)
	}
}

// dispatch runs one command. A non-nil error closes the client.
func (c *clientConn) dispatch(cmd wire.Command, p []byte) error {
	switch cmd {
	case wire.ComQuit:
		return errCloseClient
	case wire.ComQuery:
		return c.query(p)
	case wire.ComPing:
		return c.writeOK()
	case wire.ComInitDB:
		return c.initDB(p)
	case wire.ComFieldList:
		return c.passThrough(p, wire.ModeFieldList)
	case wire.ComStatistics:
		return c.passThrough(p, wire.ModeStatistics)
	case wire.ComSetOption:
		return c.setOption(p)
	case wire.ComResetConnection:
		return c.resetConnection()
	case wire.ComChangeUser:
		return c.changeUser(p)
	case wire.ComStmtPrepare:
		return c.prepare(p)
	case wire.ComStmtExecute:
		return c.execute(p)
	case wire.ComStmtSendLongData:
		return c.sendLongData(p)
	case wire.ComStmtClose:
		return c.closeStmt(p)
	case wire.ComStmtReset:
		return c.resetStmt(p)
	case wire.ComStmtFetch:
		return c.fetch(p)
	}
	return c.writeErr(errUnknownCommand(cmd))
}

// writeOK answers a command locally with OK.
func (c *clientConn) writeOK() error {
	return c.sc.WriteOK(&wire.OK{Status: c.status})
}

// writeErr answers a command with an error packet.
func (c *clientConn) writeErr(e *wire.Error) error {
	return c.sc.WriteError(e)
}

// setOption answers COM_SET_OPTION locally: the multi-statements option is
// the client's own (backends always allow batches; the listener refuses
// them for clients that did not enable it).
func (c *clientConn) setOption(p []byte) error {
	if len(p) < 3 {
		return c.writeErr(wire.NewError(wire.ErUnknownComError, wire.StateSyntaxOrAccess, "Malformed COM_SET_OPTION"))
	}
	switch uint16(p[1]) | uint16(p[2])<<8 {
	case 0:
		c.multiStmts = true
	case 1:
		c.multiStmts = false
	default:
		return c.writeErr(wire.NewError(wire.ErUnknownComError, wire.StateSyntaxOrAccess, "Unknown option for COM_SET_OPTION"))
	}
	var b []byte
	if c.sc.DeprecateEOF() {
		b = wire.AppendOKAsEOF(c.sc.Scratch(), c.sc.Capabilities(), &wire.OK{Status: c.status})
	} else {
		b = wire.AppendEOF(c.sc.Scratch(), wire.EOF{Status: c.status})
	}
	err := c.sc.WritePacketFlush(b)
	c.sc.KeepScratch(b)
	return err
}

// resetConnection is the client's COM_RESET_CONNECTION: its session state
// (settings, pins, transaction, prepared statements) is cleared and a held
// backend is reset and given back.
func (c *clientConn) resetConnection() error {
	ctx, cancel := context.WithTimeout(c.srv.ctx, cleanupTimeout)
	defer cancel()
	if err := c.sess.ResetState(ctx); err != nil {
		c.srv.log.Debug("proxy: resetting a client's backend", "client", c.id, "err", err)
	}
	c.forgetStatements()
	c.status = wire.StatusAutocommit
	c.noBackslash = false
	return c.writeOK()
}

// changeUser is the client's COM_CHANGE_USER: the new user is
// authenticated against the configured users and gets a fresh session.
func (c *clientConn) changeUser(p []byte) error {
	timeout := c.srv.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(c.srv.ctx, timeout)
	defer cancel()
	// The old session ends first: what it held must not survive into the
	// new user's session, whatever the outcome.
	if err := c.sess.Close(ctx); err != nil {
		c.srv.log.Debug("proxy: cleaning up a client's backend", "client", c.id, "err", err)
	}
	c.forgetStatements()
	err := c.sc.ChangeUser(ctx, c.srv.wireCfg, p)
	c.mu.Lock()
	c.readDeadline = time.Time{} // the exchange set and cleared its own
	c.mu.Unlock()
	if err != nil {
		c.srv.counts.setupAuth.Add(1)
		c.srv.log.Debug("proxy: COM_CHANGE_USER failed", "client", c.id, "err", err)
		return errCloseClient
	}
	c.startSession(c.sc.Response())
	return nil
}

// logPins logs, at debug level, a statement that pinned the session.
func (c *clientConn) logPins(r *pinning.Result, sql string) {
	if r.Pins == 0 || !c.srv.log.Enabled(c.srv.ctx, slog.LevelDebug) {
		return
	}
	if len(sql) > 200 {
		sql = sql[:200] + "..."
	}
	c.srv.log.Debug("proxy: statement pins the client's session", "client", c.id, "user", c.user,
		"reasons", r.Pins.String(), "statement", sql)
}
