package iamauth

import (
	"context"
	"crypto/tls"
	"database/sql"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/go-sql-driver/mysql"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/stretchr/testify/require"
)

// countingListener accepts loopback connections and counts them, proving
// whether a client ever dialed.
func countingListener(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepted = new(atomic.Int64)
	done := make(chan struct{})
	go func() { // owned by the test; ends when the listener closes
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), accepted
}

func testTokenSource(t *testing.T, host string, port int, user string) *TokenSource {
	t.Helper()
	src, err := NewTokenSource(context.Background(), host, port, user,
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, "")),
		WithRegion("us-east-1"))
	require.NoError(t, err)
	return src
}

func TestTokenNeverSentWithoutTLS(t *testing.T) {
	addr, accepted := countingListener(t)
	host, portStr, _ := net.SplitHostPort(addr)
	port, err := strconv.Atoi(portStr)
	require.NoError(t, err)
	src := testTokenSource(t, host, port, "iam_user")
	tok, err := src.Credentials(context.Background())
	require.NoError(t, err)
	for name, setTLS := range map[string]func(*mysql.Config){
		"no TLS":             func(*mysql.Config) {},
		"tls=false":          func(c *mysql.Config) { c.TLSConfig = "false" },
		"tls=preferred":      func(c *mysql.Config) { c.TLSConfig = "preferred" },
		"tls=skip-verify":    func(c *mysql.Config) { c.TLSConfig = "skip-verify" },
		"fallback allowed":   func(c *mysql.Config) { c.TLS = &tls.Config{ServerName: "x"}; c.AllowFallbackToPlaintext = true },
		"InsecureSkipVerify": func(c *mysql.Config) { c.TLS = &tls.Config{InsecureSkipVerify: true} },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := mysql.NewConfig()
			cfg.Net, cfg.Addr = "tcp", addr
			setTLS(cfg)
			// Through the rotation-tolerant Connector...
			c, err := NewConnector(cfg, src)
			require.NoError(t, err)
			_, err = c.Connect(context.Background())
			checkTLSRefusal(t, err, tok.Password)
			// ...and through the bare go-sql-driver hook.
			cfg2 := cfg.Clone()
			err = cfg2.Apply(BeforeConnect(src))
			require.NoError(t, err)
			mc, err := mysql.NewConnector(cfg2)
			require.NoError(t, err)
			_, err = mc.Connect(context.Background())
			checkTLSRefusal(t, err, tok.Password)
		})
	}
	n := accepted.Load()
	require.Equal(t, int64(0), n, "%d connections reached the server: the token may have been sent", n)
}

func checkTLSRefusal(t *testing.T, err error, token string) {
	t.Helper()
	require.ErrorIs(t, err, ErrTLSRequired, "err = %v, want ErrTLSRequired", err)
	require.NotContains(t, err.Error(), token, "error contains the token: %v", err)
	require.NotContains(t, err.Error(), "X-Amz-Signature", "error contains the token: %v", err)
}

func TestApplyCredentialLeavesNonCleartextAlone(t *testing.T) {
	cfg := mysql.NewConfig()
	err := applyCredential(cfg, Credential{User: "app", Password: "pw"})
	require.NoError(t, err)
	require.Equal(t, "app", cfg.User, "cfg %+v", cfg)
	require.Equal(t, "pw", cfg.Passwd, "cfg %+v", cfg)
	require.False(t, cfg.AllowCleartextPasswords, "cfg %+v", cfg)
	cfg.User = "keep"
	err = applyCredential(cfg, Credential{Password: "pw2"})
	require.NoError(t, err, "an empty credential user must keep the configured one: %v %q", err, cfg.User)
	require.Equal(t, "keep", cfg.User, "an empty credential user must keep the configured one: %v %q", err, cfg.User)
}

// TestIAMTokenOverTLS authenticates to a real MariaDB over TLS with an IAM
// token, the token standing in for IAM's check as the user's password.
func TestIAMTokenOverTLS(t *testing.T) {
	srv := mariadbtest.Start(t, mariadbtest.WithTLS())
	src := testTokenSource(t, srv.Host(), srv.Port(), "iam_user")
	tok, err := src.Credentials(context.Background())
	require.NoError(t, err)
	srv.CreateUser(t, "iam_user", tok.Password)

	tlsName := "iamauth-test-" + t.Name()
	err = mysql.RegisterTLSConfig(tlsName, srv.TLSConfig())
	require.NoError(t, err)
	t.Cleanup(func() { mysql.DeregisterTLSConfig(tlsName) })

	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.DBName, cfg.TLSConfig = "tcp", srv.Addr(), "test", tlsName
	var used []Credential
	conn, err := NewConnector(cfg, src, WithObserver(func(a Attempt) {
		if a.Err == nil {
			used = append(used, a.Credential)
		}
	}))
	require.NoError(t, err)
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxOpenConns(1)
	var user, cipher, name string
	err = db.QueryRow("SELECT CURRENT_USER()").Scan(&user)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(user, "iam_user@"), "CURRENT_USER() = %q", user)
	err = db.QueryRow("SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher)
	require.NoError(t, err)
	require.NotEqual(t, "", cipher, "the session is not encrypted")
	require.Len(t, used, 1, "credentials used: %v", used)
	require.True(t, used[0].Cleartext, "credentials used: %v", used)
	require.Equal(t, tok.Password, used[0].Password, "credentials used: %v", used)

	// The connection's private config does not keep the token after the
	// handshake.
	slot := &credSlot{cred: tok}
	dc, err := conn.dialSlot(context.Background(), slot)
	require.NoError(t, err)
	dc.Close()
	require.NotNil(t, slot.cfg, "per-connection config after the handshake: set=%v, password dropped=%v", slot.cfg != nil, slot.cfg != nil && slot.cfg.Passwd == "")
	require.Equal(t, "", slot.cfg.Passwd, "per-connection config after the handshake: set=%v, password dropped=%v", slot.cfg != nil, slot.cfg != nil && slot.cfg.Passwd == "")
	require.Equal(t, "iam_user", slot.cfg.User, "per-connection config after the handshake: set=%v, password dropped=%v", slot.cfg != nil, slot.cfg != nil && slot.cfg.Passwd == "")
	require.True(t, slot.cfg.AllowCleartextPasswords, "per-connection config after the handshake: set=%v, password dropped=%v", slot.cfg != nil, slot.cfg != nil && slot.cfg.Passwd == "")

	// The same server without TLS on the client side: refused before
	// dialing, and nothing reached the server.
	before := srv.QueryInt(t, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'CONNECTIONS'")
	plain := cfg.Clone()
	plain.TLSConfig = ""
	pc, err := NewConnector(plain, src)
	require.NoError(t, err)
	pdb := sql.OpenDB(pc)
	defer pdb.Close()
	err = pdb.Ping()
	checkTLSRefusal(t, err, tok.Password)
	// One connection more: the query below is the root pool's own.
	after := srv.QueryInt(t, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'CONNECTIONS'")
	require.LessOrEqual(t, after-before, int64(1), "the server saw %d new connections, want none from the refused client", after-before-1)
}
