package pinning

import (
	"math/bits"
	"strings"
)

// Names spells each tracked variable as one server knows it: "" for a
// variable that server does not have (MariaDB has no max_execution_time,
// MariaDB before 11.1 knows transaction_isolation only as tx_isolation).
// A pool learns it from the server (see package pool) and writes every
// replayed assignment with it.
type Names [NumVars]string

// CanonicalNames returns the canonical spelling of every tracked variable
// (none for VarClientCollation, which no server variable shows).
func CanonicalNames() Names {
	var n Names
	for v := Var(1); v < numVars; v++ {
		if v != VarClientCollation {
			n[v] = varNames[v]
		}
	}
	return n
}

// Alias returns the older name of v that servers without its canonical
// name know (tx_isolation, tx_read_only), or "".
func Alias(v Var) string {
	switch v {
	case VarTransactionIsolation:
		return "tx_isolation"
	case VarTransactionReadOnly:
		return "tx_read_only"
	}
	return ""
}

// FollowsSchema reports whether the server sets v itself whenever the
// current database changes (character_set_database, collation_database):
// such a variable is a function of the schema, not session state of its
// own, and a session that assigns it is pinned.
func FollowsSchema(v Var) bool {
	return v == VarCharacterSetDatabase || v == VarCollationDatabase
}

// Relative sets s to the variables recorded in full whose values differ
// from base's (or that base does not record): the state full, said as a
// difference from base.
func (s *Settings) Relative(full, base *Settings) {
	*s = Settings{}
	for m := full.set; m != 0; m &= m - 1 {
		v := bits.TrailingZeros64(m)
		if base.set&(1<<v) != 0 && base.vals[v] == full.vals[v] {
			continue
		}
		s.set |= 1 << v
		s.vals[v] = full.vals[v]
	}
}

// value returns v's value in s, else in base.
func (s *Settings) valueOver(base *Settings, v int) (string, bool) {
	if s.set&(1<<v) != 0 {
		return s.vals[v], true
	}
	if base.set&(1<<v) != 0 {
		return base.vals[v], true
	}
	return "", false
}

// sideEffects lists assignments that change another variable as well: the
// server sets collation_connection when character_set_connection is
// assigned (and the _server pair likewise), and sql_big_selects when
// max_join_size is. When the first is assigned, the second must be
// assigned after it, even if its value does not differ.
var sideEffects = [...][2]Var{
	{VarCharacterSetConnection, VarCollationConnection},
	{VarCharacterSetServer, VarCollationServer},
	{VarMaxJoinSize, VarSQLBigSelects},
}

// diffOrder is the order DiffFrom assigns variables in: Var order, except
// that max_join_size comes before sql_big_selects, which it resets.
var diffOrder = func() [numVars]Var {
	var o [numVars]Var
	i := 0
	for v := Var(1); v < numVars; v++ {
		if v == VarMaxJoinSize {
			continue
		}
		if v == VarSQLBigSelects {
			o[i] = VarMaxJoinSize
			i++
		}
		o[i] = v
		i++
	}
	return o
}()

// DiffFrom returns one SET statement that takes a connection whose tracked
// state is from to the state s, where a variable a Settings does not record
// has its value in base: the state a fresh connection starts in (its
// character set from the handshake, whatever the DSN and init query set).
// It returns "" when nothing differs.
//
// Every assignment is an explicit value. DEFAULT is never written: it means
// the server's global value, which is not what a connection started with
// (a stock MariaDB's global character set is latin1 while the handshake
// asked for utf8mb4). names spells each variable as the server knows it;
// a variable without a name there is not assigned (the server has no such
// variable, so no session can have changed it).
func (s *Settings) DiffFrom(from, base *Settings, names *Names) string {
	var emit uint64
	for m := s.set | from.set; m != 0; m &= m - 1 {
		v := bits.TrailingZeros64(m)
		want, ok := s.valueOver(base, v)
		if !ok {
			continue // nothing known to return to
		}
		if have, _ := from.valueOver(base, v); have != want {
			emit |= 1 << v
		}
	}
	for _, se := range sideEffects {
		if emit&(1<<se[0]) != 0 {
			if _, ok := s.valueOver(base, int(se[1])); ok {
				emit |= 1 << se[1]
			}
		}
	}
	if emit == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("SET ")
	first := true
	if emit&namesGroup != 0 {
		if names := s.namesClause(base); names != "" {
			// SET NAMES sets the four variables of the group and, unlike
			// assigning character_set_client, gives the client character
			// set the collation, as a handshake does (the server keeps it
			// out of sight: a string parameter of a prepared statement
			// takes it). Each variable SET NAMES does not make right is
			// assigned after it.
			b.WriteString(names)
			first = false
			cl, _ := s.valueOver(base, int(VarCharacterSetClient))
			cn, _ := s.valueOver(base, int(VarCharacterSetConnection))
			co, _ := s.valueOver(base, int(VarCollationConnection))
			rs, _ := s.valueOver(base, int(VarCharacterSetResults))
			emit &^= namesGroup
			if cn != cl || co != s.namesCollation(base) {
				emit |= 1<<VarCharacterSetConnection | 1<<VarCollationConnection
			}
			if rs != cl {
				emit |= 1 << VarCharacterSetResults
			}
		}
	}
	for _, v := range diffOrder {
		if v == VarInvalid || emit&(1<<v) == 0 || names[v] == "" {
			continue
		}
		want, _ := s.valueOver(base, int(v))
		if first {
			b.WriteString("SESSION ")
		} else {
			b.WriteString(", ")
		}
		first = false
		b.WriteString(names[v])
		b.WriteByte('=')
		b.WriteString(want)
	}
	if first {
		return ""
	}
	return b.String()
}

// namesGroup are the variables SET NAMES assigns.
const namesGroup = uint64(1)<<VarCharacterSetClient | 1<<VarCharacterSetConnection |
	1<<VarCharacterSetResults | 1<<VarCollationConnection | 1<<VarClientCollation

// namesClause returns NAMES 'cs' [COLLATE 'coll'] for the state s over
// base: the client character set, with the connection's collation when the
// connection has the same character set; "" when the client character set
// is not known.
func (s *Settings) namesClause(base *Settings) string {
	cl, ok := s.valueOver(base, int(VarCharacterSetClient))
	if !ok || cl == litNull {
		return ""
	}
	clause := "NAMES " + cl
	if co := s.namesCollation(base); co != "" {
		clause += " COLLATE " + co
	}
	return clause
}

// namesCollation is the collation SET NAMES gives the client character
// set: VarClientCollation when known, else the connection's collation when
// the connection has the client's character set; "" for the character
// set's default.
func (s *Settings) namesCollation(base *Settings) string {
	cl, _ := s.valueOver(base, int(VarCharacterSetClient))
	if co, ok := s.valueOver(base, int(VarClientCollation)); ok && co != litNull {
		if cs, ok := collationCharset(co); !ok || cs == cl {
			return co
		}
	}
	cn, _ := s.valueOver(base, int(VarCharacterSetConnection))
	co, ok := s.valueOver(base, int(VarCollationConnection))
	if cn == cl && ok && co != litNull {
		return co
	}
	return ""
}

// DefaultCollation returns the default collation of the character set cs,
// both as normalized literals ('utf8mb4' gives 'utf8mb4_general_ci'), from
// the server's table of character sets (MariaDB 10.11's; unknown sets give
// false).
func DefaultCollation(cs string) (string, bool) {
	if len(cs) < 2 || cs[0] != '\'' {
		return "", false
	}
	co, ok := defaultCollations[cs[1:len(cs)-1]]
	if !ok {
		return "", false
	}
	return "'" + co + "'", true
}
