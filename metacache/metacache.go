// Package metacache decides, for a multiplexed client of MariaDB's metadata
// cache (MARIADB_CLIENT_CACHE_METADATA), which column definitions of a
// prepared statement the client holds after an execute: those it held, or
// the ones the server sent.
//
// With the capability a MariaDB server sends a statement's column
// definitions at execute only when they changed since it last sent them
// on that connection, and the client keeps using the ones it holds. rdsmux
// runs a client's statement on whichever backend connection is free, each
// with its own history, so the backends never use the cache (every execute
// brings the current definitions) and both front ends (the driver and the
// listener) decide with Held.Keeps what a dedicated connection's server
// would have decided. MariaDB 10.11, as proxy's TestCacheMetadataRule
// observes it packet for packet, sends the definitions again
//
//   - whenever the client character set (character_set_client, with the
//     collation SET NAMES ... COLLATE gives it) differs from the one they
//     were last sent under, even when they are byte for byte the same;
//   - when the statement's own metadata changed: re-prepared (ALTER TABLE
//     of a table it reads), a column whose type or length follows a
//     parameter (SELECT ?, CONCAT(?, 'y')), a function whose result follows
//     collation_connection (HEX(?)), decimals that follow
//     div_precision_increment;
//
// and not when only character_set_results changed: the client then keeps
// definitions whose character set, length and name bytes are those of the
// old results character set.
//
// Keeps compares what it can see in the definitions: with the same
// character_set_results, any difference in the bytes is a metadata change
// (the conversion to the results character set is a function of the
// metadata); after a change of character_set_results it compares type,
// flags, decimals and the length in characters (the server scales lengths
// to the results character set), and when collation_connection changed
// too it takes a string that a function computes in the connection's
// collation at each execute (HEX(v), DATE_FORMAT(...), recognized by the
// column's name) as changed: the converted definitions no longer show
// its collation. Limits, measured against the server by proxy's
// TestCacheMetadataCombined and the isolation soak: a function outside
// that list that does follow the connection keeps definitions the server
// would send; and a resend of byte-equal definitions is not reproduced
// (no client can tell).
package metacache

import (
	"bytes"
	"strings"

	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// Held is what a client holds for one prepared statement: the column
// definition packets and the session state they were produced in.
type Held struct {
	// Defs are the column definitions, as a server without the cache
	// sends them. Never modified in place.
	Defs [][]byte
	// State is the session's state then (nil: the baseline).
	State *pool.State
	// Results is character_set_results then, as ResultsCharset returns it.
	Results string
}

// clientCharset are the variables whose change makes MariaDB send a
// statement's definitions again.
var clientCharset = []pinning.Var{pinning.VarCharacterSetClient, pinning.VarClientCollation}

// Keeps reports whether a client holding h keeps its definitions at an
// execute for which the server produced defs, in session state st under
// results character set results (ResultsCharset); when it does not, the
// client receives defs (and holds them from then on).
//
// When defs are h's byte for byte under the same results character set,
// h's state becomes st: the server may have sent them again all the same
// (a column that follows collation_connection, which changed), and then
// compares the next execute's metadata with these; if it did not, nothing
// it compares differs between h's state and st.
func (h *Held) Keeps(defs [][]byte, st *pool.State, results string) bool {
	if len(defs) != len(h.Defs) || !st.SameValues(h.State, clientCharset...) {
		return false
	}
	sameResults := results == h.Results
	connection := !st.SameValues(h.State, pinning.VarCharacterSetConnection, pinning.VarCollationConnection)
	same := true
	for i, d := range defs {
		if bytes.Equal(d, h.Defs[i]) {
			continue
		}
		same = false
		if sameResults || !wire.SameColumnShape(h.Defs[i], d) || !sameCharLength(h.Defs[i], h.Results, d, results) ||
			connection && followsConnection(d) {
			return false
		}
	}
	if same && sameResults {
		h.State = st
	}
	return true
}

// followsConnection reports whether a column definition is of a string
// computed at each execute in collation_connection (HEX(v), DATE_FORMAT,
// CAST(x AS CHAR), ...: functions that build a string from something
// that is not one), whose collation the definitions converted to the
// results character set no longer show. A column's name is its
// expression's text, which is how they are recognized. Strings the
// server takes from the statement's text (literals, fixed at PREPARE),
// from its parameters or from table columns (CONCAT(?, 'y'), CONCAT(v,
// 'x')), and the system character set's (@@vars, DATABASE()), keep their
// collation when the connection's changes.
func followsConnection(d []byte) bool {
	c, err := wire.ParseColumn(d)
	if err != nil || c.OrgTable != "" {
		return false
	}
	switch c.Type {
	case wire.TypeVarchar, wire.TypeVarString, wire.TypeString,
		wire.TypeTinyBlob, wire.TypeMediumBlob, wire.TypeLongBlob, wire.TypeBlob:
	default:
		return false
	}
	name := strings.ToUpper(c.Name)
	for _, p := range connectionFuncs {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// connectionFuncs are how the names of columns computed in
// collation_connection start (see followsConnection).
var connectionFuncs = []string{"HEX(", "BIN(", "OCT(", "CONV(", "FORMAT(", "CHAR(", "MD5(", "SHA(", "SHA1(",
	"SHA2(", "UUID(", "TO_BASE64(", "DATE_FORMAT(", "TIME_FORMAT(", "INET_NTOA(", "INET6_NTOA(", "CAST(",
	"CONVERT(", "SPACE(", "FROM_UNIXTIME(", "SEC_TO_TIME(", "MONTHNAME(", "DAYNAME("}

// SessionResults returns s's character_set_results as ResultsCharset
// normalizes it: what Keeps and Held.Results take.
func SessionResults(s *pool.Session) string {
	v, _ := s.Value(pinning.VarCharacterSetResults)
	return ResultsCharset(v)
}

// ResultsCharset normalizes the literal value of character_set_results
// (pool.Session.Value): lowercase and unquoted, "" for NULL.
func ResultsCharset(lit string) string {
	if lit == "NULL" {
		return ""
	}
	return strings.ToLower(strings.Trim(lit, "'"))
}

// sameCharLength reports whether two definitions of a column, produced
// under the results character sets ra and rb, have the same length in
// characters. A length it cannot compare (TEXT and BLOB columns, which
// scale by another rule, unknown character sets) counts as the same.
func sameCharLength(a []byte, ra string, b []byte, rb string) bool {
	la, okA := charLength(a, ra)
	lb, okB := charLength(b, rb)
	return !okA || !okB || la == lb
}

// BinaryCollation is the id of the binary character set's collation: a
// string column with it is binary (VARBINARY, BLOB).
const BinaryCollation = 63

// charLength returns the length in characters of a column definition
// produced under results character set r (see sameCharLength).
func charLength(p []byte, r string) (uint32, bool) {
	cs, length, typ, ok := wire.ColumnLength(p)
	if !ok || typ >= wire.TypeTinyBlob && typ <= wire.TypeBlob || length == 1<<32-1 {
		return 0, false
	}
	var per uint32
	switch {
	case cs == BinaryCollation || r == "binary":
		per = 1 // not converted, or converted to binary: bytes
	case r == "":
		// Not converted: the length is in the column's own character set.
		if _, charset, ok := pinning.CollationByID(cs); ok {
			per, _ = pinning.CharsetMaxLen(charset)
		}
	default:
		per, _ = pinning.CharsetMaxLen(r)
	}
	if per == 0 {
		return 0, false
	}
	return length / per, true
}
