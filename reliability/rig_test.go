package reliability

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux/iamauth"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// This file holds the listener rig shared by the hostile-input and security
// tests: a proxy.Server in front of a pool on a real MariaDB, and raw-socket
// helpers for clients that do not follow the protocol.

// Accounts of the rig: clients log in to the listener as rigUser, whose
// backends log in to MariaDB as rigBackendUser.
const (
	rigUser        = "client"
	rigPass        = "client-pw-7f3a"
	rigBackendUser = "backend"
	rigBackendPass = "backend-pw-91c2"
)

// rigDeadline bounds every wait of the rig: generous, for a loaded CI
// machine.
const rigDeadline = 20 * time.Second

// rigSeed returns the random seed of a test: RDSMUX_SEED when set, else the
// time. It is logged so that a failing run can be repeated.
func rigSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("RDSMUX_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("RDSMUX_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (rerun with RDSMUX_SEED=%d)", seed, seed)
	return seed
}

// startRigDB starts a MariaDB with the rig's backend account.
func startRigDB(t testing.TB, opts ...mariadbtest.Option) *mariadbtest.Server {
	t.Helper()
	db := mariadbtest.Start(t, append([]mariadbtest.Option{mariadbtest.WithMaxConnections(400)}, opts...)...)
	db.CreateUser(t, rigBackendUser, rigBackendPass)
	db.Exec(t, "CREATE TABLE IF NOT EXISTS test.items (id INT PRIMARY KEY, v INT NOT NULL)")
	db.Exec(t, "INSERT IGNORE INTO test.items VALUES (1, 10), (2, 20), (3, 30)")
	return db
}

// rig is one listener in front of a pool on a MariaDB.
type rig struct {
	db   *mariadbtest.Server
	pool *pool.Pool
	srv  *proxy.Server
	addr string
	// clientTLS trusts the listener's certificate when TLS is on.
	clientTLS *tls.Config
	tlsName   string // go-sql-driver's name for clientTLS
}

// rigConfig says how to build a rig.
type rigConfig struct {
	users    proxy.StaticUsers
	lookup   proxy.UserLookup // instead of users, when set
	creds    func(user string) (iamauth.Provider, error)
	backends int
	logger   *slog.Logger
	tls      bool
	server   func(*proxy.Server)
	backend  func(*proxy.Target)
}

type rigOption func(*rigConfig)

func withRigServer(f func(*proxy.Server)) rigOption { return func(c *rigConfig) { c.server = f } }
func withRigBackend(f func(*proxy.Target)) rigOption {
	return func(c *rigConfig) { c.backend = f }
}
func withRigUsers(u proxy.StaticUsers, creds func(string) (iamauth.Provider, error)) rigOption {
	return func(c *rigConfig) { c.users, c.creds = u, creds }
}
func withRigLookup(l proxy.UserLookup) rigOption {
	return func(c *rigConfig) { c.lookup = l }
}
func withRigBackends(n int) rigOption        { return func(c *rigConfig) { c.backends = n } }
func withRigLogger(l *slog.Logger) rigOption { return func(c *rigConfig) { c.logger = l } }
func withRigTLS() rigOption                  { return func(c *rigConfig) { c.tls = true } }

// rigTLSNames numbers the TLS configurations registered with go-sql-driver.
var rigTLSNames atomic.Int64

// dsn is a go-sql-driver DSN for the rig's listener.
func (r *rig) dsn(user, pass, params string) string { return rigDSN(r.addr, user, pass, params) }

// startRig starts a listener on a loopback port; it is closed at the end
// of t, after which no backend connection of the rig's pool remains.
func startRig(t testing.TB, db *mariadbtest.Server, opts ...rigOption) *rig {
	t.Helper()
	cfg := rigConfig{
		users:    proxy.StaticUsers{rigUser: rigPass},
		creds:    proxy.OneAccount(rigBackendUser, rigBackendPass),
		backends: 4,
	}
	for _, o := range opts {
		o(&cfg)
	}
	backend := &proxy.Target{Addr: db.Addr(), Credentials: cfg.creds}
	if cfg.backend != nil {
		cfg.backend(backend)
	}
	p, err := pool.New(pool.Config{Dial: backend.Dial, MaxConnections: cfg.backends,
		ConnectionBorrowTimeout: 10 * time.Second, Logger: cfg.logger})
	if err != nil {
		t.Fatal(err)
	}
	var users proxy.UserLookup = cfg.users
	if cfg.lookup != nil {
		users = cfg.lookup
	}
	srv := &proxy.Server{Pool: p, Users: users, Logger: cfg.logger}
	r := &rig{db: db, pool: p, srv: srv}
	if cfg.tls {
		certs, err := mariadbtest.GenerateCerts()
		if err != nil {
			t.Fatal(err)
		}
		srv.TLSConfig = certs.ServerConfig()
		r.clientTLS = certs.ClientConfig()
		r.tlsName = "rdsmux-rig-" + strconv.FormatInt(rigTLSNames.Add(1), 10)
		if err := mysql.RegisterTLSConfig(r.tlsName, r.clientTLS); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mysql.DeregisterTLSConfig(r.tlsName) })
	}
	if cfg.server != nil {
		cfg.server(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }() // ends with Close below
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, proxy.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		p.Close()
	})
	return r
}

// rigDSN is a go-sql-driver DSN for the listener at addr.
func rigDSN(addr, user, pass, params string) string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = user, pass, "tcp", addr, "test"
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 10*time.Second, 30*time.Second, 10*time.Second
	dsn := cfg.FormatDSN()
	if params != "" {
		dsn += "&" + params
	}
	return dsn
}

// open returns a go-sql-driver handle on the listener, closed at the end of
// t. It keeps no idle connections: a closed sql.Conn really disconnects.
func (r *rig) open(t testing.TB, user, pass, params string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", r.dsn(user, pass, params))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxIdleConns(0)
	t.Cleanup(func() { db.Close() })
	return db
}

// checkServes proves that the listener still serves a good client: a new
// connection logs in and runs a query and a transaction.
func (r *rig) checkServes(t testing.TB) {
	t.Helper()
	params := ""
	if r.tlsName != "" {
		params = "tls=" + r.tlsName
	}
	db, err := sql.Open("mysql", r.dsn(rigUser, rigPass, params))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), rigDeadline)
	defer cancel()
	var sum int
	if err := db.QueryRowContext(ctx, "SELECT SUM(v) FROM items").Scan(&sum); err != nil || sum != 60 {
		t.Fatalf("a good client after the hostile ones: SUM(v) = %d, %v", sum, err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatalf("a good client's BEGIN: %v", err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE items SET v = v WHERE id = 1"); err != nil {
		t.Fatalf("a good client's UPDATE: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("a good client's COMMIT: %v", err)
	}
}

// waitIdle waits until the listener has clients open and the pool's
// counters are back to idle: nothing borrowed, nobody waiting, no dial in
// flight.
func (r *rig) waitIdle(t testing.TB, clients int64) {
	t.Helper()
	waitFor(t, "the listener and the pool back to idle", func() (bool, string) {
		st := r.srv.Stats()
		p := st.Pool
		ok := st.ClientConnections == clients && p.DatabaseConnectionsCurrentlyBorrowed == 0 &&
			p.WaitingNow == 0 && p.ConnectionsOpening == 0 &&
			p.DatabaseConnectionsCurrentlyInTransaction == 0 && p.DatabaseConnectionsCurrentlySessionPinned == 0
		return ok, fmt.Sprintf("clients %d (want %d), borrowed %d, waiting %d, opening %d, in transaction %d, pinned %d",
			st.ClientConnections, clients, p.DatabaseConnectionsCurrentlyBorrowed, p.WaitingNow, p.ConnectionsOpening,
			p.DatabaseConnectionsCurrentlyInTransaction, p.DatabaseConnectionsCurrentlySessionPinned)
	})
}

// waitBack waits until the listener's clients and the pool's held
// connections are as in base (a snapshot taken with only long-lived
// bystanders connected), with nobody waiting and no dial in flight.
func (r *rig) waitBack(t testing.TB, base proxy.Stats) {
	t.Helper()
	b := base.Pool
	waitFor(t, "the listener and the pool back to the bystanders' baseline", func() (bool, string) {
		st := r.srv.Stats()
		p := st.Pool
		ok := st.ClientConnections == base.ClientConnections &&
			p.DatabaseConnectionsCurrentlyBorrowed == b.DatabaseConnectionsCurrentlyBorrowed &&
			p.DatabaseConnectionsCurrentlyInTransaction == b.DatabaseConnectionsCurrentlyInTransaction &&
			p.DatabaseConnectionsCurrentlySessionPinned == b.DatabaseConnectionsCurrentlySessionPinned &&
			p.WaitingNow == 0 && p.ConnectionsOpening == 0
		return ok, fmt.Sprintf("clients %d (want %d), borrowed %d (%d), in transaction %d (%d), pinned %d (%d), waiting %d, opening %d",
			st.ClientConnections, base.ClientConnections, p.DatabaseConnectionsCurrentlyBorrowed, b.DatabaseConnectionsCurrentlyBorrowed,
			p.DatabaseConnectionsCurrentlyInTransaction, b.DatabaseConnectionsCurrentlyInTransaction,
			p.DatabaseConnectionsCurrentlySessionPinned, b.DatabaseConnectionsCurrentlySessionPinned, p.WaitingNow, p.ConnectionsOpening)
	})
}

// waitStat waits until a listener statistic reaches want.
func (r *rig) waitStat(t testing.TB, name string, stat func(proxy.Stats) int64, want int64) {
	t.Helper()
	waitFor(t, name+" reaching "+strconv.FormatInt(want, 10), func() (bool, string) {
		got := stat(r.srv.Stats())
		return got >= want, fmt.Sprintf("%s = %d", name, got)
	})
}

// waitFor polls cond until it holds, failing the test after rigDeadline
// with cond's last description.
func waitFor(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(rigDeadline)
	for {
		ok, desc := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s: %s", rigDeadline, what, desc)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dialRaw opens a TCP connection to the listener for a client that speaks
// bytes, not the protocol. It is closed at the end of t.
func dialRaw(t testing.TB, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// readGreeting reads the listener's handshake on a raw connection.
func readGreeting(t testing.TB, c *wire.Conn) *wire.Handshake {
	t.Helper()
	_ = c.NetConn().SetReadDeadline(time.Now().Add(rigDeadline))
	p, err := c.ReadPacket()
	if err != nil {
		t.Fatalf("reading the listener's handshake: %v", err)
	}
	hs, err := wire.ParseHandshake(p)
	if err != nil {
		t.Fatalf("parsing the listener's handshake: %v", err)
	}
	return hs
}

// handshakeResponse is a HandshakeResponse41 for hs that logs in as user
// with mysql_native_password.
func handshakeResponse(hs *wire.Handshake, user, pass string) []byte {
	r := &wire.HandshakeResponse{
		Capabilities: wire.ClientProtocol41 | wire.ClientSecureConnection | wire.ClientPluginAuth |
			wire.ClientLongPassword | wire.ClientTransactions | wire.ClientConnectWithDB | wire.ClientDeprecateEOF,
		MaxPacketSize: 1 << 24,
		Charset:       wire.CharsetUTF8MB4GeneralCI,
		User:          user,
		AuthResponse:  wire.ScrambleNativePassword(hs.AuthData, pass),
		Database:      "test",
		AuthPlugin:    wire.AuthNativePassword,
	}
	return wire.AppendHandshakeResponse(nil, r)
}

// rawPacket reads one packet from nc without checking its sequence id.
func rawPacket(nc net.Conn) (seq byte, payload []byte, err error) {
	var hdr [4]byte
	if _, err := io.ReadFull(nc, hdr[:]); err != nil {
		return 0, nil, err
	}
	p := make([]byte, int(hdr[0])|int(hdr[1])<<8|int(hdr[2])<<16)
	if _, err := io.ReadFull(nc, p); err != nil {
		return hdr[3], nil, err
	}
	return hdr[3], p, nil
}

// closeOutcome is what a client saw from the listener until it closed the
// connection.
type closeOutcome struct {
	lastErr  *wire.Error // the last error packet, if any
	gotOK    bool        // an OK packet: after a handshake, the client got in
	timedOut bool        // the connection was still open after rigDeadline
}

// drainToClose reads what the listener sends on nc until it closes the
// connection. It is safe to call from any goroutine.
func drainToClose(nc net.Conn) closeOutcome {
	_ = nc.SetReadDeadline(time.Now().Add(rigDeadline))
	var o closeOutcome
	for {
		_, p, err := rawPacket(nc)
		if err != nil {
			var ne net.Error
			o.timedOut = errors.As(err, &ne) && ne.Timeout()
			return o
		}
		switch {
		case wire.IsOK(p):
			o.gotOK = true
		case wire.IsERR(p):
			o.lastErr, _ = wire.ParseERR(p)
		}
	}
}

// readUntilClosed waits for the listener to close nc and returns the last
// error packet it sent, if any.
func readUntilClosed(t testing.TB, nc net.Conn) *wire.Error {
	t.Helper()
	o := drainToClose(nc)
	if o.timedOut {
		t.Fatalf("the listener did not close the connection within %v", rigDeadline)
	}
	return o.lastErr
}

// loginRaw logs in to the listener with the wire package's client, which
// then sends whatever bytes the test wants. It is closed at the end of t.
func loginRaw(t testing.TB, addr, user, pass string) *wire.ClientConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rigDeadline)
	defer cancel()
	cc, err := wire.Dial(ctx, addr, &wire.ClientConfig{User: user, Password: pass, Database: "test"})
	if err != nil {
		t.Fatalf("logging in as %s: %v", user, err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// mysqlErrno returns the MySQL error number in err, or 0.
func mysqlErrno(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	var we *wire.Error
	if errors.As(err, &we) {
		return we.Code
	}
	return 0
}

// rigMust fails the test on a non-nil error.
func rigMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
