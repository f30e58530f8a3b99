package wire

import (
	"fmt"
	"strconv"
)

// Packet header bytes of responses.
const (
	headerOK          = 0x00
	headerLocalInfile = 0xfb
	headerEOF         = 0xfe
	headerERR         = 0xff
)

// OK is a parsed OK packet. Info and SessionState alias the packet they were
// parsed from.
type OK struct {
	AffectedRows uint64
	LastInsertID uint64
	Status       Status
	Warnings     uint16
	// Info is the human-readable message, such as "Rows matched: 1 ...".
	Info []byte
	// SessionState is the raw session-state-change data, present when
	// Status has StatusSessionStateChanged; walk it with NextSessionState.
	SessionState []byte
}

// IsOK reports whether payload is an OK packet (header 0x00), as the first
// packet of a response or the answer to a command without a result set.
func IsOK(payload []byte) bool { return len(payload) >= 7 && payload[0] == headerOK }

// IsERR reports whether payload is an ERR packet.
func IsERR(payload []byte) bool { return len(payload) > 0 && payload[0] == headerERR }

// IsEOF reports whether payload is a classic EOF packet (header 0xfe, shorter
// than 9 bytes). With CLIENT_DEPRECATE_EOF a result set ends with an OK packet
// with header 0xfe instead; see IsResultEnd.
func IsEOF(payload []byte) bool {
	return len(payload) < 9 && len(payload) > 0 && payload[0] == headerEOF
}

// IsResultEnd reports whether payload, read where a row or the end of a
// result set is expected, ends the rows: a classic EOF, or with
// CLIENT_DEPRECATE_EOF an OK packet with header 0xfe. A text row can also
// start with 0xfe, but only when its first value is at least 16 MiB long, so
// such a row is never shorter than MaxChunk.
func IsResultEnd(payload []byte) bool {
	return len(payload) > 0 && len(payload) < MaxChunk && payload[0] == headerEOF
}

// ParseOK parses an OK packet (header 0x00, or 0xfe for the OK that ends a
// result set under CLIENT_DEPRECATE_EOF) into ok, without allocating. caps are
// the capabilities in effect on the connection.
func ParseOK(payload []byte, caps Capability, ok *OK) error {
	if len(payload) == 0 || (payload[0] != headerOK && payload[0] != headerEOF) {
		return malformed("OK packet: wrong header")
	}
	b := payload[1:]
	var n int
	var err error
	*ok = OK{}
	if ok.AffectedRows, _, n, err = ReadLenEncInt(b); err != nil {
		return fmt.Errorf("OK packet: affected rows: %w", err)
	}
	b = b[n:]
	if ok.LastInsertID, _, n, err = ReadLenEncInt(b); err != nil {
		return fmt.Errorf("OK packet: last insert id: %w", err)
	}
	b = b[n:]
	if caps&ClientProtocol41 != 0 {
		if len(b) < 4 {
			return malformed("OK packet: missing status and warnings")
		}
		ok.Status = Status(uint16At(b))
		ok.Warnings = uint16At(b[2:])
		b = b[4:]
	} else if caps&ClientTransactions != 0 {
		if len(b) < 2 {
			return malformed("OK packet: missing status")
		}
		ok.Status = Status(uint16At(b))
		b = b[2:]
	}
	if caps&ClientSessionTrack == 0 {
		ok.Info = b
		return nil
	}
	if len(b) == 0 { // servers omit an empty info
		return nil
	}
	if ok.Info, _, n, err = ReadLenEncString(b); err != nil {
		return fmt.Errorf("OK packet: info: %w", err)
	}
	b = b[n:]
	if ok.Status&StatusSessionStateChanged != 0 && len(b) > 0 {
		if ok.SessionState, _, _, err = ReadLenEncString(b); err != nil {
			return fmt.Errorf("OK packet: session state: %w", err)
		}
	}
	return nil
}

// AppendOK appends an OK packet (header 0x00) for a peer with capabilities
// caps.
func AppendOK(dst []byte, caps Capability, ok *OK) []byte {
	return appendOK(append(dst, headerOK), caps, ok)
}

// AppendOKAsEOF appends the OK packet with header 0xfe that ends a result set
// for a peer with CLIENT_DEPRECATE_EOF.
func AppendOKAsEOF(dst []byte, caps Capability, ok *OK) []byte {
	return appendOK(append(dst, headerEOF), caps, ok)
}

func appendOK(dst []byte, caps Capability, ok *OK) []byte {
	dst = AppendLenEncInt(dst, ok.AffectedRows)
	dst = AppendLenEncInt(dst, ok.LastInsertID)
	status := ok.Status
	if len(ok.SessionState) == 0 || caps&ClientSessionTrack == 0 {
		status &^= StatusSessionStateChanged
	}
	if caps&ClientProtocol41 != 0 {
		dst = appendUint16(dst, uint16(status))
		dst = appendUint16(dst, ok.Warnings)
	} else if caps&ClientTransactions != 0 {
		dst = appendUint16(dst, uint16(status))
	}
	if caps&ClientSessionTrack == 0 {
		return append(dst, ok.Info...)
	}
	if len(ok.Info) > 0 || status&StatusSessionStateChanged != 0 {
		dst = AppendLenEncString(dst, ok.Info)
	}
	if status&StatusSessionStateChanged != 0 {
		dst = AppendLenEncString(dst, ok.SessionState)
	}
	return dst
}

// Error is a MySQL error: the contents of an ERR packet, sent by a server or
// to be sent to a client. It implements error.
type Error struct {
	Code    uint16
	State   string // SQLSTATE, five characters
	Message string
}

// NewError returns an *Error with a formatted message.
func NewError(code uint16, state, format string, args ...any) *Error {
	return &Error{Code: code, State: state, Message: fmt.Sprintf(format, args...)}
}

// Error formats the error as MySQL clients do: "Error 1045 (28000): ...".
func (e *Error) Error() string {
	return "Error " + strconv.Itoa(int(e.Code)) + " (" + e.State + "): " + e.Message
}

// ParseERR parses an ERR packet. Packets sent before capabilities are agreed
// (or to a pre-4.1 client) have no SQLSTATE; State is then "HY000".
func ParseERR(payload []byte) (*Error, error) {
	if len(payload) < 3 || payload[0] != headerERR {
		return nil, malformed("ERR packet: too short or wrong header")
	}
	e := &Error{Code: uint16At(payload[1:]), State: StateGeneral}
	msg := payload[3:]
	if len(msg) >= 6 && msg[0] == '#' {
		e.State = string(msg[1:6])
		msg = msg[6:]
	}
	e.Message = string(msg)
	return e, nil
}

// AppendERR appends an ERR packet with the error's code, SQLSTATE (when the
// peer speaks PROTOCOL_41) and message.
func AppendERR(dst []byte, caps Capability, e *Error) []byte {
	dst = append(dst, headerERR)
	dst = appendUint16(dst, e.Code)
	if caps&ClientProtocol41 != 0 {
		state := e.State
		if len(state) != 5 {
			state = StateGeneral
		}
		dst = append(dst, '#')
		dst = append(dst, state...)
	}
	return append(dst, e.Message...)
}

// EOF is a parsed classic EOF packet.
type EOF struct {
	Warnings uint16
	Status   Status
}

// ParseEOF parses a classic EOF packet (header 0xfe, shorter than 9 bytes).
// A pre-4.1 EOF (one byte) yields zero values.
func ParseEOF(payload []byte) (EOF, error) {
	if !IsEOF(payload) {
		return EOF{}, malformed("EOF packet: wrong header or length")
	}
	if len(payload) < 5 {
		return EOF{}, nil
	}
	return EOF{Warnings: uint16At(payload[1:]), Status: Status(uint16At(payload[3:]))}, nil
}

// AppendEOF appends a classic EOF packet.
func AppendEOF(dst []byte, e EOF) []byte {
	dst = append(dst, headerEOF)
	dst = appendUint16(dst, e.Warnings)
	return appendUint16(dst, uint16(e.Status))
}

// SessionTrack is the type of one entry of session-state-change data.
type SessionTrack byte

// Session-state-change entry types.
const (
	TrackSystemVariables            SessionTrack = 0 // name and value of a changed variable
	TrackSchema                     SessionTrack = 1 // the new default schema
	TrackStateChange                SessionTrack = 2 // "1": some session state changed
	TrackGTIDs                      SessionTrack = 3
	TrackTransactionCharacteristics SessionTrack = 4
	TrackTransactionState           SessionTrack = 5
)

// NextSessionState splits the first entry off session-state-change data (as
// in OK.SessionState): its type, its data (aliasing data) and the remaining
// entries. Loop while len(rest) > 0.
func NextSessionState(data []byte) (typ SessionTrack, value, rest []byte, err error) {
	if len(data) < 1 {
		return 0, nil, nil, malformed("session state: empty entry")
	}
	v, _, n, err := ReadLenEncString(data[1:])
	if err != nil {
		return 0, nil, nil, fmt.Errorf("session state entry: %w", err)
	}
	return SessionTrack(data[0]), v, data[1+n:], nil
}

// ParseTrackedVariable splits the data of a TrackSystemVariables entry into
// the variable's name and new value.
func ParseTrackedVariable(value []byte) (name, val []byte, err error) {
	name, _, n, err := ReadLenEncString(value)
	if err != nil {
		return nil, nil, fmt.Errorf("tracked variable name: %w", err)
	}
	val, _, _, err = ReadLenEncString(value[n:])
	if err != nil {
		return nil, nil, fmt.Errorf("tracked variable value: %w", err)
	}
	return name, val, nil
}

// ParseTrackedSchema returns the schema name of a TrackSchema entry.
func ParseTrackedSchema(value []byte) ([]byte, error) {
	s, _, _, err := ReadLenEncString(value)
	if err != nil {
		return nil, fmt.Errorf("tracked schema: %w", err)
	}
	return s, nil
}

var _ error = (*Error)(nil)
