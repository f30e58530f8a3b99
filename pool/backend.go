package pool

import (
	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool/internal/core"
)

// PooledConn is a backend connection as the pool keeps it: the Conn and
// the session state known to be on it. A session borrows it and owns it
// until it gives it back (Session.Done, ResetState or Close); do not keep
// it past that.
type PooledConn struct {
	conn Conn
	pool *Pool
	user string
	// borrower is conn as a Borrower, nil if it is not one: asked once at
	// setup rather than on every borrow and release (onBorrow).
	borrower Borrower
	// validator is conn as a driver.Validator, nil if it is not one,
	// asked once for the check when it is given back (Session.release).
	validator validator
	// gen is Pool.invalidations when conn was dialed.
	gen uint64

	// Written by the holding session only; the pool's lock orders the
	// accesses of successive holders.
	res      *core.Resource[*PooledConn]
	settings pinning.Settings // tracked settings in effect on conn
	schema   string           // current database; "" is the user's default
	tag      string           // tagOf(schema, settings), as the core matches it
	// lastID is LAST_INSERT_ID() on conn when lastIDKnown (lastid.go).
	lastID      uint64
	lastIDKnown bool
	// unread, when set, is the slot of the session whose LAST_INSERT_ID()
	// is on conn, not read yet (lastid.go): the session that owns it takes
	// conn back as it is, any other borrower reads the value for it
	// first, and closing conn reads it or reports it lost. Set by the
	// session that gives conn back; cleared by the next holder or by the
	// close.
	unread *lastIDSlot
	// prep is PrepareKey's answer for the tag prepFor.
	prep, prepFor string
	used          bool // a session ran a statement on conn since it was opened or reset
}

// Conn returns the backend connection; type-assert it to the concrete type
// the Dial function returned.
func (b *PooledConn) Conn() Conn { return b.conn }

// User returns the user the connection is authenticated as.
func (b *PooledConn) User() string { return b.user }

// StateKey identifies the session state the connection is in (its
// database and tracked settings, as differences from the partition's
// baseline): "" for the baseline. Anything the server fixes when a
// statement is prepared (the database unqualified names resolve in,
// sql_mode, character sets) is part of it, so a cache of prepared
// statements keyed by StateKey and text never serves a statement prepared
// in another state.
func (b *PooledConn) StateKey() string { return b.tag }

// setState records the state cs read from the connection. A connection
// without a database while the baseline has one is recorded as in a
// database no session has, so that it is switched before any use.
func (b *PooledConn) setState(cs *connState, st *serverState) {
	schema, ok := cs.relSchema(st)
	if !ok {
		schema = noSchema
	}
	b.schema = schema
	b.settings.Relative(&cs.full, &st.base)
	b.tag = tagOf(b.schema, &b.settings)
}

// noSchema stands for "no database" where the baseline has one; it is no
// valid database name, so no session's schema equals it.
const noSchema = "\x00none"

// tagOf is the core's tag for a state: "" for the clean state (default
// database, no tracked settings).
func tagOf(schema string, s *pinning.Settings) string {
	if schema == "" && s.IsZero() {
		return ""
	}
	return schema + "\x00" + s.Key()
}
