package rdsmux

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/rdsmux/rdsmux/pool"
)

// backendConn is one go-sql-driver connection to the database as the pool sees
// it: the driver path's pool.Conn. It is used by one session at a time (the
// pool hands it to exactly one borrower), so it needs no lock of its own.
type backendConn struct {
	conn     driver.Conn // a go-sql-driver connection
	execer   driver.ExecerContext
	querier  driver.QueryerContext
	preparer driver.ConnPrepareContext
	beginner driver.ConnBeginTx
	pinger   driver.Pinger
	resetter driver.SessionResetter

	// ident is the connection's id and server, used to KILL a query whose
	// context was cancelled (see pool.Killer); user is the partition it
	// was dialed for.
	ident pool.Identity
	user  string

	// stmts caches prepared statements by the connection's session state
	// when they were prepared and their text, most recently used at the
	// front; at most cacheSize entries (a negative size disables the
	// cache). The server binds unqualified names to the database current
	// at PREPARE time and parses under that moment's sql_mode and
	// character set, so a statement prepared in one state never serves
	// another.
	stmts     map[stmtKey]*list.Element
	lru       list.List
	cacheSize int

	// wire is the network connection under conn when rdsmux dialed it
	// (greeting.go): it copies column definitions go-sql-driver does not
	// report. nil otherwise.
	wire *greetingConn

	// killer, when killOnClose is set, stops the statement the server may
	// still be running for this connection before Close closes it (its
	// context was cancelled mid-statement).
	killer      *pool.Killer
	killOnClose bool
}

var (
	_ pool.Conn       = (*backendConn)(nil)
	_ pool.Identified = (*backendConn)(nil)
)

// stmtKey identifies a cached statement: the pool's state key of the
// connection when it was prepared (pool.PooledConn.StateKey) and its text.
type stmtKey struct{ state, query string }

type cachedStmt struct {
	key  stmtKey
	stmt driver.Stmt
	// defs are the column definitions the server answered the PREPARE
	// with (nil when not watched: see backendConn.wire).
	defs [][]byte
	// checked: the PREPARE ran with no transaction open and no LOCK
	// TABLES, so the checks the server makes at PREPARE (1792 in a READ
	// ONLY transaction, 1100 for a table not locked) were those of the
	// key's state alone; a client's PREPARE may be served from it.
	checked bool
}

// newBackend wraps a go-sql-driver connection dialed for user and reads
// its identity.
func newBackend(ctx context.Context, c driver.Conn, user string, cacheSize int, k *pool.Killer) (*backendConn, error) {
	b := &backendConn{conn: c, user: user, cacheSize: cacheSize, killer: k}
	var ok bool
	if b.execer, ok = c.(driver.ExecerContext); !ok {
		return nil, errors.New("rdsmux: backend connection does not implement driver.ExecerContext")
	}
	if b.querier, ok = c.(driver.QueryerContext); !ok {
		return nil, errors.New("rdsmux: backend connection does not implement driver.QueryerContext")
	}
	if b.preparer, ok = c.(driver.ConnPrepareContext); !ok {
		return nil, errors.New("rdsmux: backend connection does not implement driver.ConnPrepareContext")
	}
	if b.beginner, ok = c.(driver.ConnBeginTx); !ok {
		return nil, errors.New("rdsmux: backend connection does not implement driver.ConnBeginTx")
	}
	b.pinger, _ = c.(driver.Pinger)
	b.resetter, _ = c.(driver.SessionResetter)
	if cacheSize >= 0 {
		b.stmts = make(map[stmtKey]*list.Element)
	}
	var err error
	if b.ident, err = pool.ReadIdentity(ctx, b); err != nil {
		c.Close()
		return nil, err
	}
	return b, nil
}

// Identity implements pool.Identified.
func (b *backendConn) Identity() pool.Identity { return b.ident }

// valueText is a column value as text ("" for NULL).
func valueText(v driver.Value) string {
	switch v := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(v)
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	default:
		return fmt.Sprint(v)
	}
}

// Exec runs a statement that returns no rows. The pool uses it to apply
// settings to a backend it is handing out, so go-sql-driver is first told to
// check the socket: a dead idle connection then fails with
// driver.ErrBadConn before anything is sent, and the statement moves to
// another backend.
func (b *backendConn) Exec(ctx context.Context, query string) error {
	if b.resetter != nil {
		if err := b.resetter.ResetSession(ctx); err != nil {
			return err
		}
	}
	_, err := b.execer.ExecContext(ctx, query, nil)
	return err
}

// QueryValue runs a query and returns the first column of its first row as
// text ("" for NULL).
func (b *backendConn) QueryValue(ctx context.Context, query string) (string, error) {
	rows, err := b.querier.QueryContext(ctx, query, nil)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	vals := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(vals); err != nil {
		if err == io.EOF {
			return "", fmt.Errorf("rdsmux: %q returned no rows", query)
		}
		return "", err
	}
	if len(vals) == 0 {
		return "", fmt.Errorf("rdsmux: %q returned no columns", query)
	}
	return valueText(vals[0]), nil
}

// Reset is not available through go-sql-driver, which cannot send
// COM_RESET_CONNECTION; the pool closes a backend it cannot reset.
func (b *backendConn) Reset(context.Context) error {
	return fmt.Errorf("rdsmux: go-sql-driver connections cannot send COM_RESET_CONNECTION: %w", pool.ErrResetUnsupported)
}

// Ping checks the connection with COM_PING.
func (b *backendConn) Ping(ctx context.Context) error {
	if b.pinger == nil {
		return b.Exec(ctx, "DO 1")
	}
	return b.pinger.Ping(ctx)
}

// Close closes the cached statements and the connection. A connection
// abandoned mid-statement is KILLed on the server first, so that the server
// is not left running a statement for a connection the pool no longer
// counts.
func (b *backendConn) Close() error {
	if b.killOnClose && b.killer != nil {
		_ = b.killer.Kill(context.Background(), b.user, b) // logged by the killer
	}
	for e := b.lru.Front(); e != nil; e = e.Next() {
		e.Value.(*cachedStmt).stmt.Close()
	}
	b.lru.Init()
	b.stmts = nil
	return b.conn.Close()
}

// cached returns the statement cached for query prepared in the state
// with key state, if any, and the column definitions its PREPARE
// answered; for a client's PREPARE (client), only one whose PREPARE was
// checked.
func (b *backendConn) cached(state, query string, client bool) (driver.Stmt, [][]byte, bool) {
	if b.stmts == nil {
		return nil, nil, false
	}
	e, ok := b.stmts[stmtKey{state: state, query: query}]
	if !ok {
		return nil, nil, false
	}
	cs := e.Value.(*cachedStmt)
	if client && !cs.checked {
		return nil, nil, false
	}
	b.lru.MoveToFront(e)
	return cs.stmt, cs.defs, true
}

// prepare prepares query on this backend, which is in the state with key
// state, and caches it (replacing an entry for the same key); defs are
// the column definitions the server answered with, checked says whether
// no transaction nor LOCK TABLES was in force (cachedStmt.checked). When
// the cache is disabled the caller must close the statement (owned
// reports true).
func (b *backendConn) prepare(ctx context.Context, state, query string, checked bool) (stmt driver.Stmt, defs [][]byte, owned bool, err error) {
	stmt, defs, err = b.prepareWatched(ctx, query)
	if err != nil {
		return nil, nil, false, err
	}
	if b.stmts == nil {
		return stmt, defs, true, nil
	}
	key := stmtKey{state: state, query: query}
	if old, ok := b.stmts[key]; ok {
		b.lru.Remove(old)
		delete(b.stmts, key)
		old.Value.(*cachedStmt).stmt.Close()
	}
	if b.cacheSize > 0 && b.lru.Len() >= b.cacheSize {
		oldest := b.lru.Back()
		cs := oldest.Value.(*cachedStmt)
		b.lru.Remove(oldest)
		delete(b.stmts, cs.key)
		cs.stmt.Close()
	}
	b.stmts[key] = b.lru.PushFront(&cachedStmt{key: key, stmt: stmt, defs: defs, checked: checked})
	return stmt, defs, false, nil
}

// prepareWatched prepares query, uncached, and returns the column
// definitions the server answered with (nil when not watched).
func (b *backendConn) prepareWatched(ctx context.Context, query string) (driver.Stmt, [][]byte, error) {
	b.watch(true)
	stmt, err := b.preparer.PrepareContext(ctx, query)
	defs := b.watched()
	return stmt, defs, err
}

// watch starts copying the column definitions of the response to the
// next command (a PREPARE's when prepare is set).
func (b *backendConn) watch(prepare bool) {
	if b.wire.watching() {
		b.wire.watch.start(prepare)
	}
}

// watched stops watching and returns the definitions copied.
func (b *backendConn) watched() [][]byte {
	if !b.wire.watching() {
		return nil
	}
	return b.wire.watch.take()
}
