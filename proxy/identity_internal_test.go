package proxy

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rdsmux/rdsmux/proxy/wire"
)

// TestIdentityFollowsServerInfo: the announced capabilities are the
// listener's less the backend-dependent ones the server lacks; the version
// is the server's with VersionSuffix, unless Server.ServerVersion says
// otherwise.
func TestIdentityFollowsServerInfo(t *testing.T) {
	b := &Target{}
	s := &Server{Target: b}
	assert.Nil(t, s.identity(), "nothing known yet")
	b.noteServer(&wire.Handshake{ServerVersion: "8.0.mysql_aurora.3.05.2", Charset: 255,
		Capabilities: wire.DefaultServerCapabilities &^ (wire.ClientMultiStatements | wire.ClientLocalFiles)})
	id := s.identity()
	assert.Equal(t, "8.0.mysql_aurora.3.05.2"+VersionSuffix, id.Version)
	assert.Equal(t, byte(255), id.Charset)
	assert.Zero(t, id.Capabilities&(wire.ClientMultiStatements|wire.ClientLocalFiles))
	assert.Equal(t, ClientCapabilities&^(wire.ClientMultiStatements|wire.ClientLocalFiles), id.Capabilities)
	assert.Same(t, id, s.identity(), "computed once per server info")

	b.noteServer(&wire.Handshake{ServerVersion: "5.5.5-10.11.6-MariaDB", Charset: 45, Capabilities: wire.DefaultServerCapabilities})
	id = s.identity()
	assert.Equal(t, "5.5.5-10.11.6-MariaDB"+VersionSuffix, id.Version)
	assert.Equal(t, ClientCapabilities, id.Capabilities)

	// A MariaDB server (no CLIENT_MYSQL): announced the same way, with
	// the extended capabilities the listener relays and no others.
	b.noteServer(&wire.Handshake{ServerVersion: "5.5.5-10.11.6-MariaDB", Charset: 45,
		Capabilities: wire.DefaultServerCapabilities&^wire.ClientLongPassword | wire.MariaDBClientExtendedMetadata | wire.MariaDBClientStmtBulkOperations})
	id = s.identity()
	assert.Zero(t, id.Capabilities&(wire.ClientLongPassword|wire.MariaDBClientStmtBulkOperations))
	assert.NotZero(t, id.Capabilities&wire.MariaDBClientExtendedMetadata)
	assert.Zero(t, id.Capabilities&wire.MariaDBClientCacheMetadata, "offered only when the server has it")
	b.noteServer(&wire.Handshake{ServerVersion: "5.5.5-10.11.6-MariaDB", Charset: 45,
		Capabilities: wire.DefaultServerCapabilities&^wire.ClientLongPassword | wire.MariaDBClientCacheMetadata})
	id = s.identity()
	assert.NotZero(t, id.Capabilities&wire.MariaDBClientCacheMetadata)

	s2 := &Server{Target: b, ServerVersion: "8.0.0-operator"}
	assert.Equal(t, "8.0.0-operator", s2.identity().Version)
}

// TestLocalInfileNotEnabledByVersion: a client without CLIENT_LOCAL_FILES
// gets the error its server would send it.
func TestLocalInfileNotEnabledByVersion(t *testing.T) {
	for v, code := range map[string]uint16{
		"5.5.5-10.11.19-MariaDB-0+deb12u1": 4166,
		"5.5.5-10.4.30-MariaDB":            1148,
		"11.4.2-MariaDB":                   4166,
		"8.0.mysql_aurora.3.05.2":          3948,
		"8.0.36":                           3948,
		"5.7.12":                           1148,
	} {
		assert.Equal(t, code, localInfileNotEnabled(v).Code, v)
	}
}

// TestCacheMetadataSharesPartition: the metadata cache is emulated by the
// listener, so its clients share the backends of the others (dialed
// without it), unlike extended metadata.
func TestCacheMetadataSharesPartition(t *testing.T) {
	assert.Equal(t, "app", partitionKey("app", wire.MariaDBClientCacheMetadata))
	assert.Equal(t, "app"+foundRowsSuffix, partitionKey("app", wire.ClientFoundRows|wire.MariaDBClientCacheMetadata))
	assert.Equal(t, "app"+extMetadataSuffix, partitionKey("app", wire.MariaDBClientExtendedMetadata|wire.MariaDBClientCacheMetadata))
}
