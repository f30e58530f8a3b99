package wire

import "fmt"

// PrepareOK is the COM_STMT_PREPARE_OK packet.
type PrepareOK struct {
	StatementID uint32
	NumColumns  uint16
	NumParams   uint16
	Warnings    uint16
}

// ParsePrepareOK parses COM_STMT_PREPARE_OK.
func ParsePrepareOK(payload []byte) (PrepareOK, error) {
	if len(payload) < 9 || payload[0] != headerOK {
		return PrepareOK{}, malformed("COM_STMT_PREPARE_OK: too short or wrong header")
	}
	po := PrepareOK{
		StatementID: uint32At(payload[1:]),
		NumColumns:  uint16At(payload[5:]),
		NumParams:   uint16At(payload[7:]),
	}
	if len(payload) >= 12 {
		po.Warnings = uint16At(payload[10:])
	}
	return po, nil
}

// AppendPrepareOK appends COM_STMT_PREPARE_OK.
func AppendPrepareOK(dst []byte, po PrepareOK) []byte {
	dst = append(dst, headerOK)
	dst = appendUint32(dst, po.StatementID)
	dst = appendUint16(dst, po.NumColumns)
	dst = appendUint16(dst, po.NumParams)
	dst = append(dst, 0)
	return appendUint16(dst, po.Warnings)
}

// hasStatementID reports whether cmd's packet carries a statement id in
// bytes 1 to 4.
func hasStatementID(cmd Command) bool {
	switch cmd {
	case ComStmtExecute, ComStmtClose, ComStmtReset, ComStmtSendLongData, ComStmtFetch, ComStmtBulkExecute:
		return true
	}
	return false
}

// StatementID returns the statement id of a COM_STMT_EXECUTE, _CLOSE,
// _RESET, _SEND_LONG_DATA or _FETCH packet (including its command byte).
func StatementID(payload []byte) (uint32, error) {
	if len(payload) < 5 || !hasStatementID(Command(payload[0])) {
		return 0, malformed("not a statement command with a statement id")
	}
	return uint32At(payload[1:]), nil
}

// SetStatementID rewrites the statement id of a statement command packet in
// place (a listener maps the client's id to the backend's).
func SetStatementID(payload []byte, id uint32) error {
	if len(payload) < 5 || !hasStatementID(Command(payload[0])) {
		return malformed("not a statement command with a statement id")
	}
	payload[1], payload[2], payload[3], payload[4] = byte(id), byte(id>>8), byte(id>>16), byte(id>>24)
	return nil
}

// Cursor flags of COM_STMT_EXECUTE.
const (
	CursorTypeNoCursor   byte = 0x00
	CursorTypeReadOnly   byte = 0x01
	CursorTypeForUpdate  byte = 0x02
	CursorTypeScrollable byte = 0x04
)

// StmtExecute is a parsed COM_STMT_EXECUTE. Its slices alias the packet.
type StmtExecute struct {
	StatementID uint32
	Flags       byte   // Cursor* flags
	Iterations  uint32 // always 1
	NullBitmap  []byte // (NumParams+7)/8 bytes; bit i set: parameter i is NULL
	// NewParamsBound is set when ParamTypes are sent. When it is not,
	// the server uses the types of the previous execution, which a
	// statement freshly prepared on another backend does not have: a
	// listener then rebuilds the packet with the remembered types.
	NewParamsBound bool
	ParamTypes     []byte // 2 bytes per parameter: type, and 0x80 for unsigned
	Values         []byte // the parameter values, binary protocol
}

// ParseStmtExecute parses a COM_STMT_EXECUTE packet (with its command byte)
// of a statement with numParams parameters (known from its prepare).
func ParseStmtExecute(payload []byte, numParams int) (*StmtExecute, error) {
	if len(payload) < 10 || Command(payload[0]) != ComStmtExecute {
		return nil, malformed("COM_STMT_EXECUTE: too short or wrong command")
	}
	e := &StmtExecute{
		StatementID: uint32At(payload[1:]),
		Flags:       payload[5],
		Iterations:  uint32At(payload[6:]),
	}
	b := payload[10:]
	if numParams <= 0 {
		return e, nil
	}
	nb := (numParams + 7) / 8
	if len(b) < nb+1 {
		return nil, malformed("COM_STMT_EXECUTE: null bitmap truncated")
	}
	e.NullBitmap = b[:nb:nb]
	e.NewParamsBound = b[nb] == 1
	b = b[nb+1:]
	if e.NewParamsBound {
		if len(b) < 2*numParams {
			return nil, malformed("COM_STMT_EXECUTE: parameter types truncated")
		}
		e.ParamTypes = b[: 2*numParams : 2*numParams]
		b = b[2*numParams:]
	}
	e.Values = b
	return e, nil
}

// AppendStmtExecute appends a COM_STMT_EXECUTE packet. The number of
// parameters is taken from ParamTypes when NewParamsBound, else from the
// NullBitmap (whose length must then be right).
func AppendStmtExecute(dst []byte, e *StmtExecute) []byte {
	dst = append(dst, byte(ComStmtExecute))
	dst = appendUint32(dst, e.StatementID)
	dst = append(dst, e.Flags)
	dst = appendUint32(dst, e.Iterations)
	if len(e.NullBitmap) == 0 && len(e.ParamTypes) == 0 {
		return dst
	}
	dst = append(dst, e.NullBitmap...)
	if e.NewParamsBound {
		dst = append(dst, 1)
		dst = append(dst, e.ParamTypes...)
	} else {
		dst = append(dst, 0)
	}
	return append(dst, e.Values...)
}

// WithParamTypes returns the packet rebuilt, into dst, with NewParamsBound
// set and the given types (2 bytes per parameter), for executing on a
// backend that never saw the types. A packet that already binds types, or a
// statement without parameters, is appended unchanged.
func WithParamTypes(dst, payload []byte, numParams int, types []byte) ([]byte, error) {
	e, err := ParseStmtExecute(payload, numParams)
	if err != nil {
		return nil, err
	}
	if numParams <= 0 || e.NewParamsBound {
		return append(dst, payload...), nil
	}
	if len(types) != 2*numParams {
		return nil, fmt.Errorf("wire: %d parameter types given for %d parameters", len(types)/2, numParams)
	}
	e.NewParamsBound, e.ParamTypes = true, types
	return AppendStmtExecute(dst, e), nil
}

// AppendStmtCommand appends a packet made of a statement command and the
// statement id only (COM_STMT_CLOSE, COM_STMT_RESET).
func AppendStmtCommand(dst []byte, cmd Command, id uint32) []byte {
	return appendUint32(append(dst, byte(cmd)), id)
}

// AppendStmtFetch appends COM_STMT_FETCH for rows rows of a cursor.
func AppendStmtFetch(dst []byte, id, rows uint32) []byte {
	return appendUint32(AppendStmtCommand(dst, ComStmtFetch, id), rows)
}
