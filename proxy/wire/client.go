package wire

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrLocalInfile is returned (wrapped) when a server asks the client for a
// LOCAL INFILE: a ClientConn never sends files. It sends an empty file
// instead, so the connection stays usable.
var ErrLocalInfile = errors.New("wire: LOAD DATA LOCAL INFILE is not supported")

// ErrNoRows is returned by QueryValue for a query that returned no rows.
var ErrNoRows = errors.New("wire: query returned no rows")

// ClientConn is the client side of a connection to a MySQL server, after the
// handshake. Its helpers (Exec, Query, Ping, Reset ...) run one command and
// read its whole response; the embedded *Conn gives raw packet access for
// relaying. It is not safe for concurrent use.
type ClientConn struct {
	*Conn
	hs     *Handshake
	caps   Capability
	status Status // server status after the last response
	tls    bool
	framer Framer
	broken error // set when the connection is unusable
}

// Result is a fully read result of a command: an OK, or a result set.
type Result struct {
	Columns      []*Column  // nil when the command returned only OK
	Rows         [][][]byte // values in text form, nil for NULL
	AffectedRows uint64
	LastInsertID uint64
	Status       Status
	Warnings     uint16
	Info         string
}

// Stmt is a statement prepared with ClientConn.Prepare.
type Stmt struct {
	ID      uint32
	Params  []*Column
	Columns []*Column
}

// Handshake returns the server's handshake (version, connection id,
// capabilities).
func (c *ClientConn) Handshake() *Handshake { return c.hs }

// Capabilities returns the capabilities in effect on the connection.
func (c *ClientConn) Capabilities() Capability { return c.caps }

// DeprecateEOF reports whether the connection uses CLIENT_DEPRECATE_EOF.
func (c *ClientConn) DeprecateEOF() bool { return c.caps&ClientDeprecateEOF != 0 }

// Status returns the server status after the last response read by a helper
// (or set with SetStatus by a relay).
func (c *ClientConn) Status() Status { return c.status }

// SetStatus records the server status a relay saw in the last response.
func (c *ClientConn) SetStatus(s Status) { c.status = s }

// TLS reports whether the connection uses TLS.
func (c *ClientConn) TLS() bool { return c.tls }

// Broken returns the error that made the connection unusable, or nil. A
// server error (*Error) does not break the connection; an I/O or protocol
// error, or a cancelled context, does.
func (c *ClientConn) Broken() error { return c.broken }

// MarkBroken records that the connection is unusable (a relay saw an I/O
// or protocol error on it).
func (c *ClientConn) MarkBroken(err error) {
	if c.broken == nil && err != nil {
		c.broken = err
	}
}

// WriteCommand starts a command: it resets the sequence id and sends cmd
// followed by arg.
func (c *ClientConn) WriteCommand(cmd Command, arg []byte) error {
	c.ResetSeq()
	b := append(append(c.Scratch(), byte(cmd)), arg...)
	err := c.WritePacketFlush(b)
	c.KeepScratch(b)
	return err
}

// usable returns nil, or the error to give a caller of a connection that
// an earlier error made unusable.
func (c *ClientConn) usable() error {
	if c.broken != nil {
		return fmt.Errorf("wire: connection is unusable after an earlier error: %w", c.broken)
	}
	return nil
}

// settle marks the connection broken after err unless err is the server's
// answer (*Error) or one of the allowed sentinels, and returns err.
func (c *ClientConn) settle(err error, allowed ...error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	for _, a := range allowed {
		if errors.Is(err, a) {
			return err
		}
	}
	c.MarkBroken(err)
	return err
}

// roundTrip sends a command and reads its response under ctx.
func (c *ClientConn) roundTrip(ctx context.Context, cmd Command, arg []byte, st *Stmt) ([]*Result, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	w := watchContext(ctx, c.nc)
	err := c.WriteCommand(cmd, arg)
	var res []*Result
	if err == nil {
		mode, _ := ModeFor(cmd)
		var cols []*Column
		if st != nil {
			cols = st.Columns
		}
		res, err = c.readResponse(mode, st, cols)
	}
	return res, c.settle(w.done(err), ErrLocalInfile)
}

// readResponse reads one whole response. For ModePrepare it fills st; for
// ModeBinary, cols are the statement's columns (from the prepare) used when
// the response omits nothing.
func (c *ClientConn) readResponse(mode Mode, st *Stmt, cols []*Column) ([]*Result, error) {
	f := &c.framer
	f.Reset(mode, c.DeprecateEOF())
	var results []*Result
	var cur *Result
	var firstErr error
	for !f.Done() {
		p, err := c.ReadPacket()
		if err != nil {
			return nil, err
		}
		kind, err := f.Next(p)
		if err != nil {
			return nil, err
		}
		switch kind {
		case KindOK:
			var ok OK
			if err := ParseOK(p, c.caps, &ok); err != nil {
				return nil, err
			}
			results = append(results, &Result{AffectedRows: ok.AffectedRows, LastInsertID: ok.LastInsertID,
				Status: ok.Status, Warnings: ok.Warnings, Info: string(ok.Info)})
		case KindERR:
			e, err := ParseERR(p)
			if err != nil {
				return nil, err
			}
			if firstErr == nil {
				firstErr = e
			}
		case KindLocalInfile:
			// Send an empty file; the server then answers OK or ERR.
			if err := c.WritePacketFlush(nil); err != nil {
				return nil, err
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("%w: the server asked for file %q; an empty file was sent", ErrLocalInfile, p[1:])
			}
		case KindColumnCount:
			cur = &Result{}
			results = append(results, cur)
		case KindColumnDef:
			col, err := ParseColumnCaps(p, c.caps)
			if err != nil {
				return nil, err
			}
			if mode == ModePrepare {
				st.Columns = append(st.Columns, col)
			} else {
				cur.Columns = append(cur.Columns, col)
			}
		case KindParamDef:
			col, err := ParseColumnCaps(p, c.caps)
			if err != nil {
				return nil, err
			}
			st.Params = append(st.Params, col)
		case KindPrepareOK:
			po, _ := ParsePrepareOK(p)
			st.ID = po.StatementID
		case KindRow:
			var row [][]byte
			if mode == ModeText {
				row, err = parseTextRow(p, len(cur.Columns))
			} else {
				row, err = DecodeBinaryRow(nil, p, cur.Columns)
			}
			if err != nil {
				return nil, err
			}
			cur.Rows = append(cur.Rows, row)
		case KindResultEnd, KindMetadataEOF:
			if cur != nil {
				cur.Status, cur.Warnings = f.Status(), f.Warnings()
			}
		}
	}
	c.status = f.Status()
	return results, firstErr
}

// parseTextRow splits a text-protocol row into its n values (nil for NULL),
// copied out of the packet.
func parseTextRow(p []byte, n int) ([][]byte, error) {
	row := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		v, null, m, err := ReadLenEncString(p)
		if err != nil {
			return nil, fmt.Errorf("text row: value %d: %w", i+1, err)
		}
		if null {
			row = append(row, nil)
		} else {
			row = append(row, append([]byte{}, v...))
		}
		p = p[m:]
	}
	return row, nil
}

// Exec runs a statement (or several, with multi-statements) and returns the
// last result. Rows are read and discarded. A server error is returned as
// *Error and leaves the connection usable.
func (c *ClientConn) Exec(ctx context.Context, query string) (*Result, error) {
	res, err := c.roundTrip(ctx, ComQuery, []byte(query), nil)
	if err != nil {
		return nil, err
	}
	if len(res) == 0 {
		return &Result{}, nil
	}
	return res[len(res)-1], nil
}

// Query runs a query and returns its first result; further results are read
// and discarded.
func (c *ClientConn) Query(ctx context.Context, query string) (*Result, error) {
	res, err := c.QueryMulti(ctx, query)
	if err != nil {
		return nil, err
	}
	if len(res) == 0 {
		return &Result{}, nil
	}
	return res[0], nil
}

// QueryMulti runs one or more statements and returns every result.
func (c *ClientConn) QueryMulti(ctx context.Context, query string) ([]*Result, error) {
	return c.roundTrip(ctx, ComQuery, []byte(query), nil)
}

// QueryValue runs a query and returns the first column of its first row;
// ok is false when that value is NULL. ErrNoRows when there is no row.
func (c *ClientConn) QueryValue(ctx context.Context, query string) (value string, ok bool, err error) {
	res, err := c.QueryMulti(ctx, query)
	return firstValue(res, err)
}

// WriteQueryAhead buffers a COM_QUERY for query behind the command packet
// cmd (command byte included), and sends both in one write: the server
// runs them in turn, and the caller reads cmd's response, then the query's
// with ReadQueryValue. Pipelined this way, the query costs the server its
// execution but no round trip of its own. The query must be one whose
// response is a plain result (no LOCAL INFILE request), and cmd one that
// the server answers with one response.
func (c *ClientConn) WriteQueryAhead(cmd []byte, query string) error {
	if err := c.usable(); err != nil {
		return err
	}
	c.ResetSeq()
	err := c.WritePacket(cmd)
	if err == nil {
		err = c.WriteCommand(ComQuery, []byte(query))
	}
	if err != nil {
		c.MarkBroken(err)
	}
	return err
}

// ReadQueryValue reads the response of the query WriteQueryAhead sent,
// once the response before it has been read, and returns it as QueryValue
// does. An error that is not the server's leaves the connection broken.
func (c *ClientConn) ReadQueryValue(ctx context.Context) (value string, ok bool, err error) {
	if err := c.usable(); err != nil {
		return "", false, err
	}
	w := watchContext(ctx, c.nc)
	c.SetSeq(1) // the response to a command sent as packet 0
	res, err := c.readResponse(ModeText, nil, nil)
	return firstValue(res, c.settle(w.done(err)))
}

// firstValue returns the first column of the first row of the first result.
func firstValue(res []*Result, err error) (value string, ok bool, _ error) {
	if err != nil {
		return "", false, err
	}
	if len(res) == 0 || len(res[0].Rows) == 0 || len(res[0].Rows[0]) == 0 {
		return "", false, ErrNoRows
	}
	v := res[0].Rows[0][0]
	return string(v), v != nil, nil
}

// Ping sends COM_PING.
func (c *ClientConn) Ping(ctx context.Context) error {
	_, err := c.roundTrip(ctx, ComPing, nil, nil)
	return err
}

// Reset sends COM_RESET_CONNECTION: the server drops session state
// (variables, temporary tables, prepared statements, transaction) without
// re-authenticating.
func (c *ClientConn) Reset(ctx context.Context) error {
	_, err := c.roundTrip(ctx, ComResetConnection, nil, nil)
	return err
}

// InitDB sends COM_INIT_DB to change the default schema.
func (c *ClientConn) InitDB(ctx context.Context, schema string) error {
	_, err := c.roundTrip(ctx, ComInitDB, []byte(schema), nil)
	return err
}

// Prepare sends COM_STMT_PREPARE and returns the prepared statement.
func (c *ClientConn) Prepare(ctx context.Context, query string) (*Stmt, error) {
	st := &Stmt{}
	if _, err := c.roundTrip(ctx, ComStmtPrepare, []byte(query), st); err != nil {
		return nil, err
	}
	return st, nil
}

// Execute runs a prepared statement with args (see BindParams for the
// supported types) and returns its first result, with binary rows decoded to
// text form; further results are read and discarded.
func (c *ClientConn) Execute(ctx context.Context, st *Stmt, args ...any) (*Result, error) {
	if len(args) != len(st.Params) {
		return nil, fmt.Errorf("wire: statement has %d parameters, %d arguments given", len(st.Params), len(args))
	}
	e := &StmtExecute{StatementID: st.ID, Iterations: 1}
	if err := BindParams(e, args); err != nil {
		return nil, err
	}
	pkt := AppendStmtExecute(nil, e)
	res, err := c.roundTrip(ctx, ComStmtExecute, pkt[1:], st)
	if err != nil {
		return nil, err
	}
	if len(res) == 0 {
		return &Result{}, nil
	}
	return res[0], nil
}

// CloseStmt sends COM_STMT_CLOSE (the server does not answer).
func (c *ClientConn) CloseStmt(st *Stmt) error {
	if c.broken != nil {
		return c.broken
	}
	var b [4]byte
	b[0], b[1], b[2], b[3] = byte(st.ID), byte(st.ID>>8), byte(st.ID>>16), byte(st.ID>>24)
	if err := c.WriteCommand(ComStmtClose, b[:]); err != nil {
		c.MarkBroken(err)
		return err
	}
	return nil
}

// quitTimeout bounds the COM_QUIT sent by Close.
const quitTimeout = time.Second

// Close sends COM_QUIT (best effort, bounded by a short deadline) and closes
// the connection.
func (c *ClientConn) Close() error {
	if c.broken == nil {
		_ = c.nc.SetWriteDeadline(time.Now().Add(quitTimeout))
		_ = c.WriteCommand(ComQuit, nil)
		c.broken = errors.New("wire: connection closed")
	}
	return c.nc.Close()
}
