package rdsmux

import (
	"context"
	"database/sql/driver"

	"github.com/rdsmux/rdsmux/metacache"
	"github.com/rdsmux/rdsmux/pool"
)

// stmt is a virtual prepared statement: it holds only the query text and
// the session state it was prepared in. Each execution borrows a backend
// and uses that backend's own prepared statement, prepared on first use in
// that state and cached per backend, so a prepared *sql.Stmt never pins a
// backend, and runs against the tables and under the sql_mode and
// character set it was prepared with, as on a dedicated connection, even
// after the session's USE or SET NAMES.
type stmt struct {
	c     *conn
	query string
	state *pool.State // nil: the baseline
	// held are the column definitions a client of a dedicated
	// connection would hold for the statement (heldcols.go); nil until
	// known.
	held *metacache.Held
}

var (
	_ driver.Stmt             = (*stmt)(nil)
	_ driver.StmtExecContext  = (*stmt)(nil)
	_ driver.StmtQueryContext = (*stmt)(nil)
)

// Close does nothing: the backends' cached statements are closed when
// evicted or when their backend closes.
func (s *stmt) Close() error { return nil }

// NumInput returns -1: the number of placeholders is known only to the
// server, which checks it.
func (s *stmt) NumInput() int { return -1 }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), valuesToNamed(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), valuesToNamed(args))
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.exec(ctx, s.query, args, s)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.query(ctx, s.query, args, s)
}

func valuesToNamed(args []driver.Value) []driver.NamedValue {
	named := make([]driver.NamedValue, len(args))
	for i, v := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return named
}
