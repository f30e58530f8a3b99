package pool

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool/internal/core"
)

// lookBehindWindow is how long after a session gives its backend back other
// borrowers leave that connection alone while another idle one fits as
// well, so that a look-behind statement of the session finds it. It covers
// a client's round trip between two statements; it never makes anyone wait
// or open a connection.
const lookBehindWindow = time.Second

// ErrLookBehindLost is the sentinel for LookBehindError:
// errors.Is(err, ErrLookBehindLost) reports that a statement reading the
// previous statement's state could not run where that state is.
var ErrLookBehindLost = errors.New("pool: the previous statement's connection is no longer available")

// LookBehindLoss says why a look-behind statement could not be served.
type LookBehindLoss uint8

// The losses.
const (
	// LossReused: another session borrowed the connection after the
	// session's previous statement (a released connection goes at once
	// to a borrower waiting for one, so this is frequent when the pool is
	// saturated).
	LossReused LookBehindLoss = iota + 1
	// LossClosed: the connection was closed after the session's previous
	// statement (broken, lifetime, idle limit, failover, or the pool made
	// room for another user).
	LossClosed
	// LossNoPrevious: the session has run no statement since it started
	// or was reset, and the connection it would get may hold another
	// session's state.
	LossNoPrevious
	// LossElsewhere: the session still has its previous statement's
	// connection, but the state the statement reads cannot be shown to be
	// this session's: the statement that left it ran on another
	// connection, or the statements since on this one may not have
	// replaced what another session left there (MariaDB keeps warnings
	// across statements that use no table and raise no message, and
	// FOUND_ROWS() across statements that are not SELECTs).
	LossElsewhere
)

// LookBehindError is returned by Session.AcquireFor for a statement that
// reads state the session's previous statement left on its connection
// (FOUND_ROWS(), ROW_COUNT(), SHOW WARNINGS/ERRORS, GET DIAGNOSTICS,
// @@warning_count, @@error_count) when that connection is no longer the
// session's to take back. The statement was not run: run anywhere else, it
// would read another session's state. It matches ErrLookBehindLost.
type LookBehindError struct {
	// Reasons are the statement's look-behind pin reasons.
	Reasons pinning.PinReasons
	// Loss says what happened to the connection.
	Loss LookBehindLoss
}

// Error names what the statement reads, what happened, and what to do.
func (e *LookBehindError) Error() string {
	var b strings.Builder
	b.WriteString("pool: ")
	b.WriteString(lookBehindWhat(e.Reasons))
	b.WriteString(" reads the state an earlier statement left on its connection, but ")
	switch e.Loss {
	case LossReused:
		b.WriteString("that connection has been reused by another session")
	case LossClosed:
		b.WriteString("that connection has been closed")
	case LossElsewhere:
		b.WriteString("the statement that left it ran on another connection than this session's statements since")
	default:
		b.WriteString("this session has run no statement since it started or was reset")
	}
	b.WriteString("; run the statements in one transaction (BEGIN ... COMMIT), or use session pooling so that the session keeps its connection")
	if e.Loss == LossElsewhere && e.Reasons.Has(pinning.PinDiagnostics) {
		b.WriteString(" (the warning list counts as the session's own only after a statement that raised a warning or error, as the server reported it)")
	}
	return b.String()
}

// Is makes errors.Is(err, ErrLookBehindLost) true.
func (e *LookBehindError) Is(target error) bool { return target == ErrLookBehindLost }

// lookBehindWhat names the statements behind reasons for an error message.
func lookBehindWhat(reasons pinning.PinReasons) string {
	var parts []string
	if reasons.Has(pinning.PinRowCount) {
		parts = append(parts, "ROW_COUNT()")
	}
	if reasons.Has(pinning.PinFoundRows) {
		parts = append(parts, "FOUND_ROWS()")
	}
	if reasons.Has(pinning.PinDiagnostics) {
		parts = append(parts, "SHOW WARNINGS/ERRORS (or GET DIAGNOSTICS, @@warning_count)")
	}
	if len(parts) == 0 {
		return "the statement"
	}
	return strings.Join(parts, " / ")
}

// lookBehindReads returns the look-behind reasons for which the statement
// sql, classified as r, reads state an earlier statement left on the
// connection. pinning reports SQL_CALC_FOUND_ROWS and FOUND_ROWS() with the
// same reason, PinFoundRows; SQL_CALC_FOUND_ROWS only leaves state for a
// later FOUND_ROWS() and reads none, so PinFoundRows counts as a read only
// if sql calls FOUND_ROWS (see callsFoundRows).
func lookBehindReads(sql string, r *pinning.Result) pinning.PinReasons {
	if r == nil {
		return 0
	}
	reads := r.Pins & pinning.LookBehind
	if reads.Has(pinning.PinFoundRows) && !callsFoundRows(sql) {
		reads = reads.Remove(pinning.PinFoundRows)
	}
	return reads
}

// callsFoundRows reports whether sql has FOUND_ROWS as a word of its own
// (not part of SQL_CALC_FOUND_ROWS or another name), case-insensitively. It
// does not skip strings or comments, so it may say yes where the server
// would see no call: that only asks for the previous connection where
// none was needed.
func callsFoundRows(sql string) bool {
	const word = "found_rows"
	for i := 0; i+len(word) <= len(sql); i++ {
		if sql[i]|0x20 != 'f' || !foldHasPrefix(sql[i:], word) {
			continue
		}
		if i > 0 && isWordByte(sql[i-1]) {
			continue
		}
		if j := i + len(word); j < len(sql) && isWordByte(sql[j]) {
			continue
		}
		return true
	}
	return false
}

// foldHasPrefix reports whether s starts with lower, an ASCII lower-case
// word, ignoring ASCII case.
func foldHasPrefix(s, lower string) bool {
	if len(s) < len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// isWordByte reports whether c can be part of an unquoted MySQL name
// (bytes of multi-byte UTF-8 characters included).
func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

// lookBehindWrites returns the kinds of look-behind state (as reasons of
// pinning.LookBehind) that a statement classified as r (nil: unknown)
// that ended with st certainly replaced on its connection:
//   - ROW_COUNT(): every statement the server answered sets it; a failed
//     one only if the caller reports the server's error (st.Warnings > 0).
//   - FOUND_ROWS(): every SELECT sets it; the only SELECTs pinning
//     identifies are those with SQL_CALC_FOUND_ROWS or FOUND_ROWS() (a
//     read-only statement with PinFoundRows).
//   - warnings and errors: a statement that raised a message replaces
//     the list (st.Warnings > 0); one that used a table clears it, which
//     pinning cannot tell.
func lookBehindWrites(r *pinning.Result, st *Status) pinning.PinReasons {
	var w pinning.PinReasons
	if st.Warnings > 0 {
		w = w.Add(pinning.PinDiagnostics).Add(pinning.PinRowCount)
	}
	if st.Err != nil {
		return w
	}
	w = w.Add(pinning.PinRowCount)
	if r != nil && r.ReadOnly && r.Pins.Has(pinning.PinFoundRows) {
		w = w.Add(pinning.PinFoundRows)
	}
	return w
}

// pinsAfter returns the reasons r pins the session for once it ran where
// its look-behind reads are right (lookBehind): none of pinning.LookBehind,
// which create no state a later statement needs beyond what the session's
// look-behind tracking follows (the FOUND_ROWS() after a
// SQL_CALC_FOUND_ROWS is served the same way), and no PinExecutableComment
// if only look-behind reasons can have raised it.
func pinsAfter(r *pinning.Result, lookBehind bool) pinning.PinReasons {
	pins := r.Pins
	if !lookBehind {
		return pins
	}
	pins &^= pinning.LookBehind
	if pins == pinning.PinReasons(0).Add(pinning.PinExecutableComment) && r.Pins&pinning.LookBehind != 0 {
		pins = 0
	}
	return pins
}

// AcquireFor is Acquire for the statement sql, classified as r (r may be
// nil: then it is Acquire). Callers that can use it should, instead of
// Acquire: it serves look-behind statements correctly without pinning.
//
// A look-behind statement reads state an earlier statement of the session
// left on its connection: ROW_COUNT(), FOUND_ROWS(), SHOW WARNINGS, SHOW
// ERRORS, SHOW COUNT(*) WARNINGS, GET DIAGNOSTICS, @@warning_count,
// @@error_count (the reasons of pinning.LookBehind; sql is read only to
// tell a FOUND_ROWS() call from SQL_CALC_FOUND_ROWS, which reads nothing).
// For one, AcquireFor returns the connection the session's previous
// statement ran on, as that statement left it, provided the state the
// statement reads is certainly the session's own there:
//   - the backend the session holds (transaction, pin, session mode), as
//     Acquire would;
//   - otherwise exactly the backend the session gave back after its
//     previous statement, if no other session has borrowed it since and it
//     is still open. Nothing is run on it first (no health check, no
//     settings difference), and the caller must send nothing either
//     before the statement. AcquireFor never waits for it.
//   - otherwise no backend: a *LookBehindError (errors.Is
//     ErrLookBehindLost) says why, and the statement must not run, since
//     on any other connection it would read another session's state.
//
// Which state counts as the session's own (lookBehindWrites) is
// explained in docs/design.md, "Look-behind statements"; the caller's
// part is to report Status.Warnings to Done.
//
// A look-behind statement served this way does not pin the session (Done
// drops those reasons), and neither does SQL_CALC_FOUND_ROWS. For any
// other statement AcquireFor is Acquire.
func (s *Session) AcquireFor(ctx context.Context, sql string, r *pinning.Result) (*PooledConn, error) {
	reads := lookBehindReads(sql, r)
	sync := false
	autoIsNull := s.autoIsNull() && mentionsIsNull(sql)
	if s.lastIDZeroLost && s.lastIDKnown {
		s.lastIDKnown = false // the 0 of an insert that did not run
	}
	// The session's value may have been delivered since it left it
	// unread on a connection it gave back.
	s.collectPending()
	needID := r != nil && (r.ReadsLastInsertID || r.Inserts || autoIsNull) && !s.closed
	if needID && s.pending != nil {
		switch {
		case s.held == nil && reads == 0:
			return s.acquireForPending(ctx, r, r.ReadsLastInsertID || autoIsNull)
		case s.held != nil || s.claim != s.pendingClaim:
			if err := s.resolvePending(ctx); err != nil {
				return nil, err
			}
		}
		// Otherwise the connection is that of the session's previous
		// statement, which the look-behind path below takes back.
	}
	if needID && (r.ReadsLastInsertID || autoIsNull) && s.lastIDZeroLost && !s.lastIDKnown &&
		s.held != nil && s.heldLookBehind.Has(pinning.PinLastInsertID) {
		if err := s.checkZeroLost(ctx); err != nil {
			return nil, err
		}
	}
	if needID {
		// LAST_INSERT_ID() on the backend must be the session's before
		// the statement reads it or inserts (lastid.go).
		switch {
		case s.lastIDKnown:
			sync = true
		case r.ReadsLastInsertID || autoIsNull:
			reads = reads.Add(pinning.PinLastInsertID)
		case s.lastIDLost():
			// An insert from a lost value: run it from 0, so that
			// the value read back afterwards tells whether it
			// generated an id (the session's value from then on) or
			// not (still lost).
			s.lastID, s.lastIDKnown, s.lastIDZeroLost = 0, true, true
			sync = true
		}
	}
	if reads == 0 || s.closed {
		b, err := s.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		// SQL_CALC_FOUND_ROWS without FOUND_ROWS(): any connection will
		// do, and the session need not pin for it.
		s.lookBehindStmt = r != nil && r.Pins&pinning.LookBehind != 0
		if sync {
			if err := s.syncLastID(ctx, b); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	if s.held != nil {
		if reads&^s.heldLookBehind != 0 {
			return nil, s.lost(reads, s.noPrevious(LossElsewhere), nil)
		}
		s.inflight, s.lookBehindStmt = true, true
		s.lookBehindBefore = s.heldLookBehind
		return s.held, s.syncBehind(ctx, s.held, reads, sync)
	}
	if err := ctx.Err(); err != nil {
		return nil, borrowError(err, s.part.user)
	}
	if s.claim.IsZero() {
		return nil, s.lost(reads, LossNoPrevious, nil)
	}
	if reads&^s.heldLookBehind != 0 {
		return nil, s.lost(reads, s.noPrevious(LossElsewhere), nil)
	}
	p := s.pool
	p.stats.borrows.Add(1)
	res, err := p.core.Reclaim(s.part.core, s.claim)
	if err != nil {
		if errors.Is(err, core.ErrClosed) {
			return nil, ErrClosed
		}
		// The claim stays: a later look-behind statement fails the same
		// way, and the next ordinary Acquire gives it up.
		loss := LossReused
		if errors.Is(err, core.ErrClaimClosed) {
			loss = LossClosed
		}
		return nil, s.lost(reads, loss, err)
	}
	s.claim = core.Claim[*PooledConn]{}
	b := res.Value()
	b.res = res
	if b.unread != nil && b.unread == s.pending {
		_ = s.adopt(ctx, b) // the session's own value: nothing to read
	}
	if b.tag != s.tag {
		// Cannot happen (the session's state changes only with a
		// statement on the backend, and a reset drops the claim); if it
		// did, bringing b to the session's state would overwrite what
		// the statement reads.
		res.Release()
		return nil, s.lost(reads, LossElsewhere, errors.New("session state differs from its previous connection's"))
	}
	p.stats.lookBehindReclaimed.Add(1)
	p.stats.reuseExact.Add(1)
	p.stats.borrowLatency.observe(0)
	s.held, s.inflight, s.lookBehindStmt = b, true, true
	s.lookBehindBefore = s.heldLookBehind
	if err := s.syncBehind(ctx, b, reads, sync); err != nil {
		return nil, err
	}
	return b, nil
}

// acquireForPending is AcquireFor for a statement that needs the session's
// LAST_INSERT_ID() (it inserts, or readsID: reads it) while the value is
// unread on the connection the session gave back after an earlier
// statement: the ordinary borrow, which takes that connection back when it
// is idle (adopt: the value is in place), else the value is fetched
// (resolvePending) and set on the connection borrowed. A value found lost
// refuses a statement that reads it.
func (s *Session) acquireForPending(ctx context.Context, r *pinning.Result, readsID bool) (*PooledConn, error) {
	b, err := s.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	s.lookBehindStmt = r.Pins&pinning.LookBehind != 0
	if s.pending != nil {
		if err := s.resolvePending(ctx); err != nil {
			s.unborrow()
			return nil, err
		}
	}
	switch {
	case !s.lastIDKnown && s.lookBehindBefore.Has(pinning.PinLastInsertID):
		// b is the connection the value is on.
	case s.lastIDKnown:
		if err := s.syncLastID(ctx, b); err != nil {
			return nil, err
		}
	case readsID:
		s.unborrow()
		return nil, s.lost(pinning.PinReasons(0).Add(pinning.PinLastInsertID), LossClosed, errors.New("the connection holding LAST_INSERT_ID() failed before it was read"))
	}
	return b, nil
}

// unborrow gives back the backend just borrowed for a statement that will
// not run (nothing ran on it).
func (s *Session) unborrow() {
	s.inflight, s.lookBehindStmt = false, false
	if s.held != nil && s.mode == ModeTransaction && !s.inTx && !s.moreResults && !s.Pinned() {
		s.release(true)
	}
}

// mentionsIsNull reports whether sql has IS NULL in it, which under
// sql_auto_is_null may read LAST_INSERT_ID() (a rare setting: this
// allocates).
func mentionsIsNull(sql string) bool {
	return strings.Contains(strings.Join(strings.Fields(strings.ToUpper(sql)), " "), "IS NULL")
}

// autoIsNull reports whether the session set sql_auto_is_null, under which
// WHERE id IS NULL finds the row of LAST_INSERT_ID(): every statement may
// read it.
func (s *Session) autoIsNull() bool {
	v, ok := s.settings.Get(pinning.VarSQLAutoIsNull)
	return ok && v == "1"
}

// syncBehind brings LAST_INSERT_ID() on b, held for a look-behind
// statement, to the session's known value when sync is set. The DO it may
// run replaces ROW_COUNT(): a statement that also reads that is refused.
func (s *Session) syncBehind(ctx context.Context, b *PooledConn, reads pinning.PinReasons, sync bool) error {
	if !sync || (b.lastIDKnown && b.lastID == s.lastID) {
		return nil
	}
	if reads.Has(pinning.PinRowCount) {
		s.inflight, s.lookBehindStmt = false, false
		if s.mode == ModeTransaction && !s.inTx && !s.moreResults && !s.Pinned() {
			s.release(true)
		}
		return s.lost(reads, LossElsewhere, errors.New("LAST_INSERT_ID() must be set first, which replaces ROW_COUNT()"))
	}
	return s.syncLastID(ctx, b)
}

// noPrevious returns LossNoPrevious for a session that has run nothing since
// it started or was reset, else loss.
func (s *Session) noPrevious(loss LookBehindLoss) LookBehindLoss {
	if !s.ran {
		return LossNoPrevious
	}
	return loss
}

// lost counts and builds the error for a look-behind statement that cannot
// be served.
func (s *Session) lost(reads pinning.PinReasons, loss LookBehindLoss, err error) error {
	s.pool.stats.lookBehindLost.Add(1)
	s.pool.log.Debug("pool: look-behind statement cannot be served",
		"user", s.part.user, "reasons", reads.String(), "loss", loss, "err", err)
	return &LookBehindError{Reasons: reads, Loss: loss}
}

// borrowedBase sets the session's look-behind base for a statement about
// to run on res, just borrowed by an ordinary Acquire with the claim prev:
// the session's own state carries over if res is the connection of its
// previous statement, untouched; a session that has run nothing since it
// started or was reset owns all state of a connection no other session has
// used since it was opened or reset; otherwise it owns none.
func (s *Session) borrowedBase(res *core.Resource[*PooledConn], prev core.Claim[*PooledConn]) {
	switch {
	case prev.Took(res):
		s.lookBehindBefore = s.heldLookBehind
	case !s.ran && !res.Value().used:
		s.lookBehindBefore = pinning.LookBehind
	default:
		s.lookBehindBefore = 0
	}
}

// recordLookBehind updates what look-behind state the session owns after a
// statement (r, st) ran on its backend.
func (s *Session) recordLookBehind(r *pinning.Result, st *Status) {
	w := lookBehindWrites(r, st)
	if s.diagnosticsReplaced {
		w = w.Remove(pinning.PinDiagnostics)
		s.diagnosticsReplaced = false
	}
	if insertIDWrites(r, st) {
		w = w.Add(pinning.PinLastInsertID)
	}
	s.heldLookBehind = w | s.lookBehindBefore
	if st.Prepared {
		s.heldLookBehind &^= pinning.PinReasons(1<<pinning.PinDiagnostics | 1<<pinning.PinRowCount | 1<<pinning.PinFoundRows)
	}
	if s.lastIDKnown {
		s.heldLookBehind = s.heldLookBehind.Remove(pinning.PinLastInsertID)
	}
	s.lookBehindBefore = s.heldLookBehind // for a further Done on the same backend (more results)
	s.ran = true
}

// ranQuery records that the pool itself ran a SELECT on the session's
// connection (a read-back): it replaced ROW_COUNT() and FOUND_ROWS(), which
// are no longer the session's own there.
func (s *Session) ranQuery() {
	const replaced = pinning.PinReasons(1<<pinning.PinRowCount | 1<<pinning.PinFoundRows)
	s.heldLookBehind &^= replaced
	s.lookBehindBefore &^= replaced
}

// dropClaim gives up the session's claim on the backend it released last.
func (s *Session) dropClaim() {
	if !s.claim.IsZero() {
		s.pool.core.Unclaim(s.claim)
		s.claim = core.Claim[*PooledConn]{}
	}
}
