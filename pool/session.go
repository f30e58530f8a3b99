package pool

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rdsmux/rdsmux/backoff"
	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool/internal/core"
)

// Mode is when a session gives its backend connection back.
type Mode uint8

const (
	// ModeTransaction borrows a backend per transaction (or per statement
	// outside one) and gives it back as soon as nothing holds it: no open
	// transaction, no pending results, no pin. The default.
	ModeTransaction Mode = iota
	// ModeSession holds one backend from the first Acquire until Close.
	ModeSession
)

// SessionOptions configure a session.
type SessionOptions struct {
	Mode Mode
	// Schema is the database the session starts in; "" means the one a
	// fresh connection for the user starts in.
	Schema string
	// Settings are tracked settings the session starts with (for example
	// from the client's connection parameters).
	Settings pinning.Settings
}

// Session is one client session (a database/sql connection, a listener
// client) multiplexed onto the pool. It tracks what the client changed
// (settings, schema, pins, transaction state), borrows a backend that
// matches it, and gives the backend back when nothing holds it.
//
// A Session is used by one goroutine at a time, like the client
// connection it stands for.
//
// The protocol for each statement: classify it with package pinning,
// AcquireFor (or Acquire, which cannot serve look-behind statements without
// pinning), run it on PooledConn.Conn, then Done with the result and the
// status. ResetState on the client's COM_RESET_CONNECTION; Close at the
// end.
type Session struct {
	pool *Pool
	part *partition
	mode Mode

	// settings are the session's tracked settings as differences from the
	// partition's baseline (see state.go); initial are those it started
	// with (SessionOptions.Settings), which a reset returns to.
	settings, initial pinning.Settings
	schema            string // the client's current database; "" the baseline's
	tag               string // tagOf(schema, settings)
	// normalized: schema and settings were said relative to the
	// partition's baseline (normalize), which is known from the first
	// connection on.
	normalized bool
	// baseNoAutocommit: the baseline has autocommit off; baseline is the
	// partition's baseline (immutable once set). Both are set by
	// normalize, so that Value and autocommitOff take no lock.
	baseNoAutocommit bool
	baseline         *pinning.Settings

	held         *PooledConn
	inTx         bool // the server says a transaction is open
	moreResults  bool // results pending on the held backend
	pins         pinning.PinReasons
	stateUnknown bool // a read-back of a setting failed: state unknown, pinned
	stateLost    bool // a held backend with the session's state on it broke
	// LAST_INSERT_ID() (see lastid.go): the session's value when
	// lastIDKnown.
	lastID      uint64
	lastIDKnown bool
	// pending, when set, is the slot of the session's value left unread
	// on a connection it gave back, and pendingClaim a claim on that
	// connection as it was then, for resolvePending (lastid.go).
	pending      *lastIDSlot
	pendingClaim core.Claim[*PooledConn]
	// lastIDZeroLost: the value was lost, and a statement that inserts
	// ran from 0 (AcquireFor): until a value is read back, a 0 means it
	// is still lost, anything else is the id the insert generated.
	lastIDZeroLost bool
	countedTx      bool // counted in stats.inTx
	countedPin     bool // counted in stats.pinned
	inflight       bool // Acquire returned and Done was not called yet
	closed         bool

	// claim is on the backend the session gave back after its last
	// statement, for a look-behind statement to take back (AcquireFor);
	// zero while the session holds a backend, before its first statement
	// and after a reset.
	claim core.Claim[*PooledConn]
	// lookBehindStmt: the statement in flight was acquired by AcquireFor
	// for its look-behind reads and runs where they are right; Done drops
	// those pin reasons.
	lookBehindStmt bool
	// heldLookBehind: the kinds of look-behind state (reasons of
	// pinning.LookBehind) that the connection of the session's previous
	// statement holds as the session's own statements left them;
	// lookBehindBefore: the same for the statement in flight, before it
	// ran (see AcquireFor).
	heldLookBehind, lookBehindBefore pinning.PinReasons
	ran                              bool // a statement ran since the session started or was reset
	// diagnosticsReplaced: a SET of the pool's ran after the statement in
	// flight failed (InState switching back), so the error is not what
	// the connection's diagnostics hold.
	diagnosticsReplaced bool
}

// NewSession starts a session for user. It borrows nothing until Acquire.
func (p *Pool) NewSession(user string, opts SessionOptions) *Session {
	s := &Session{
		pool:     p,
		part:     p.partition(user),
		mode:     opts.Mode,
		settings: opts.Settings,
		initial:  opts.Settings,
		schema:   opts.Schema,
		// A new connection's LAST_INSERT_ID() is 0.
		lastIDKnown: true,
	}
	s.tag = tagOf(s.schema, &s.settings)
	s.normalize()
	return s
}

// User returns the session's user.
func (s *Session) User() string { return s.part.user }

// Settings returns the session's tracked settings.
func (s *Session) Settings() pinning.Settings { return s.settings }

// Value returns the session's value of a tracked variable as a normalized
// literal (see pinning.ServerValue): its own setting, else the baseline's,
// the value a fresh connection has. ok is false when neither is known
// (before the partition's first connection, or a variable the server does
// not have).
func (s *Session) Value(v pinning.Var) (lit string, ok bool) {
	if lit, ok := s.settings.Get(v); ok {
		return lit, true
	}
	if s.baseline != nil {
		return s.baseline.Get(v)
	}
	if st := s.part.stateOf(); st != nil {
		return st.base.Get(v)
	}
	return "", false
}

// Schema returns the session's current database ("" for the user's
// default).
func (s *Session) Schema() string { return s.schema }

// Pinned reports whether the session keeps its backend until it ends (or
// until ResetState).
func (s *Session) Pinned() bool { return s.pins != 0 || s.stateUnknown }

// PinReasons returns why the session is pinned.
func (s *Session) PinReasons() pinning.PinReasons { return s.pins }

// InTransaction reports whether the server last said a transaction is open.
func (s *Session) InTransaction() bool { return s.inTx }

// StateLost reports whether a backend the session held with state on it
// (an open transaction, a pin) broke, so that state is gone: the client
// must be told (its connection closed, as a server crash would) rather than
// carry on as if it were there. It stays true until ResetState. A backend
// can break even after its statement succeeded, while the pool reads back
// the settings the statement changed.
func (s *Session) StateLost() bool { return s.stateLost }

// Held returns the backend the session holds, or nil.
func (s *Session) Held() *PooledConn { return s.held }

// Acquire returns the backend the session holds, if it holds one (in a
// transaction, pinned, session mode), or borrows one: the most recently
// used idle connection of the session's user whose settings and schema
// already match the session's, else a clean one, else any (then only the
// difference is applied). An idle connection unused for longer than
// HealthCheckIdle is pinged first and replaced if dead. When all
// connections are busy it waits, first come first served, up to
// ConnectionBorrowTimeout (then *BorrowTimeoutError) or until ctx ends
// (then ctx's error, at once).
func (s *Session) Acquire(ctx context.Context) (*PooledConn, error) {
	if s.closed {
		return nil, ErrSessionClosed
	}
	s.lookBehindStmt = false
	if s.held != nil {
		s.inflight = true
		s.lookBehindBefore = s.heldLookBehind
		return s.held, nil
	}
	if !s.normalized {
		s.normalize()
	}
	p := s.pool
	p.stats.borrows.Add(1)
	var start time.Time
	failures := 0 // connections found dead while brought to state
	br := borrowRetry{timeout: p.borrowTimeout}
	for {
		// The claim on the previous backend is given up in the same step,
		// which makes that backend (if still idle) the likely pick.
		prev := s.claim
		r, _, err := p.core.AcquireAfter(ctx, s.part.core, s.tag, br.timeout, prev)
		if err != nil {
			if err := s.borrowFailed(ctx, &br, err); err != nil {
				return nil, err
			}
			continue
		}
		s.claim = core.Claim[*PooledConn]{}
		b := r.Value()
		b.res = r
		s.borrowedBase(r, prev)
		if err := s.adopt(ctx, b); err != nil {
			if p.broken(b.conn, err) {
				r.Destroy(p.reasonFor(b, err))
				continue
			}
		}
		if b.tag == s.tag && (p.healthIdle < 0 || r.IdleFor() <= p.healthIdle) {
			// Fast path: nothing to check, nothing to apply.
			p.stats.exactMatch(r.Waited())
			return s.ready(ctx, b)
		}
		if start.IsZero() {
			start = p.now()
		}
		again, err := s.bringToState(ctx, r, &failures)
		if err != nil {
			return nil, err
		}
		if again {
			continue
		}
		p.stats.borrowLatency.observe(r.Waited() + p.now().Sub(start))
		return s.ready(ctx, b)
	}
}

// ready makes b the session's held connection for the statement about to
// run (verified first with Config.VerifyState).
func (s *Session) ready(ctx context.Context, b *PooledConn) (*PooledConn, error) {
	s.held, s.inflight = b, true
	if s.pool.cfg.VerifyState {
		return s.verified(ctx, b)
	}
	return b, nil
}

// borrowRetry is a borrow's state across its attempts: the time left
// and the dials that failed.
type borrowRetry struct {
	timeout time.Duration // for the next attempt
	// deadline is the borrow timeout's, set at the first failed dial (the
	// path that succeeds reads no clock for it).
	deadline time.Time
	retries  int   // transient dial failures so far
	dialErr  error // the last failed dial's error
}

// borrowFailed handles a failed attempt to borrow from the pool: nil
// when the borrow should try again, else the error for the caller. A dial
// that failed transiently (a network blip, a database restarting) is
// retried, after a backoff, as long as the borrow timeout and ctx allow,
// as RDS Proxy does, instead of failing every waiting client at once.
func (s *Session) borrowFailed(ctx context.Context, br *borrowRetry, err error) error {
	p := s.pool
	if df, ok := err.(*core.DialFailedError); ok {
		if br.timeout > 0 && br.deadline.IsZero() {
			br.deadline = time.Now().Add(br.timeout - df.Waited)
		}
		err = df.Err
		br.dialErr = err
	}
	var te *core.TimeoutError
	if br.dialErr != nil && errors.As(err, &te) {
		// The time left after dials failed ran out while waiting: what
		// the caller must hear is that the database cannot be reached,
		// not a busy pool.
		err = br.dialErr
	}
	if p.transientDial(err) {
		if wait, ok := retryWait(ctx, br.deadline, backoff.Delay(br.retries, dialRetryMin, dialRetryMax)); ok {
			p.stats.dialRetries.Add(1)
			if backoff.Sleep(ctx, wait) != nil {
				return borrowError(ctx.Err(), s.part.user)
			}
			br.retries++
			if !br.deadline.IsZero() {
				br.timeout = time.Until(br.deadline)
			}
			return nil
		}
	}
	// No statement ran: the previous one's connection stays the one a
	// look-behind statement may take back.
	return borrowError(err, s.part.user)
}

// bringToState readies the borrowed r for the session: a health check if
// it was idle long, then the session's schema and settings (apply). again
// reports that r was destroyed (dead) and another must be borrowed.
func (s *Session) bringToState(ctx context.Context, r *core.Resource[*PooledConn], failures *int) (again bool, err error) {
	p := s.pool
	b := r.Value()
	if p.healthIdle >= 0 && r.IdleFor() > p.healthIdle {
		p.stats.healthChecks.Add(1)
		if err := b.conn.Ping(ctx); err != nil {
			p.log.Warn("pool: idle backend connection failed its health check; replacing it",
				"user", b.user, "idle", r.IdleFor(), "err", err)
			r.Destroy(core.ReasonHealthCheck)
			if ctx.Err() != nil {
				return false, borrowError(ctx.Err(), s.part.user)
			}
			return true, nil
		}
	}
	if b.tag != s.tag {
		// The settings difference may raise warnings of its own.
		s.lookBehindBefore = s.lookBehindBefore.Remove(pinning.PinDiagnostics)
	}
	if err := s.apply(ctx, b); err != nil {
		*failures++
		// b is closed by now (on another goroutine): ask the error, not
		// the connection, whether it was dead.
		if ctx.Err() == nil && errors.Is(err, errDead) && *failures < 3 {
			return true, nil // that connection was dead; try another
		}
		return false, err
	}
	return false, nil
}

// apply brings b to the session's schema and settings: USE for the
// schema, then one SET with the explicit values that differ (see
// pinning.Settings.DiffFrom; never DEFAULT). On failure b has been
// destroyed.
func (s *Session) apply(ctx context.Context, b *PooledConn) error {
	p := s.pool
	st := s.part.stateOf() // set: b was set up
	diffed := false
	if b.schema != s.schema {
		target, err := s.use(ctx, b, s.schema)
		switch {
		case errors.Is(err, errNoDatabase):
			// The user's connections start without a database and
			// MySQL has no way back to none: this connection cannot
			// serve the session.
			b.res.Destroy(core.ReasonDirty)
			return fmt.Errorf("pool: %w: %w", ErrBroken, err)
		case err != nil:
			return s.applyFailed(b, err, fmt.Errorf("pool: switching a backend connection to database %q: %w", target, err))
		}
		diffed = true
	}
	if !b.settings.Equal(&s.settings) {
		if stmt := s.settings.DiffFrom(&b.settings, &st.base, &st.names); stmt != "" {
			if err := b.conn.Exec(ctx, stmt); err != nil {
				return s.applyFailed(b, err, fmt.Errorf("pool: applying the session's settings (%s): %w", stmt, err))
			}
		}
		b.settings = s.settings
		diffed = true
	}
	b.tag = s.tag
	if diffed {
		p.stats.reuseDiff.Add(1)
	} else {
		p.stats.reuseExact.Add(1)
	}
	return nil
}

// verified checks the state of b, just borrowed for the session, when
// Config.VerifyState is on: a mismatch closes b and fails the borrow.
func (s *Session) verified(ctx context.Context, b *PooledConn) (*PooledConn, error) {
	err := s.verify(ctx, b)
	s.ranQuery()
	if err == nil {
		return b, nil
	}
	s.pool.log.Error("pool: backend session state verification failed", "user", s.part.user, "err", err)
	s.held, s.inflight = nil, false
	b.res.Destroy(core.ReasonDirty)
	return nil, err
}

// errNoDatabase: a connection cannot go back to no database.
var errNoDatabase = errors.New("pool: cannot return a connection to no database")

// use switches b to the session schema (as the pool records it: "" is the
// baseline's database) with USE, and returns the database's name; b.schema
// follows on success.
func (s *Session) use(ctx context.Context, b *PooledConn, schema string) (string, error) {
	target := s.part.stateOf().dbName(schema)
	if target == "" {
		return "", errNoDatabase
	}
	if err := b.conn.Exec(ctx, "USE "+quoteIdent(target)); err != nil {
		return target, err
	}
	b.schema = schema
	return target, nil
}

// errDead marks an error of apply after which the connection was found
// dead (and closed).
var errDead = errors.New("pool: the backend connection was dead")

// applyFailed closes b after apply's statement failed with err, and
// returns wrapped, marked errDead if b was dead: b's state must be read
// before it is closed, since closing runs on another goroutine.
func (s *Session) applyFailed(b *PooledConn, err, wrapped error) error {
	reason := s.pool.reasonFor(b, err)
	b.res.Destroy(reason)
	if reason == core.ReasonBroken {
		return &deadError{wrapped}
	}
	return wrapped
}

// deadError is an apply error after which the connection was dead.
type deadError struct{ err error }

func (e *deadError) Error() string        { return e.err.Error() }
func (e *deadError) Unwrap() error        { return e.err }
func (e *deadError) Is(target error) bool { return target == errDead }

// normalize says the session's starting state as differences from the
// partition's baseline, once it is known: a starting schema that is the
// baseline's becomes "", settings equal to the baseline's are dropped, so
// that the session matches connections in the baseline state.
func (s *Session) normalize() {
	st := s.part.stateOf()
	if st == nil {
		return
	}
	s.normalized = true
	s.baseline = &st.base
	if v, ok := st.base.Get(pinning.VarAutocommit); ok && v == "0" {
		s.baseNoAutocommit = true
	}
	if s.schema == st.baseSchema {
		s.schema = ""
	}
	rel := func(set *pinning.Settings) {
		var full pinning.Settings
		full.Merge(&st.base)
		full.Merge(set)
		set.Relative(&full, &st.base)
	}
	rel(&s.settings)
	rel(&s.initial)
	s.tag = tagOf(s.schema, &s.settings)
}

// reasonFor classifies the close of b after err.
func (p *Pool) reasonFor(b *PooledConn, err error) core.Reason {
	if p.broken(b.conn, err) {
		return core.ReasonBroken
	}
	return core.ReasonDirty
}

// quoteIdent quotes a MySQL identifier with backticks.
func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

func (p *Pool) now() time.Time {
	if p.cfg.Now != nil {
		return p.cfg.Now()
	}
	return time.Now()
}

// Backoff between borrow attempts after a transient dial failure.
const (
	dialRetryMin = 10 * time.Millisecond
	dialRetryMax = 500 * time.Millisecond
)

// retryWait returns wait, the pause before the next borrow attempt, and
// false when the borrow timeout or ctx leaves no time for one.
func retryWait(ctx context.Context, deadline time.Time, wait time.Duration) (time.Duration, bool) {
	if ctx.Err() != nil {
		return 0, false
	}
	if !deadline.IsZero() && time.Until(deadline) <= wait {
		return 0, false
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= wait {
		return 0, false
	}
	return wait, true
}
