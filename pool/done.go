package pool

import (
	"context"
	"errors"

	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool/internal/core"
)

// Status is what is known after a statement ran on a backend.
type Status struct {
	// InTransaction: a transaction is open on the backend (the server's
	// SERVER_STATUS_IN_TRANS flag; a caller that cannot see the flags
	// derives it from the classifier's transaction effects).
	InTransaction bool
	// MoreResults: more result sets of the same statement are still to
	// be read from the backend (SERVER_MORE_RESULTS_EXISTS).
	MoreResults bool
	// Err is the error the statement ended with, nil on success. A
	// statement that failed changed nothing (its settings, schema and pins
	// are not recorded; for a multi-statement batch, whose earlier
	// statements may have run, pins are kept and the session's state is
	// treated as unknown, which pins it). If Err means the connection is
	// broken (Config.IsBroken, or the Conn says it is no longer valid),
	// the backend is closed and the session loses what lived on it.
	Err error
	// Warnings is the warning count the server reported for the statement
	// (OK or EOF packet); for a statement the server answered with an
	// error packet, at least 1. 0 when there were none or it is not known.
	// It tells the session that the statement replaced the connection's
	// list of warnings and errors, which SHOW WARNINGS and the like read
	// (see AcquireFor).
	Warnings int
	// Prepared: the command was a client's prepare (COM_STMT_PREPARE, or
	// a driver's Prepare), which the caller may have answered from a
	// cache without the server preparing anything. On a dedicated
	// connection the server's PREPARE replaces the warning list and
	// ROW_COUNT(); here they may be left as they were, so the session no
	// longer owns them (a SHOW WARNINGS next is refused, not answered
	// with the older list).
	Prepared bool
	// Guessed: InTransaction was derived from the statement's text, not
	// read from the server's status flags (go-sql-driver does not show
	// them). With autocommit off the pool then keeps the backend after
	// any statement but a lone COMMIT or ROLLBACK: a batch such as
	// "SET autocommit=0; INSERT ..." opened a transaction no text rule
	// follows.
	Guessed bool
	// InsertID is the insert id of the statement's OK packet (0: none).
	// The pool follows LAST_INSERT_ID() with it (see lastid.go).
	InsertID uint64
	// InsertIDUnknown: the statement may have inserted rows whose id the
	// caller could not see (a write that returned a result set, such as
	// INSERT ... RETURNING).
	InsertIDUnknown bool
	// LastIDRead: the caller read LAST_INSERT_ID() on the connection right
	// after the statement, with LastIDQuery sent behind it (see
	// SettleAhead), and LastID is the value; the pool then has no need to
	// ask.
	LastIDRead bool
	LastID     uint64
}

// Done records the effects of a statement that ran on b (the backend
// Acquire returned): its tracked settings (values the statement computed
// are read back from the server with QueryValue), its schema change, its
// pins and unpins, and the transaction state. Then, in transaction mode,
// it gives b back to the pool if nothing holds it: no open transaction, no
// pending results, no pin. r may be nil for a statement that changes no
// session state. ctx bounds the read-backs.
func (s *Session) Done(ctx context.Context, b *PooledConn, r *pinning.Result, st Status) {
	if b == nil || b != s.held {
		panic("pool: Session.Done with a backend the session does not hold")
	}
	p := s.pool
	lookBehind := s.lookBehindStmt
	wasInTx := s.inTx
	s.inflight, s.lookBehindStmt = false, false
	b.used = true
	if st.Err != nil && p.broken(b.conn, st.Err) {
		s.recordLookBehind(r, &st)
		s.dropHeld(core.ReasonBroken, st.Err)
		return
	}
	s.collectPending()
	wrote := insertIDWrites(r, &st)
	if !wrote && s.lastIDZeroLost && s.lastIDKnown {
		s.lastIDKnown = false // the 0 AcquireFor set was only for an insert
	}
	aligned := wrote && s.lastIDAligned(b)
	if wrote {
		s.noteInsertID(r, &st)
	}
	s.recordLookBehind(r, &st)
	if wrote && !aligned {
		// The statement inserted on a backend whose LAST_INSERT_ID()
		// was not the session's: with an explicit id the server kept
		// that other value, so the session's is lost.
		s.heldLookBehind = s.heldLookBehind.Remove(pinning.PinLastInsertID)
		s.lookBehindBefore = s.heldLookBehind
	}
	if r != nil {
		pins := pinsAfter(r, lookBehind) | autocommitEndsTx(r, wasInTx)
		switch {
		case st.Err == nil:
			if !s.record(ctx, b, r, pins) {
				return // the backend broke while reading back
			}
		case r.Statements > 1:
			// A batch that failed part-way: its earlier statements ran,
			// but which of them is unknown, so a state the batch created
			// and released (LOCK TABLES ... UNLOCK TABLES) may be in
			// place.
			s.addPins(pins | r.Unpins)
			if r.ChangesSettings() || r.Schema != "" || r.DroppedSchema != "" {
				if !s.readBack(ctx, b, nil) {
					return
				}
			}
		case r.ChangesSettings():
			s.addPins(autocommitEndsTx(r, wasInTx))
			// A SET that failed may still have assigned: a KILL QUERY
			// can interrupt it after the assignment, and an error in a
			// later assignment of the same SET leaves the earlier ones
			// in place on some servers. Ask the server (the hidden
			// client collation, which it cannot say, is kept).
			if !s.readBack(ctx, b, nil) {
				return
			}
		}
	}
	if st.LastIDRead {
		s.lastIDReadAfter(b, st.LastID)
	}
	s.inTx, s.moreResults = st.InTransaction, st.MoreResults
	if !s.inTx && (st.Err != nil || (st.Guessed && !endsTx(r))) && s.autocommitOff() {
		// An error packet carries no status: with autocommit off, a
		// statement that failed may have opened a transaction (InnoDB
		// starts one as soon as the statement touches a table). Keep
		// the backend until a later statement's status says.
		s.inTx = true
	}
	if s.mode == ModeTransaction && !s.inTx && !s.moreResults && !s.Pinned() {
		s.giveBack(b)
		return
	}
	s.updateGauges()
}

// record applies r's effects to the session and to b, which stay in the
// same state, pinning the session for pins. It returns false if b broke
// (and was dropped).
func (s *Session) record(ctx context.Context, b *PooledConn, r *pinning.Result, pins pinning.PinReasons) bool {
	if s.releases(r) {
		// COMMIT/ROLLBACK RELEASE: the server closes the connection.
		s.dropHeld(core.ReasonBroken, errors.New("COMMIT/ROLLBACK RELEASE closed the connection"))
		return false
	}
	if r.ChangesSettings() {
		if followsSchema(r) {
			// character_set_database and collation_database are the
			// current database's; assigned, they hold until the next
			// USE, which rdsmux cannot carry.
			pins = pins.Add(pinning.PinUntrackedVariable)
		}
		// The server's own values, not the statement's text: DEFAULT is
		// the global value, a number may have been rounded, a collation
		// follows its character set, max_join_size sets
		// sql_big_selects. One round trip reads them all, and the
		// database with them.
		if !s.readBack(ctx, b, r) {
			return false
		}
	} else if r.Schema != "" || r.DroppedSchema != "" {
		st := s.part.stateOf()
		switch after := r.SchemaAfter(st.dbName(s.schema)); {
		case after == st.baseSchema:
			s.schema = ""
		case after == "":
			// The current database was dropped: the session has none,
			// which no other connection can be brought to.
			s.stateUnknown = true
		default:
			s.schema = after
		}
		b.schema = s.schema
		s.tag = tagOf(s.schema, &s.settings)
		b.tag = s.tag
	}
	s.addPins(pins)
	s.pins &^= r.Unpins
	if r.Tx&(pinning.TxCommit|pinning.TxRollback) != 0 && s.Chains(r) {
		// The transaction a chained COMMIT or ROLLBACK begins releases
		// the locks of LOCK TABLES, as BEGIN does (the classifier
		// unpins those): UNLOCK TABLES after it commits nothing.
		s.pins = s.pins.Remove(pinning.PinLockTables)
	}
	return true
}

// autocommitEndsTx returns the pin for a SET autocommit that ran while the
// session was in a transaction (inTx): with autocommit=1 MariaDB ends the
// transaction but keeps its access mode (START TRANSACTION READ ONLY, or
// READ WRITE in a read-only session) as the next transaction's, which no
// variable shows (@@tx_read_only and @@in_transaction say 0), so neither
// bringing another session's state nor the verifier would see it. The
// session keeps the
// connection until a COMMIT or ROLLBACK (which unpins) returns it to the
// session's characteristics, as a dedicated connection would behave.
// SET autocommit=0 in a transaction changes nothing of this, but pinning
// it too costs nothing: the transaction holds the connection anyway, and
// its COMMIT or ROLLBACK unpins.
func autocommitEndsTx(r *pinning.Result, inTx bool) pinning.PinReasons {
	if inTx && r.Tx.Has(pinning.TxSetAutocommit) {
		return pinning.PinReasons(0).Add(pinning.PinSetTransactionNext)
	}
	return 0
}

// endsTx reports whether r is a lone COMMIT or ROLLBACK (without AND
// CHAIN), after which no transaction is open whatever autocommit is.
func endsTx(r *pinning.Result) bool {
	return r != nil && r.Statements == 1 && r.Tx&(pinning.TxCommit|pinning.TxRollback) != 0 && !r.Tx.Has(pinning.TxChain)
}

// autocommitOff reports whether the session runs with autocommit off.
func (s *Session) autocommitOff() bool {
	if v, ok := s.settings.Get(pinning.VarAutocommit); ok {
		return v == "0"
	}
	return s.baseNoAutocommit
}

// releases reports whether the statement r ends with the server closing
// the connection: COMMIT/ROLLBACK RELEASE, or COMMIT/ROLLBACK under
// completion_type=RELEASE without NO RELEASE.
func (s *Session) releases(r *pinning.Result) bool {
	if r.Tx.Has(pinning.TxRelease) {
		return true
	}
	if r.Tx&(pinning.TxCommit|pinning.TxRollback) == 0 || r.Tx.Has(pinning.TxNoRelease) {
		return false
	}
	ct, _ := s.Value(pinning.VarCompletionType)
	return ct == "'RELEASE'"
}

// Chains reports whether COMMIT or ROLLBACK classified as r (nil: the
// plain statement, as a driver's Tx.Commit sends it) starts a new
// transaction at once: AND CHAIN, or completion_type=CHAIN without AND NO
// CHAIN.
func (s *Session) Chains(r *pinning.Result) bool {
	if r != nil {
		if r.Tx.Has(pinning.TxChain) {
			return true
		}
		if r.Tx.Has(pinning.TxNoChain) {
			return false
		}
	}
	ct, _ := s.Value(pinning.VarCompletionType)
	return ct == "'CHAIN'"
}

// followsSchema reports whether r assigns a variable the server derives
// from the current database (pinning.FollowsSchema).
func followsSchema(r *pinning.Result) bool {
	touched := r.Settings.Vars() | r.Defaults | r.ReadBack
	return touched.Has(pinning.VarCharacterSetDatabase) || touched.Has(pinning.VarCollationDatabase)
}

// readBack reads the held backend b's state from the server after a
// statement changed it, and makes it the session's (and b's): database and
// tracked settings. It returns false if b broke (and was dropped); a state
// that cannot be read pins the session.
func (s *Session) readBack(ctx context.Context, b *PooledConn, r *pinning.Result) bool {
	p := s.pool
	st := s.part.stateOf()
	cs, err := readState(ctx, b.conn, st)
	if err != nil {
		if p.broken(b.conn, err) {
			// The statement ran, but what it left is unknown now: the
			// session cannot go on as if it had its settings (the
			// client is told, as when a pinned session loses its
			// backend).
			s.stateLost = true
			s.dropHeld(core.ReasonBroken, err)
			return false
		}
		p.log.Warn("pool: could not read back the session's settings; pinning the session",
			"user", b.user, "err", err)
		s.stateUnknown = true
		return true
	}
	s.ranQuery()
	cs.keepClientCollation(b, st, r)
	b.setState(&cs, st)
	if b.schema == noSchema {
		// The current database was dropped: the session has none,
		// which no other connection can be brought to.
		s.stateUnknown = true
	}
	s.schema, s.settings, s.tag = b.schema, b.settings, b.tag
	return true
}

// addPins adds reasons to the session's pins, counting each new one.
func (s *Session) addPins(reasons pinning.PinReasons) {
	added := reasons &^ s.pins
	if added == 0 {
		return
	}
	s.pins |= reasons
	added.Each(func(pr pinning.PinReason) {
		if int(pr) < len(s.pool.stats.pins) {
			s.pool.stats.pins[pr].Add(1)
		}
	})
	s.pool.log.Debug("pool: session pinned", "user", s.part.user, "reasons", added.String())
}

// errInvalidAtRelease is why a backend found broken when given back is
// closed.
var errInvalidAtRelease = errors.New("pool: the backend connection was no longer valid when given back")

// release gives the held backend back to the pool; with claim the session
// keeps a claim on it for a look-behind statement next (AcquireFor).
func (s *Session) release(claim bool) {
	b := s.held
	if b.validator != nil && !b.validator.IsValid() {
		// Broken after the statement without the pool seeing an error
		// (the caller read something more from it): never give it to
		// another session.
		s.dropHeld(core.ReasonBroken, errInvalidAtRelease)
		return
	}
	s.held = nil
	s.inflight = false
	s.updateGauges()
	b.res.SetTag(b.tag)
	if claim {
		s.claim = b.res.ReleaseClaim()
		return
	}
	s.claim = core.Claim[*PooledConn]{}
	b.res.Release()
}

// dropHeld closes the held backend; what lived on it (transaction, pins)
// is gone with it.
func (s *Session) dropHeld(reason core.Reason, err error) {
	b := s.held
	s.held = nil
	if s.pins != 0 || s.stateUnknown || s.inTx {
		s.stateLost = true
		s.pool.log.Warn("pool: a pinned session lost its backend connection; its session state is gone",
			"user", s.part.user, "reasons", s.pins.String(), "err", err)
	}
	s.inTx, s.moreResults, s.inflight = false, false, false
	s.pins, s.stateUnknown = 0, false
	s.updateGauges()
	s.pool.log.Debug("pool: closing backend connection", "user", b.user, "reason", reason.String(), "err", err)
	// A look-behind statement next learns that the connection closed.
	s.claim = b.res.Claim()
	b.res.Destroy(reason)
}

// updateGauges keeps the pool's in-transaction and pinned gauges in step
// with this session.
func (s *Session) updateGauges() {
	st := &s.pool.stats
	if tx := s.held != nil && s.inTx; tx != s.countedTx {
		s.countedTx = tx
		if tx {
			st.inTx.Add(1)
		} else {
			st.inTx.Add(-1)
		}
	}
	if pin := s.held != nil && s.Pinned(); pin != s.countedPin {
		s.countedPin = pin
		if pin {
			st.pinned.Add(1)
		} else {
			st.pinned.Add(-1)
		}
	}
}

// ResetState is the client's COM_RESET_CONNECTION (or the start of a
// COM_CHANGE_USER to the same user): tracked settings return to those the
// session started with (SessionOptions.Settings), pins and the transaction
// are cleared; the schema stays. A held backend is reset (or
// closed if it cannot be) and, in transaction mode, given back. The
// returned error is informational: the session's state is cleared either
// way.
func (s *Session) ResetState(ctx context.Context) error {
	s.settings = s.initial
	s.pins, s.stateUnknown, s.inTx, s.moreResults, s.lookBehindStmt = 0, false, false, false, false
	s.stateLost = false
	s.lastID, s.lastIDKnown, s.lastIDZeroLost = 0, true, false
	s.abandonPending()
	s.tag = tagOf(s.schema, &s.settings)
	// Nothing before the reset can be looked behind at any more.
	s.dropClaim()
	s.ran, s.heldLookBehind = false, 0
	var err error
	if s.held != nil {
		err = s.resetHeld(ctx)
		if s.held != nil && s.mode == ModeTransaction {
			s.release(false)
		}
		if s.held != nil {
			// Session mode keeps the freshly reset connection: all its
			// state is as a new session's.
			s.heldLookBehind = pinning.LookBehind
		}
	}
	s.claim = core.Claim[*PooledConn]{} // also from a backend closed by the reset
	s.updateGauges()
	return err
}

// resetHeld resets the held backend's session state and re-runs the init
// query. If that fails the backend is closed (s.held becomes nil); the
// error is returned unless the backend type simply cannot reset.
func (s *Session) resetHeld(ctx context.Context) error {
	p, b := s.pool, s.held
	err := b.conn.Reset(ctx)
	if err == nil && p.cfg.InitQuery != "" {
		err = b.conn.Exec(ctx, p.cfg.InitQuery)
	}
	if err == nil {
		// MariaDB keeps the current database across a reset but returns
		// character_set_database and collation_database to the server's
		// defaults; USE it again sets them from the database, as on a
		// fresh connection.
		if b.schema != noSchema {
			if db := s.part.stateOf().dbName(b.schema); db != "" {
				err = b.conn.Exec(ctx, "USE "+quoteIdent(db))
			}
		}
	}
	if err != nil {
		reason := core.ReasonDirty
		if !errors.Is(err, ErrResetUnsupported) && p.broken(b.conn, err) {
			reason = core.ReasonBroken
		}
		s.dropHeld(reason, err)
		if errors.Is(err, ErrResetUnsupported) {
			return nil
		}
		return err
	}
	p.stats.resets.Add(1)
	b.used = false
	b.lastIDKnown = false
	// What a reset leaves is the server's to say (MariaDB returns
	// variables to their global values, keeps the database).
	cs, err := readState(ctx, b.conn, s.part.stateOf())
	if err != nil {
		s.dropHeld(p.reasonFor(b, err), err)
		return err
	}
	b.setState(&cs, s.part.stateOf())
	s.inTx, s.moreResults, s.inflight = false, false, false
	return nil
}

// Close ends the session. A held backend is never given back dirty: one
// with results pending is closed; one that is pinned, or whose state is
// unknown (Acquire without Done), is reset (or closed when it cannot be);
// one in a transaction is rolled back (or closed if that fails); otherwise
// (session mode) it is given back as it is. Close is idempotent; the
// error is informational.
func (s *Session) Close(ctx context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.dropClaim()
	s.abandonPending()
	if s.held == nil {
		return nil
	}
	var err error
	switch {
	case s.moreResults:
		s.dropHeld(core.ReasonDirty, errors.New("session ended with results pending"))
	case s.Pinned() || s.inflight:
		s.pins, s.stateUnknown = 0, false
		err = s.resetHeld(ctx)
	case s.inTx:
		// AND NO CHAIN NO RELEASE: under completion_type=CHAIN a plain ROLLBACK
		// opens the next transaction, which would go back to the pool
		// with the connection (and under RELEASE, closes the connection).
		if e := s.held.conn.Exec(ctx, "ROLLBACK AND NO CHAIN NO RELEASE"); e != nil {
			s.dropHeld(s.pool.reasonFor(s.held, e), e)
		} else {
			s.pool.stats.rollbacks.Add(1)
			s.inTx = false
		}
	}
	if s.held != nil {
		s.release(false)
	}
	s.claim = core.Claim[*PooledConn]{}
	s.updateGauges()
	return err
}
