package main

import (
	"context"
	"database/sql"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// TestRunTLSBothHopsAndLocalInfileFlag: -tls-cert/-tls-key for clients and
// -backend-ca for the database: a TLS client sees the database's cipher;
// -local-infile=false refuses LOAD DATA LOCAL INFILE with 1148.
func TestRunTLSBothHopsAndLocalInfileFlag(t *testing.T) {
	db := mariadbtest.Start(t, mariadbtest.WithTLS())
	db.CreateUser(t, "app", "pw")
	certs, err := mariadbtest.GenerateCerts()
	require.NoError(t, err)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(cert, certs.CertPEM, 0o600))
	require.NoError(t, os.WriteFile(key, certs.KeyPEM, 0o600))
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() { // the command; ends when ctx is cancelled
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-target", db.Addr(), "-user", "app:pw",
			"-tls-cert", cert, "-tls-key", key, "-backend-ca", filepath.Join(db.Dir(), "ca.pem"),
			"-local-infile=false", "-max-connections", "2"}, io.Discard, &logs, func(c, m string) { addrs <- [2]string{c, m} }, nil)
	}()
	var a [2]string
	select {
	case a = <-addrs:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	require.NoError(t, mysql.RegisterTLSConfig("rdsmux-cmd-test", certs.ClientConfig()))
	client, err := sql.Open("mysql", "app:pw@tcp("+a[0]+")/test?tls=rdsmux-cmd-test&allowAllFiles=true")
	require.NoError(t, err)
	var name, cipher string
	require.NoError(t, client.QueryRow("SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher))
	assert.NotEmpty(t, cipher, "the backend connection is not TLS")
	t.Logf("Ssl_cipher through the listener: %s", cipher)
	_, err = client.Exec("CREATE TABLE t (v INT)")
	require.NoError(t, err)
	f := filepath.Join(dir, "rows")
	require.NoError(t, os.WriteFile(f, []byte("1\n2\n"), 0o600))
	mysql.RegisterLocalFile(f)
	_, err = client.Exec("LOAD DATA LOCAL INFILE '" + f + "' INTO TABLE t")
	var me *mysql.MySQLError
	if assert.ErrorAs(t, err, &me) {
		assert.EqualValues(t, 1148, me.Number)
	}
	client.Close()
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// TestRunReaderListen: -reader-listen serves its clients from the
// cluster's reader, -listen from the writer.
func TestRunReaderListen(t *testing.T) {
	w := mariadbtest.Start(t)
	r := mariadbtest.Start(t)
	for _, db := range []*mariadbtest.Server{w, r} {
		db.CreateUser(t, "app", "pw")
	}
	r.Exec(t, "SET GLOBAL read_only = 1")
	free, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	readerAddr := free.Addr().String()
	free.Close()
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() { // the command; ends when ctx is cancelled
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-target", w.Addr() + "," + r.Addr(), "-failover", "readonly",
			"-backend-user", "app", "-backend-password", "pw", "-user", "app:pw", "-reader-listen", readerAddr,
			"-max-connections", "2"}, io.Discard, &logs, func(c, m string) { addrs <- [2]string{c, m} }, nil)
	}()
	var a [2]string
	select {
	case a = <-addrs:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	port := func(addr string) int {
		t.Helper()
		db, err := sql.Open("mysql", "app:pw@tcp("+addr+")/test?timeout=30s")
		require.NoError(t, err)
		defer db.Close()
		var p int
		require.NoError(t, db.QueryRow("SELECT @@port").Scan(&p))
		return p
	}
	assert.Equal(t, w.Port(), port(a[0]), "-listen")
	assert.Equal(t, r.Port(), port(readerAddr), "-reader-listen")
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	assert.Contains(t, logs.String(), `"msg":"rdsmux: reader endpoint stopped"`)
}
