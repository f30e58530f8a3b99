package proxy_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/proxy"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

func TestWrongPasswordRejected(t *testing.T) {
	e := startEnv(t)
	for _, tc := range []struct{ user, pass, params string }{
		{appUser, "wrong", ""},
		{"nobody", "x", ""},
	} {
		db, err := sql.Open("mysql", e.dsn(tc.user, tc.pass, tc.params))
		must(t, err)
		err = db.Ping()
		db.Close()
		assert.EqualValues(t, 1045, mysqlErr(err), "user %q password %q: err = %v, want 1045 access denied", tc.user, tc.pass, err)
	}
	// The listener counts a refused client after sending it the error:
	// give the count a moment to land.
	deadline := time.Now().Add(5 * time.Second)
	for e.srv.Stats().ClientConnectionsSetupFailedAuth < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	st := e.srv.Stats()
	assert.GreaterOrEqual(t, st.ClientConnectionsSetupFailedAuth, int64(2), "ClientConnectionsSetupFailedAuth = %d", st.ClientConnectionsSetupFailedAuth)
}

func TestCachingSHA2Client(t *testing.T) {
	e := startEnv(t, withServer(func(s *proxy.Server) { s.DefaultAuthPlugin = wire.AuthCachingSHA2Password }))
	db := e.open(t, "")
	n := queryInt(t, db, "SELECT COUNT(*) FROM users")
	require.Equal(t, int64(3), n, "count %d", n)
	bad, err := sql.Open("mysql", e.dsn(appUser, "wrong", ""))
	must(t, err)
	defer bad.Close()
	err = bad.Ping()
	require.Equal(t, uint16(1045), mysqlErr(err), "wrong password with caching_sha2_password: err = %v, want 1045", err)
}

// TestBorrowTimeout: with the only backend held by a transaction, another
// client gets the borrow-timeout error packet and keeps its connection.
func TestBorrowTimeout(t *testing.T) {
	e := startEnv(t, withBackends(1), withBorrowTimeout(300*time.Millisecond))
	db := e.open(t, "")
	a := e.conn(t, db)
	ctx := ctxT(t)
	_, err := a.ExecContext(ctx, "BEGIN")
	must(t, err)
	_, err = a.ExecContext(ctx, "SELECT 1")
	must(t, err)
	b := e.conn(t, db)
	_, err = b.ExecContext(ctx, "SELECT 1")
	require.Equal(t, proxy.ErBorrowTimeout, mysqlErr(err), "err = %v, want error %d with the pool's message", err, proxy.ErBorrowTimeout)
	require.Contains(t, err.Error(), "timed out", "err = %v, want error %d with the pool's message", err, proxy.ErBorrowTimeout)
	t.Logf("client got: %v", err)
	_, err = a.ExecContext(ctx, "COMMIT")
	must(t, err)
	// Same client connection, now served.
	require.EqualValues(t, 7, queryInt(t, b, "SELECT 7"))
	assert.EqualValues(t, 1, e.srv.Stats().BorrowTimeouts, "BorrowTimeouts")
}

// TestClientDisconnectMidTransaction: the transaction of a client that
// vanishes is rolled back and its backend reused clean.
func TestClientDisconnectMidTransaction(t *testing.T) {
	e := startEnv(t, withBackends(1))
	cc := dialWire(t, e.addr, appUser, appPass)
	ctx := ctxT(t)
	for _, q := range []string{"BEGIN", "INSERT INTO auto (who) VALUES ('vanished')"} {
		_, err := cc.Exec(ctx, q)
		require.NoError(t, err)
	}
	cc.NetConn().Close() // no COM_QUIT: the client just goes away
	db := e.open(t, "")
	require.EqualValues(t, 0, queryInt(t, db, "SELECT @@in_transaction"), "the next client runs inside the vanished client's transaction")
	require.EqualValues(t, 0, queryInt(t, db, "SELECT COUNT(*) FROM auto WHERE who = 'vanished'"), "the vanished client's insert was committed")
	st := e.srv.Stats().Pool
	assert.GreaterOrEqual(t, st.Rollbacks, int64(1), "Rollbacks = %d", st.Rollbacks)
}

// TestBackendKilledMidQuery: the backend connection of a running query is
// killed; the client gets an error packet, keeps its connection, and the
// listener keeps serving everyone.
func TestBackendKilledMidQuery(t *testing.T) {
	e := startEnv(t, withBackends(2))
	db := e.open(t, "")
	c := e.conn(t, db)
	errc := make(chan error, 1)
	go func() { // the victim query; ends when its backend is killed
		_, err := c.ExecContext(context.Background(), "SELECT SLEEP(20) FROM users WHERE id = 1 /* victim */")
		errc <- err
	}()
	root := e.db.DB(t)
	var id int64
	for deadline := time.Now().Add(10 * time.Second); ; {
		err := root.QueryRow("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '%/* victim */%' AND INFO NOT LIKE '%PROCESSLIST%'").Scan(&id)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the victim query never showed up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, err := root.Exec("KILL ?", id)
	must(t, err)
	err = <-errc
	require.Error(t, err, "the killed query succeeded")
	t.Logf("client got: %v", err)
	require.EqualValues(t, 5, queryInt(t, c, "SELECT 5"))
	require.EqualValues(t, 3, queryInt(t, db, "SELECT COUNT(*) FROM users"))
}

// TestBackendDiesMidResult: the backend's TCP connection is cut while a
// result streams; the client gets an error and the listener keeps serving.
func TestBackendCrashMidQuery(t *testing.T) {
	db := startPrivateDB(t)
	e := startEnv(t, withDB(db), withBackends(2))
	sqlDB := e.open(t, "")
	c := e.conn(t, sqlDB)
	errc := make(chan error, 1)
	go func() { // ends when the server dies
		_, err := c.ExecContext(context.Background(), "SELECT SLEEP(20)")
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond)
	db.Kill()
	err := <-errc
	require.Error(t, err, "query succeeded on a killed server")
	t.Logf("client got: %v", err)
	db.Restart(t)
	// The same client connection is served again by a fresh backend.
	var n int64
	var qerr error
	for i := 0; i < 50; i++ {
		if qerr = c.QueryRowContext(context.Background(), "SELECT 9").Scan(&n); qerr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, qerr, "after restart: %d %v", n, qerr)
	require.Equal(t, int64(9), n, "after restart: %d %v", n, qerr)
	st := e.srv.Stats()
	assert.GreaterOrEqual(t, st.BackendErrors, int64(1), "BackendErrors = %d", st.BackendErrors)
}

func TestRequireTLS(t *testing.T) {
	e := startEnv(t, withTLS(), withServer(func(s *proxy.Server) { s.RequireTLS = true }))
	db, err := sql.Open("mysql", e.dsn(appUser, appPass, "tls=false"))
	must(t, err)
	err = db.Ping()
	db.Close()
	require.EqualValues(t, wire.ErSecureTransportNeeded, mysqlErr(err), "plaintext client: err = %v, want %d", err, wire.ErSecureTransportNeeded)
	registerTLS(t, "rdsmux-test", e.tls)
	sdb := e.open(t, "tls=rdsmux-test")
	var cipher string
	var name string
	must(t, sdb.QueryRow("SELECT name FROM users WHERE id = 3").Scan(&name))
	require.Equal(t, "carol", name, name)
	_ = cipher
	assert.EqualValues(t, 1, e.srv.Stats().ClientConnectionsRefusedNoTLS, "ClientConnectionsRefusedNoTLS")
}

func TestMaxClientConnections(t *testing.T) {
	e := startEnv(t, withServer(func(s *proxy.Server) { s.MaxClientConnections = 2 }))
	db := e.open(t, "")
	a, b := e.conn(t, db), e.conn(t, db)
	_, _ = a, b
	extra, err := sql.Open("mysql", e.dsn(appUser, appPass, ""))
	must(t, err)
	defer extra.Close()
	err = extra.Ping()
	require.EqualValues(t, wire.ErConCountError, mysqlErr(err), "third client: err = %v, want 1040", err)
	a.Close()
	db.SetMaxIdleConns(0) // let a's connection go
	// Once a client leaves, a new one gets in.
	var perr error
	for i := 0; i < 50; i++ {
		if perr = extra.Ping(); perr == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, perr, "after a client left")
}

func TestIdleClientTimeout(t *testing.T) {
	e := startEnv(t, withServer(func(s *proxy.Server) { s.IdleClientTimeout = 200 * time.Millisecond }))
	cc := dialWire(t, e.addr, appUser, appPass)
	ctx := ctxT(t)
	require.NoError(t, cc.Ping(ctx))
	// Wait for the listener to close the idle client: the read sees EOF.
	_ = cc.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := cc.ReadPacket(); err == nil {
		t.Fatal("the idle client was not closed")
	}
	assert.EqualValues(t, 1, e.srv.Stats().ClientConnectionsIdleTimeout, "ClientConnectionsIdleTimeout")
}

// TestMalformedAndOversizedPackets: a client that breaks the protocol is
// closed; other clients are not affected.
func TestMalformedAndOversizedPackets(t *testing.T) {
	e := startEnv(t, withServer(func(s *proxy.Server) { s.MaxPacketSize = 1 << 20 }))
	db := e.open(t, "")
	other := e.conn(t, db)
	ctx := ctxT(t)

	// A packet with a wrong sequence id.
	cc := dialWire(t, e.addr, appUser, appPass)
	cc.SetSeq(5)
	must(t, cc.WritePacketFlush([]byte{byte(wire.ComQuery), 'S', 'E', 'L'}))
	expectClosed(t, cc)

	// An oversized packet.
	big, err := sql.Open("mysql", e.dsn(appUser, appPass, "maxAllowedPacket=0"))
	must(t, err)
	defer big.Close()
	_, err = big.Exec("SELECT '" + strings.Repeat("x", 2<<20) + "'")
	require.Error(t, err, "oversized query succeeded")
	t.Logf("oversized packet: %v", err)

	require.EqualValues(t, 11, queryInt(t, other, "SELECT 11"))
	_ = ctx
	assert.EqualValues(t, 2, e.srv.Stats().ProtocolErrors, "ProtocolErrors")
}

// TestShutdownDrains: Shutdown closes idle clients at once and lets a
// client in a transaction finish it.
func TestShutdownDrains(t *testing.T) {
	e := startEnv(t)
	ctx := ctxT(t)
	idle := dialWire(t, e.addr, appUser, appPass)
	busy := dialWire(t, e.addr, appUser, appPass)
	for _, q := range []string{"BEGIN", "INSERT INTO auto (who) VALUES ('drained')"} {
		_, err := busy.Exec(ctx, q)
		require.NoError(t, err)
	}
	done := make(chan error, 1)
	go func() { done <- e.srv.Shutdown(ctx) }() // returns once both clients are gone
	expectClosed(t, idle)
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) while a transaction was open", err)
	case <-time.After(100 * time.Millisecond):
	}
	_, err := busy.Exec(ctx, "COMMIT")
	require.NoError(t, err, "commit during shutdown: %v", err)
	must(t, <-done)
	_, err = net.Dial("tcp", e.addr)
	assert.Error(t, err, "the listener still accepts after Shutdown")
	n := e.db.QueryInt(t, "SELECT COUNT(*) FROM test.auto WHERE who = 'drained'")
	assert.Equal(t, int64(1), n, "the drained transaction's row: %d", n)
}

// expectClosed waits for the listener to close cc.
func expectClosed(t *testing.T, cc *wire.ClientConn) {
	t.Helper()
	_ = cc.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		p, err := cc.ReadPacket()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the connection was not closed")
			}
			return
		}
		if wire.IsERR(p) {
			e, _ := wire.ParseERR(p)
			t.Logf("closed with: %v", e)
		}
	}
}

// TestBackendCredentialsRefused: when the database refuses the listener's
// own credentials for a client's backend account, the client (which logged
// in to the listener correctly) gets 1045 with a message that does not name
// the backend account or the listener's host, at login (a database in the
// handshake) and at its first statement (none).
func TestBackendCredentialsRefused(t *testing.T) {
	// ghost is a listener user; the database has no such account.
	e := startEnv(t, withServer(func(s *proxy.Server) { s.Users.(proxy.StaticUsers)["ghost"] = "ghost-secret" }))
	for _, dbName := range []string{"test", ""} {
		cfg := mysql.NewConfig()
		cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = "ghost", "ghost-secret", "tcp", e.addr, dbName
		db, err := sql.Open("mysql", cfg.FormatDSN())
		must(t, err)
		_, err = db.Exec("DO 1")
		db.Close()
		var me *mysql.MySQLError
		require.ErrorAs(t, err, &me, "database %q: err = %v, want 1045", dbName, err)
		require.Equal(t, uint16(1045), me.Number, "database %q: err = %v, want 1045", dbName, err)
		assert.False(t, strings.Contains(me.Message, "ghost'@") || strings.Contains(me.Message, "127.0.0.1"), "database %q: the client's error names the backend account or host: %q", dbName, me.Message)
		assert.Contains(t, me.Message, "refused the listener's credentials", "database %q: message %q does not say whose credentials were refused", dbName, me.Message)
	}
}
