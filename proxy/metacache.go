package proxy

import (
	"bytes"
	"strings"

	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// binaryCollation is the id of the binary character set's collation.
const binaryCollation = 63

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
//     same type, flags and decimals (wire.SameColumnShape) and the same
//     length in characters (the server scales a length to the results
//     character set: charLength undoes that; a string column's length
//     follows the parameters' values, CONCAT(?, 'y')), and differs only in
//     character set, byte length and the bytes of its names; sent
//     otherwise.
//
// Limit: after a change of character_set_results and of collation_connection
// together (without the client character set), a column whose collation
// followed collation_connection but kept its type, flags, decimals and
// length in characters keeps the client's old definitions where a server
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
	cs.cols, cs.colsState, cs.colsResults = cols, c.sess.State(), c.resultsCharset()
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
	results := ""
	if !sameResults {
		results = c.resultsCharset()
	}
	for i, d := range defs {
		if bytes.Equal(d, cs.cols[i]) {
			continue
		}
		if sameResults || !wire.SameColumnShape(cs.cols[i], d) ||
			!sameCharLength(cs.cols[i], cs.colsResults, d, results) {
			return false
		}
	}
	return true
}

// resultsCharset returns the session's character_set_results, lowercase
// and unquoted ("" for NULL).
func (c *clientConn) resultsCharset() string {
	v, _ := c.sess.Value(pinning.VarCharacterSetResults)
	if v == "NULL" {
		return ""
	}
	return strings.ToLower(strings.Trim(v, "'"))
}

// sameCharLength reports whether two definitions of a column, produced
// under the results character sets ra and rb, have the same length in
// characters (what the statement's metadata holds; the server scales it to
// the results character set). A length it cannot compare (TEXT and BLOB
// columns, which scale by another rule, unknown character sets) counts as
// the same.
func sameCharLength(a []byte, ra string, b []byte, rb string) bool {
	la, okA := charLength(a, ra)
	lb, okB := charLength(b, rb)
	return !okA || !okB || la == lb
}

// charLength returns the length in characters of a column definition
// produced under results character set r (see sameCharLength).
func charLength(p []byte, r string) (uint32, bool) {
	cs, length, typ, ok := wire.ColumnLength(p)
	if !ok || typ >= wire.TypeTinyBlob && typ <= wire.TypeBlob || length == 1<<32-1 {
		return 0, false
	}
	var per uint32
	switch {
	case cs == binaryCollation || r == "binary":
		per = 1 // not converted, or converted to binary: bytes
	case r == "":
		// Not converted: the length is in the column's own character set.
		if int(cs) < len(handshakeCollations) {
			per, _ = pinning.CharsetMaxLen(handshakeCollations[cs].charset)
		}
	default:
		per, _ = pinning.CharsetMaxLen(r)
	}
	if per == 0 {
		return 0, false
	}
	return length / per, true
}
