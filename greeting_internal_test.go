package rdsmux

import (
	"bytes"
	"context"
	"database/sql"
	"net"
	"sync/atomic"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// TestGreetingWithoutMetadataCache reads a real MariaDB greeting through
// the wrapper: the server offers MARIADB_CLIENT_CACHE_METADATA, the
// client reading the wrapper does not see it, and nothing else changes.
func TestGreetingWithoutMetadataCache(t *testing.T) {
	s := mariadbtest.Start(t)
	raw, err := net.Dial("tcp", s.Addr())
	require.NoError(t, err)
	defer raw.Close()
	direct, err := wire.NewConn(raw).ReadPacket()
	require.NoError(t, err)
	direct = bytes.Clone(direct)

	nc, err := net.Dial("tcp", s.Addr())
	require.NoError(t, err)
	var offered atomic.Bool
	wrapped := withoutMetadataCache(context.Background(), nc, &offered)
	defer wrapped.Close()
	edited, err := wire.NewConn(wrapped).ReadPacket()
	require.NoError(t, err)

	require.True(t, offered.Load(), "MariaDB offers the metadata cache")
	hsDirect, err := wire.ParseHandshake(direct)
	require.NoError(t, err)
	hsEdited, err := wire.ParseHandshake(edited)
	require.NoError(t, err)
	require.NotZero(t, hsDirect.Capabilities&wire.MariaDBClientCacheMetadata)
	require.Zero(t, hsEdited.Capabilities&wire.MariaDBClientCacheMetadata)
	require.Equal(t, hsDirect.Capabilities&^wire.MariaDBClientCacheMetadata, hsEdited.Capabilities)
	require.Equal(t, hsDirect.ServerVersion, hsEdited.ServerVersion)
	require.Len(t, edited, len(direct))
	again := bytes.Clone(direct)
	require.True(t, clearCacheMetadata(again))
	require.False(t, clearCacheMetadata(again), "already clear")
	hsAgain, err := wire.ParseHandshake(again)
	require.NoError(t, err)
	require.Equal(t, hsEdited.Capabilities, hsAgain.Capabilities)
}

// FuzzDefsWatch: the watch never panics on what a server (or a broken
// one) sends, and copies the same definitions however the bytes are split
// into reads.
func FuzzDefsWatch(f *testing.F) {
	resp := func(pkts ...[]byte) []byte {
		var b []byte
		for i, p := range pkts {
			b = append(b, byte(len(p)), byte(len(p)>>8), byte(len(p)>>16), byte(i))
			b = append(b, p...)
		}
		return b
	}
	col := wire.AppendColumn(nil, &wire.Column{Schema: "test", Table: "t", Name: "v", Charset: 45, Length: 80, Type: wire.TypeVarString})
	f.Add(resp([]byte{2}, col, col, []byte{0xfe, 0, 0, 2, 0}), false, uint8(3))
	f.Add(resp([]byte{0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0}, col, []byte{0xfe, 0, 0, 2, 0}, col), true, uint8(1))
	f.Add(resp([]byte{0xff, 0x10, 0x04}), false, uint8(7))
	f.Add(resp([]byte{0, 0, 0, 2, 0, 0, 0}), false, uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, prepare bool, step uint8) {
		var whole, split defsWatch
		whole.start(prepare)
		whole.feed(data)
		a := whole.take()
		split.start(prepare)
		n := int(step%16) + 1
		for i := 0; i < len(data); i += n {
			split.feed(data[i:min(i+n, len(data))])
		}
		b := split.take()
		require.Equal(t, a, b)
	})
}

// TestDriverOverTLS: the greeting is edited before TLS starts; after it
// the connection carries sealed bytes, which the watch leaves alone, and
// prepared statements work as usual.
func TestDriverOverTLS(t *testing.T) {
	s := mariadbtest.Start(t, mariadbtest.WithTLS())
	require.NoError(t, mysql.RegisterTLSConfig("rdsmux-greeting-test", s.TLSConfig()))
	db, err := sql.Open(DriverName, s.DSN("tls=rdsmux-greeting-test&maxConnections=2"))
	require.NoError(t, err)
	defer db.Close()
	var cipher, name string
	require.NoError(t, db.QueryRow("SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher))
	require.NotEmpty(t, cipher, "the backend connection uses TLS")
	st, err := db.Prepare("SELECT CONCAT(?, 'y')")
	require.NoError(t, err)
	defer st.Close()
	for _, arg := range []string{"a", "", "ñandú"} {
		var got string
		require.NoError(t, st.QueryRow(arg).Scan(&got))
		require.Equal(t, arg+"y", got)
	}
}
