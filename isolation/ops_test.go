package isolation

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// outcome is what one statement gave a client, in the form compared
// between a subject and its twin: the error (as errText), the columns with
// their database types, the rows as text (NULL distinct from 'NULL', each
// value tagged with the Go type the driver returned), and for statements
// run with Exec the rows affected and the insert id.
type outcome struct {
	err      string
	cols     []string
	rows     [][]string
	exec     bool
	affected int64
	insertID int64
}

func (o outcome) String() string {
	var b strings.Builder
	if o.err != "" {
		b.WriteString("err=" + o.err)
		return b.String()
	}
	if o.exec {
		fmt.Fprintf(&b, "affected=%d insertID=%d", o.affected, o.insertID)
		return b.String()
	}
	fmt.Fprintf(&b, "cols=%v rows=%v", o.cols, o.rows)
	return b.String()
}

// same reports whether two outcomes are equal.
func (o outcome) same(p outcome) bool { return o.String() == p.String() }

func execOutcome(res sql.Result, err error) outcome {
	if err != nil {
		return outcome{err: errText(err)}
	}
	o := outcome{exec: true}
	if o.affected, err = res.RowsAffected(); err != nil {
		return outcome{err: "RowsAffected: " + errText(err)}
	}
	if o.insertID, err = res.LastInsertId(); err != nil {
		return outcome{err: "LastInsertId: " + errText(err)}
	}
	return o
}

// queryOutcome reads every result set of rows (more than one after a
// multi-statement query); the columns of each after the first are
// appended after a "--" marker, and its rows after a "--" row.
func queryOutcome(rows *sql.Rows, err error) outcome {
	if err != nil {
		return outcome{err: errText(err)}
	}
	defer rows.Close()
	var o outcome
	for set := 0; ; set++ {
		if set > 0 {
			o.cols = append(o.cols, "--")
			o.rows = append(o.rows, []string{"--"})
		}
		types, err := rows.ColumnTypes()
		if err != nil {
			return outcome{err: "ColumnTypes: " + errText(err)}
		}
		for _, ct := range types {
			o.cols = append(o.cols, ct.Name()+" "+ct.DatabaseTypeName())
		}
		vals := make([]any, len(types))
		ptrs := make([]any, len(types))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return outcome{err: "Scan: " + errText(err)}
			}
			row := make([]string, len(vals))
			for i, v := range vals {
				row[i] = valueText(v)
			}
			o.rows = append(o.rows, row)
		}
		if err := rows.Err(); err != nil {
			return outcome{err: errText(err)}
		}
		if !rows.NextResultSet() {
			if err := rows.Err(); err != nil {
				return outcome{err: errText(err)}
			}
			return o
		}
	}
}

// valueText is a scanned value as text, tagged with its Go type.
func valueText(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return strconv.Quote(string(v))
	case string:
		return "string:" + strconv.Quote(v)
	case int64:
		return "int64:" + strconv.FormatInt(v, 10)
	case uint64:
		return "uint64:" + strconv.FormatUint(v, 10)
	case float64:
		return "float64:" + strconv.FormatFloat(v, 'g', -1, 64)
	case float32:
		return "float32:" + strconv.FormatFloat(float64(v), 'g', -1, 32)
	case time.Time:
		return "time:" + v.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%T:%v", v, v)
}

// opKind says how an operation runs.
type opKind uint8

const (
	opExec      opKind = iota // ExecContext(sql, args...)
	opQuery                   // QueryContext(sql, args...)
	opPrepare                 // PrepareContext(sql) kept in slot
	opStmtExec                // the slot's statement, ExecContext(args...)
	opStmtQuery               // the slot's statement, QueryContext(args...)
	opStmtClose               // close the slot's statement
	opBegin                   // BeginTx(txOpts)
	opCommit                  // Tx.Commit
	opRollback                // Tx.Rollback
	opReconnect               // end the session and start a fresh one
)

// step is one statement (or API call) of an operation; it yields one
// outcome.
type step struct {
	kind   opKind
	sql    string // may hold {T}: the side's own table name
	args   []any
	slot   string
	txOpts *sql.TxOptions
}

func (s step) String() string {
	var b strings.Builder
	switch s.kind {
	case opExec:
		b.WriteString("exec ")
	case opQuery:
		b.WriteString("query ")
	case opPrepare:
		b.WriteString("prepare " + s.slot + " ")
	case opStmtExec:
		b.WriteString("stmt-exec " + s.slot)
	case opStmtQuery:
		b.WriteString("stmt-query " + s.slot)
	case opStmtClose:
		return "stmt-close " + s.slot
	case opBegin:
		if s.txOpts == nil {
			return "BeginTx(nil)"
		}
		return fmt.Sprintf("BeginTx(%v, ReadOnly=%v)", s.txOpts.Isolation, s.txOpts.ReadOnly)
	case opCommit:
		return "Tx.Commit()"
	case opRollback:
		return "Tx.Rollback()"
	case opReconnect:
		return "reconnect (close the session, open a fresh one)"
	}
	b.WriteString(s.sql)
	if len(s.args) > 0 {
		fmt.Fprintf(&b, " %q", s.args)
	}
	return b.String()
}

// op is one generated operation: one or more steps whose outcomes are
// compared one by one, then optionally the warnings.
type op struct {
	steps []step
	// warnings: read SHOW WARNINGS right after the last step.
	warnings bool
}

func (o op) String() string {
	parts := make([]string, len(o.steps))
	for i, s := range o.steps {
		parts[i] = s.String()
	}
	s := strings.Join(parts, "; ")
	if o.warnings {
		s += "; SHOW WARNINGS"
	}
	return s
}

// executor is what a side runs statements on: its connection, or its API
// transaction while one is open.
type executor interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// side is one half of a session pair: the subject (through rdsmux) or the
// twin (a dedicated direct connection). Only its session's goroutine uses
// it.
type side struct {
	db *sql.DB
	// shared: the side's statements go to db itself, connection by
	// connection as database/sql picks them, instead of one sql.Conn (a
	// naive multiplexer, to show the suite catches one).
	shared bool
	conn   sessionConn
	tx     *sql.Tx
	stmts  map[string]*sql.Stmt
	// names are the side's own names for placeholders in statements:
	// {T}, its table; others for scripts that need more (own schemas).
	names map[string]string
}

// sessionConn is what a side's session runs on: a *sql.Conn, or a
// sharedDB.
type sessionConn interface {
	executor
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
	Close() error
}

// sharedDB runs a session's statements on a *sql.DB, whose Close it
// leaves alone.
type sharedDB struct{ *sql.DB }

func (sharedDB) Close() error { return nil }

func newSide(ctx context.Context, db *sql.DB, table string) (*side, error) {
	s := &side{db: db, stmts: map[string]*sql.Stmt{}, names: map[string]string{"{T}": table}}
	return s, s.connect(ctx)
}

// newSharedSide is newSide for a side whose statements go to db itself.
func newSharedSide(db *sql.DB, table string) *side {
	s := &side{db: db, shared: true, stmts: map[string]*sql.Stmt{}, names: map[string]string{"{T}": table}}
	s.conn = sharedDB{db}
	return s
}

func (s *side) connect(ctx context.Context) error {
	if s.shared {
		s.conn = sharedDB{s.db}
		return nil
	}
	c, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	s.conn = c
	return nil
}

// close ends the side's session: its transaction, statements and
// connection.
func (s *side) close() {
	if s.tx != nil {
		_ = s.tx.Rollback()
		s.tx = nil
	}
	for k, st := range s.stmts {
		_ = st.Close()
		delete(s.stmts, k)
	}
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
}

func (s *side) ex() executor {
	if s.tx != nil {
		return s.tx
	}
	return s.conn
}

func (s *side) render(q string) string {
	for k, v := range s.names {
		q = strings.ReplaceAll(q, k, v)
	}
	return q
}

// run runs one step on the side. Column names that spell one of the
// side's own names spell its placeholder instead.
func (s *side) run(parent context.Context, st step) outcome {
	o := s.run1(parent, st)
	for i, c := range o.cols {
		for k, v := range s.names {
			c = strings.ReplaceAll(c, v, k)
		}
		o.cols[i] = c
	}
	return o
}

func (s *side) run1(parent context.Context, st step) outcome {
	ctx, cancel := context.WithTimeout(parent, opTimeout)
	defer cancel()
	switch st.kind {
	case opExec:
		return execOutcome(s.ex().ExecContext(ctx, s.render(st.sql), st.args...))
	case opQuery:
		return queryOutcome(s.ex().QueryContext(ctx, s.render(st.sql), st.args...))
	case opPrepare:
		if old := s.stmts[st.slot]; old != nil {
			_ = old.Close()
			delete(s.stmts, st.slot)
		}
		var p interface {
			PrepareContext(context.Context, string) (*sql.Stmt, error)
		} = s.conn
		if s.tx != nil {
			p = s.tx
		}
		stmt, err := p.PrepareContext(ctx, s.render(st.sql))
		if err != nil {
			return outcome{err: errText(err)}
		}
		if s.tx == nil {
			s.stmts[st.slot] = stmt // a transaction's statements end with it
		} else {
			_ = stmt.Close()
		}
		return outcome{}
	case opStmtExec, opStmtQuery:
		stmt := s.stmts[st.slot]
		if stmt == nil {
			return outcome{err: "no statement in slot " + st.slot}
		}
		if s.tx != nil {
			stmt = s.tx.StmtContext(ctx, stmt)
			defer stmt.Close()
		}
		if st.kind == opStmtExec {
			return execOutcome(stmt.ExecContext(ctx, st.args...))
		}
		return queryOutcome(stmt.QueryContext(ctx, st.args...))
	case opStmtClose:
		if stmt := s.stmts[st.slot]; stmt != nil {
			delete(s.stmts, st.slot)
			return outcome{err: errText(stmt.Close())}
		}
		return outcome{}
	case opBegin:
		if s.tx != nil {
			return outcome{err: "an API transaction is already open"}
		}
		// The transaction lives on past this step: database/sql rolls it
		// back when its context ends.
		tx, err := s.conn.BeginTx(parent, st.txOpts)
		if err != nil {
			return outcome{err: errText(err)}
		}
		s.tx = tx
		return outcome{}
	case opCommit, opRollback:
		if s.tx == nil {
			return outcome{err: "no API transaction"}
		}
		tx := s.tx
		s.tx = nil
		if st.kind == opCommit {
			return outcome{err: errText(tx.Commit())}
		}
		return outcome{err: errText(tx.Rollback())}
	case opReconnect:
		s.close()
		return outcome{err: errText(s.connect(parent))}
	}
	return outcome{err: "unknown step kind"}
}

// showWarnings is the look-behind read of the previous statement's
// warnings: their count and codes.
var showWarnings = step{kind: opQuery, sql: "SHOW WARNINGS"}

// warningsOutcome keeps of SHOW WARNINGS what must match: level and code
// of each warning (messages name the side's own tables).
func warningsOutcome(o outcome) outcome {
	if o.err != "" {
		return o
	}
	w := outcome{cols: []string{"count"}}
	var codes []string
	for _, r := range o.rows {
		if len(r) >= 2 {
			codes = append(codes, r[0]+" "+r[1])
		}
	}
	w.rows = [][]string{{itoa(len(o.rows)), strings.Join(codes, ",")}}
	return w
}
