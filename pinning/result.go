package pinning

import (
	"math/bits"
	"strconv"
	"strings"
)

// TxFlags are a statement's effects on transactions. A batch reports the
// union of its statements' flags, in no order: the server's status flags,
// not these, tell whether a transaction is open afterwards.
type TxFlags uint32

// The transaction effects.
const (
	// TxBegin: BEGIN [WORK] or START TRANSACTION (which also commits an
	// open transaction).
	TxBegin TxFlags = 1 << iota
	// TxBeginReadOnly: START TRANSACTION READ ONLY.
	TxBeginReadOnly
	// TxConsistentSnapshot: START TRANSACTION WITH CONSISTENT SNAPSHOT.
	TxConsistentSnapshot
	// TxCommit: COMMIT.
	TxCommit
	// TxRollback: ROLLBACK (not ROLLBACK TO SAVEPOINT).
	TxRollback
	// TxChain: COMMIT/ROLLBACK AND CHAIN: a new transaction starts at once.
	TxChain
	// TxRelease: COMMIT/ROLLBACK RELEASE: the server closes the connection.
	TxRelease
	// TxSavepoint: SAVEPOINT x.
	TxSavepoint
	// TxReleaseSavepoint: RELEASE SAVEPOINT x.
	TxReleaseSavepoint
	// TxRollbackToSavepoint: ROLLBACK [WORK] TO [SAVEPOINT] x.
	TxRollbackToSavepoint
	// TxXAStart: XA START / XA BEGIN.
	TxXAStart
	// TxXAEnd: XA END.
	TxXAEnd
	// TxXAPrepare: XA PREPARE.
	TxXAPrepare
	// TxXACommit: XA COMMIT.
	TxXACommit
	// TxXARollback: XA ROLLBACK.
	TxXARollback
	// TxXARecover: XA RECOVER.
	TxXARecover
	// TxImplicitCommit: a statement that commits an open transaction
	// before it runs (DDL, LOCK TABLES, GRANT, FLUSH, ...).
	TxImplicitCommit
	// TxSetAutocommit: SET autocommit (its value, if a literal, is in
	// Result.Settings; setting it to 1 commits an open transaction).
	TxSetAutocommit
	// TxNoChain: COMMIT/ROLLBACK AND NO CHAIN, which overrides
	// completion_type=CHAIN.
	TxNoChain
	// TxNoRelease: COMMIT/ROLLBACK NO RELEASE, which overrides
	// completion_type=RELEASE.
	TxNoRelease

	numTxFlags = iota
)

var txFlagNames = [numTxFlags]string{
	"begin", "begin-read-only", "consistent-snapshot", "commit", "rollback",
	"chain", "release", "savepoint", "release-savepoint",
	"rollback-to-savepoint", "xa-start", "xa-end", "xa-prepare", "xa-commit",
	"xa-rollback", "xa-recover", "implicit-commit", "set-autocommit",
	"no-chain", "no-release",
}

// Has reports whether every flag in f2 is set in f.
func (f TxFlags) Has(f2 TxFlags) bool { return f&f2 == f2 }

// String lists the flags' names, comma-separated.
func (f TxFlags) String() string {
	var b strings.Builder
	for m := uint32(f); m != 0; m &= m - 1 {
		i := bits.TrailingZeros32(m)
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if i < numTxFlags {
			b.WriteString(txFlagNames[i])
		} else {
			b.WriteString("bit" + strconv.Itoa(i))
		}
	}
	return b.String()
}

// ClientCollationEffect is what a statement does to the collation of the
// client character set (VarClientCollation).
type ClientCollationEffect uint8

const (
	// ClientCollationKept: the statement leaves it.
	ClientCollationKept ClientCollationEffect = iota
	// ClientCollationConnection: SET NAMES x COLLATE y makes it y, the
	// collation_connection the statement leaves.
	ClientCollationConnection
	// ClientCollationDefault: SET NAMES x, SET CHARACTER SET x and SET
	// character_set_client = x make it the default collation of x.
	ClientCollationDefault
)

// Result is the classification of a statement or of a ;-separated batch.
// Classify fills a caller-provided Result, resetting it first; reusing one
// Result across calls is what keeps classification free of allocations.
//
// For a batch, flags and pin reasons are unions; settings, schema and
// unpins are the net effect of the statements in order.
type Result struct {
	// Tx is the union of the statements' transaction effects.
	Tx TxFlags
	// Pins are the reasons the session must keep its backend connection.
	Pins PinReasons
	// Unpins are pins the statement releases (UNLOCK TABLES releases
	// lock-tables; RELEASE_ALL_LOCKS() releases get-lock). Statements that
	// release only part of a state (RELEASE_LOCK of one lock, DEALLOCATE
	// of one prepared statement, DROP TEMPORARY TABLE of one table) do not
	// unpin.
	Unpins PinReasons
	// ReadsLastInsertID is set when the statement calls LAST_INSERT_ID()
	// without an argument or reads @@last_insert_id / @@identity: the
	// driver can run DO LAST_INSERT_ID(n) first on whichever backend it
	// borrows instead of pinning.
	ReadsLastInsertID bool
	// Inserts is set when a statement may insert rows and so set
	// LAST_INSERT_ID() (INSERT, REPLACE, LOAD DATA, CALL).
	Inserts bool
	// ReadOnly is set when every statement only reads data (SELECT without
	// locking clauses or INTO, SHOW, DESCRIBE, EXPLAIN, ...), so it may be
	// routed to a reader.
	ReadOnly bool
	// Statements is the number of non-empty statements.
	Statements int

	// Settings holds the tracked variables the statement assigns a
	// literal value, normalized.
	Settings Settings
	// Defaults holds the tracked variables the statement returns to the
	// server default (SET x = DEFAULT), or, for a collation, to the
	// default of the character set assigned with it (SET NAMES x).
	Defaults VarSet
	// ReadBack holds the tracked variables the statement assigns a value
	// that cannot be known from the text (an expression, a value the
	// server derives). After the statement succeeds, the session reads
	// them with ReadBackQuery and records them with ServerValue.
	ReadBack VarSet

	// ClientCollation says what the statement does to the collation the
	// server keeps with the client character set (VarClientCollation),
	// which no variable shows, so the pool derives it after reading the
	// variables back.
	ClientCollation ClientCollationEffect

	// Schema is the database of the last USE statement ("" if none).
	Schema string
	// DroppedSchema is the database of the last DROP DATABASE ("" if
	// none); if it is the session's current database, the session has
	// none afterwards. See SchemaAfter.
	DroppedSchema string

	dropAfterUse bool            // DroppedSchema was dropped after the last USE
	readNames    [numVars]string // spelling per ReadBack variable; "" canonical
}

// Reset clears r to the result of an empty statement.
func (r *Result) Reset() {
	if !r.Settings.IsZero() {
		r.Settings.Reset()
	}
	if r.ReadBack != 0 {
		r.readNames = [numVars]string{}
	}
	r.Tx, r.Pins, r.Unpins = 0, 0, 0
	r.ReadsLastInsertID, r.ReadOnly, r.Statements, r.Inserts = false, false, 0, false
	r.Defaults, r.ReadBack, r.ClientCollation = 0, 0, ClientCollationKept
	r.Schema, r.DroppedSchema, r.dropAfterUse = "", "", false
}

// Pinned reports whether the statement pins the session to its backend.
func (r *Result) Pinned() bool { return r.Pins != 0 }

// ChangesSettings reports whether the statement changes tracked settings.
func (r *Result) ChangesSettings() bool {
	return !r.Settings.IsZero() || r.Defaults != 0 || r.ReadBack != 0
}

// Apply records the statement's known settings changes in s: literal
// values and returns to DEFAULT. Variables in ReadBack still need their
// values read from the server.
func (r *Result) Apply(s *Settings) {
	s.Merge(&r.Settings)
	r.Defaults.Each(s.Unset)
}

// ReadBackName returns the spelling to read v back with: as the statement
// wrote it, else the canonical name.
func (r *Result) ReadBackName(v Var) string {
	if v == VarInvalid || v >= numVars {
		return ""
	}
	if r.readNames[v] != "" {
		return r.readNames[v]
	}
	return varNames[v]
}

// ReadBackQuery returns the SELECT that reads the ReadBack variables, one
// column each in Var order ("" when there are none). sp spells the
// variables the statement did not name (see Spelling).
func (r *Result) ReadBackQuery(sp Spelling) string {
	if r.ReadBack == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	first := true
	r.ReadBack.Each(func(v Var) {
		if !first {
			b.WriteString(", ")
		}
		first = false
		name := r.readNames[v]
		if name == "" {
			name = replayName(v, sp)
		}
		b.WriteString("@@SESSION.")
		b.WriteString(name)
	})
	return b.String()
}

// SchemaAfter returns the session's current database after the statement,
// given the one before ("" for none).
func (r *Result) SchemaAfter(current string) string {
	schema := current
	if r.Schema != "" {
		schema = r.Schema
	}
	if r.DroppedSchema != "" && (r.dropAfterUse || r.Schema == "") && r.DroppedSchema == schema {
		return ""
	}
	return schema
}

// setVar records a literal value for v (name is the spelling written, or
// "" for the canonical one).
func (r *Result) setVar(v Var, name, value string) {
	if v == VarInvalid || v >= numVars {
		return
	}
	r.Settings.SetAs(v, name, value)
	r.Defaults = r.Defaults.Remove(v)
	r.ReadBack = r.ReadBack.Remove(v)
	r.readNames[v] = ""
}

// defaultVar records that v returns to its default.
func (r *Result) defaultVar(v Var) {
	if v == VarInvalid || v >= numVars {
		return
	}
	r.Settings.Unset(v)
	r.Defaults = r.Defaults.Add(v)
	r.ReadBack = r.ReadBack.Remove(v)
	r.readNames[v] = ""
}

// readBackVar records that v's new value must be read from the server.
func (r *Result) readBackVar(v Var, name string) {
	if v == VarInvalid || v >= numVars {
		return
	}
	r.Settings.Unset(v)
	r.Defaults = r.Defaults.Remove(v)
	r.ReadBack = r.ReadBack.Add(v)
	if name == varNames[v] {
		name = ""
	}
	r.readNames[v] = name
}

// pin adds p to the pins, cancelling an earlier unpin of it.
func (r *Result) pin(p PinReason) {
	r.Pins = r.Pins.Add(p)
	r.Unpins = r.Unpins.Remove(p)
}

// unpin records that p is released, cancelling an earlier pin of it.
func (r *Result) unpin(p PinReason) {
	r.Unpins = r.Unpins.Add(p)
	r.Pins = r.Pins.Remove(p)
}

// String renders the result compactly for logs and test corpora, e.g.
// "n=1 tx=begin pins=user-variable set[autocommit=0] ro". It allocates.
func (r *Result) String() string {
	var b strings.Builder
	b.WriteString("n=")
	b.WriteString(strconv.Itoa(r.Statements))
	if r.Tx != 0 {
		b.WriteString(" tx=")
		b.WriteString(r.Tx.String())
	}
	if r.Pins != 0 {
		b.WriteString(" pins=")
		b.WriteString(r.Pins.String())
	}
	if r.Unpins != 0 {
		b.WriteString(" unpins=")
		b.WriteString(r.Unpins.String())
	}
	if !r.Settings.IsZero() {
		b.WriteString(" set[")
		first := true
		r.Settings.Each(func(v Var, value string) {
			if !first {
				b.WriteByte(' ')
			}
			first = false
			b.WriteString(r.Settings.Name(v))
			b.WriteByte('=')
			b.WriteString(value)
		})
		b.WriteByte(']')
	}
	if r.Defaults != 0 {
		b.WriteString(" default[")
		b.WriteString(r.Defaults.String())
		b.WriteByte(']')
	}
	if r.ReadBack != 0 {
		b.WriteString(" readback[")
		first := true
		r.ReadBack.Each(func(v Var) {
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(r.ReadBackName(v))
		})
		b.WriteByte(']')
	}
	if r.Schema != "" {
		b.WriteString(" use=")
		b.WriteString(r.Schema)
	}
	if r.DroppedSchema != "" {
		b.WriteString(" drop=")
		b.WriteString(r.DroppedSchema)
	}
	if r.ReadsLastInsertID {
		b.WriteString(" lastid")
	}
	if r.ReadOnly {
		b.WriteString(" ro")
	}
	return b.String()
}
