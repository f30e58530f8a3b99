package pool

import (
	"context"
	"strconv"
	"strings"

	"github.com/rdsmux/rdsmux/pinning"
)

// LAST_INSERT_ID() is connection state: the id the server generated for
// the connection's last insert into an AUTO_INCREMENT column. A session
// that moves between connections must see its own, never another
// session's, and a new session sees 0. The pool follows it for both front
// ends:
//
//   - Each backend knows its value when the pool does (0 when opened, the
//     value of a DO LAST_INSERT_ID(n) the pool ran, the value it read back).
//   - A statement's OK packet carries an insert id (Status.InsertID), which
//     is LAST_INSERT_ID() only if the server generated it (an explicit id,
//     as in REPLACE INTO t (id) VALUES (1), is reported too, but leaves
//     LAST_INSERT_ID() alone). The pool cannot tell, so:
//   - While the session holds the connection (a transaction, a pin), its
//     value stays there. When it gives the connection back, the value is
//     read (SELECT LAST_INSERT_ID(), one round trip) if the session reads
//     LAST_INSERT_ID() (the classifier's ReadsLastInsertID, seen once), or
//     if the pool is contended (borrows waiting, or no other connection
//     idle) and the connection goes to another session at once.
//   - Otherwise an id-producing statement leaves the value on its
//     connection only: a read is a look-behind read (reason
//     pinning.PinLastInsertID) served on that connection if no other
//     session has used it since (it usually has not: other borrowers
//     leave a just-released connection alone while another fits), and
//     refused (ErrLookBehindLost) if one has, never answered with another
//     session's id. Sessions that never read LAST_INSERT_ID() pay no round
//     trip while the pool has room.
//   - Before a read on a backend whose value differs from the session's
//     known one, the pool runs DO LAST_INSERT_ID(n).

// noteInsertID records the LAST_INSERT_ID effect of a statement that ran
// on b, the backend the session holds: LAST_INSERT_ID(expr) or an insert
// id leaves the session's value on b only (the look-behind state of kind
// pinning.PinLastInsertID, which recordLookBehind gives the session), to
// be read back when b is given back (settleLastID).
func (s *Session) noteInsertID(r *pinning.Result, st Status) {
	setsExpr := st.Err == nil && r != nil && r.Pins.Has(pinning.PinLastInsertIDSet)
	if st.InsertID == 0 && !st.InsertIDUnknown && !setsExpr {
		return
	}
	s.lastIDKnown = false
	s.held.lastIDKnown = false
}

// settleLastID runs before the session gives b back after a statement:
// while the session's LAST_INSERT_ID() is known only to b, it is read back
// if the session reads LAST_INSERT_ID() or b is likely to go to another
// session at once (the pool is contended). It returns false if b broke
// (and was dropped).
func (s *Session) settleLastID(ctx context.Context, b *Backend) bool {
	if s.lastIDKnown || !s.own.Has(pinning.PinLastInsertID) {
		return true
	}
	if !s.readsLastID && !s.pool.core.Contended() {
		return true
	}
	v, err := b.conn.QueryValue(ctx, "SELECT LAST_INSERT_ID()")
	s.ranQuery()
	if err == nil {
		var n uint64
		if n, err = strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			s.lastID, s.lastIDKnown = n, true
			b.lastID, b.lastIDKnown = n, true
			s.own = s.own.Remove(pinning.PinLastInsertID)
			return true
		}
	}
	if s.pool.broken(b.conn, err) {
		s.dropHeld(s.pool.reasonFor(b, err), err)
		return false
	}
	return true
}

// insertIDWrites reports whether a statement (r, st) left the session's
// LAST_INSERT_ID() on its connection without the session knowing it.
func insertIDWrites(r *pinning.Result, st Status) bool {
	return st.InsertID != 0 || st.InsertIDUnknown || (st.Err == nil && r != nil && r.Pins.Has(pinning.PinLastInsertIDSet))
}

// syncLastID makes LAST_INSERT_ID() on b, which the session holds for a
// statement that reads it, return the session's known value. On failure b
// has been dropped.
func (s *Session) syncLastID(ctx context.Context, b *Backend) error {
	if !s.lastIDKnown || (b.lastIDKnown && b.lastID == s.lastID) {
		return nil
	}
	if err := b.conn.Exec(ctx, "DO LAST_INSERT_ID("+strconv.FormatUint(s.lastID, 10)+")"); err != nil {
		s.dropHeld(s.pool.reasonFor(b, err), err)
		return borrowError(err, s.part.user)
	}
	b.lastID, b.lastIDKnown = s.lastID, true
	return nil
}
