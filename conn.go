package rdsmux

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rdsmux/rdsmux/failover"
	"github.com/rdsmux/rdsmux/metacache"
	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool"
)

// conn is a logical connection: what database/sql holds. It borrows a
// backend from the shared pool for one statement (autocommit) or one
// transaction, and keeps it longer only while something pins it.
//
// database/sql uses a driver.Conn from one goroutine at a time, so conn has
// no lock; the pool's Session does its own locking.
type conn struct {
	c *Connector
	s *pool.Session

	res pinning.Result // scratch classification, reused per statement

	cur  *pool.PooledConn // borrowed for the statement, rows or transaction in progress
	rows *rows            // the open result set holding cur, if any
	tx   *tx              // the open database/sql transaction, if any

	// rowsStart and rowsSent time the statement of rows (latency.go):
	// when it began and when it was sent to the backend.
	rowsStart, rowsSent time.Time

	// txOpen: a transaction is open on the held backend (explicit, or
	// implicit because autocommit is off).
	txOpen bool
	// noAutocommit: the session turned autocommit off, so every statement
	// opens a transaction.
	noAutocommit bool

	// insertID and insertUnknown are the LAST_INSERT_ID effect of the
	// statement being finished, for the pool (pool.Status).
	insertID      uint64
	insertUnknown bool
	// prepareDone: the statement being finished was a Prepare.
	prepareDone bool

	// holding: the session held its backend before the current statement
	// (transaction, pin or session mode), so state lived on it.
	holding bool
	// lost: a held backend broke; the logical connection is unusable.
	lost bool
	// discard: the Go API's Session.Close ended the session; database/sql
	// must close the connection rather than reuse it.
	discard bool

	closed bool
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

func newConn(c *Connector) *conn {
	mode := pool.ModeTransaction
	if c.cfg.PoolingMode == SessionPooling {
		mode = pool.ModeSession
	}
	s := c.target.pool.NewSession(c.user, pool.SessionOptions{Mode: mode, Schema: c.cfg.MySQL.DBName})
	return &conn{c: c, s: s}
}

// ready checks that a statement may start.
func (c *conn) ready() error {
	if c.closed {
		return driver.ErrBadConn
	}
	if c.lost {
		return fmt.Errorf("rdsmux: this connection's session state (transaction, pinned state) was lost with its backend connection; "+
			"open a new connection: %w", driver.ErrBadConn)
	}
	if c.rows != nil {
		return errors.New("rdsmux: a result set is still open on this connection; close it (rows.Close) before the next statement")
	}
	return nil
}

// acquire borrows the session's backend for a statement.
func (c *conn) acquire(ctx context.Context) (*pool.PooledConn, *backendConn, error) {
	return c.acquireFor(ctx, "", nil)
}

// acquireFor borrows the backend for statement query classified as r: for
// a statement that reads what the previous statement left on its
// connection (ROW_COUNT(), FOUND_ROWS(), ...), that same connection, or an
// error wrapping pool.ErrLookBehindLost rather than a wrong answer.
func (c *conn) acquireFor(ctx context.Context, query string, r *pinning.Result) (*pool.PooledConn, *backendConn, error) {
	if err := c.ready(); err != nil {
		return nil, nil, err
	}
	c.holding = c.s.Held() != nil
	var b *pool.PooledConn
	var err error
	if r != nil {
		b, err = c.s.AcquireFor(ctx, query, r)
	} else {
		b, err = c.s.Acquire(ctx)
	}
	if err != nil {
		return nil, nil, err
	}
	c.cur = b
	return b, b.Conn().(*backendConn), nil
}

// done records the statement's effects and gives the backend back unless
// something holds it.
func (c *conn) done(ctx context.Context, b *pool.PooledConn, r *pinning.Result, err error) {
	if err == nil && r != nil {
		c.trackTx(r)
	} else if r != nil && r.Statements > 1 && r.Tx != 0 && !brokenBackend(b, err) {
		// A batch that failed part-way ran the statements before the
		// failing one: a BEGIN, COMMIT or SET autocommit among them may
		// have opened or ended a transaction, and go-sql-driver does not
		// show the server's status flags. Ask the server.
		v, qerr := b.Conn().(*backendConn).QueryValue(ctx, "SELECT @@in_transaction")
		c.txOpen = qerr != nil || v != "0"
	}
	// While a database/sql transaction is open, its backend stays with
	// the session even after a text COMMIT ended the server's transaction
	// (its Commit or Rollback must reach that backend, as on a dedicated
	// connection).
	st := pool.Status{InTransaction: c.txOpen || c.tx != nil, Guessed: true, Err: err, InsertID: c.insertID, InsertIDUnknown: c.insertUnknown, Prepared: c.prepareDone}
	c.insertID, c.insertUnknown, c.prepareDone = 0, false, false
	c.s.Done(ctx, b, r, st)
	c.cur = nil
	if c.s.Held() != nil && c.s.InTransaction() {
		c.txOpen = true // the pool holds it in one (a failed statement with autocommit off)
	}
	if r != nil && r.ChangesSettings() {
		// The server's value, read back by the pool (SET autocommit =
		// DEFAULT is the global value, an expression is computed; a
		// failed batch may have assigned it before its error).
		if v, ok := c.s.Value(pinning.VarAutocommit); ok {
			c.noAutocommit = v == "0"
		}
	}
	if c.s.StateLost() || err != nil && c.holding && c.s.Held() == nil && brokenBackend(b, err) {
		// What lived on the held backend (a transaction, pinned state) is
		// gone; the logical connection must not carry on as if it were not.
		c.lost = true
	}
	if c.s.Held() == nil {
		// The backend went back (or was destroyed): no transaction can be
		// open any more.
		c.txOpen = false
	}
}

// trackTx follows transaction boundaries from the classification. rdsmux
// is conservative: when unsure it holds the backend longer, never shorter.
func (c *conn) trackTx(r *pinning.Result) {
	c.trackAutocommit(r)
	tx := r.Tx
	switch {
	case tx&(pinning.TxCommit|pinning.TxRollback) != 0:
		// AND CHAIN, or completion_type=CHAIN, opens the next one.
		c.txOpen = c.s.Chains(r)
	case tx&(pinning.TxBegin|pinning.TxXAStart|pinning.TxChain) != 0:
		c.txOpen = true
	case tx&pinning.TxImplicitCommit != 0:
		// UNLOCK TABLES commits only after LOCK TABLES (which pins);
		// otherwise an open transaction stays open.
		if !r.Unpins.Has(pinning.PinLockTables) || c.s.PinReasons().Has(pinning.PinLockTables) {
			c.txOpen = false
		}
	}
	if tx&pinning.TxBegin != 0 && tx&(pinning.TxCommit|pinning.TxRollback) != 0 {
		// A batch both began and ended a transaction; the order is unknown.
		c.txOpen = true
	}
	if !c.txOpen && c.autocommitOff() && r.Statements > 0 &&
		tx&(pinning.TxCommit|pinning.TxRollback|pinning.TxSetAutocommit) == 0 {
		c.txOpen = true
	}
}

func (c *conn) autocommitOff() bool { return c.noAutocommit }

// trackAutocommit follows SET autocommit; a value rdsmux cannot read from
// the text counts as off, which only holds the backend longer.
func (c *conn) trackAutocommit(r *pinning.Result) {
	if r.Tx&pinning.TxSetAutocommit == 0 {
		return
	}
	switch v, ok := r.Settings.Get(pinning.VarAutocommit); {
	case ok:
		c.noAutocommit = v == "0"
	case r.Defaults.Has(pinning.VarAutocommit):
		c.noAutocommit = false
	default:
		c.noAutocommit = true
	}
}

// interpolates says how a statement with arguments must run: through a
// server-side prepared statement (false) or go-sql-driver's text protocol
// with client-side interpolation (true).
func (c *conn) interpolates(args []driver.NamedValue) bool {
	return len(args) == 0 || c.c.cfg.MySQL.InterpolateParams
}

// maxBadConnRetries bounds how often a statement moves to another backend
// after go-sql-driver reported driver.ErrBadConn (the backend was dead and
// nothing reached the server): after a database restart every idle backend
// may be dead.
const maxBadConnRetries = 8

// start classifies query and borrows a backend ready to run it. It returns
// whether a failed attempt may move to another backend: only if the
// session held no backend before (no transaction, no pin), since state on a
// held backend would be lost.
func (c *conn) start(ctx context.Context, query string) (b *pool.PooledConn, be *backendConn, retryable bool, err error) {
	if err := c.ready(); err != nil {
		return nil, nil, false, err
	}
	r := &c.res
	c.c.classifier.Classify(query, r)
	retryable = c.s.Held() == nil
	b, be, err = c.acquireFor(ctx, query, r)
	if err != nil {
		if errors.Is(err, pool.ErrLookBehindLost) {
			return nil, nil, false, err
		}
		// A backend that failed while the pool prepared it (settings
		// diff) was destroyed; another may do.
		return nil, nil, retryable, err
	}
	if retryable && be.resetter != nil {
		// A backend fresh from the idle list: have go-sql-driver check the
		// socket before it writes (as database/sql does before reusing a
		// connection), so a dead one fails with driver.ErrBadConn and
		// nothing sent.
		if err := be.resetter.ResetSession(ctx); err != nil {
			return nil, nil, true, c.fail(b, be, ctx, err)
		}
	}
	return b, be, retryable, nil
}

// retry reports whether a statement that failed with err before reaching
// the server should run again on another backend.
func retry(ctx context.Context, err error, retryable bool, attempt int) bool {
	return retryable && attempt < maxBadConnRetries && ctx.Err() == nil && errors.Is(err, driver.ErrBadConn)
}

// retryFailover reports whether a statement that failed during a failover
// may run once more on another backend: never inside a transaction or a
// pinned session, and after a lost connection only when it only reads
// (a write may have been applied). See failover.ShouldRetry.
func (c *conn) retryFailover(ctx context.Context, err error, retryable bool, attempt int) bool {
	return c.c.target.dialer != nil && attempt == 0 && ctx.Err() == nil &&
		failover.ShouldRetry(err, c.res.ReadOnly, !retryable)
}

func (c *conn) exec(ctx context.Context, query string, args []driver.NamedValue, ps *stmt) (driver.Result, error) {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		b, be, retryable, err := c.start(ctx, query)
		if err != nil {
			if retry(ctx, err, retryable, attempt) {
				continue
			}
			return nil, err
		}
		var res driver.Result
		sent := time.Now()
		if ps == nil && c.interpolates(args) {
			res, err = be.execer.ExecContext(ctx, query, args)
		} else {
			var st driver.Stmt
			var owned bool
			st, _, owned, err = c.prepared(ctx, b, be, ps, query, false)
			if err == nil {
				res, err = st.(driver.StmtExecContext).ExecContext(ctx, args)
				if owned {
					st.Close()
				}
			}
		}
		answered := time.Now()
		if err != nil {
			err = c.failStmt(b, be, ctx, err, &c.res)
			if retry(ctx, err, retryable, attempt) || c.retryFailover(ctx, err, retryable, attempt) {
				continue
			}
			c.c.target.latency.observe(start, sent, answered)
			return nil, err
		}
		if id, ierr := res.LastInsertId(); ierr == nil && id != 0 {
			c.insertID = uint64(id)
		}
		c.done(ctx, b, &c.res, nil)
		c.c.target.latency.observe(start, sent, answered)
		return res, nil
	}
}

func (c *conn) query(ctx context.Context, query string, args []driver.NamedValue, ps *stmt) (driver.Rows, error) {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		b, be, retryable, err := c.start(ctx, query)
		if err != nil {
			if retry(ctx, err, retryable, attempt) {
				continue
			}
			return nil, err
		}
		var dr driver.Rows
		var owned driver.Stmt // closed with the rows when the cache is off
		var execDefs [][]byte // the result's column definitions, when watched
		sent := time.Now()
		if ps == nil && c.interpolates(args) {
			dr, err = be.querier.QueryContext(ctx, query, args)
		} else {
			var st driver.Stmt
			var own bool
			st, _, own, err = c.prepared(ctx, b, be, ps, query, false)
			if err == nil {
				watch := ps != nil && be.wire.watching() && c.c.target.cacheMetadata.Load()
				if watch {
					be.watch(false)
				}
				dr, err = st.(driver.StmtQueryContext).QueryContext(ctx, args)
				if watch {
					execDefs = be.watched()
				}
				if own {
					owned = st
				}
			}
		}
		if err != nil {
			if owned != nil {
				owned.Close()
			}
			answered := time.Now()
			err = c.failStmt(b, be, ctx, err, &c.res)
			if retry(ctx, err, retryable, attempt) || c.retryFailover(ctx, err, retryable, attempt) {
				continue
			}
			c.c.target.latency.observe(start, sent, answered)
			return nil, err
		}
		if !c.res.ReadOnly {
			// A write through Query: its insert id is not visible to rdsmux.
			c.insertUnknown = true
		}
		// c.res stays untouched while the rows are open: no other statement
		// can start on this connection until they are closed.
		c.rows = &rows{c: c, r: dr, stmt: owned}
		if execDefs != nil {
			c.rows.held = c.heldFor(ps, dr, execDefs)
		}
		c.rowsStart, c.rowsSent = start, sent
		return c.rows, nil
	}
}

// prepared returns query prepared on be (the backend b the session holds
// for the statement): for a *sql.Stmt (ps), in the state the client
// prepared it in, else in the session's current state; from be's cache, or
// prepared now (in ps's state, b is switched there and back). A client's
// PREPARE (client) is not served by a statement whose PREPARE ran in a
// transaction or under LOCK TABLES (cachedStmt.checked). When the cache is
// disabled the caller must close the statement (owned).
func (c *conn) prepared(ctx context.Context, b *pool.PooledConn, be *backendConn, ps *stmt, query string, client bool) (st driver.Stmt, defs [][]byte, owned bool, err error) {
	var state *pool.State
	key := b.PrepareKey()
	if ps != nil {
		state = ps.state
		key = state.Key()
	}
	if st, defs, ok := be.cached(key, query, client); ok {
		return st, defs, false, nil
	}
	if key == b.PrepareKey() {
		return be.prepare(ctx, key, query, !freshPrepare(c.s))
	}
	// Prepared in another state than the session's: not as a client's
	// PREPARE in that state would be checked (tx_read_only is not
	// switched), so never served to one.
	err = c.s.InState(ctx, b, state, func() error {
		st, defs, owned, err = be.prepare(ctx, key, query, false)
		return err
	})
	return st, defs, owned, err
}

// finishRows is called when a result set is closed.
func (c *conn) finishRows(r *rows, err error) {
	if c.rows != r || c.cur == nil {
		return
	}
	answered := time.Now() // the rows were read to the end and closed
	defer c.c.target.latency.observe(c.rowsStart, c.rowsSent, answered)
	c.rows = nil
	b := c.cur
	ctx := context.Background()
	if err != nil {
		c.done(ctx, b, nil, err)
		return
	}
	c.done(ctx, b, &c.res, nil)
}

// fail finishes a statement that returned err and returns the error for
// the caller. A cancelled context makes
// go-sql-driver drop the connection while the server may still run the
// statement, so rdsmux also asks the server to KILL it.
func (c *conn) fail(b *pool.PooledConn, be *backendConn, ctx context.Context, err error) error {
	return c.failStmt(b, be, ctx, err, nil)
}

// failStmt is fail for a statement, classified as r, that ran and failed:
// the pool also learns what a failed statement may have changed (a
// failed INSERT may have generated ids, a failed SET may have assigned).
func (c *conn) failStmt(b *pool.PooledConn, be *backendConn, ctx context.Context, err error, r *pinning.Result) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		be.killOnClose = true // the pool closes it: KILL QUERY first
		err = fmt.Errorf("%w: %w", pool.ErrBroken, err)
	}
	inTx := c.txOpen && c.holding
	c.done(ctx, b, r, err)
	if inTx && c.lost && !errors.Is(err, failover.ErrTransactionResolutionUnknown) {
		// The connection of an open transaction is gone: whether it
		// committed (if this was COMMIT) is unknown to the client.
		err = fmt.Errorf("%w: %w", failover.ErrTransactionResolutionUnknown, err)
	}
	return err
}

// ExecContext runs a statement on a borrowed backend.
func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.exec(ctx, query, args, nil)
}

// QueryContext runs a query on a borrowed backend; the backend goes back
// when the rows are closed.
func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.query(ctx, query, args, nil)
}

// Prepare returns a virtual prepared statement.
func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext returns a virtual prepared statement, bound to the
// session's current state (database, sql_mode, character sets). It is
// prepared at once on a borrowed backend (and cached there), so that a
// statement the server refuses to prepare (a syntax error, a missing
// table, a write in a READ ONLY transaction) fails here, as on a dedicated
// connection; each execution then borrows whichever backend is free and
// uses its own prepared copy, prepared in this state.
func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if err := c.ready(); err != nil {
		return nil, err
	}
	ps := &stmt{c: c, query: query, state: c.s.State()}
	for attempt := 0; ; attempt++ {
		retryable := c.s.Held() == nil
		b, be, err := c.acquire(ctx)
		if err != nil {
			if retry(ctx, err, retryable, attempt) {
				continue
			}
			return nil, err
		}
		if retryable && be.resetter != nil {
			err = be.resetter.ResetSession(ctx)
		}
		var st driver.Stmt
		var defs [][]byte
		var owned bool
		if err == nil {
			if freshPrepare(c.s) {
				st, defs, err = be.prepareWatched(ctx, query)
				owned = err == nil
			} else {
				st, defs, owned, err = c.prepared(ctx, b, be, ps, query, true)
			}
		}
		if err != nil {
			err = c.fail(b, be, ctx, err)
			if retry(ctx, err, retryable, attempt) {
				continue
			}
			return nil, err
		}
		if owned {
			st.Close()
		}
		if defs != nil {
			ps.held = &metacache.Held{Defs: defs, State: ps.state, Results: c.resultsCharset()}
		}
		c.prepareDone = true
		c.done(ctx, b, nil, nil)
		return ps, nil
	}
}

// freshPrepare reports whether a client's PREPARE must reach the server
// rather than be served from a backend's statement cache: the server makes
// checks at PREPARE that depend on more than the cache key (pool.State),
// and a statement cached before would hide their error: under LOCK TABLES
// a table not locked (1100), in a READ ONLY transaction a write (1792).
func freshPrepare(s *pool.Session) bool {
	return s.InTransaction() || s.PinReasons().Has(pinning.PinLockTables)
}

// Begin starts a transaction.
func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx borrows a backend and holds it until Commit or Rollback.
func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	b, be, err := c.acquire(ctx)
	if err != nil {
		return nil, err
	}
	dtx, err := be.beginner.BeginTx(ctx, opts)
	if err != nil {
		return nil, c.fail(b, be, ctx, err)
	}
	c.txOpen = true
	c.done(ctx, b, nil, nil)
	c.tx = &tx{c: c, tx: dtx}
	return c.tx, nil
}

// endTx commits or rolls back on the held backend and gives it back.
func (c *conn) endTx(t *tx, commit bool) error {
	if t.done || c.tx != t {
		return errors.New("rdsmux: transaction has already been committed or rolled back")
	}
	t.done = true
	c.tx = nil
	held := c.s.Held()
	if held == nil {
		c.txOpen = false
		return fmt.Errorf("rdsmux: the transaction's backend connection was lost; the transaction did not complete: %w", driver.ErrBadConn)
	}
	c.cur = held
	ctx := context.Background()
	var err error
	if commit {
		err = t.tx.Commit()
	} else {
		err = t.tx.Rollback()
	}
	// The driver sends a plain COMMIT or ROLLBACK: under
	// completion_type=CHAIN the next transaction is open at once (and
	// under RELEASE the server closes the connection).
	r := &rollbackResult
	if commit {
		r = &commitResult
	}
	c.txOpen = err == nil && c.s.Chains(nil)
	if err != nil {
		r = nil
	}
	c.done(ctx, held, r, err)
	if err != nil && commit && brokenBackend(held, err) && !errors.Is(err, failover.ErrTransactionResolutionUnknown) {
		err = fmt.Errorf("%w: the connection was lost during COMMIT: %w", failover.ErrTransactionResolutionUnknown, err)
	}
	return err
}

// commitResult and rollbackResult classify the plain COMMIT and ROLLBACK a
// database/sql transaction ends with.
var commitResult, rollbackResult = pinning.Result{Tx: pinning.TxCommit, Statements: 1},
	pinning.Result{Tx: pinning.TxRollback, Statements: 1}

// Ping checks a backend of the pool (and so the database).
func (c *conn) Ping(ctx context.Context) error {
	b, be, err := c.acquire(ctx)
	if err != nil {
		return err
	}
	err = be.Ping(ctx)
	c.done(ctx, b, nil, err)
	return err
}

// ResetSession is called by database/sql before it reuses the logical
// connection. Session state stays, as on a plain connection.
func (c *conn) ResetSession(ctx context.Context) error {
	if c.closed {
		return driver.ErrBadConn
	}
	return nil
}

// IsValid reports whether database/sql may keep the logical connection.
func (c *conn) IsValid() bool { return !c.closed && !c.lost && !c.discard }

// brokenBackend reports whether err left b's connection unusable.
func brokenBackend(b *pool.PooledConn, err error) bool {
	if pool.DefaultIsBroken(err) {
		return true
	}
	if v, ok := b.Conn().(*backendConn).conn.(driver.Validator); ok {
		return !v.IsValid()
	}
	return false
}

// CheckNamedValue accepts what go-sql-driver accepts, so that arguments
// are converted the same way whether or not they pass through rdsmux.
func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	switch v := nv.Value.(type) {
	case uint64, uint, uint32, uint16, uint8:
		return nil
	case json.RawMessage:
		nv.Value = []byte(v)
		return nil
	}
	v, err := driver.DefaultParameterConverter.ConvertValue(nv.Value)
	if err != nil {
		return err
	}
	nv.Value = v
	return nil
}

// Close ends the session: a held backend is rolled back and reset, or
// closed, never returned dirty.
func (c *conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if c.rows != nil {
		c.rows.Close()
	}
	return c.s.Close(context.Background())
}
