package pool

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool/internal/core"
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
//     statement, the value is left there unread (a lastIDSlot marks the
//     connection as carrying it, PooledConn.unread): the session's next
//     borrow usually takes the same connection back, and then nothing is
//     read at all. Whoever else gets the connection first reads the value
//     for the session (SELECT LAST_INSERT_ID(), one round trip) before
//     anything runs on it, and delivers it to the session's slot; so does
//     the pool when it closes the connection idle. A session that needs
//     its value (a statement that inserts or reads it) while it sits on
//     another connection takes that connection back to read it
//     (Reclaim), or waits for the borrower's read. Only a connection
//     that fails, or is retired by Invalidate (failover), before the
//     value is read loses it: then a read is refused as above.
//   - When the connection will go straight to another session (a
//     borrower waits for it), reading it first is no dearer: a caller
//     that can pipeline (the listener) sends the read in the same write
//     as the COMMIT that ends the transaction (SettleAhead) and reports
//     the value in Status.LastIDRead.
//
// The cost: a statement that may insert pays a DO first on a backend
// whose value is another session's; a backend that another session
// borrows after an insert pays one SELECT; a session that keeps coming
// back to its connection (one client at a time, or fewer clients than
// connections) pays nothing; statements that neither insert nor read
// LAST_INSERT_ID() pay nothing.

// lastIDSlot is where a session's LAST_INSERT_ID() left unread on a
// released connection is delivered: by the next other borrower of that
// connection (Pool.deliverUnread), by the session itself (resolvePending),
// or by the close of the connection (closeUnread).
type lastIDSlot struct {
	done chan struct{} // closed when state leaves slotOnConn

	mu sync.Mutex
	// Guarded by mu.
	state slotState
	value uint64 // the value when slotKnown
}

// slotState is where a lastIDSlot's value is.
type slotState uint8

const (
	slotOnConn    slotState = iota // on the connection, unread
	slotKnown                      // read: value
	slotLost                       // the connection failed or was retired first
	slotAbandoned                  // the session ended or reset: nobody wants it
)

func newLastIDSlot() *lastIDSlot { return &lastIDSlot{done: make(chan struct{})} }

// settle moves the slot from slotOnConn to st with value v; a slot that
// left slotOnConn stays as it is.
func (sl *lastIDSlot) settle(st slotState, v uint64) {
	sl.mu.Lock()
	if sl.state == slotOnConn {
		sl.state, sl.value = st, v
		close(sl.done)
	}
	sl.mu.Unlock()
}

// get returns the slot's state and value.
func (sl *lastIDSlot) get() (slotState, uint64) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.state, sl.value
}

// lastIDCloseTimeout bounds the read of an unread value before its
// connection is closed (closeUnread).
const lastIDCloseTimeout = time.Second

// deliverUnread reads LAST_INSERT_ID() on b for the session whose value b
// carries unread (b.unread), which the caller holding b is not, and
// delivers it. On an error (returned) the value is lost; the caller
// decides whether b broke.
func (p *Pool) deliverUnread(ctx context.Context, b *PooledConn) error {
	sl := b.unread
	b.unread = nil
	if st, _ := sl.get(); st != slotOnConn {
		// Nobody needs it: b holds a value the pool does not know.
		b.lastIDKnown = false
		return nil
	}
	p.stats.lastIDDelivered.Add(1)
	v, err := b.conn.QueryValue(ctx, LastIDQuery)
	if err == nil {
		var n uint64
		if n, err = strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			sl.settle(slotKnown, n)
			b.lastID, b.lastIDKnown = n, true
			return nil
		}
	}
	sl.settle(slotLost, 0)
	b.lastIDKnown = false
	return err
}

// closeUnread settles the unread value b carries before b is closed: read
// if b is healthy and of the current server, else lost. It runs on the
// core's close goroutine.
func (p *Pool) closeUnread(b *PooledConn) {
	closing := false
	select {
	case <-p.stopMaintain:
		closing = true
	default:
	}
	if closing || b.gen != p.invalidations.Load() || (b.validator != nil && !b.validator.IsValid()) {
		b.unread.settle(slotLost, 0)
		b.unread = nil
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), lastIDCloseTimeout)
	defer cancel()
	if err := p.deliverUnread(ctx, b); err != nil {
		p.log.Debug("pool: reading a session's LAST_INSERT_ID() before closing its connection", "user", b.user, "err", err)
	}
}

// deferLastID gives b back (release with a claim) leaving the session's
// LAST_INSERT_ID(), which lives only on b, unread there.
func (s *Session) deferLastID(b *PooledConn) {
	s.abandonPending() // cannot be set: the value was on b
	sl := newLastIDSlot()
	b.unread = sl
	s.pending = sl
	s.pool.stats.lastIDDeferred.Add(1)
	s.release(true)
	// b may be another session's already: only the claim tells about it
	// now (closed, a Reclaim finds; borrowed, its borrower delivers).
	s.pendingClaim = s.claim
}

// adopt is called with b just borrowed, before anything runs on it: if b
// carries the session's own unread value, the value is on b again (the
// statement about to run sees it); if it carries another session's, that
// is read and delivered first. It returns an error only if that read
// failed, b then being unusable when broken says so.
func (s *Session) adopt(ctx context.Context, b *PooledConn) error {
	sl := b.unread
	if sl == nil {
		return nil
	}
	if sl == s.pending {
		b.unread = nil
		s.pending, s.pendingClaim = nil, core.Claim[*PooledConn]{}
		s.lookBehindBefore = s.lookBehindBefore.Add(pinning.PinLastInsertID)
		return nil
	}
	return s.pool.deliverUnread(ctx, b)
}

// collectPending takes the session's value from its slot once someone
// delivered it (or found it lost).
func (s *Session) collectPending() {
	sl := s.pending
	if sl == nil {
		return
	}
	st, v := sl.get()
	switch st {
	case slotOnConn:
		return
	case slotKnown:
		s.learnLastID(v)
	}
	s.pending, s.pendingClaim = nil, core.Claim[*PooledConn]{}
	s.heldLookBehind = s.heldLookBehind.Remove(pinning.PinLastInsertID)
	s.lookBehindBefore = s.lookBehindBefore.Remove(pinning.PinLastInsertID)
}

// resolvePending gets the session's value, left unread on a connection
// the session does not hold, into lastID: it takes that connection back
// to read it if it is idle, else waits for its borrower (or its close) to
// deliver it, which it does before anything else. Afterwards the value
// is known or lost (lastIDKnown false); the error is ctx's or the pool's.
func (s *Session) resolvePending(ctx context.Context) error {
	sl := s.pending
	if sl == nil {
		return nil
	}
	if st, _ := sl.get(); st == slotOnConn {
		p := s.pool
		res, err := p.core.Reclaim(s.part.core, s.pendingClaim)
		switch {
		case err == nil:
			b := res.Value()
			b.res = res
			p.stats.lastIDReclaimed.Add(1)
			if rerr := p.deliverUnread(ctx, b); rerr != nil && p.broken(b.conn, rerr) {
				res.Destroy(p.reasonFor(b, rerr))
			} else {
				res.Release()
			}
			if s.claim == s.pendingClaim {
				s.claim = core.Claim[*PooledConn]{} // taken back above
			}
		case errors.Is(err, core.ErrClosed):
			sl.settle(slotLost, 0)
		default:
			select {
			case <-sl.done:
			case <-ctx.Done():
				return borrowError(ctx.Err(), s.part.user)
			}
		}
	}
	s.collectPending()
	return nil
}

// abandonPending tells whoever finds the session's unread value that it
// is no longer wanted (the session ends or resets).
func (s *Session) abandonPending() {
	if s.pending != nil {
		s.pending.settle(slotAbandoned, 0)
		s.pending, s.pendingClaim = nil, core.Claim[*PooledConn]{}
	}
}

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
	// A value the session left unread elsewhere is no longer its own.
	s.abandonPending()
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
// with the session's LAST_INSERT_ID() on it unread (a lone COMMIT or
// ROLLBACK that ends a transaction in which the session inserted) while
// other borrowers wait for a backend: that one goes to one of them, who
// would read the value for the session first (see the top of this file),
// so reading it at once costs the same statement and, pipelined, no round
// trip. A caller that can pipeline (the listener) then sends LastIDQuery
// right behind the statement, reads its value after the statement's
// response (which can go to the client first) and reports it in
// Status.LastIDRead and Status.LastID. The query is harmless where the
// guess is wrong (the statement failed and the transaction goes on): it
// changes nothing but ROW_COUNT() and FOUND_ROWS(), which the pool stops
// answering for, as after its own read.
func (s *Session) SettleAhead(r *pinning.Result) bool {
	return s.held != nil && s.mode == ModeTransaction && !s.lastIDKnown &&
		s.heldLookBehind.Has(pinning.PinLastInsertID) && !s.Pinned() && !s.moreResults &&
		endsTx(r) && !s.Chains(r) && !s.releases(r) && s.pool.core.Waiting(s.part.core)
}

// lastIDReadAfter records v, LAST_INSERT_ID() as the caller read it on b
// right after the statement (SettleAhead): b's value, and the session's
// if it lives on b.
func (s *Session) lastIDReadAfter(b *PooledConn, v uint64) {
	s.ranQuery()
	b.lastID, b.lastIDKnown = v, true
	if !s.lastIDKnown && s.heldLookBehind.Has(pinning.PinLastInsertID) {
		s.learnLastID(v)
		s.heldLookBehind = s.heldLookBehind.Remove(pinning.PinLastInsertID)
	}
}

// learnLastID records v, the session's LAST_INSERT_ID() as read back from
// the connection it was on: a 0 after an insert that started from a lost
// value (lastIDZeroLost) means no id was generated, and the value is
// still lost.
func (s *Session) learnLastID(v uint64) {
	if v == 0 && s.lastIDZeroLost {
		s.lastIDKnown = false
		return
	}
	s.lastID, s.lastIDKnown, s.lastIDZeroLost = v, true, false
}

// checkZeroLost reads LAST_INSERT_ID() on the held backend before a
// statement reads it there, when the value there started from a lost one
// (lastIDZeroLost): a 0 means the inserts since generated no id, and the
// statement must be refused rather than read it.
func (s *Session) checkZeroLost(ctx context.Context) error {
	b := s.held
	v, err := b.conn.QueryValue(ctx, LastIDQuery)
	s.ranQuery()
	var n uint64
	if err == nil {
		n, err = strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	}
	if err != nil {
		if s.pool.broken(b.conn, err) {
			s.dropHeld(s.pool.reasonFor(b, err), err)
			return borrowError(err, s.part.user)
		}
		n = 0 // unreadable: still lost
	}
	b.lastID, b.lastIDKnown = n, err == nil
	s.heldLookBehind = s.heldLookBehind.Remove(pinning.PinLastInsertID)
	s.learnLastID(n)
	return nil
}

// lastIDLost reports whether the session's LAST_INSERT_ID() is nowhere:
// not known, not unread on a connection it gave back, not on the one it
// holds.
func (s *Session) lastIDLost() bool {
	return !s.lastIDKnown && s.pending == nil && !(s.held != nil && s.heldLookBehind.Has(pinning.PinLastInsertID))
}

// giveBack gives b, the held backend, back to the pool after a
// statement (release with a claim); while the session's LAST_INSERT_ID()
// is known only to b, it is left there unread (deferLastID).
func (s *Session) giveBack(b *PooledConn) {
	if s.lastIDKnown || !s.heldLookBehind.Has(pinning.PinLastInsertID) {
		s.release(true)
		return
	}
	s.deferLastID(b)
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
