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
// it to 0, and leaves the column definitions out, unless they changed
// since the client last received them (at prepare or at an execute that
// sent them). MariaDB 10.11, as TestCacheMetadataRule observes it, sends
// them again
//
//   - whenever the client character set (character_set_client, with the
//     collation SET NAMES ... COLLATE gives it) differs from the one they
//     were last sent under, even when they are byte for byte the same;
//   - when the statement's own metadata changed: re-prepared (ALTER TABLE
//     of a table it reads), a column whose type follows a parameter whose
//     type changed (SELECT ?), a function whose result follows
//     collation_connection (HEX(?)), decimals that follow
//     div_precision_increment;
//
// and not when only character_set_results changed: the definitions the
// client holds then keep the character set, length and name bytes of the
// old results character set. The EOF after the definitions stays for a
// client without CLIENT_DEPRECATE_EOF, and the results of a CALL (whose
// prepare announces no columns) always carry their definitions, as do text
// result sets.
//
// The listener's backends are dialed without the capability: they always
// send definitions, and any backend can serve any client. For each client
// statement the listener remembers the definitions the client holds
// (clientStmt.cols, with the session state they were produced in), and at
// each execute decides from what the backend sent:
//
//   - the client character set changed: sent;
//   - character_set_results unchanged: sent when they differ byte for
//     byte (the conversion to the results character set is a function of
//     the statement's metadata, so different bytes mean different
//     metadata), left out when equal;
//   - character_set_results changed: left out when each column has the
//     same type, flags and decimals (wire.SameColumnShape) and differs only
//     in character set, length and the bytes of its names (which the
//     results character set gives), sent otherwise.
//
// Limit: after a change of character_set_results and of collation_connection
// together (without the client character set), a column whose collation
// followed collation_connection but kept its type, flags and decimals keeps
// the client's old definitions where a server would send new ones.

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
	cs.cols, cs.colsState = cols, c.sess.State()
	return nil
}

// holdsSame reports whether the definitions defs a backend sent for an
// execute of cs need not be sent to the client (see the top of this file).
func (c *clientConn) holdsSame(cs *clientStmt, defs [][]byte) bool {
	if len(defs) != len(cs.cols) {
		return false
	}
	st := c.sess.State()
	if !st.SameValues(cs.colsState, pinning.VarCharacterSetClient, pinning.VarClientCollation) {
		return false
	}
	sameResults := st.SameValues(cs.colsState, pinning.VarCharacterSetResults)
	for i, d := range defs {
		if bytes.Equal(d, cs.cols[i]) {
			continue
		}
		if sameResults || !wire.SameColumnShape(cs.cols[i], d) {
			return false
		}
	}
	return true
}
