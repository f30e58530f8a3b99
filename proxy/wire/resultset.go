package wire

import "fmt"

// PacketKind classifies one packet of a server's response, as reported by
// Framer.Next.
type PacketKind uint8

// Packet kinds.
const (
	KindOK          PacketKind = iota + 1 // OK: a command's whole result (more may follow)
	KindERR                               // ERR: ends the response
	KindLocalInfile                       // LOCAL INFILE request (0xfb): the client must send a file
	KindColumnCount                       // starts a result set
	KindColumnDef                         // a column (or COM_FIELD_LIST field) definition
	KindParamDef                          // a parameter definition of COM_STMT_PREPARE
	KindMetadataEOF                       // classic EOF after column or parameter definitions
	KindRow                               // a text or binary row
	KindResultEnd                         // EOF, or OK with header 0xfe, ending the rows
	KindPrepareOK                         // COM_STMT_PREPARE_OK
	KindInfo                              // the string answering COM_STATISTICS
)

var kindNames = [...]string{"", "OK", "ERR", "LocalInfile", "ColumnCount", "ColumnDef", "ParamDef",
	"MetadataEOF", "Row", "ResultEnd", "PrepareOK", "Info"}

// String returns the kind's name.
func (k PacketKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("PacketKind(%d)", uint8(k))
}

// Mode is the shape of a command's response, which decides how a Framer
// reads it.
type Mode uint8

// Response modes.
const (
	// ModeText: OK, ERR, LOCAL INFILE, or text result sets, possibly
	// several (COM_QUERY, and commands answered with OK or ERR).
	ModeText Mode = iota
	// ModeBinary: like ModeText with binary rows (COM_STMT_EXECUTE).
	ModeBinary
	// ModePrepare: COM_STMT_PREPARE_OK with parameter and column
	// definitions, or ERR.
	ModePrepare
	// ModeFetch: binary rows ended by EOF, or ERR (COM_STMT_FETCH).
	ModeFetch
	// ModeFieldList: column definitions ended by EOF, or ERR
	// (COM_FIELD_LIST).
	ModeFieldList
	// ModeStatistics: one string packet, or ERR (COM_STATISTICS).
	ModeStatistics
)

// ModeFor returns the response mode for a command, and false for commands the
// server does not answer (COM_QUIT, COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA)
// or whose answer is not a command response (COM_CHANGE_USER runs an auth
// exchange, COM_BINLOG_DUMP a stream).
func ModeFor(cmd Command) (Mode, bool) {
	switch cmd {
	case ComQuit, ComStmtClose, ComStmtSendLongData, ComChangeUser, ComBinlogDump, ComBinlogDumpGTID,
		ComRegisterSlave, ComTableDump, ComConnectOut:
		return 0, false
	case ComStmtExecute, ComStmtBulkExecute:
		return ModeBinary, true
	case ComStmtPrepare:
		return ModePrepare, true
	case ComStmtFetch:
		return ModeFetch, true
	case ComFieldList:
		return ModeFieldList, true
	case ComStatistics:
		return ModeStatistics, true
	}
	return ModeText, true
}

type frameState uint8

const (
	stFirst frameState = iota
	stParams
	stParamsEOF
	stColumns
	stColumnsEOF
	stRows
	stDone
)

// Framer follows one response of a server packet by packet, so that a relay
// knows what each packet is, where a result set ends and whether more results
// follow, without parsing rows. Feed it every packet of the response in order
// with Next until Done. A Framer is reused across responses with Reset; the
// server status it reports carries over. The zero Framer is ready for a text
// response from a server without CLIENT_DEPRECATE_EOF.
type Framer struct {
	mode         Mode
	deprecateEOF bool
	state        frameState
	remaining    uint64 // definitions left in stParams / stColumns
	columns      uint64 // columns announced (result set or prepare)
	status       Status
	warnings     uint16
	metaEnded    bool
}

// Reset starts a new response of the given mode. deprecateEOF is whether the
// connection the packets come from uses CLIENT_DEPRECATE_EOF.
func (f *Framer) Reset(mode Mode, deprecateEOF bool) {
	*f = Framer{mode: mode, deprecateEOF: deprecateEOF, status: f.status}
	switch mode {
	case ModeFetch:
		f.state = stRows
	case ModeFieldList:
		f.state = stColumns
	}
}

// Done reports whether the response is complete: the last packet ended it and
// no more results follow.
func (f *Framer) Done() bool { return f.state == stDone }

// Status returns the server status from the last OK or EOF packet seen (the
// status before this response until one arrives).
func (f *Framer) Status() Status { return f.status }

// Warnings returns the warning count of the last OK or EOF packet seen.
func (f *Framer) Warnings() uint16 { return f.warnings }

// Columns returns the column count of the current result set or prepared
// statement.
func (f *Framer) Columns() uint64 { return f.columns }

// MetadataEnded reports whether the packet just passed to Next completed a
// block of definitions (columns, or parameters of a prepare) without a
// classic EOF following it, because the source uses CLIENT_DEPRECATE_EOF. A
// relay to a client without it must send an EOF at this point.
func (f *Framer) MetadataEnded() bool { return f.metaEnded }

// Next classifies the next packet of the response and advances. It returns
// an error for a packet that cannot occur at this point; the connection is
// then out of sync and must be closed.
func (f *Framer) Next(p []byte) (PacketKind, error) {
	f.metaEnded = false
	if len(p) == 0 {
		return 0, malformed("empty packet in a response")
	}
	if f.state == stDone {
		return 0, malformed("packet after the end of the response")
	}
	if p[0] == headerERR {
		f.state = stDone
		return KindERR, nil
	}
	switch f.state {
	case stFirst:
		return f.first(p)
	case stParams, stColumns:
		if f.mode == ModeFieldList {
			if IsResultEnd(p) {
				return f.end(p)
			}
			return KindColumnDef, nil
		}
		f.remaining--
		kind := KindColumnDef
		if f.state == stParams {
			kind = KindParamDef
		}
		if f.remaining == 0 {
			f.afterDefinitions()
		}
		return kind, nil
	case stParamsEOF, stColumnsEOF:
		if !IsEOF(p) {
			return 0, malformed("expected EOF after definitions")
		}
		e, _ := ParseEOF(p)
		f.status, f.warnings = e.Status, e.Warnings
		if f.state == stParamsEOF && f.columns > 0 {
			f.state, f.remaining = stColumns, f.columns
		} else if f.mode == ModePrepare {
			f.state = stDone
		} else if f.mode == ModeBinary && e.Status&StatusCursorExists != 0 {
			// A cursor was opened: rows come with COM_STMT_FETCH.
			f.endResult()
		} else {
			f.state = stRows
		}
		return KindMetadataEOF, nil
	case stRows:
		if IsResultEnd(p) {
			return f.end(p)
		}
		return KindRow, nil
	}
	return 0, malformed("framer in an impossible state")
}

// afterDefinitions moves past the last parameter or column definition.
func (f *Framer) afterDefinitions() {
	if !f.deprecateEOF {
		if f.state == stParams {
			f.state = stParamsEOF
		} else {
			f.state = stColumnsEOF
		}
		return
	}
	f.metaEnded = true
	switch {
	case f.state == stParams && f.columns > 0:
		f.state, f.remaining = stColumns, f.columns
	case f.mode == ModePrepare:
		f.state = stDone
	default:
		f.state = stRows
	}
}

func (f *Framer) first(p []byte) (PacketKind, error) {
	switch f.mode {
	case ModeStatistics:
		f.state = stDone
		return KindInfo, nil
	case ModePrepare:
		po, err := ParsePrepareOK(p)
		if err != nil {
			return 0, err
		}
		f.warnings = po.Warnings
		f.columns = uint64(po.NumColumns)
		switch {
		case po.NumParams > 0:
			f.state, f.remaining = stParams, uint64(po.NumParams)
		case po.NumColumns > 0:
			f.state, f.remaining = stColumns, f.columns
		default:
			f.state = stDone
		}
		return KindPrepareOK, nil
	}
	switch p[0] {
	case headerOK:
		var ok OK
		if err := ParseOK(p, ClientProtocol41, &ok); err != nil {
			return 0, err
		}
		f.status, f.warnings = ok.Status, ok.Warnings
		f.endResult()
		return KindOK, nil
	case headerLocalInfile:
		if f.mode != ModeText {
			return 0, malformed("LOCAL INFILE request outside a text response")
		}
		// The client sends the file next; then the server answers
		// with OK or ERR, read as a first packet again.
		return KindLocalInfile, nil
	case headerEOF:
		return 0, malformed("EOF where a response must start")
	}
	n, null, _, err := ReadLenEncInt(p)
	if err != nil || null || n == 0 {
		return 0, malformed("bad column count")
	}
	f.columns, f.remaining, f.state = n, n, stColumns
	return KindColumnCount, nil
}

// end handles the EOF or OK packet that ends rows (or a field list).
func (f *Framer) end(p []byte) (PacketKind, error) {
	if f.deprecateEOF && len(p) >= 7 {
		var ok OK
		if err := ParseOK(p, ClientProtocol41, &ok); err != nil {
			return 0, err
		}
		f.status, f.warnings = ok.Status, ok.Warnings
	} else {
		e, err := ParseEOF(p)
		if err != nil {
			return 0, err
		}
		f.status, f.warnings = e.Status, e.Warnings
	}
	if f.mode == ModeFetch || f.mode == ModeFieldList {
		f.state = stDone
	} else {
		f.endResult()
	}
	return KindResultEnd, nil
}

// endResult ends one result: another follows when the server says so.
func (f *Framer) endResult() {
	if f.status&StatusMoreResultsExist != 0 {
		f.state = stFirst
		f.columns = 0
	} else {
		f.state = stDone
	}
}

// EOFTranslator rewrites a response for a destination whose
// CLIENT_DEPRECATE_EOF setting differs from the source's: it drops or
// inserts the EOF after definitions and converts the packet that ends rows
// between EOF and OK with header 0xfe. The zero value passes packets through;
// see NewEOFTranslator.
type EOFTranslator struct {
	srcDeprecate, dstDeprecate bool
	// pendingEOF: the column definitions of a binary result ended and the
	// classic destination's EOF is held back until the next packet shows
	// whether a cursor was opened (then that EOF ends the result).
	pendingEOF bool
	buf, buf2  []byte // reused for synthesized packets
}

// NewEOFTranslator returns a translator from a source to a destination with
// the given CLIENT_DEPRECATE_EOF settings.
func NewEOFTranslator(srcDeprecateEOF, dstDeprecateEOF bool) *EOFTranslator {
	return &EOFTranslator{srcDeprecate: srcDeprecateEOF, dstDeprecate: dstDeprecateEOF}
}

// Needed reports whether the two sides differ, so packets are rewritten.
func (t *EOFTranslator) Needed() bool { return t.srcDeprecate != t.dstDeprecate }

// Translate returns what to send to the destination, in order, for packet
// p of kind kind just passed to f.Next (f follows the source): first and
// second are each p, a rewritten or synthesized packet, or nil for nothing.
// Synthesized packets alias buffers reused by the next call, so write them
// before calling again.
func (t *EOFTranslator) Translate(f *Framer, kind PacketKind, p []byte) (first, second []byte) {
	if t.srcDeprecate == t.dstDeprecate {
		return p, nil
	}
	if t.dstDeprecate { // classic source, DEPRECATE_EOF destination
		switch kind {
		case KindMetadataEOF:
			if f.mode == ModeBinary && f.status&StatusCursorExists != 0 {
				// The EOF that announces a cursor ends the result: a
				// DEPRECATE_EOF client expects an OK there.
				return t.ok(f), nil
			}
			return nil, nil
		case KindResultEnd:
			return t.ok(f), nil
		}
		return p, nil
	}
	// DEPRECATE_EOF source, classic destination.
	if t.pendingEOF {
		t.pendingEOF = false
		switch kind {
		case KindRow:
			return t.eof(f), p
		case KindResultEnd:
			if f.status&StatusCursorExists != 0 {
				// Cursor opened: the classic client gets the metadata
				// EOF (with CURSOR_EXISTS) and nothing else.
				return t.eof(f), nil
			}
			return t.eof(f), t.eof2(f) // empty result set
		}
		return p, nil
	}
	switch kind {
	case KindColumnDef, KindParamDef:
		if f.metaEnded {
			if f.mode == ModeBinary {
				t.pendingEOF = true
				return p, nil
			}
			return p, t.eof(f)
		}
	case KindResultEnd:
		return t.eof(f), nil
	}
	return p, nil
}

func (t *EOFTranslator) ok(f *Framer) []byte {
	t.buf = AppendOKAsEOF(t.buf[:0], ClientProtocol41, &OK{Status: f.status, Warnings: f.warnings})
	return t.buf
}

func (t *EOFTranslator) eof(f *Framer) []byte {
	t.buf = AppendEOF(t.buf[:0], EOF{Warnings: f.warnings, Status: f.status})
	return t.buf
}

func (t *EOFTranslator) eof2(f *Framer) []byte {
	t.buf2 = AppendEOF(t.buf2[:0], EOF{Warnings: f.warnings, Status: f.status})
	return t.buf2
}
