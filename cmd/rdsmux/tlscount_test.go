package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// TestClientTLSMetrics: rdsmux_client_connections_tls and _no_tls count the
// clients connected now with and without TLS (CloudWatch's
// ClientConnectionsTLS/NoTLS), and fall back when they leave.
func TestClientTLSMetrics(t *testing.T) {
	db := mariadbtest.Start(t)
	db.CreateUser(t, "app", "pw")
	certs, err := mariadbtest.GenerateCerts()
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	must(t, os.WriteFile(certFile, certs.CertPEM, 0o600))
	must(t, os.WriteFile(keyFile, certs.KeyPEM, 0o600))
	must(t, mysql.RegisterTLSConfig("rdsmux-cmd-test", certs.ClientConfig()))
	r := startRun(t, "-target", db.Addr(), "-user", "app:pw", "-tls-cert", certFile, "-tls-key", keyFile)

	var handles []*sql.DB
	open := func(params string) {
		c, err := sql.Open("mysql", "app:pw@tcp("+r.clients+")/test?"+params)
		must(t, err)
		t.Cleanup(func() { c.Close() })
		must(t, c.Ping())
		handles = append(handles, c)
	}
	open("tls=rdsmux-cmd-test")
	open("tls=rdsmux-cmd-test")
	open("tls=false")
	mf := scrape(t, r.metrics)
	assert.Equal(t, 3.0, value(t, mf, "rdsmux_client_connections"))
	assert.Equal(t, 2.0, value(t, mf, "rdsmux_client_connections_tls"))
	assert.Equal(t, 1.0, value(t, mf, "rdsmux_client_connections_no_tls"))

	for _, h := range handles {
		must(t, h.Close())
	}
	assert.Eventually(t, func() bool {
		mf := scrape(t, r.metrics)
		return value(t, mf, "rdsmux_client_connections_tls") == 0 && value(t, mf, "rdsmux_client_connections_no_tls") == 0
	}, 30*time.Second, 10*time.Millisecond, "the gauges do not fall back when the clients leave")
}
