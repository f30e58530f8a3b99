package proxy

import (
	"bytes"

	"github.com/rdsmux/rdsmux/metacache"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// MariaDB's metadata cache (MARIADB_CLIENT_CACHE_METADATA), emulated.
//
// A client with the capability finds a metadata-follows byte after every
// column count. For the result of a COM_STMT_EXECUTE a MariaDB server sets
// it to 0, and leaves the column definitions out, unless they changed
// since the client last received them (the rule: package metacache). The
// EOF after the definitions stays for a client without
// CLIENT_DEPRECATE_EOF, and the results of a CALL (whose prepare
// announces no columns) always carry their definitions, as do text result
// sets.
//
// The listener's backends are dialed without the capability: they always
// send definitions, and any backend can serve any client. For each client
// statement the listener remembers the definitions the client holds
// (clientStmt.held) and at each execute asks metacache.Held.Keeps whether
// a dedicated connection's server would leave them out.

// cachedResult reports whether the result set that starts now, the
// results-th of a response in the given mode, is one whose definitions
// the metadata cache may leave out.
func (c *clientConn) cachedResult(mode wire.Mode, o *outcome, results int) bool {
	return mode == wire.ModeBinary && results == 1 && o.stmt != nil && o.stmt.numColumns > 0 &&
		o.stmt.held.Defs != nil && c.cacheMetadata()
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
	if cs.held.Keeps(defs, c.sess.State(), c.resultsCharset()) {
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
	cs.held = metacache.Held{Defs: cols, State: c.sess.State(), Results: c.resultsCharset()}
	return nil
}

// resultsCharset returns the session's character_set_results as
// metacache.ResultsCharset normalizes it.
func (c *clientConn) resultsCharset() string {
	return metacache.SessionResults(c.sess)
}
