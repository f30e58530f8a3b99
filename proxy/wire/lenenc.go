package wire

import (
	"errors"
	"fmt"
)

// ErrMalformed is returned (wrapped, with details) when a packet cannot be
// parsed. A peer that sends one does not speak the protocol as expected:
// answer with an error and close the connection.
var ErrMalformed = errors.New("wire: malformed packet")

func malformed(what string) error { return fmt.Errorf("%w: %s", ErrMalformed, what) }

// nullLength is the first byte of a length-encoded value meaning SQL NULL.
const nullLength = 0xfb

// ReadLenEncInt decodes a length-encoded integer at the start of b. It returns
// the value, whether it was the NULL marker (0xfb), and the number of bytes
// read.
func ReadLenEncInt(b []byte) (v uint64, null bool, n int, err error) {
	if len(b) == 0 {
		return 0, false, 0, malformed("length-encoded integer: no data")
	}
	switch b[0] {
	case 0xfb:
		return 0, true, 1, nil
	case 0xfc:
		if len(b) < 3 {
			return 0, false, 0, malformed("length-encoded integer: short 2-byte value")
		}
		return uint64(b[1]) | uint64(b[2])<<8, false, 3, nil
	case 0xfd:
		if len(b) < 4 {
			return 0, false, 0, malformed("length-encoded integer: short 3-byte value")
		}
		return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, false, 4, nil
	case 0xfe:
		if len(b) < 9 {
			return 0, false, 0, malformed("length-encoded integer: short 8-byte value")
		}
		return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16 | uint64(b[4])<<24 |
			uint64(b[5])<<32 | uint64(b[6])<<40 | uint64(b[7])<<48 | uint64(b[8])<<56, false, 9, nil
	case 0xff:
		return 0, false, 0, malformed("length-encoded integer: invalid first byte 0xff")
	default:
		return uint64(b[0]), false, 1, nil
	}
}

// AppendLenEncInt appends v as a length-encoded integer.
func AppendLenEncInt(dst []byte, v uint64) []byte {
	switch {
	case v < 0xfb:
		return append(dst, byte(v))
	case v <= 0xffff:
		return append(dst, 0xfc, byte(v), byte(v>>8))
	case v <= 0xffffff:
		return append(dst, 0xfd, byte(v), byte(v>>8), byte(v>>16))
	default:
		return append(dst, 0xfe, byte(v), byte(v>>8), byte(v>>16), byte(v>>24),
			byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
	}
}

// ReadLenEncString decodes a length-encoded string at the start of b. The
// returned string aliases b; null reports the NULL marker.
func ReadLenEncString(b []byte) (s []byte, null bool, n int, err error) {
	l, null, n, err := ReadLenEncInt(b)
	if err != nil || null {
		return nil, null, n, err
	}
	if l > uint64(len(b)-n) {
		return nil, false, 0, malformed("length-encoded string longer than the packet")
	}
	end := n + int(l)
	return b[n:end:end], false, end, nil
}

// AppendLenEncString appends s as a length-encoded string.
func AppendLenEncString(dst []byte, s []byte) []byte {
	return append(AppendLenEncInt(dst, uint64(len(s))), s...)
}

// appendLenEncStr is AppendLenEncString for a string.
func appendLenEncStr(dst []byte, s string) []byte {
	return append(AppendLenEncInt(dst, uint64(len(s))), s...)
}

// readNulString reads a NUL-terminated string at the start of b and returns
// it (aliasing b) and the number of bytes consumed, including the NUL.
func readNulString(b []byte) ([]byte, int, error) {
	for i, c := range b {
		if c == 0 {
			return b[:i:i], i + 1, nil
		}
	}
	return nil, 0, malformed("missing NUL terminator")
}

func uint16At(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
func uint32At(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func appendUint16(b []byte, v uint16) []byte { return append(b, byte(v), byte(v>>8)) }
func appendUint32(b []byte, v uint32) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}
