package wire_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/proxy/wire"
)

// TestColumnCountMetadataFollows: the metadata-follows byte is written and
// read only with MariaDB's metadata cache, and checked when it is.
func TestColumnCountMetadataFollows(t *testing.T) {
	cm := wire.MariaDBClientCacheMetadata
	assert.Equal(t, []byte{3}, wire.AppendColumnCount(nil, 3, false, 0))
	assert.Equal(t, []byte{3, 1}, wire.AppendColumnCount(nil, 3, true, cm))
	assert.Equal(t, []byte{3, 0}, wire.AppendColumnCount(nil, 3, false, cm))
	assert.Equal(t, []byte{0xfc, 0x2c, 0x01, 0}, wire.AppendColumnCount(nil, 300, false, cm))

	for _, tc := range []struct {
		p       []byte
		caps    wire.Capability
		n       uint64
		follows bool
		bad     bool
	}{
		{p: []byte{3}, n: 3, follows: true},
		{p: []byte{3, 0}, n: 3, follows: true}, // extra bytes ignored without the capability
		{p: []byte{3, 1}, caps: cm, n: 3, follows: true},
		{p: []byte{3, 0}, caps: cm, n: 3},
		{p: []byte{0xfc, 0x2c, 0x01, 0}, caps: cm, n: 300},
		{p: []byte{3}, caps: cm, bad: true},    // byte missing
		{p: []byte{3, 2}, caps: cm, bad: true}, // neither 0 nor 1
		{p: []byte{0, 1}, caps: cm, bad: true}, // no columns
		{p: []byte{0xfb, 1}, caps: cm, bad: true},
		{p: []byte{0xfc, 1}, caps: cm, bad: true}, // truncated count
		{p: nil, bad: true},
	} {
		n, follows, err := wire.ParseColumnCount(tc.p, tc.caps)
		if tc.bad {
			assert.ErrorIs(t, err, wire.ErrMalformed, "%x", tc.p)
			continue
		}
		require.NoError(t, err, "%x", tc.p)
		assert.Equal(t, tc.n, n, "%x", tc.p)
		assert.Equal(t, tc.follows, follows, "%x", tc.p)
	}
}

// TestSameColumnShape: character set and display length may differ (what
// character_set_results changes) and so may the bytes of names; type,
// flags and decimals may not.
func TestSameColumnShape(t *testing.T) {
	base := wire.Column{Schema: "test", Table: "users", OrgTable: "users", Name: "name", OrgName: "name",
		Charset: 45, Length: 200, Type: wire.TypeVarString}
	col := func(f func(*wire.Column)) []byte {
		c := base
		f(&c)
		return wire.AppendColumn(nil, &c)
	}
	a := col(func(*wire.Column) {})
	assert.True(t, wire.SameColumnShape(a, a))
	assert.True(t, wire.SameColumnShape(a, col(func(c *wire.Column) { c.Charset, c.Length = 63, 50 })))
	assert.False(t, wire.SameColumnShape(a, col(func(c *wire.Column) { c.Type = wire.TypeBlob })))
	assert.False(t, wire.SameColumnShape(a, col(func(c *wire.Column) { c.Flags = wire.FlagBinary })))
	assert.False(t, wire.SameColumnShape(a, col(func(c *wire.Column) { c.Decimals = 2 })))
	// Names come in character_set_results: their bytes may differ.
	assert.True(t, wire.SameColumnShape(a, col(func(c *wire.Column) { c.Name = "nom" })))
	assert.False(t, wire.SameColumnShape(a, a[:len(a)-1]))
	assert.False(t, wire.SameColumnShape(nil, nil))
	assert.False(t, wire.SameColumnShape([]byte{1, 2, 3}, []byte{1, 2, 3}))
}

// FuzzParseColumnCount: the column count parse never panics, and what
// parses is written back the same way.
func FuzzParseColumnCount(f *testing.F) {
	f.Add([]byte{3, 0}, true)
	f.Add([]byte{3, 1}, true)
	f.Add([]byte{0xfc, 0x2c, 0x01, 0}, true)
	f.Add([]byte{3}, false)
	f.Add([]byte{0xfe}, true)
	f.Fuzz(func(t *testing.T, data []byte, cache bool) {
		var caps wire.Capability
		if cache {
			caps = wire.MariaDBClientCacheMetadata
		}
		n, follows, err := wire.ParseColumnCount(data, caps)
		if err != nil {
			return
		}
		n2, follows2, err := wire.ParseColumnCount(wire.AppendColumnCount(nil, n, follows, caps), caps)
		require.NoError(t, err, "round trip of %x: %d %v %v", data, n2, follows2, err)
		require.Equal(t, n, n2, "round trip of %x: %d %v %v", data, n2, follows2, err)
		require.Equal(t, follows, follows2, "round trip of %x: %d %v %v", data, n2, follows2, err)
		_ = wire.SameColumnShape(data, data)
	})
}
