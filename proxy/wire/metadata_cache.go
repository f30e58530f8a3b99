package wire

import (
	"bytes"
	"encoding/binary"
)

// ParseColumnCount parses the packet that starts a result set on a
// connection with capabilities caps: the column count and, with MariaDB's
// MariaDBClientCacheMetadata, the metadata-follows byte (0: the column
// definitions are left out and the client reuses those it holds for the
// prepared statement; 1: they follow). Without the capability, metadata
// always follows and extra bytes are ignored, as clients do.
func ParseColumnCount(p []byte, caps Capability) (n uint64, metadataFollows bool, err error) {
	n, null, l, err := ReadLenEncInt(p)
	if err != nil || null || n == 0 {
		return 0, false, malformed("bad column count")
	}
	if caps&MariaDBClientCacheMetadata == 0 {
		return n, true, nil
	}
	if len(p) <= l {
		return 0, false, malformed("column count: metadata-follows byte missing")
	}
	switch p[l] {
	case 0:
		return n, false, nil
	case 1:
		return n, true, nil
	}
	return 0, false, malformed("column count: metadata-follows byte is neither 0 nor 1")
}

// AppendColumnCount appends the packet that starts a result set of n
// columns for a connection with capabilities caps: with
// MariaDBClientCacheMetadata, the metadata-follows byte says whether the
// column definitions follow (false only for a prepared statement's result
// whose definitions the client holds).
func AppendColumnCount(dst []byte, n uint64, metadataFollows bool, caps Capability) []byte {
	dst = AppendLenEncInt(dst, n)
	if caps&MariaDBClientCacheMetadata == 0 {
		return dst
	}
	if metadataFollows {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// columnFixedLen is the length of a column definition's fixed-length
// fields (after their 0x0c length byte): character set (2), column length
// (4), type (1), flags (2), decimals (1), filler (2).
const columnFixedLen = 12

// SameColumnShape reports whether two column definition packets of result
// sets describe a column of the same type, flags and decimals. The rest
// (character set, display length, and the bytes of the names) is what the
// session's character_set_results changes in the definitions of a
// statement whose metadata did not change. Packets that do not end with the
// fixed-length fields (as definitions of result sets do) are never the same
// shape.
func SameColumnShape(a, b []byte) bool {
	if len(a) < columnFixedLen+1 || len(b) < columnFixedLen+1 {
		return false
	}
	fa, fb := len(a)-columnFixedLen, len(b)-columnFixedLen
	if a[fa-1] != columnFixedLen || b[fb-1] != columnFixedLen {
		return false
	}
	// Type, flags and decimals: offsets 6 to 10 of the fixed fields.
	return bytes.Equal(a[fa+6:fa+10], b[fb+6:fb+10])
}

// ColumnLength returns a column definition packet's collation id, display
// length and type (its fixed-length fields); ok is false for a packet that
// does not end with them.
func ColumnLength(p []byte) (charset uint16, length uint32, typ byte, ok bool) {
	if len(p) < columnFixedLen+1 {
		return 0, 0, 0, false
	}
	f := len(p) - columnFixedLen
	if p[f-1] != columnFixedLen {
		return 0, 0, 0, false
	}
	return binary.LittleEndian.Uint16(p[f:]), binary.LittleEndian.Uint32(p[f+2:]), p[f+6], true
}
