package wire

import "fmt"

// Column is a parsed column definition (ColumnDefinition41).
type Column struct {
	Catalog  string // always "def"
	Schema   string
	Table    string // alias
	OrgTable string
	Name     string // alias
	OrgName  string
	Charset  uint16 // collation id
	Length   uint32 // maximum display length
	Type     byte   // Type* constant
	Flags    uint16 // Flag* bits
	Decimals byte
}

// ParseColumn parses a column definition packet.
func ParseColumn(payload []byte) (*Column, error) { return ParseColumnCaps(payload, 0) }

// ParseColumnCaps parses a column definition packet of a connection with
// capabilities caps: with MariaDBClientExtendedMetadata, the packet carries
// extended type information (skipped) after the column's name.
func ParseColumnCaps(payload []byte, caps Capability) (*Column, error) {
	c := &Column{}
	b := payload
	fields := [...]*string{&c.Catalog, &c.Schema, &c.Table, &c.OrgTable, &c.Name, &c.OrgName}
	for i, f := range fields {
		s, _, n, err := ReadLenEncString(b)
		if err != nil {
			return nil, fmt.Errorf("column definition: field %d: %w", i, err)
		}
		*f = string(s)
		b = b[n:]
	}
	if caps&MariaDBClientExtendedMetadata != 0 {
		_, _, n, err := ReadLenEncString(b)
		if err != nil {
			return nil, fmt.Errorf("column definition: extended metadata: %w", err)
		}
		b = b[n:]
	}
	l, _, n, err := ReadLenEncInt(b)
	if err != nil {
		return nil, fmt.Errorf("column definition: fixed-length fields: %w", err)
	}
	b = b[n:]
	if l < 10 || uint64(len(b)) < 10 {
		return nil, malformed("column definition: fixed-length fields truncated")
	}
	c.Charset = uint16At(b)
	c.Length = uint32At(b[2:])
	c.Type = b[6]
	c.Flags = uint16At(b[7:])
	c.Decimals = b[9]
	return c, nil
}

// AppendColumn appends a column definition packet. An empty Catalog is sent
// as "def".
func AppendColumn(dst []byte, c *Column) []byte {
	cat := c.Catalog
	if cat == "" {
		cat = "def"
	}
	dst = appendLenEncStr(dst, cat)
	dst = appendLenEncStr(dst, c.Schema)
	dst = appendLenEncStr(dst, c.Table)
	dst = appendLenEncStr(dst, c.OrgTable)
	dst = appendLenEncStr(dst, c.Name)
	dst = appendLenEncStr(dst, c.OrgName)
	dst = append(dst, 0x0c)
	dst = appendUint16(dst, c.Charset)
	dst = appendUint32(dst, c.Length)
	dst = append(dst, c.Type)
	dst = appendUint16(dst, c.Flags)
	dst = append(dst, c.Decimals, 0, 0)
	return dst
}
