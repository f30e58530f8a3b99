package wire

import (
	"errors"
	"fmt"
)

// ReadCommand reads the next command from the client: it starts a new
// sequence and returns the command byte and the whole packet (command byte
// included, so it can be relayed as is). The packet aliases the Conn's
// buffers and is valid until the next read.
func (s *ServerConn) ReadCommand() (Command, []byte, error) {
	s.ResetSeq()
	p, err := s.ReadPacket()
	if err != nil {
		return 0, nil, err
	}
	if len(p) == 0 {
		return 0, nil, malformed("empty command packet")
	}
	return Command(p[0]), p, nil
}

// WriteOK sends an OK packet and flushes.
func (s *ServerConn) WriteOK(ok *OK) error {
	b := AppendOK(s.Scratch(), s.caps, ok)
	err := s.WritePacketFlush(b)
	s.KeepScratch(b)
	return err
}

// WriteError sends err as an ERR packet and flushes. An *Error (wrapped or
// not) is sent as is; any other error as ER_UNKNOWN_ERROR with its message.
func (s *ServerConn) WriteError(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: ErUnknownError, State: StateGeneral, Message: err.Error()}
	}
	b := AppendERR(s.Scratch(), s.caps, e)
	werr := s.WritePacketFlush(b)
	s.KeepScratch(b)
	return werr
}

// WriteTextResult sends a complete text result set (columns, rows, end) in
// the client's EOF style and flushes. Row values are text, nil for NULL.
// status is the server status to report (StatusAutocommit typically).
func (s *ServerConn) WriteTextResult(cols []*Column, rows [][][]byte, status Status) error {
	if len(cols) == 0 {
		return errors.New("wire: a result set needs at least one column")
	}
	b := AppendColumnCount(s.Scratch(), uint64(len(cols)), true, s.caps)
	if err := s.WritePacket(b); err != nil {
		return err
	}
	for _, c := range cols {
		b = AppendColumn(b[:0], c)
		if err := s.WritePacket(b); err != nil {
			return err
		}
	}
	if !s.DeprecateEOF() {
		b = AppendEOF(b[:0], EOF{Status: status})
		if err := s.WritePacket(b); err != nil {
			return err
		}
	}
	for i, row := range rows {
		if len(row) != len(cols) {
			return fmt.Errorf("wire: row %d has %d values for %d columns", i+1, len(row), len(cols))
		}
		b = b[:0]
		for _, v := range row {
			if v == nil {
				b = append(b, nullLength)
			} else {
				b = AppendLenEncString(b, v)
			}
		}
		if err := s.WritePacket(b); err != nil {
			return err
		}
	}
	if s.DeprecateEOF() {
		b = AppendOKAsEOF(b[:0], s.caps, &OK{Status: status})
	} else {
		b = AppendEOF(b[:0], EOF{Status: status})
	}
	if err := s.WritePacket(b); err != nil {
		return err
	}
	s.KeepScratch(b)
	return s.Flush()
}
