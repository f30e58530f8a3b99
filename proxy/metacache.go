package proxy

import (
	"bytes"
	"github.com/rdsmux/rdsmux/pinning"

	"github.com/rdsmux/rdsmux/proxy/wire"
)

// MariaDB's metadata cache (MARIADB_CLIENT_CACHE_METADATA), emulated.
//
// A client with the capability finds a metadata-follows byte after every
// column count. For the result of a COM_STMT_EXECUTE a MariaDB server sets
// it to 0, and leaves the column definitions out, unless the statement's
// metadata changed since the client last received it (at prepare or at an
// execute that sent it). MariaDB 10.11, as the tests observe it, sends it
// again when the statement was re-prepared (ALTER TABLE of a table it
// reads) and when a column's type follows a parameter whose type changed
// (SELECT ?); not when the session's character_set_results changes the
// character set and length the definitions would carry. The EOF after the
// definitions stays for a client without CLIENT_DEPRECATE_EOF, and the
// results of a CALL (whose prepare announces no columns) always carry
// their definitions, as do text result sets.
//
// The listener's backends are dialed without the capability: they always
// send definitions, and any backend can serve any client. For each client
// statement the listener remembers the definitions the client holds
// (clientStmt.cols, with the session state key they were produced in), and
// at each execute compares what the backend sent:
//
//   - byte for byte equal: left out (the common case: same server, same
//     schema, whichever backend runs the statement);
//   - different while the session is in the state the client's definitions
//     were produced in: sent (the statement was re-prepared, a parameter
//     changed a column's type, or another backend's server differs);
//   - different after the session's state changed (SET NAMES,
//     character_set_results...): left out when each column has the same
//     type, flags and decimals (wire.SameColumnShape) and differs only in
//     character set, length and the bytes of its names (which come in
//     character_set_results), as a server that did not re-prepare would
//     do; sent otherwise.
//
// Limit: a statement re-prepared (its table altered) after the session's
// character set changed, whose new definitions differ only in character
// set, length or names, keeps the client's old definitions where a server
// would send new ones.

// cachedResult reports whether the result set that starts now, the
// results-th of a response in the given mode, is one whose definitions
// the metadata cache may leave out.
func (c *clientConn) cachedResult(mode wire.Mode, o *outcome, results int) bool {
	return mode == wire.ModeBinary && results == 1 && o.stmt != nil && o.stmt.numColumns > 0 &&
		o.stmt.cols != nil && c.cacheMetadata()
}

// cacheMetadata reports whether the client uses MariaDB's metadata cache.
func (c *clientConn) cacheMetadata() bool {
	return c.sc.Capabilities()&wire.MariaDBClientCacheMetadata != 0
}

// writeColumnCount writes the packet that starts a result set of n
// columns, with the metadata-follows byte for a client that uses the
// metadata cache.
func (c *clientConn) writeColumnCount(n uint64, follows bool) error {
	buf := wire.AppendColumnCount(c.sc.Scratch(), n, follows, c.sc.Capabilities())
	err := c.sc.WritePacket(buf)
	c.sc.KeepScratch(buf)
	return err
}

// holdDefinition keeps a copy of a column definition of a cached result
// (relay reuses the packet's buffer) and returns how many are held.
func (c *clientConn) holdDefinition(i int, p []byte) int {
	if i < cap(c.metaDefs) {
		c.metaDefs = c.metaDefs[:i+1]
		c.metaDefs[i] = append(c.metaDefs[i][:0], p...)
	} else {
		c.metaDefs = append(c.metaDefs, bytes.Clone(p))
	}
	return len(c.metaDefs)
}

// writeCachedMetadata writes the start of an execute's result whose n
// column definitions are held: the column count with metadata-follows 0
// when the client holds the same definitions for cs, else 1 and the
// definitions, which the client then holds.
func (c *clientConn) writeCachedMetadata(cs *clientStmt, n uint64) error {
	defs := c.metaDefs
	c.metaDefs = c.metaDefs[:0]
	if c.holdsSame(cs, defs) {
		return c.writeColumnCount(n, false)
	}
	if err := c.writeColumnCount(n, true); err != nil {
		return err
	}
	for _, d := range defs {
		if err := c.sc.WritePacket(d); err != nil {
			return err
		}
	}
	cols := make([][]byte, len(defs))
	for i, d := range defs {
		cols[i] = bytes.Clone(d)
	}
	st := c.sess.State()
	cs.cols, cs.colsState, cs.colsParsed = cols, st.Key(), st.KeyExcept(pinning.VarCharacterSetResults)
	return nil
}

// holdsSame reports whether the definitions defs a backend sent for an
// execute of cs need not be sent to the client (see the top of this file).
func (c *clientConn) holdsSame(cs *clientStmt, defs [][]byte) bool {
	if len(defs) != len(cs.cols) {
		return false
	}
	var state, parsed string
	stateRead := false
	for i, d := range defs {
		if bytes.Equal(d, cs.cols[i]) {
			continue
		}
		if !stateRead {
			st := c.sess.State()
			state, parsed, stateRead = st.Key(), st.KeyExcept(pinning.VarCharacterSetResults), true
		}
		if state == cs.colsState {
			return false
		}
		// Only character_set_results changed: the server keeps the
		// statement's metadata (it converts names and values on the way
		// out), so the client keeps what it has.
		if parsed == cs.colsParsed {
			continue
		}
		if !wire.SameColumnShape(cs.cols[i], d) {
			return false
		}
	}
	return true
}
