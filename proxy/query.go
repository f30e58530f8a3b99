package proxy

import (
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// classify classifies sql into r. sql may alias the client's read buffer;
// when the result keeps parts of it (a schema name, setting values), it is
// classified again from a copy, so nothing the session records aliases the
// buffer.
func (c *clientConn) classify(sql string, r *pinning.Result) {
	cl := c.srv.classifier
	if c.noBackslash {
		cl = c.srv.classifierNBE
	}
	cl.Classify(sql, r)
	if r.Schema != "" || r.DroppedSchema != "" || r.ChangesSettings() {
		cl.Classify(strings.Clone(sql), r)
	}
}

// query runs COM_QUERY: the text is classified, the session borrows a
// backend (or uses the one it holds), and the response is relayed.
func (c *clientConn) query(p []byte) error {
	c.srv.counts.queries.Add(1)
	var sql string
	if len(p) > 1 {
		// The packet stays untouched until the next command is read.
		sql = unsafe.String(&p[1], len(p)-1)
	}
	r := &c.res
	c.classify(sql, r)
	if r.Statements > 1 && !c.multiStmts {
		return c.writeErr(errMultiStatements)
	}
	c.logPins(r, sql)
	return c.runFor(p, sql, r, wire.ModeText)
}

// initDB runs COM_INIT_DB, which the session records as a USE.
func (c *clientConn) initDB(p []byte) error {
	r := &c.res
	r.Reset()
	r.Statements = 1
	r.Schema = string(p[1:])
	return c.run(p, r, wire.ModeText)
}

// passThrough runs a command that changes no session state
// (COM_FIELD_LIST, COM_STATISTICS).
func (c *clientConn) passThrough(p []byte, mode wire.Mode) error {
	return c.run(p, nil, mode)
}

// run relays command packet p, classified as r (nil: no state change), on
// a backend.
func (c *clientConn) run(p []byte, r *pinning.Result, mode wire.Mode) error {
	return c.runFor(p, "", r, mode)
}

// runFor is run for statement text sql (see acquireFor).
func (c *clientConn) runFor(p []byte, sql string, r *pinning.Result, mode wire.Mode) error {
	start := time.Now()
	hadState := c.hasState()
	b, be, ok, err := c.acquireFor(sql, r)
	if !ok {
		return err
	}
	var o outcome
	c.exchange(be, p, mode, r, &o, start)
	return c.finish(b, be, r, &o, hadState)
}

// exchange sends command packet p, which runs a statement classified as r
// (nil: none), to be and relays the response, read in mode, into o; start
// is when the client's command arrived. A LAST_INSERT_ID() read that
// sendAhead sent behind p is read once the client has its answer.
func (c *clientConn) exchange(be *BackendConn, p []byte, mode wire.Mode, r *pinning.Result, o *outcome, start time.Time) {
	sent := time.Now()
	ahead, err := c.sendAhead(be, p, r)
	if err != nil {
		o.beErr = err
		return
	}
	c.relay(be, mode, o)
	c.srv.observeCommand(start, sent)
	if ahead {
		c.readAhead(be, o)
	}
}

// sendAhead sends command packet p, which runs a statement classified as
// r, to be. A COMMIT after which the pool would read LAST_INSERT_ID() back
// before giving the backend up (pool.Session.SettleAhead, true only for a
// lone COMMIT or ROLLBACK, whose answer is one response) gets that read
// sent in the same write, and ahead is true: the caller reads its answer
// with readAhead after relaying p's.
func (c *clientConn) sendAhead(be *BackendConn, p []byte, r *pinning.Result) (ahead bool, err error) {
	if c.sess.SettleAhead(r) {
		return true, be.cc.WriteQueryAhead(p, pool.LastIDQuery)
	}
	return false, send(be, p)
}

// readAhead reads the response of the LAST_INSERT_ID() read sent behind
// the client's statement (pool.Session.SettleAhead) into o, once the
// client has its own answer: the read costs the client no wait. If the
// backend fails here, the client's statement has been answered; finish
// then gives the pool a broken backend, which it drops with the session's
// value.
func (c *clientConn) readAhead(be *BackendConn, o *outcome) {
	if o.beErr != nil || o.fatal {
		return // nothing more comes, or the connection is closing
	}
	if o.clientErr == nil && !o.infile {
		o.clientErr = c.sc.Flush()
	}
	v, _, err := be.cc.ReadQueryValue(c.srv.ctx)
	if err != nil {
		return // a server error leaves the pool to ask; an I/O error broke be
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		o.lastID, o.lastIDRead = n, true
	}
}
