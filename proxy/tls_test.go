package proxy_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// startTLSListener starts a listener that offers clients TLS (certs) in
// front of db, with backend connections using backendTLS (nil: plain).
func startTLSListener(t *testing.T, db *mariadbtest.Server, certs *mariadbtest.CertPair, backendTLS *tls.Config) string {
	t.Helper()
	users := proxy.StaticUsers{appUser: appPass}
	backend := &proxy.Target{Addr: db.Addr(), Credentials: proxy.SameCredentials(users), TLSConfig: backendTLS}
	p, err := pool.New(pool.Config{Dial: backend.Dial, MaxConnections: 2, ConnectionBorrowTimeout: 10 * time.Second})
	require.NoError(t, err)
	srv := &proxy.Server{Pool: p, Users: users, Target: backend, TLSConfig: certs.ServerConfig(), Logger: testLogger(t)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }() // ends with Close at cleanup
	t.Cleanup(func() {
		srv.Close()
		err := <-done
		assert.ErrorIs(t, err, proxy.ErrServerClosed, "Serve: %v", err)
		p.Close()
	})
	return ln.Addr().String()
}

// sslStatus returns Ssl_version and Ssl_cipher as the client on addr sees
// them (TLS to addr when clientTLS is set).
func sslStatus(t *testing.T, addr string, clientTLS *tls.Config) (version, cipher string) {
	t.Helper()
	ctx := ctxT(t)
	cc, err := wire.Dial(ctx, addr, &wire.ClientConfig{User: appUser, Password: appPass, TLSConfig: clientTLS})
	require.NoError(t, err)
	defer cc.Close()
	res, err := cc.Query(ctx, "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME IN ('Ssl_version', 'Ssl_cipher') ORDER BY VARIABLE_NAME DESC")
	require.NoError(t, err)
	require.Len(t, res.Rows, 2)
	return string(res.Rows[0][0]), string(res.Rows[1][0])
}

// TestTLSCombinations: the client-to-listener and listener-to-database
// hops are configured independently. Ssl_cipher and Ssl_version, relayed
// from the backend like any statement, describe the backend connection:
// a TLS client sees the database's cipher when the listener connects with
// TLS, and an empty one when it does not, even though its own hop is
// encrypted.
func TestTLSCombinations(t *testing.T) {
	db := startPrivateDB(t, mariadbtest.WithTLS())
	certs, err := mariadbtest.GenerateCerts()
	require.NoError(t, err)
	clientTLS := certs.ClientConfig()
	backendTLS := db.TLSConfig() // verifies the database's certificate with its CA

	directVersion, directCipher := sslStatus(t, db.Addr(), db.TLSConfig())
	require.NotEmpty(t, directCipher)
	t.Logf("direct TLS: %s %s", directVersion, directCipher)

	withBackendTLS := startTLSListener(t, db, certs, backendTLS)
	plainBackend := startTLSListener(t, db, certs, nil)
	for _, tc := range []struct {
		name       string
		addr       string
		clientTLS  *tls.Config
		wantCipher bool
	}{
		{"client TLS, backend TLS", withBackendTLS, clientTLS, true},
		{"client plain, backend TLS", withBackendTLS, nil, true},
		{"client TLS, backend plain", plainBackend, clientTLS, false},
		{"client plain, backend plain", plainBackend, nil, false},
	} {
		v, c := sslStatus(t, tc.addr, tc.clientTLS)
		t.Logf("%s: Ssl_version %q, Ssl_cipher %q", tc.name, v, c)
		if tc.wantCipher {
			// The listener's backend connection speaks Go's TLS, the
			// same as a direct Go client with the same configuration.
			assert.Equal(t, directCipher, c, tc.name)
			assert.Equal(t, directVersion, v, tc.name)
		} else {
			assert.Empty(t, c, tc.name)
		}
	}

	// A CA that did not sign the database's certificate: the client gets
	// the listener's 1429 with the reason, not a client-side code.
	other, err := mariadbtest.GenerateCerts()
	require.NoError(t, err)
	wrongCA := &tls.Config{RootCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS12}
	wrongCA.RootCAs.AppendCertsFromPEM(other.CAPEM)
	addr := startTLSListener(t, db, certs, wrongCA)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cc, err := wire.Dial(ctx, addr, &wire.ClientConfig{User: appUser, Password: appPass, TLSConfig: clientTLS})
	require.NoError(t, err)
	defer cc.Close()
	_, err = cc.Exec(ctx, "SELECT 1")
	var we *wire.Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, proxy.ErBackendUnavailable, we.Code)
	assert.Contains(t, we.Message, "certificate")
	t.Logf("wrong backend CA: %v", we)
}
