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
//   - The session's value is known (a number), or it lives on the
//     connection of the session's previous statements (the look-behind
//     state of kind pinning.PinLastInsertID), or it is lost (that
//     connection broke): then a read is refused (ErrLookBehindLost), never
//     answered with another session's value.
//   - A statement's OK packet carries an insert id (Status.InsertID), but
//     that is LAST_INSERT_ID() only if the server generated it: an
//     explicit id (REPLACE INTO t (id) VALUES (1)) is reported too and
//     leaves LAST_INSERT_ID() as it was. So the pool never takes it for
//     the value. Instead, before a statement that may insert (the
//     classifier's Inserts) or reads LAST_INSERT_ID(), the backend is
//     aligned: if its value is not known to be the session's, the pool
//     runs DO LAST_INSERT_ID(n). After an insert on an aligned backend,
//     the server's value there is exactly the session's, whichever way the
//     id came.
//   - While the session holds the connection (a transaction, a pin), the
//     value stays there. When it gives the connection back after such a
//     statement, the value is read (SELECT LAST_INSERT_ID(), one round
//     trip), so that it is known wherever the session goes next. A caller
//     that can pipeline (the listener) sends that read in the same write
//     as the COMMIT that ends the transaction (SettleAhead) and reports
//     the value in Status.LastIDRead.
//
// The cost: a statement that may insert pays a DO first on a backend
// whose value is another session's, and the SELECT when the backend goes
// back (once per transaction, or per autocommit insert); statements that
// neither insert nor read LAST_INSERT_ID() pay nothing.

// noteInsertID records the LAST_INSERT_ID effect of a statement that ran
// on b, the backend the session holds: after LAST_INSERT_ID(expr) or an
// insert id the session's value lives on b if b was aligned for the
// statement (lastIDAligned, computed before), and is lost otherwise.
// It returns whether the statement changed the value.
func (s *Session) noteInsertID(r *pinning.Result, st *Status) bool {
	if !insertIDWrites(r, st) {
		return false
	}
	s.lastIDKnown = false
	s.held.lastIDKnown = false
	return true
}

// lastIDAligned reports whether LAST_INSERT_ID() on b, the backend the
// session holds for a statement, is the session's.
func (s *Session) lastIDAligned(b *PooledConn) bool {
	if s.lastIDKnown {
		return b.lastIDKnown && b.lastID == s.lastID
	}
	return s.lookBehindBefore.Has(pinning.PinLastInsertID)
}

// LastIDQuery is the query with which the pool reads LAST_INSERT_ID() back
// (see SettleAhead).
const LastIDQuery = "SELECT LAST_INSERT_ID() LIMIT 1"

// SettleAhead reports whether the statement r, about to run on the backend
// the session holds, is one after which Done would give the backend back
// and first read LAST_INSERT_ID() from it, one more round trip: a lone
// COMMIT or ROLLBACK that ends a transaction in which the session inserted.
// A caller that can pipeline (the listener) then sends LastIDQuery right
// behind the statement, reads its value after the statement's response
// (which can go to the client first) and reports it in Status.LastIDRead
// and Status.LastID. The query is harmless where the guess is wrong (the
// statement failed and the transaction goes on): it changes nothing but
// ROW_COUNT() and FOUND_ROWS(), which the pool stops answering for, as
// after its own read.
func (s *Session) SettleAhead(r *pinning.Result) bool {
	return s.held != nil && s.mode == ModeTransaction && !s.lastIDKnown &&
		s.heldLookBehind.Has(pinning.PinLastInsertID) && !s.Pinned() && !s.moreResults &&
		endsTx(r) && !s.Chains(r) && !s.releases(r)
}

// lastIDReadAfter records v, LAST_INSERT_ID() as the caller read it on b
// right after the statement (SettleAhead): b's value, and the session's
// if it lives on b.
func (s *Session) lastIDReadAfter(b *PooledConn, v uint64) {
	s.ranQuery()
	b.lastID, b.lastIDKnown = v, true
	if !s.lastIDKnown && s.heldLookBehind.Has(pinning.PinLastInsertID) {
		s.lastID, s.lastIDKnown = v, true
		s.heldLookBehind = s.heldLookBehind.Remove(pinning.PinLastInsertID)
	}
}

// settleLastID runs before the session gives b back after a statement:
// while the session's LAST_INSERT_ID() is known only to b, it is read
// back. It returns false if b broke (and was dropped).
func (s *Session) settleLastID(ctx context.Context, b *PooledConn) bool {
	if s.lastIDKnown || !s.heldLookBehind.Has(pinning.PinLastInsertID) {
		return true
	}
	v, err := b.conn.QueryValue(ctx, LastIDQuery)
	s.ranQuery()
	if err == nil {
		var n uint64
		if n, err = strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			s.lastID, s.lastIDKnown = n, true
			b.lastID, b.lastIDKnown = n, true
			s.heldLookBehind = s.heldLookBehind.Remove(pinning.PinLastInsertID)
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
func insertIDWrites(r *pinning.Result, st *Status) bool {
	if st.InsertID != 0 || st.InsertIDUnknown {
		return true
	}
	if r == nil {
		return false
	}
	// An insert that failed part-way may have generated ids (and so
	// changed LAST_INSERT_ID()) before it was rolled back.
	return (st.Err == nil && r.Pins.Has(pinning.PinLastInsertIDSet)) || (st.Err != nil && r.Inserts)
}

// syncLastID makes LAST_INSERT_ID() on b, which the session holds for a
// statement that reads it, return the session's known value. On failure b
// has been dropped.
func (s *Session) syncLastID(ctx context.Context, b *PooledConn) error {
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
