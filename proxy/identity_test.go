package proxy_test

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// TestAnnouncesBackendVersion: the listener's handshake announces the
// version of the server behind it (read when Serve starts), follows a move
// of the backend to a server of another version (as after a failover), and
// offers only capabilities that server has.
func TestAnnouncesBackendVersion(t *testing.T) {
	a := database(t)
	// B announces itself as MySQL 8 (MariaDB lets the version string be
	// set), as an Aurora MySQL 8 writer would.
	const mysql8 = "8.0.36-fake-aurora"
	b := startPrivateDB(t, mariadbtest.WithFlags("--version="+mysql8))
	var target atomic.Value
	target.Store(a.Addr())
	users := proxy.StaticUsers{appUser: appPass}
	backend := &proxy.Target{Addr: "cluster:3306", Credentials: proxy.SameCredentials(users),
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, target.Load().(string))
		}}
	p, err := pool.New(pool.Config{Dial: backend.Dial, MaxConnections: 2, ConnectionBorrowTimeout: 10 * time.Second})
	require.NoError(t, err)
	defer p.Close()
	srv := &proxy.Server{Pool: p, Users: users, Target: backend, Logger: testLogger(t)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }() // ends with Close below
	defer func() {
		srv.Close()
		err := <-done
		assert.ErrorIs(t, err, proxy.ErrServerClosed, "Serve: %v", err)
	}()
	ctx := ctxT(t)
	direct, err := wire.Dial(ctx, a.Addr(), &wire.ClientConfig{User: appUser, Password: appPass})
	require.NoError(t, err)
	aVersion := direct.Handshake().ServerVersion
	direct.Close()

	// Serve read A's handshake before any client came.
	cc, err := wire.Dial(ctx, ln.Addr().String(), &wire.ClientConfig{User: appUser, Password: appPass})
	require.NoError(t, err)
	hs := cc.Handshake()
	assert.Equal(t, aVersion+proxy.VersionSuffix, hs.ServerVersion)
	assert.True(t, strings.Contains(hs.ServerVersion, "MariaDB"))
	assert.Zero(t, hs.Capabilities&^(proxy.ClientCapabilities|wire.ClientSSL|wire.MariaDBClientExtendedMetadata|wire.MariaDBClientCacheMetadata))
	// Announced as MariaDB announces itself: no CLIENT_MYSQL, extended
	// metadata and the metadata cache (emulated) offered.
	assert.Zero(t, hs.Capabilities&wire.ClientLongPassword)
	assert.NotZero(t, hs.Capabilities&wire.MariaDBClientExtendedMetadata)
	assert.NotZero(t, hs.Capabilities&wire.MariaDBClientCacheMetadata)
	v, _, err := cc.QueryValue(ctx, "SELECT VERSION()")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(aVersion, "5.5.5-"+v), "VERSION() %q, handshake %q", v, aVersion)
	cc.Close()

	// The backend moves to B (a failover): the next backend connection
	// tells the listener, and new clients are told B's version.
	target.Store(b.Addr())
	p.Invalidate("the writer changed")
	cc, err = wire.Dial(ctx, ln.Addr().String(), &wire.ClientConfig{User: appUser, Password: appPass})
	require.NoError(t, err)
	v, _, err = cc.QueryValue(ctx, "SELECT VERSION()")
	require.NoError(t, err)
	assert.Equal(t, mysql8, v)
	cc.Close()
	cc, err = wire.Dial(ctx, ln.Addr().String(), &wire.ClientConfig{User: appUser, Password: appPass})
	require.NoError(t, err)
	assert.Equal(t, mysql8+proxy.VersionSuffix, cc.Handshake().ServerVersion)
	cc.Close()
	// The mariadb CLI reports the same.
	out, err := mariadbCLI(t, ln.Addr().String(), "-u", appUser, "-p"+appPass, "--skip-ssl", "-e", "status")
	require.NoError(t, err, out)
	assert.Contains(t, out, mysql8+proxy.VersionSuffix)
}
