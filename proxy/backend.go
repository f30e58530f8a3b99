package proxy

import (
	"context"
	"errors"
	"fmt"

	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// BackendConn is one backend connection of the listener: a raw protocol
// connection to the database (a wire.ClientConn) as the pool sees it
// (pool.Conn), with the prepared statements cached on it. Target.Dial
// returns them; the pool hands each to one client session at a time, so a
// BackendConn needs no lock: the goroutine of the session that holds it owns
// it.
type BackendConn struct {
	cc *wire.ClientConn

	// framer follows the responses the listener relays from cc.
	framer wire.Framer

	// stmts caches the statements prepared on cc, by schema and text.
	stmts stmtCache

	// untrack unregisters cc's socket from the failover monitor (see
	// Target.Failover); nil when not registered. Called by Close.
	untrack func()
	// reader counts cc's borrows in its reader's load when cc is a reader
	// Target's connection (reader.go); nil otherwise.
	reader *readerSlot

	// ident is cc's id and server, read when it was dialed; redial opens
	// a connection for the same partition to the same server address
	// (Target.dial). Both are for the pool's Killer.
	ident  pool.Identity
	redial func(ctx context.Context) (pool.Conn, error)
}

var (
	_ pool.Conn = (*BackendConn)(nil)
	// pool.Config.Dial asks a Validator whether a connection survived an
	// error: *BackendConn answers from the wire connection's state.
	_ interface{ IsValid() bool } = (*BackendConn)(nil)
	// A reader Target's connections count their borrows per reader.
	_ pool.Borrower = (*BackendConn)(nil)
	// The pool's Killer stops their statements.
	_ pool.Identified       = (*BackendConn)(nil)
	_ pool.SameServerDialer = (*BackendConn)(nil)
)

func newBackendConn(cc *wire.ClientConn, cacheSize int) *BackendConn {
	b := &BackendConn{cc: cc}
	b.stmts.init(cacheSize)
	return b
}

// Identity implements pool.Identified.
func (b *BackendConn) Identity() pool.Identity { return b.ident }

// DialSameServer implements pool.SameServerDialer: a new connection for
// the same partition to the same server address, whatever
// Target.DialContext or Target.Failover would reach now.
func (b *BackendConn) DialSameServer(ctx context.Context) (pool.Conn, error) {
	if b.redial == nil {
		return nil, errors.New("proxy: this backend connection was not opened by Target.Dial; it cannot dial its server again")
	}
	return b.redial(ctx)
}

// Wire returns the underlying protocol connection.
func (b *BackendConn) Wire() *wire.ClientConn { return b.cc }

// Exec runs a statement and discards its result.
func (b *BackendConn) Exec(ctx context.Context, query string) error {
	_, err := b.cc.Exec(ctx, query)
	return err
}

// QueryValue runs a query and returns the first column of its first row as
// text; SQL NULL is "".
func (b *BackendConn) QueryValue(ctx context.Context, query string) (string, error) {
	v, _, err := b.cc.QueryValue(ctx, query)
	if errors.Is(err, wire.ErrNoRows) {
		return "", fmt.Errorf("proxy: %q returned no rows: %w", query, err)
	}
	return v, err
}

// Reset sends COM_RESET_CONNECTION: the server rolls back, drops temporary
// tables, user variables, named locks and prepared statements. The
// statement cache is emptied with them.
func (b *BackendConn) Reset(ctx context.Context) error {
	b.stmts.clear() // the server dropped them; nothing to close
	return b.cc.Reset(ctx)
}

// Ping sends COM_PING.
func (b *BackendConn) Ping(ctx context.Context) error { return b.cc.Ping(ctx) }

// Close sends COM_QUIT and closes the connection.
func (b *BackendConn) Close() error {
	b.stmts.clear()
	if b.untrack != nil {
		b.untrack()
		b.untrack = nil
	}
	return b.cc.Close()
}

// Borrowed implements pool.Borrower: a reader Target's connection counts
// its borrows in its reader's load, which picks the reader of the next
// connection. Other connections ignore it.
func (b *BackendConn) Borrowed(borrowed bool) {
	if b.reader != nil {
		b.reader.borrowed(borrowed)
	}
}

// IsValid reports whether the connection is still usable: false after an
// I/O or protocol error.
func (b *BackendConn) IsValid() bool { return b.cc.Broken() == nil }

// markBroken records that a relay saw an I/O or protocol error on b.
func (b *BackendConn) markBroken(err error) { b.cc.MarkBroken(err) }
