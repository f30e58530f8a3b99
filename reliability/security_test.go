package reliability

import (
	"context"
	"crypto/tls"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdsmux/rdsmux"
	"github.com/rdsmux/rdsmux/iamauth"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/proxy"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// The security suite: failed logins are refused and counted, a backend
// authenticated as one database account never serves a client of another,
// RequireTLS serves no plaintext client, and (secrets_test.go) no secret
// reaches a log line.

// fullAuthUsers is a UserLookup whose users have only a cleartext password,
// so caching_sha2_password always runs full authentication: the password
// itself travels (over TLS) to the listener.
type fullAuthUsers map[string]string

func (u fullAuthUsers) Lookup(_ context.Context, user string) (wire.Credential, error) {
	pw, ok := u[user]
	if !ok {
		return wire.Credential{}, wire.ErrUnknownUser
	}
	return wire.Credential{Password: pw, HasPassword: true}, nil
}

// TestAuthFailuresCounted: wrong passwords, empty passwords and unknown
// users, at connect time and in COM_CHANGE_USER, with each auth plugin, are
// refused with error 1045, counted in ClientConnectionsSetupFailedAuth one
// for one, and never reach the backend.
func TestAuthFailuresCounted(t *testing.T) {
	db := startRigDB(t)
	users := proxy.StaticUsers{rigUser: rigPass, "other": "other-pw-55e1"}
	native := startRig(t, db, withRigUsers(users, proxy.OneAccount(rigBackendUser, rigBackendPass)))
	sha2 := startRig(t, db, withRigTLS(), withRigLookup(fullAuthUsers{rigUser: rigPass}), withRigServer(func(s *proxy.Server) {
		s.DefaultAuthPlugin = wire.AuthCachingSHA2Password
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*rigDeadline)
	defer cancel()

	// Good sessions first (their logins may check the database on a
	// backend); the failures below must not add a dial.
	sessions := []*wire.ClientConn{loginRaw(t, native.addr, rigUser, rigPass), loginRaw(t, native.addr, "other", "other-pw-55e1")}
	native.checkServes(t)
	sha2.checkServes(t)
	nativeBefore, sha2Before := native.srv.Stats(), sha2.srv.Stats()

	refused := func(t *testing.T, what string, err error) {
		t.Helper()
		if mysqlErrno(err) != wire.ErAccessDenied {
			t.Errorf("%s: %v, want error 1045 (access denied)", what, err)
		}
	}
	goSQL := func(r *rig, user, pass, params string) error {
		h, err := sql.Open("mysql", r.dsn(user, pass, params))
		if err != nil {
			return err
		}
		defer h.Close()
		return h.PingContext(ctx)
	}
	wireLogin := func(r *rig, user, pass string, tlsCfg *tls.Config) error {
		cc, err := wire.Dial(ctx, r.addr, &wire.ClientConfig{User: user, Password: pass, Database: "test", TLSConfig: tlsCfg})
		if err == nil {
			cc.Close()
		}
		return err
	}
	var nNative, nSHA2 int64
	for _, tc := range []struct{ user, pass string }{
		{rigUser, "wrong-pw"}, {rigUser, ""}, {rigUser, rigPass + "x"}, {"other", rigPass},
		{"nobody", "wrong-pw"}, {"nobody", ""}, {strings.Repeat("u", 200), "x"}, {"", "x"},
	} {
		refused(t, fmt.Sprintf("go-sql-driver %q/%q", tc.user, tc.pass), goSQL(native, tc.user, tc.pass, ""))
		refused(t, fmt.Sprintf("wire client %q/%q", tc.user, tc.pass), wireLogin(native, tc.user, tc.pass, nil))
		nNative += 2
		// caching_sha2_password: fast auth fails without TLS; over TLS
		// the password is sent in full and compared.
		refused(t, fmt.Sprintf("caching_sha2 without TLS %q/%q", tc.user, tc.pass), goSQL(sha2, tc.user, tc.pass, ""))
		refused(t, fmt.Sprintf("caching_sha2 over TLS %q/%q", tc.user, tc.pass), goSQL(sha2, tc.user, tc.pass, "tls="+sha2.tlsName))
		refused(t, fmt.Sprintf("caching_sha2 wire client over TLS %q/%q", tc.user, tc.pass), wireLogin(sha2, tc.user, tc.pass, sha2.clientTLS))
		nSHA2 += 3
	}
	// COM_CHANGE_USER to a wrong password and to an unknown user, on the
	// good sessions: refused, and the session is closed.
	for i, target := range []wire.ClientConfig{{User: "other", Password: "wrong-pw"}, {User: "nobody", Password: "x"}} {
		err := sessions[i].ChangeUser(ctx, &target)
		refused(t, "COM_CHANGE_USER to "+target.User, err)
		readUntilClosed(t, sessions[i].NetConn())
		nNative++
	}

	for _, c := range []struct {
		r      *rig
		before proxy.Stats
		n      int64
	}{{native, nativeBefore, nNative}, {sha2, sha2Before, nSHA2}} {
		c.r.waitStat(t, "ClientConnectionsSetupFailedAuth", func(s proxy.Stats) int64 { return s.ClientConnectionsSetupFailedAuth },
			c.before.ClientConnectionsSetupFailedAuth+c.n)
		st := c.r.srv.Stats()
		if got := st.ClientConnectionsSetupFailedAuth - c.before.ClientConnectionsSetupFailedAuth; got != c.n {
			t.Errorf("ClientConnectionsSetupFailedAuth grew by %d, want %d", got, c.n)
		}
		if st.ClientConnectionsSetupSucceeded != c.before.ClientConnectionsSetupSucceeded {
			t.Errorf("%d refused clients counted as set up", st.ClientConnectionsSetupSucceeded-c.before.ClientConnectionsSetupSucceeded)
		}
		if st.ClientConnectionsSetupFailed != c.before.ClientConnectionsSetupFailed {
			t.Errorf("ClientConnectionsSetupFailed grew by %d: auth failures counted as other failures",
				st.ClientConnectionsSetupFailed-c.before.ClientConnectionsSetupFailed)
		}
		if d := st.Pool.DatabaseConnectionRequests - c.before.Pool.DatabaseConnectionRequests; d != 0 {
			t.Errorf("refused clients made the pool dial %d backend connections", d)
		}
		c.r.waitIdle(t, 0)
		c.r.checkServes(t)
	}
	t.Logf("refused %d logins on the native listener, %d on the caching_sha2 one", nNative, nSHA2)
}

// identityCheck is the query every isolation client runs: the backend
// account it ran as.
const identityCheck = "SELECT CURRENT_USER(), USER()"

// checkIdentity runs identityCheck on q and reports a backend account other
// than want.
func checkIdentity(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, want string, extra ...any) (string, error) {
	query := identityCheck
	if len(extra) > 0 {
		query += ", ?"
	}
	var cur, usr string
	var echo sql.NullString
	dest := []any{&cur, &usr}
	if len(extra) > 0 {
		dest = append(dest, &echo)
	}
	if err := q.QueryRowContext(ctx, query, extra...).Scan(dest...); err != nil {
		return "", err
	}
	if cur != want+"@%" || !strings.HasPrefix(usr, want+"@") {
		return fmt.Sprintf("CURRENT_USER() = %q, USER() = %q, want %s", cur, usr, want), nil
	}
	return "", nil
}

// isolationClients runs clients goroutines for each of the handles, each
// doing ops random operations (autocommit, transactions, prepared
// statements, pinning SETs) on sessions it opens and closes, and checking
// on every one that the backend's account is the handle's. It returns the
// number of checks.
func isolationClients(t *testing.T, seed uint64, handles map[string]*sql.DB, clients, ops int) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*rigDeadline)
	defer cancel()
	var checks atomic.Int64
	var wg sync.WaitGroup
	n := 0
	for account, h := range handles {
		for i := range clients {
			n++
			rng := rand.New(rand.NewPCG(seed, uint64(n)))
			wg.Add(1)
			go func() { // one client of account; ends after ops operations
				defer wg.Done()
				var conn *sql.Conn
				defer func() {
					if conn != nil {
						conn.Close()
					}
				}()
				fail := func(format string, args ...any) {
					t.Errorf("client %d of %s: %s", i, account, fmt.Sprintf(format, args...))
				}
				for op := range ops {
					if conn == nil {
						c, err := h.Conn(ctx)
						if err != nil {
							fail("connecting: %v", err)
							return
						}
						conn = c
					}
					var bad string
					var err error
					switch rng.IntN(5) {
					case 0: // autocommit
						bad, err = checkIdentity(ctx, conn, account)
					case 1: // a prepared statement (a placeholder)
						bad, err = checkIdentity(ctx, conn, account, op)
					case 2: // a transaction
						var tx *sql.Tx
						if tx, err = conn.BeginTx(ctx, nil); err == nil {
							if bad, err = checkIdentity(ctx, tx, account); err == nil {
								err = tx.Commit()
							} else {
								tx.Rollback()
							}
						}
					case 3: // pin the session, then check
						if _, err = conn.ExecContext(ctx, "SET @owner = ?", account); err == nil {
							var owner string
							if err = conn.QueryRowContext(ctx, "SELECT @owner").Scan(&owner); err == nil && owner != account {
								bad = "@owner = " + owner
							}
							if err == nil {
								bad, err = checkIdentity(ctx, conn, account)
							}
						}
					case 4: // end the session
						conn.Close()
						conn = nil
						continue
					}
					if err != nil {
						fail("operation %d: %v", op, err)
						return
					}
					checks.Add(1)
					if bad != "" {
						fail("BACKEND OF ANOTHER ACCOUNT: %s", bad)
					}
				}
			}()
		}
	}
	wg.Wait()
	return checks.Load()
}

// startIsolationDB starts a MariaDB with two backend accounts, alpha and
// beta.
func startIsolationDB(t *testing.T) *mariadbtest.Server {
	t.Helper()
	db := startRigDB(t)
	db.CreateUser(t, "alpha", "alpha-pw-d41b")
	db.CreateUser(t, "beta", "beta-pw-0c9e")
	return db
}

// TestBackendIdentityIsolation: two listener users mapped to two database
// accounts share one pool whose cap (3) is smaller than the clients, so
// backends are closed and dialed across the two partitions all the time.
// Every statement of every client checks CURRENT_USER() and USER() of the
// backend it ran on; a client that changes user (COM_CHANGE_USER) gets the
// other account's backends from the next statement on.
func TestBackendIdentityIsolation(t *testing.T) {
	db := startIsolationDB(t)
	seed := rigSeed(t)
	users := proxy.StaticUsers{"app-a": "app-a-pw-71", "app-b": "app-b-pw-38"}
	accounts := map[string]string{"app-a": "alpha", "app-b": "beta"}
	creds := func(user string) (iamauth.Provider, error) {
		switch user {
		case "app-a":
			return iamauth.Static{User: "alpha", Password: "alpha-pw-d41b", Source: "static"}, nil
		case "app-b":
			return iamauth.Static{User: "beta", Password: "beta-pw-0c9e", Source: "static"}, nil
		}
		return nil, fmt.Errorf("no backend account for %q", user)
	}
	r := startRig(t, db, withRigUsers(users, creds), withRigBackends(3))
	handles := map[string]*sql.DB{}
	for user, account := range accounts {
		handles[account] = r.open(t, user, users[user], "")
	}
	checks := isolationClients(t, seed, handles, 10, 30)

	// COM_CHANGE_USER back and forth on one client connection.
	ctx, cancel := context.WithTimeout(context.Background(), rigDeadline)
	defer cancel()
	cc := loginRaw(t, r.addr, "app-a", users["app-a"])
	for i := range 6 {
		user := []string{"app-a", "app-b"}[i%2]
		if i > 0 {
			if err := cc.ChangeUser(ctx, &wire.ClientConfig{User: user, Password: users[user], Database: "test"}); err != nil {
				t.Fatalf("COM_CHANGE_USER to %s: %v", user, err)
			}
		}
		for _, q := range []string{"SELECT CURRENT_USER()", "SELECT CURRENT_USER() FROM items LIMIT 1"} {
			v, _, err := cc.QueryValue(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if want := accounts[user] + "@%"; v != want {
				t.Errorf("after changing user to %s: %s = %q, want %q", user, q, v, want)
			}
			checks++
		}
	}
	cc.Close()
	t.Logf("%d identity checks, every one on a backend of the client's own account", checks)
	r.waitIdle(t, 0)
	st := r.srv.Stats().Pool
	t.Logf("pool: %d dials, %d closes", st.DatabaseConnectionRequests, st.ClosedTotal)
}

// TestDriverIdentityIsolation: the same through the rdsmux driver, two DSNs
// for two accounts on one target (one shared pool, cap 3).
func TestDriverIdentityIsolation(t *testing.T) {
	db := startIsolationDB(t)
	seed := rigSeed(t)
	handles := map[string]*sql.DB{}
	for account, pw := range map[string]string{"alpha": "alpha-pw-d41b", "beta": "beta-pw-0c9e"} {
		h, err := sql.Open(rdsmux.DriverName, db.UserDSN(account, pw, "test", "maxConnections=3&connectionBorrowTimeout=20s"))
		rigMust(t, err)
		// A closed sql.Conn really ends its session: an idle pinned
		// logical connection would keep its backend.
		h.SetMaxIdleConns(0)
		t.Cleanup(func() { h.Close() })
		handles[account] = h
	}
	checks := isolationClients(t, seed, handles, 10, 30)
	t.Logf("%d identity checks through the driver, every one on a backend of the handle's own account", checks)
}

// TestRequireTLSRefusesPlaintext: with RequireTLS, no plaintext client is
// served, whatever it claims: go-sql-driver without TLS, a raw client that
// skips the SSL request (with the right password), one that announces TLS
// in a full handshake response without switching, one that sends a command
// instead of a handshake response, and one that asks for TLS and then
// speaks plaintext. Nothing reaches the backend until a TLS client comes.
func TestRequireTLSRefusesPlaintext(t *testing.T) {
	db := startRigDB(t)
	r := startRig(t, db, withRigTLS(), withRigServer(func(s *proxy.Server) { s.RequireTLS = true }))
	ctx, cancel := context.WithTimeout(context.Background(), rigDeadline)
	defer cancel()

	plain, err := sql.Open("mysql", r.dsn(rigUser, rigPass, "tls=false"))
	rigMust(t, err)
	err = plain.PingContext(ctx)
	plain.Close()
	if mysqlErrno(err) != wire.ErSecureTransportNeeded {
		t.Errorf("go-sql-driver without TLS: %v, want error %d", err, wire.ErSecureTransportNeeded)
	}

	// The right password, no SSL request.
	nc := dialRaw(t, r.addr)
	hs := readGreeting(t, wire.NewConn(nc))
	if hs.Capabilities&wire.ClientSSL == 0 {
		t.Fatal("the listener does not offer TLS")
	}
	rigMust(t, writeRaw(nc, packet(1, handshakeResponse(hs, rigUser, rigPass))))
	if e := mustNotAuthenticate(t, nc, "a plaintext handshake response"); e == nil || e.Code != wire.ErSecureTransportNeeded {
		t.Errorf("a plaintext handshake response: %v, want error %d", e, wire.ErSecureTransportNeeded)
	}

	// CLIENT_SSL claimed in a full response sent in plaintext.
	nc = dialRaw(t, r.addr)
	hs = readGreeting(t, wire.NewConn(nc))
	resp := &wire.HandshakeResponse{
		Capabilities: wire.ClientProtocol41 | wire.ClientSecureConnection | wire.ClientPluginAuth | wire.ClientSSL |
			wire.ClientLongPassword | wire.ClientConnectWithDB,
		MaxPacketSize: 1 << 24, Charset: wire.CharsetUTF8MB4GeneralCI, User: rigUser,
		AuthResponse: wire.ScrambleNativePassword(hs.AuthData, rigPass), Database: "test", AuthPlugin: wire.AuthNativePassword,
	}
	rigMust(t, writeRaw(nc, packet(1, wire.AppendHandshakeResponse(nil, resp))))
	if e := mustNotAuthenticate(t, nc, "CLIENT_SSL claimed without TLS"); e == nil || e.Code != wire.ErSecureTransportNeeded {
		t.Errorf("CLIENT_SSL claimed without TLS: %v, want error %d", e, wire.ErSecureTransportNeeded)
	}

	// A command instead of a handshake response.
	nc = dialRaw(t, r.addr)
	readGreeting(t, wire.NewConn(nc))
	rigMust(t, writeRaw(nc, packet(1, []byte("\x03SELECT CURRENT_USER()"))))
	mustNotAuthenticate(t, nc, "a command instead of a handshake response")

	// An SSL request, then plaintext instead of a TLS handshake.
	nc = dialRaw(t, r.addr)
	readGreeting(t, wire.NewConn(nc))
	rigMust(t, writeRaw(nc, packet(1, wire.AppendSSLRequest(nil, resp.Capabilities, 1<<24, wire.CharsetUTF8MB4GeneralCI))))
	rigMust(t, writeRaw(nc, packet(2, handshakeResponse(hs, rigUser, rigPass))))
	mustNotAuthenticate(t, nc, "plaintext after an SSL request")

	r.waitStat(t, "ClientConnectionsRefusedNoTLS", func(s proxy.Stats) int64 { return s.ClientConnectionsRefusedNoTLS }, 3)
	r.waitIdle(t, 0)
	st := r.srv.Stats()
	if st.ClientConnectionsSetupSucceeded != 0 {
		t.Errorf("%d plaintext clients were served", st.ClientConnectionsSetupSucceeded)
	}
	if st.Pool.DatabaseConnectionRequests != 0 || st.Pool.DatabaseConnections != 0 {
		t.Errorf("plaintext clients reached the backend: %d dials, %d connections", st.Pool.DatabaseConnectionRequests, st.Pool.DatabaseConnections)
	}
	if n := db.ConnectionsOf(t, rigBackendUser); n != 0 {
		t.Errorf("the database has %d connections of the backend account", n)
	}

	// A TLS client is served, and only now is a backend dialed.
	r.checkServes(t)
	if st := r.srv.Stats(); st.ClientConnectionsSetupSucceeded != 1 || st.Pool.DatabaseConnectionRequests == 0 {
		t.Errorf("the TLS client: set up %d, dials %d", st.ClientConnectionsSetupSucceeded, st.Pool.DatabaseConnectionRequests)
	}
}

// writeRaw writes b to nc within rigDeadline.
func writeRaw(nc net.Conn, b []byte) error {
	_ = nc.SetWriteDeadline(time.Now().Add(rigDeadline))
	_, err := nc.Write(b)
	return err
}
