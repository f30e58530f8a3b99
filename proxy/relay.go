package proxy

import (
	"errors"
	"fmt"

	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// outcome is what relaying one response found.
type outcome struct {
	status    wire.Status // server status after the response
	serverErr *wire.Error // the response ended with this ERR
	beErr     error       // the backend failed (I/O or protocol): it is broken
	clientErr error       // writing to the client failed: it is gone
	insertID  uint64      // last non-zero insert id of an OK packet
	warnings  uint16      // warning count of the last OK or EOF
	rows      bool        // a result set came back
	infile    bool        // the server asked for a LOCAL INFILE, refused (infile.go)
	cursor    bool        // a COM_STMT_EXECUTE opened a cursor
	lastRow   bool        // a COM_STMT_FETCH reached the end of the cursor
	fatal     bool        // serverErr says the server closes the connection
	prepared  bool        // the command was the client's COM_STMT_PREPARE
	// lastIDRead: LAST_INSERT_ID() was read right after the command
	// (readAhead), and lastID is the value.
	lastIDRead bool
	lastID     uint64
	// stmt is the statement of a COM_STMT_EXECUTE, whose result's column
	// definitions the metadata cache may leave out (metacache.go); nil
	// for other commands.
	stmt *clientStmt
}

// fatalServerError reports whether a server error ends the connection it
// came on: the connection was killed, or the server is shutting down.
func fatalServerError(code uint16) bool {
	return code == wire.ErConnectionKilled || code == wire.ErServerShutdown
}

// translator returns the EOF translator from a backend with the given
// CLIENT_DEPRECATE_EOF setting to this client.
func (c *clientConn) translator(srcDeprecate bool) *wire.EOFTranslator {
	i := 0
	if srcDeprecate {
		i = 1
	}
	if c.trans[i] == nil {
		c.trans[i] = wire.NewEOFTranslator(srcDeprecate, c.sc.DeprecateEOF())
	}
	return c.trans[i]
}

// send writes a command packet (command byte included) to the backend.
func send(be *BackendConn, p []byte) error {
	be.cc.ResetSeq()
	return be.cc.WritePacketFlush(p)
}

// relay reads one response of the given mode from be and writes it to the
// client, translating EOF styles: each packet is copied once, from the
// backend's read buffer into the client's write buffer. When the client
// cannot be written to, the rest of the response is still read, so the
// backend stays usable. The client's buffer is not flushed.
func (c *clientConn) relay(be *BackendConn, mode wire.Mode, o *outcome) {
	f := &be.framer
	deprecate := be.cc.DeprecateEOF()
	f.Reset(mode, deprecate)
	tr := c.translator(deprecate)
	caps := be.cc.Capabilities()
	seen := false // an OK or EOF set the status
	forward := true
	// With MariaDB's metadata cache, every column count gets the
	// metadata-follows byte, and the definitions of an execute's result
	// are held back (holding) until the listener knows whether the
	// client needs them (metacache.go).
	cache := c.cacheMetadata()
	results, held := 0, 0
	holding := false
	for !f.Done() {
		p, err := be.cc.ReadPacket()
		if err != nil {
			o.beErr = err
			return
		}
		kind, err := f.Next(p)
		if err != nil {
			o.beErr = err
			return
		}
		switch kind {
		case wire.KindOK:
			seen = true
			var ok wire.OK
			if wire.ParseOK(p, caps, &ok) == nil && ok.LastInsertID != 0 {
				o.insertID = ok.LastInsertID
			}
		case wire.KindERR:
			if e, err := wire.ParseERR(p); err == nil {
				o.serverErr = e
				o.fatal = fatalServerError(e.Code)
			}
		case wire.KindColumnCount:
			o.rows = true
			results++
			if !cache || !forward || o.clientErr != nil {
				break
			}
			if c.cachedResult(mode, o, results) {
				holding, held = true, 0
			} else {
				o.clientErr = c.writeColumnCount(f.Columns(), true)
			}
			continue
		case wire.KindColumnDef:
			if !holding {
				break
			}
			// The translator still sees the definition (an EOF may be
			// due after the last one); it is written, or not, with the
			// column count once all are held.
			tr.Translate(f, kind, p)
			if held = c.holdDefinition(held, p); uint64(held) == f.Columns() {
				holding = false
				o.clientErr = c.writeCachedMetadata(o.stmt, f.Columns())
			}
			continue
		case wire.KindResultEnd, wire.KindMetadataEOF:
			seen = true
		case wire.KindLocalInfile:
			// The client's file is streamed to the backend (infile.go);
			// refused, the server gets an empty file and the client an
			// error instead of whatever follows.
			if !c.relayInfile(be, p, o) {
				o.infile, forward = true, false
			}
			if o.beErr != nil {
				return
			}
			continue
		}
		if !forward || o.clientErr != nil {
			continue
		}
		a, b := tr.Translate(f, kind, p)
		if a != nil {
			o.clientErr = c.sc.WritePacket(a)
		}
		if b != nil && o.clientErr == nil {
			o.clientErr = c.sc.WritePacket(b)
		}
	}
	if seen {
		o.warnings = f.Warnings()
		o.status = f.Status() &^ wire.StatusMoreResultsExist
	} else {
		o.status = be.cc.Status()
	}
	be.cc.SetStatus(o.status)
	if mode == wire.ModeBinary && o.status&wire.StatusCursorExists != 0 {
		o.cursor = true
	}
	if mode == wire.ModeFetch && o.status&wire.StatusLastRowSent != 0 {
		o.lastRow = true
	}
}

// acquire borrows the session's backend for a command. On failure the
// client has been sent the error and ok is false.
func (c *clientConn) acquire() (b *pool.PooledConn, be *BackendConn, ok bool, err error) {
	return c.acquireFor("", nil)
}

// acquireFor borrows the session's backend for statement sql classified as
// r: a statement that reads what the previous one left on its connection
// (ROW_COUNT(), FOUND_ROWS(), SHOW WARNINGS...) gets that connection, or an
// error when it is gone (see pool.Session.AcquireFor).
func (c *clientConn) acquireFor(sql string, r *pinning.Result) (b *pool.PooledConn, be *BackendConn, ok bool, err error) {
	b, aerr := c.sess.AcquireFor(c.waitCtx, sql, r)
	if aerr != nil {
		if c.isVanished() {
			return nil, nil, false, errCloseClient
		}
		e := backendError(aerr)
		if errors.Is(aerr, pool.ErrLookBehindLost) {
			c.srv.counts.lookBehindLost.Add(1)
		} else if e.Code == ErBorrowTimeout {
			c.srv.counts.borrowTimeouts.Add(1)
		} else {
			c.srv.counts.backendErrors.Add(1)
		}
		if backendAuthRefused(aerr) {
			c.srv.log.Warn("proxy: the database refused the backend credentials for a client user", "client", c.id, "user", c.user, "err", aerr)
		} else {
			c.srv.log.Debug("proxy: no backend for a client command", "client", c.id, "user", c.user, "err", aerr)
		}
		return nil, nil, false, c.writeErr(e)
	}
	be, isOurs := b.Conn().(*BackendConn)
	if !isOurs {
		c.sess.Done(c.srv.ctx, b, nil, pool.Status{})
		return nil, nil, false, c.writeErr(wire.NewError(wire.ErUnknownError, wire.StateGeneral,
			"rdsmux: misconfigured listener: the pool's Dial must be proxy.Target.Dial (got %T)", b.Conn()))
	}
	c.setRelay(be.cc)
	return b, be, true, nil
}

// hasState reports whether the session keeps state on its held backend
// that a failure of that backend loses (a transaction, a pin, a cursor).
func (c *clientConn) hasState() bool {
	return c.sess.Held() != nil && (c.sess.InTransaction() || c.sess.Pinned() || c.cursors > 0)
}

// finish ends a command that ran on b: it records the outcome with the
// session (which gives b back unless something holds it), tells the client
// about failures and flushes. hadState is hasState before the command: a
// client whose transaction or pinned state died with its backend is
// disconnected after the error, as a server crash would, rather than
// carry on believing the state exists. r may be nil.
func (c *clientConn) finish(b *pool.PooledConn, be *BackendConn, r *pinning.Result, o *outcome, hadState bool) error {
	if c.setRelay(nil) {
		return c.finishVanished(b, be)
	}
	st := pool.Status{InTransaction: o.status&wire.StatusInTrans != 0}
	switch {
	case o.beErr != nil:
		be.markBroken(o.beErr)
		st.Err = fmt.Errorf("%w: %w", pool.ErrBroken, o.beErr)
	case o.fatal:
		be.markBroken(o.serverErr)
		st.Err = fmt.Errorf("%w: %w", pool.ErrBroken, o.serverErr)
	case o.serverErr != nil:
		st.Err = o.serverErr
	}
	if o.beErr == nil {
		st.InsertID = o.insertID
		// A write that returned rows (INSERT ... RETURNING, CALL): its
		// insert id is not visible.
		st.InsertIDUnknown = o.insertID == 0 && o.rows && r != nil && !r.ReadOnly
	}
	st.MoreResults = c.cursors > 0
	st.Prepared = o.prepared
	st.LastIDRead, st.LastID = o.lastIDRead, o.lastID
	st.Warnings = int(o.warnings)
	if o.serverErr != nil {
		st.Warnings = max(st.Warnings, 1)
	}
	c.sess.Done(c.srv.ctx, b, r, st)
	if c.sess.Held() == nil && c.cursors > 0 {
		c.dropCursors()
	}
	if o.beErr == nil && !o.fatal && o.clientErr == nil && c.sess.StateLost() {
		// The statement ran, but its backend broke afterwards (while the
		// pool read back the settings it changed), and the client's
		// transaction or pinned state went with it: end the connection,
		// as a server crash would, rather than let the client go on
		// without it.
		c.srv.counts.backendErrors.Add(1)
		c.srv.log.Warn("proxy: backend connection failed after a client command; closing the client, whose session state was on it", "client", c.id, "user", c.user)
		_ = c.sc.Flush()
		return errCloseClient
	}
	if r != nil && o.beErr == nil && o.serverErr == nil && r.ChangesSettings() {
		set := c.sess.Settings()
		c.noBackslash = set.NoBackslashEscapes()
	}
	if o.clientErr != nil {
		return o.clientErr
	}
	if o.beErr != nil {
		c.status = wire.StatusAutocommit
		c.srv.counts.backendErrors.Add(1)
		c.srv.log.Warn("proxy: backend connection failed during a client command", "client", c.id, "user", c.user, "err", o.beErr)
		if err := c.writeErr(lostBackend(o.beErr)); err != nil {
			return err
		}
		if hadState {
			return errCloseClient
		}
		return nil
	}
	c.status = o.status &^ (wire.StatusCursorExists | wire.StatusLastRowSent)
	if o.fatal {
		c.srv.counts.backendErrors.Add(1)
		c.status = wire.StatusAutocommit
		if err := c.sc.Flush(); err != nil || hadState {
			return errCloseClient
		}
		return nil
	}
	if o.infile {
		return c.writeErr(c.localInfileRefusal(be))
	}
	return c.sc.Flush()
}

// finishVanished ends a command whose client went away while it ran (the
// watcher cut its relay): the statement is stopped on the server, and the
// backend, whose response was cut short, is closed before its slot is
// freed.
func (c *clientConn) finishVanished(b *pool.PooledConn, be *BackendConn) error {
	c.stopVanished(be)
	be.markBroken(errClientVanished)
	c.sess.Done(c.srv.ctx, b, nil, pool.Status{Err: fmt.Errorf("%w: %w", pool.ErrBroken, errClientVanished)})
	if c.sess.Held() == nil && c.cursors > 0 {
		c.dropCursors()
	}
	return errCloseClient
}

// errClientVanished marks a backend whose client went away mid-command.
var errClientVanished = errors.New("proxy: the client went away during the command")

// failBefore ends a command that failed on b before its packet was relayed
// (the LAST_INSERT_ID sync, a backend prepare): err is a server error (the
// client gets it) or a backend failure.
func (c *clientConn) failBefore(b *pool.PooledConn, be *BackendConn, err error, hadState bool) error {
	var e *wire.Error
	o := outcome{status: be.cc.Status()}
	if errors.As(err, &e) {
		o.serverErr = e
		if ferr := c.finish(b, be, nil, &o, hadState); ferr != nil {
			return ferr
		}
		return c.writeErr(e)
	}
	o.beErr = err
	return c.finish(b, be, nil, &o, hadState)
}
