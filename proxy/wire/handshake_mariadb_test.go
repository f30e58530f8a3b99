package wire

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMariaDBExtendedCapabilities: MariaDB's extended capabilities travel
// in the handshake and the response when CLIENT_MYSQL (ClientLongPassword)
// is not set, and are dropped when it is.
func TestMariaDBExtendedCapabilities(t *testing.T) {
	base := DefaultServerCapabilities &^ ClientLongPassword
	hs := &Handshake{ServerVersion: "5.5.5-10.11.6-MariaDB", AuthData: make([]byte, 20), Charset: 45,
		Capabilities: base | MariaDBClientExtendedMetadata | MariaDBClientStmtBulkOperations, AuthPlugin: AuthNativePassword}
	got, err := ParseHandshake(AppendHandshake(nil, hs))
	require.NoError(t, err)
	assert.Equal(t, hs.Capabilities, got.Capabilities)
	assert.Equal(t, uint32((MariaDBClientExtendedMetadata|MariaDBClientStmtBulkOperations)>>32), got.MariaDBCapabilities)

	hs.Capabilities |= ClientLongPassword // a MySQL server: no extension
	got, err = ParseHandshake(AppendHandshake(nil, hs))
	require.NoError(t, err)
	assert.Zero(t, got.Capabilities&mariaDBCaps)

	r := &HandshakeResponse{Capabilities: DefaultClientCapabilities&^ClientLongPassword | MariaDBClientExtendedMetadata,
		MaxPacketSize: 1 << 24, Charset: 45, User: "u", AuthPlugin: AuthNativePassword}
	gr, err := ParseHandshakeResponse(AppendHandshakeResponse(nil, r))
	require.NoError(t, err)
	assert.Equal(t, r.Capabilities, gr.Capabilities)
	r.Capabilities |= ClientLongPassword
	gr, err = ParseHandshakeResponse(AppendHandshakeResponse(nil, r))
	require.NoError(t, err)
	assert.Zero(t, gr.Capabilities&mariaDBCaps)

	// Column definitions with extended metadata parse (the extra field is
	// skipped).
	col := AppendColumn(nil, &Column{Schema: "test", Table: "t", OrgTable: "t", Name: "j", OrgName: "j", Charset: 45, Type: TypeBlob})
	i := len(col) - 13 // before the fixed-length fields
	ext := append(append(append([]byte(nil), col[:i]...), 6, 0, 4, 'j', 's', 'o', 'n'), col[i:]...)
	c, err := ParseColumnCaps(ext, MariaDBClientExtendedMetadata)
	require.NoError(t, err)
	assert.Equal(t, "j", c.Name)
	assert.Equal(t, TypeBlob, c.Type)
}

// TestCacheMetadataOfferedByServerOnly: a ServerConn offers MariaDB's
// metadata cache when configured to (its user writes the metadata-follows
// byte); a ClientConn never asks for it, nor a ServerConn offers MariaDB's
// other extensions.
func TestCacheMetadataOfferedByServerOnly(t *testing.T) {
	cfg := &ServerConfig{}
	offered := cfg.offeredCaps(DefaultServerCapabilities&^ClientLongPassword | MariaDBClientCacheMetadata |
		MariaDBClientStmtBulkOperations | MariaDBClientProgress)
	assert.NotZero(t, offered&MariaDBClientCacheMetadata)
	assert.Zero(t, offered&(MariaDBClientStmtBulkOperations|MariaDBClientProgress))
	assert.NotZero(t, unsupportedCaps&MariaDBClientCacheMetadata, "a ClientConn never asks for it")
	assert.Zero(t, cfg.offeredCaps(DefaultServerCapabilities)&MariaDBClientCacheMetadata)
}
