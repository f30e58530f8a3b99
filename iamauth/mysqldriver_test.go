package iamauth

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/go-sql-driver/mysql"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// countingListener accepts loopback connections and counts them, proving
// whether a client ever dialed.
func countingListener(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestTokenNeverSentWithoutTLS(t *testing.T) {
	addr, accepted := countingListener(t)
	host, portStr, _ := net.SplitHostPort(addr)
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatal(err)
	}
	src := testTokenSource(t, host, port, "iam_user")
	tok, err := src.Credentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
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
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Connect(context.Background())
			checkTLSRefusal(t, err, tok.Password)
			// ...and through the bare go-sql-driver hook.
			cfg2 := cfg.Clone()
			if err := cfg2.Apply(BeforeConnect(src)); err != nil {
				t.Fatal(err)
			}
			mc, err := mysql.NewConnector(cfg2)
			if err != nil {
				t.Fatal(err)
			}
			_, err = mc.Connect(context.Background())
			checkTLSRefusal(t, err, tok.Password)
		})
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d connections reached the server: the token may have been sent", n)
	}
}

func checkTLSRefusal(t *testing.T, err error, token string) {
	t.Helper()
	if !errors.Is(err, ErrTLSRequired) {
		t.Fatalf("err = %v, want ErrTLSRequired", err)
	}
	if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "X-Amz-Signature") {
		t.Fatalf("error contains the token: %v", err)
	}
}

func TestApplyCredentialLeavesNonCleartextAlone(t *testing.T) {
	cfg := mysql.NewConfig()
	if err := applyCredential(cfg, Credential{User: "app", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	if cfg.User != "app" || cfg.Passwd != "pw" || cfg.AllowCleartextPasswords {
		t.Fatalf("cfg %+v", cfg)
	}
	cfg.User = "keep"
	if err := applyCredential(cfg, Credential{Password: "pw2"}); err != nil || cfg.User != "keep" {
		t.Fatalf("an empty credential user must keep the configured one: %v %q", err, cfg.User)
	}
}

// TestIAMTokenOverTLS authenticates to a real MariaDB over TLS with an IAM
// token, the token standing in for IAM's check as the user's password.
func TestIAMTokenOverTLS(t *testing.T) {
	srv := mariadbtest.Start(t, mariadbtest.WithTLS())
	src := testTokenSource(t, srv.Host(), srv.Port(), "iam_user")
	tok, err := src.Credentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	srv.CreateUser(t, "iam_user", tok.Password)

	tlsName := "iamauth-test-" + t.Name()
	if err := mysql.RegisterTLSConfig(tlsName, srv.TLSConfig()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mysql.DeregisterTLSConfig(tlsName) })

	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.DBName, cfg.TLSConfig = "tcp", srv.Addr(), "test", tlsName
	var used []Credential
	conn, err := NewConnector(cfg, src, WithObserver(func(a Attempt) {
		if a.Err == nil {
			used = append(used, a.Credential)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxOpenConns(1)
	var user, cipher, name string
	if err := db.QueryRow("SELECT CURRENT_USER()").Scan(&user); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(user, "iam_user@") {
		t.Fatalf("CURRENT_USER() = %q", user)
	}
	if err := db.QueryRow("SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
		t.Fatal(err)
	}
	if cipher == "" {
		t.Fatal("the session is not encrypted")
	}
	if len(used) != 1 || !used[0].Cleartext || used[0].Password != tok.Password {
		t.Fatalf("credentials used: %v", used)
	}

	// The connection's private config does not keep the token after the
	// handshake.
	slot := &credSlot{cred: tok}
	dc, err := conn.dialSlot(context.Background(), slot)
	if err != nil {
		t.Fatal(err)
	}
	dc.Close()
	if slot.cfg == nil || slot.cfg.Passwd != "" || slot.cfg.User != "iam_user" || !slot.cfg.AllowCleartextPasswords {
		t.Fatalf("per-connection config after the handshake: set=%v, password dropped=%v", slot.cfg != nil, slot.cfg != nil && slot.cfg.Passwd == "")
	}

	// The same server without TLS on the client side: refused before
	// dialing, and nothing reached the server.
	before := srv.QueryInt(t, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'CONNECTIONS'")
	plain := cfg.Clone()
	plain.TLSConfig = ""
	pc, err := NewConnector(plain, src)
	if err != nil {
		t.Fatal(err)
	}
	pdb := sql.OpenDB(pc)
	defer pdb.Close()
	err = pdb.Ping()
	checkTLSRefusal(t, err, tok.Password)
	// One connection more: the query below is the root pool's own.
	after := srv.QueryInt(t, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'CONNECTIONS'")
	if after-before > 1 {
		t.Fatalf("the server saw %d new connections, want none from the refused client", after-before-1)
	}
}
