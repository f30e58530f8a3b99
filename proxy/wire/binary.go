package wire

import (
	"fmt"
	"math"
	"strconv"
)

// BindParams encodes args as the parameters of a COM_STMT_EXECUTE, binary
// protocol: it returns e with NullBitmap, NewParamsBound, ParamTypes and
// Values set. Supported argument types: nil, bool, int, int8..int64, uint,
// uint8..uint64, float32, float64, string and []byte.
func BindParams(e *StmtExecute, args []any) error {
	n := len(args)
	e.NullBitmap = make([]byte, (n+7)/8)
	e.ParamTypes = make([]byte, 0, 2*n)
	e.Values = e.Values[:0]
	e.NewParamsBound = n > 0
	for i, a := range args {
		var typ, unsigned byte
		switch v := a.(type) {
		case nil:
			e.NullBitmap[i/8] |= 1 << (i % 8)
			typ = TypeNull
		case bool:
			typ = TypeTiny
			b := byte(0)
			if v {
				b = 1
			}
			e.Values = append(e.Values, b)
		case int:
			typ, e.Values = TypeLongLong, appendUint64(e.Values, uint64(v))
		case int8:
			typ, e.Values = TypeLongLong, appendUint64(e.Values, uint64(v))
		case int16:
			typ, e.Values = TypeLongLong, appendUint64(e.Values, uint64(v))
		case int32:
			typ, e.Values = TypeLongLong, appendUint64(e.Values, uint64(v))
		case int64:
			typ, e.Values = TypeLongLong, appendUint64(e.Values, uint64(v))
		case uint:
			typ, unsigned, e.Values = TypeLongLong, 0x80, appendUint64(e.Values, uint64(v))
		case uint8:
			typ, unsigned, e.Values = TypeLongLong, 0x80, appendUint64(e.Values, uint64(v))
		case uint16:
			typ, unsigned, e.Values = TypeLongLong, 0x80, appendUint64(e.Values, uint64(v))
		case uint32:
			typ, unsigned, e.Values = TypeLongLong, 0x80, appendUint64(e.Values, uint64(v))
		case uint64:
			typ, unsigned, e.Values = TypeLongLong, 0x80, appendUint64(e.Values, v)
		case float32:
			typ, e.Values = TypeDouble, appendUint64(e.Values, math.Float64bits(float64(v)))
		case float64:
			typ, e.Values = TypeDouble, appendUint64(e.Values, math.Float64bits(v))
		case string:
			typ, e.Values = TypeString, appendLenEncStr(e.Values, v)
		case []byte:
			if v == nil {
				e.NullBitmap[i/8] |= 1 << (i % 8)
				typ = TypeNull
				break
			}
			typ, e.Values = TypeString, AppendLenEncString(e.Values, v)
		default:
			return fmt.Errorf("wire: parameter %d: unsupported type %T", i+1, a)
		}
		e.ParamTypes = append(e.ParamTypes, typ, unsigned)
	}
	return nil
}

func appendUint64(b []byte, v uint64) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}

// DecodeBinaryRow converts a binary-protocol row (header 0x00, NULL bitmap,
// values) of the given columns to the values' text form, as the text
// protocol would send them (nil for NULL). The values are appended to dst.
func DecodeBinaryRow(dst [][]byte, row []byte, cols []*Column) ([][]byte, error) {
	if len(row) == 0 || row[0] != headerOK {
		return nil, malformed("binary row: wrong header")
	}
	nb := (len(cols) + 7 + 2) / 8
	if len(row) < 1+nb {
		return nil, malformed("binary row: NULL bitmap truncated")
	}
	bitmap := row[1 : 1+nb]
	b := row[1+nb:]
	for i, c := range cols {
		bit := i + 2
		if bitmap[bit/8]&(1<<(bit%8)) != 0 {
			dst = append(dst, nil)
			continue
		}
		v, n, err := decodeBinaryValue(b, c)
		if err != nil {
			return nil, fmt.Errorf("binary row: column %d (%s): %w", i+1, c.Name, err)
		}
		dst = append(dst, v)
		b = b[n:]
	}
	return dst, nil
}

func decodeBinaryValue(b []byte, c *Column) ([]byte, int, error) {
	unsigned := c.Flags&FlagUnsigned != 0
	need := func(n int) error {
		if len(b) < n {
			return malformed("value truncated")
		}
		return nil
	}
	switch c.Type {
	case TypeTiny:
		if err := need(1); err != nil {
			return nil, 0, err
		}
		if unsigned {
			return strconv.AppendUint(nil, uint64(b[0]), 10), 1, nil
		}
		return strconv.AppendInt(nil, int64(int8(b[0])), 10), 1, nil
	case TypeShort, TypeYear:
		if err := need(2); err != nil {
			return nil, 0, err
		}
		if unsigned || c.Type == TypeYear {
			return strconv.AppendUint(nil, uint64(uint16At(b)), 10), 2, nil
		}
		return strconv.AppendInt(nil, int64(int16(uint16At(b))), 10), 2, nil
	case TypeLong, TypeInt24:
		if err := need(4); err != nil {
			return nil, 0, err
		}
		if unsigned {
			return strconv.AppendUint(nil, uint64(uint32At(b)), 10), 4, nil
		}
		return strconv.AppendInt(nil, int64(int32(uint32At(b))), 10), 4, nil
	case TypeLongLong:
		if err := need(8); err != nil {
			return nil, 0, err
		}
		v := uint64(uint32At(b)) | uint64(uint32At(b[4:]))<<32
		if unsigned {
			return strconv.AppendUint(nil, v, 10), 8, nil
		}
		return strconv.AppendInt(nil, int64(v), 10), 8, nil
	case TypeFloat:
		if err := need(4); err != nil {
			return nil, 0, err
		}
		return strconv.AppendFloat(nil, float64(math.Float32frombits(uint32At(b))), 'g', -1, 32), 4, nil
	case TypeDouble:
		if err := need(8); err != nil {
			return nil, 0, err
		}
		v := uint64(uint32At(b)) | uint64(uint32At(b[4:]))<<32
		return strconv.AppendFloat(nil, math.Float64frombits(v), 'g', -1, 64), 8, nil
	case TypeDate, TypeDatetime, TypeTimestamp:
		if err := need(1); err != nil {
			return nil, 0, err
		}
		n := int(b[0])
		if err := need(1 + n); err != nil {
			return nil, 0, err
		}
		return formatDatetime(c.Type, b[1:1+n]), 1 + n, nil
	case TypeTime:
		if err := need(1); err != nil {
			return nil, 0, err
		}
		n := int(b[0])
		if err := need(1 + n); err != nil {
			return nil, 0, err
		}
		return formatTime(b[1 : 1+n]), 1 + n, nil
	case TypeNull:
		return nil, 0, nil
	}
	s, null, n, err := ReadLenEncString(b)
	if err != nil {
		return nil, 0, err
	}
	if null {
		return nil, n, nil
	}
	return append([]byte{}, s...), n, nil
}

func formatDatetime(typ byte, b []byte) []byte {
	var y, mo, d, h, mi, s int
	var us uint32
	if len(b) >= 4 {
		y, mo, d = int(uint16At(b)), int(b[2]), int(b[3])
	}
	if len(b) >= 7 {
		h, mi, s = int(b[4]), int(b[5]), int(b[6])
	}
	if len(b) >= 11 {
		us = uint32At(b[7:])
	}
	out := fmt.Appendf(nil, "%04d-%02d-%02d", y, mo, d)
	if typ == TypeDate {
		return out
	}
	out = fmt.Appendf(out, " %02d:%02d:%02d", h, mi, s)
	if us != 0 {
		out = fmt.Appendf(out, ".%06d", us)
	}
	return out
}

func formatTime(b []byte) []byte {
	var neg bool
	var days uint32
	var h, mi, s int
	var us uint32
	if len(b) >= 8 {
		neg, days, h, mi, s = b[0] == 1, uint32At(b[1:]), int(b[5]), int(b[6]), int(b[7])
	}
	if len(b) >= 12 {
		us = uint32At(b[8:])
	}
	var out []byte
	if neg {
		out = append(out, '-')
	}
	out = fmt.Appendf(out, "%02d:%02d:%02d", int(days)*24+h, mi, s)
	if us != 0 {
		out = fmt.Appendf(out, ".%06d", us)
	}
	return out
}
