package proxy

import (
	"bytes"
	"fmt"
	"time"

	"github.com/rdsmux/rdsmux/metacache"
	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// clientStmt is a prepared statement as the client sees it: a virtual id
// mapped to the statement's text. It is prepared on each backend it runs on
// (lazily, then cached there), so it does not pin the session.
type clientStmt struct {
	id    uint32
	query string
	// state is the session state the client prepared the statement in
	// (nil: the baseline); every backend prepares it in that state.
	state      *pool.State
	res        pinning.Result // the text's classification
	numParams  uint16
	numColumns uint16
	// types are the parameter types the client last bound (2 bytes per
	// parameter), replayed to a backend that has other types for the
	// statement when the client executes without binding them again.
	types []byte
	// longData are COM_STMT_SEND_LONG_DATA packets (copies) waiting for
	// the next execute, which replays them on its backend.
	longData     [][]byte
	longDataSize int
	// cursor: an execute opened a cursor on the held backend, on
	// cursorStmt; the session holds the backend until it is read or
	// closed.
	cursor     bool
	cursorStmt *backendStmt
	// held are the column definitions the client holds for the
	// statement, from the prepare answer or the last execute that sent
	// them: a client with MariaDB's metadata cache is sent definitions at
	// execute only when a server would send them (see metacache.go).
	held metacache.Held
}

// stmtKey identifies a statement prepared on a backend: the session state
// the backend was in when it was prepared (pool.PooledConn.StateKey: database,
// sql_mode, character sets and every other tracked setting, which the
// server fixes at PREPARE time) and its text.
type stmtKey struct{ state, query string }

// maxLongData bounds the long data buffered for one statement.
const maxLongData = wire.DefaultMaxPacketSize

// prepare answers COM_STMT_PREPARE: the statement is prepared on the
// borrowed backend (unless that backend has it cached), and the client
// gets a virtual id with the backend's parameter and column definitions.
func (c *clientConn) prepare(p []byte) error {
	c.srv.counts.prepares.Add(1)
	query := string(p[1:])
	hadState := c.hasState()
	b, be, ok, err := c.acquire()
	if !ok {
		return err
	}
	state := c.sess.State()
	// The server makes checks at PREPARE that depend on more than the
	// cache key: under LOCK TABLES a table not locked (1100), in a READ
	// ONLY transaction a write (1792). A statement cached before would
	// hide their error, so there the client's PREPARE goes to the server,
	// as it does elsewhere when the cached statement was prepared there.
	bs, err := c.backendStmt(be, state, query, true)
	if err != nil {
		return c.failBefore(b, be, err, hadState)
	}
	c.nextStmtID++
	cs := &clientStmt{id: c.nextStmtID, query: query, state: state, numParams: bs.numParams, numColumns: bs.numColumns}
	cl := c.srv.classifier
	if c.noBackslash {
		cl = c.srv.classifierNBE
	}
	cl.Classify(query, &cs.res)
	c.stmts[cs.id] = cs
	o := outcome{status: be.cc.Status(), prepared: true}
	o.clientErr = c.writePrepareOK(cs, bs, o.status)
	cs.held = metacache.Held{Defs: bs.columns, State: state, Results: c.resultsCharset()}
	return c.finish(b, be, nil, &o, hadState)
}

// writePrepareOK writes the client's COM_STMT_PREPARE_OK, built from the
// backend's definitions, in the client's EOF style.
func (c *clientConn) writePrepareOK(cs *clientStmt, bs *backendStmt, status wire.Status) error {
	sc := c.sc
	buf := wire.AppendPrepareOK(sc.Scratch(), wire.PrepareOK{StatementID: cs.id, NumColumns: bs.numColumns, NumParams: bs.numParams})
	if err := sc.WritePacket(buf); err != nil {
		return err
	}
	for _, defs := range [2][][]byte{bs.params, bs.columns} {
		if len(defs) == 0 {
			continue
		}
		for _, d := range defs {
			if err := sc.WritePacket(d); err != nil {
				return err
			}
		}
		if !sc.DeprecateEOF() {
			buf = wire.AppendEOF(buf[:0], wire.EOF{Status: status})
			if err := sc.WritePacket(buf); err != nil {
				return err
			}
		}
	}
	sc.KeepScratch(buf)
	return nil
}

// backendStmt returns query prepared on be in the session's state, from
// be's cache or prepared now. For a client's PREPARE (client) the cached
// statement serves only if both its PREPARE and this one run with no
// transaction open and no LOCK TABLES (backendStmt.checked). An error is a server error (*wire.Error: the
// statement does not prepare) or a backend failure.
func (c *clientConn) backendStmt(be *BackendConn, state *pool.State, query string, client bool) (*backendStmt, error) {
	key := stmtKey{state: state.Key(), query: query}
	if bs := be.stmts.get(key); bs != nil {
		if !client || bs.checked && c.checkedPrepare() {
			return bs, nil
		}
		be.stmts.remove(bs)
		c.closeBackendStmt(be, bs)
	}
	b := c.sess.Held()
	if key.state == b.PrepareKey() {
		return c.prepareOn(be, key)
	}
	// Prepared by the client in another state (before a USE or SET
	// NAMES): prepared here in that state, as the client prepared it.
	var bs *backendStmt
	err := c.sess.InState(c.srv.ctx, b, state, func() error {
		var err error
		bs, err = c.prepareOn(be, key)
		return err
	})
	if bs != nil {
		// Not checked as a client's PREPARE in that state would be
		// (InState does not switch tx_read_only): never served to one.
		bs.checked = false
	}
	return bs, err
}

// checkedPrepare reports whether a PREPARE now runs with no transaction
// open and no LOCK TABLES, so that the server checks it against the
// session state alone (see backendStmt.checked).
func (c *clientConn) checkedPrepare() bool {
	return !c.sess.InTransaction() && !c.sess.PinReasons().Has(pinning.PinLockTables)
}

// prepareOn prepares key's query on be, which is in key's state, and
// caches it.
func (c *clientConn) prepareOn(be *BackendConn, key stmtKey) (*backendStmt, error) {
	query := key.query
	cc := be.cc
	pkt := append(append(cc.Scratch(), byte(wire.ComStmtPrepare)), query...)
	cc.ResetSeq()
	err := cc.WritePacketFlush(pkt)
	cc.KeepScratch(pkt)
	if err != nil {
		return nil, err
	}
	f := &be.framer
	f.Reset(wire.ModePrepare, cc.DeprecateEOF())
	bs := &backendStmt{key: key, checked: c.checkedPrepare()}
	var serverErr *wire.Error
	for !f.Done() {
		q, err := cc.ReadPacket()
		if err != nil {
			return nil, err
		}
		kind, err := f.Next(q)
		if err != nil {
			return nil, err
		}
		switch kind {
		case wire.KindERR:
			if serverErr, err = wire.ParseERR(q); err != nil {
				return nil, err
			}
		case wire.KindPrepareOK:
			po, err := wire.ParsePrepareOK(q)
			if err != nil {
				return nil, err
			}
			bs.id, bs.numParams, bs.numColumns = po.StatementID, po.NumParams, po.NumColumns
		case wire.KindParamDef:
			bs.params = append(bs.params, bytes.Clone(q))
		case wire.KindColumnDef:
			bs.columns = append(bs.columns, bytes.Clone(q))
		}
	}
	if serverErr != nil {
		return nil, serverErr
	}
	c.srv.counts.backendPrep.Add(1)
	if old := be.stmts.add(bs); old != nil {
		c.closeBackendStmt(be, old)
	}
	return bs, nil
}

// closeBackendStmt closes an evicted statement on the server (which does
// not answer COM_STMT_CLOSE).
func (c *clientConn) closeBackendStmt(be *BackendConn, bs *backendStmt) {
	for _, cs := range c.stmts {
		if cs.cursorStmt == bs {
			// Closing the statement closes its cursor.
			cs.cursor, cs.cursorStmt = false, nil
			c.cursors--
		}
	}
	pkt := wire.AppendStmtCommand(be.cc.Scratch(), wire.ComStmtClose, bs.id)
	_ = send(be, pkt)
	be.cc.KeepScratch(pkt)
}

// lookupStmt returns the client's statement named by a statement command.
func (c *clientConn) lookupStmt(p []byte) (*clientStmt, uint32, bool) {
	id, err := wire.StatementID(p)
	if err != nil {
		return nil, 0, false
	}
	cs := c.stmts[id]
	return cs, id, cs != nil
}

// paramTypes returns the parameter types bound by a COM_STMT_EXECUTE
// packet, or nil when it binds none (the server keeps the previous ones).
func paramTypes(p []byte, numParams int) ([]byte, error) {
	if numParams == 0 {
		return nil, nil
	}
	off := 10 + (numParams+7)/8
	if len(p) <= off {
		return nil, fmt.Errorf("%w: COM_STMT_EXECUTE: null bitmap truncated", wire.ErrMalformed)
	}
	if p[off] != 1 {
		return nil, nil
	}
	end := off + 1 + 2*numParams
	if len(p) < end {
		return nil, fmt.Errorf("%w: COM_STMT_EXECUTE: parameter types truncated", wire.ErrMalformed)
	}
	return p[off+1 : end], nil
}

// execute runs COM_STMT_EXECUTE on a borrowed backend, preparing the
// statement there first if needed, with the client's id mapped to the
// backend's.
func (c *clientConn) execute(p []byte) error {
	start := time.Now()
	c.srv.counts.executes.Add(1)
	cs, id, ok := c.lookupStmt(p)
	if !ok {
		return c.writeErr(unknownStmt(id, "mysqld_stmt_execute"))
	}
	n := int(cs.numParams)
	types, err := paramTypes(p, n)
	if err != nil {
		return c.writeErr(wire.NewError(wire.ErUnknownError, wire.StateGeneral, "%v", err))
	}
	if types != nil {
		cs.types = append(cs.types[:0], types...)
	}
	if cs.longDataSize > maxLongData {
		cs.longData, cs.longDataSize = nil, 0
		return c.writeErr(wire.NewError(wire.ErNetPacketTooLarge, wire.StateGeneral,
			"rdsmux: the long data sent for statement %d exceeds %d bytes", cs.id, maxLongData))
	}
	hadState := c.hasState()
	b, be, ok, err := c.acquireFor(cs.query, &cs.res)
	if !ok {
		return err
	}
	bs, err := c.backendStmt(be, cs.state, cs.query, false)
	if err != nil {
		return c.failBefore(b, be, err, hadState)
	}
	if bs.numParams != cs.numParams {
		be.stmts.remove(bs)
		c.closeBackendStmt(be, bs)
		return c.failBefore(b, be, wire.NewError(wire.ErUnknownStmtHandler, wire.StateGeneral,
			"rdsmux: statement %d now has %d parameters on the server, %d when it was prepared; prepare it again",
			cs.id, bs.numParams, cs.numParams), hadState)
	}
	o := outcome{stmt: cs}
	for _, ld := range cs.longData {
		_ = wire.SetStatementID(ld, bs.id)
		if err := send(be, ld); err != nil {
			o.beErr = err
			break
		}
	}
	cs.longData, cs.longDataSize = nil, 0
	pkt := p
	if types == nil && n > 0 && cs.types != nil && !bytes.Equal(bs.types, cs.types) {
		// The backend's statement has other (or no) types: bind the
		// client's again.
		pkt, err = wire.WithParamTypes(c.scratch[:0], p, n, cs.types)
		if err != nil {
			return c.failBefore(b, be, wire.NewError(wire.ErUnknownError, wire.StateGeneral, "%v", err), hadState)
		}
		c.scratch = pkt
	}
	_ = wire.SetStatementID(pkt, bs.id)
	if cs.types != nil {
		bs.types = append(bs.types[:0], cs.types...)
	}
	if o.beErr == nil {
		c.exchange(be, pkt, wire.ModeBinary, &cs.res, &o, start)
	}
	if cs.cursor { // re-executing closes the previous cursor
		cs.cursor, cs.cursorStmt = false, nil
		c.cursors--
	}
	if o.cursor && o.beErr == nil {
		cs.cursor, cs.cursorStmt = true, bs
		c.cursors++
		c.srv.counts.cursorHolds.Add(1)
	}
	return c.finish(b, be, &cs.res, &o, hadState)
}

// fetch runs COM_STMT_FETCH on the backend that holds the cursor.
func (c *clientConn) fetch(p []byte) error {
	start := time.Now()
	cs, id, ok := c.lookupStmt(p)
	if !ok {
		return c.writeErr(unknownStmt(id, "mysqld_stmt_fetch"))
	}
	if !cs.cursor || c.sess.Held() == nil {
		return c.writeErr(errNoCursor)
	}
	hadState := c.hasState()
	b, be, ok, err := c.acquire()
	if !ok {
		return err
	}
	_ = wire.SetStatementID(p, cs.cursorStmt.id)
	var o outcome
	c.exchange(be, p, wire.ModeFetch, nil, &o, start)
	if o.lastRow {
		cs.cursor, cs.cursorStmt = false, nil
		c.cursors--
	}
	return c.finish(b, be, nil, &o, hadState)
}

// sendLongData buffers COM_STMT_SEND_LONG_DATA until the execute, which
// replays it on the backend it runs on. The server does not answer.
func (c *clientConn) sendLongData(p []byte) error {
	cs, _, ok := c.lookupStmt(p)
	if !ok {
		return nil
	}
	cs.longDataSize += len(p)
	if cs.longDataSize <= maxLongData {
		cs.longData = append(cs.longData, bytes.Clone(p))
	}
	return nil
}

// resetStmt answers COM_STMT_RESET: buffered long data is dropped, and an
// open cursor is closed on its backend.
func (c *clientConn) resetStmt(p []byte) error {
	cs, id, ok := c.lookupStmt(p)
	if !ok {
		return c.writeErr(unknownStmt(id, "mysqld_stmt_reset"))
	}
	cs.longData, cs.longDataSize = nil, 0
	if !cs.cursor || c.sess.Held() == nil {
		return c.writeOK()
	}
	hadState := c.hasState()
	b, be, ok, err := c.acquire()
	if !ok {
		return err
	}
	_ = wire.SetStatementID(p, cs.cursorStmt.id)
	cs.cursor, cs.cursorStmt = false, nil
	c.cursors--
	var o outcome
	if err := send(be, p); err != nil {
		o.beErr = err
	} else {
		c.relay(be, wire.ModeText, &o)
	}
	return c.finish(b, be, nil, &o, hadState)
}

// closeStmt handles COM_STMT_CLOSE (no answer): the client's id is
// forgotten; the backends keep their cached statements. An open cursor is
// closed on its backend, which the session then gives back.
func (c *clientConn) closeStmt(p []byte) error {
	cs, id, ok := c.lookupStmt(p)
	if !ok {
		return nil
	}
	delete(c.stmts, id)
	if !cs.cursor || c.sess.Held() == nil {
		return nil
	}
	hadState := c.hasState()
	b, be, ok, err := c.acquire()
	if !ok {
		return err
	}
	pkt := wire.AppendStmtCommand(be.cc.Scratch(), wire.ComStmtReset, cs.cursorStmt.id)
	cs.cursor, cs.cursorStmt = false, nil
	c.cursors--
	var o outcome
	err = send(be, pkt)
	be.cc.KeepScratch(pkt)
	if err != nil {
		o.beErr = err
	} else {
		c.discard(be, wire.ModeText, &o)
	}
	return c.finish(b, be, nil, &o, hadState)
}

// discard reads one response from be without relaying it.
func (c *clientConn) discard(be *BackendConn, mode wire.Mode, o *outcome) {
	f := &be.framer
	f.Reset(mode, be.cc.DeprecateEOF())
	for !f.Done() {
		q, err := be.cc.ReadPacket()
		if err != nil {
			o.beErr = err
			return
		}
		if _, err := f.Next(q); err != nil {
			o.beErr = err
			return
		}
	}
	o.status = f.Status() &^ wire.StatusMoreResultsExist
	be.cc.SetStatus(o.status)
}

// forgetStatements drops the client's prepared statements (after
// COM_RESET_CONNECTION or COM_CHANGE_USER).
func (c *clientConn) forgetStatements() {
	clear(c.stmts)
	c.cursors = 0
}

// dropCursors forgets open cursors after the session lost its backend.
func (c *clientConn) dropCursors() {
	for _, cs := range c.stmts {
		cs.cursor, cs.cursorStmt = false, nil
	}
	c.cursors = 0
}
