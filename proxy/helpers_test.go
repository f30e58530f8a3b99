package proxy_test

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// Test users: clients authenticate to the listener with these, and the
// listener uses the same accounts on the database.
const (
	appUser = "app"
	appPass = "app-secret"
)

// env is a listener in front of a throwaway MariaDB.
type env struct {
	db   *mariadbtest.Server
	pool *pool.Pool
	srv  *proxy.Server
	addr string
	tls  *tls.Config // client TLS config trusting the listener, when TLS is on
}

type envConfig struct {
	backends      int
	borrowTimeout time.Duration
	server        func(*proxy.Server)
	tls           bool
	db            *mariadbtest.Server // reuse a server
	budget        pool.Budget         // a fleet budget for the pool
}

type envOption func(*envConfig)

func withBackends(n int) envOption { return func(c *envConfig) { c.backends = n } }
func withBorrowTimeout(d time.Duration) envOption {
	return func(c *envConfig) { c.borrowTimeout = d }
}
func withServer(f func(*proxy.Server)) envOption { return func(c *envConfig) { c.server = f } }
func withTLS() envOption                         { return func(c *envConfig) { c.tls = true } }
func withDB(db *mariadbtest.Server) envOption    { return func(c *envConfig) { c.db = db } }

// sharedDB is one MariaDB for the tests that do not need their own.
var sharedDB *mariadbtest.Server

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedDB != nil {
		sharedDB.Close()
	}
	os.Exit(code)
}

// database returns the shared server, started on first use, with the app
// user and test tables.
func database(t testing.TB) *mariadbtest.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("needs MariaDB; skipped with -short")
	}
	if sharedDB == nil {
		db, err := mariadbtest.Launch(mariadbtest.WithMaxConnections(500))
		if err != nil {
			if db != nil {
				db.Close()
			}
			t.Fatalf("starting MariaDB: %v", err)
		}
		sharedDB = db
		prepareDB(t, db)
	}
	return sharedDB
}

func prepareDB(t testing.TB, db *mariadbtest.Server) {
	t.Helper()
	db.CreateUser(t, appUser, appPass)
	db.Exec(t, "CREATE TABLE IF NOT EXISTS test.users (id INT PRIMARY KEY, name VARCHAR(50))")
	db.Exec(t, "INSERT IGNORE INTO test.users VALUES (1,'alice'),(2,'bob'),(3,'carol')")
	db.Exec(t, "CREATE TABLE IF NOT EXISTS test.auto (id BIGINT AUTO_INCREMENT PRIMARY KEY, who VARCHAR(50))")
}

// startEnv starts a pool and a listener in front of the shared server (or
// the one given with withDB).
func startEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	cfg := envConfig{backends: 4, borrowTimeout: 5 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	db := cfg.db
	if db == nil {
		db = database(t)
	}
	users := proxy.StaticUsers{appUser: appPass, "other": "other-secret"}
	backend := &proxy.Target{Addr: db.Addr(), Credentials: proxy.SameCredentials(users)}
	p, err := pool.New(pool.Config{
		Dial:                    backend.Dial,
		MaxConnections:          cfg.backends,
		ConnectionBorrowTimeout: cfg.borrowTimeout,
		Logger:                  testLogger(t),
		Budget:                  cfg.budget,
	})
	require.NoError(t, err)
	srv := &proxy.Server{Pool: p, Users: users, Target: backend, Logger: testLogger(t)}
	e := &env{db: db, pool: p, srv: srv}
	if cfg.tls {
		certs, err := mariadbtest.GenerateCerts()
		require.NoError(t, err)
		srv.TLSConfig = certs.ServerConfig()
		e.tls = certs.ClientConfig()
	}
	if cfg.server != nil {
		cfg.server(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	e.addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }() // ends with Close below
	t.Cleanup(func() {
		srv.Close()
		err := <-done
		assert.ErrorIs(t, err, proxy.ErrServerClosed, "Serve returned %v, want ErrServerClosed", err)
		p.Close()
	})
	return e
}

// testLogger logs to the test at debug level when RDSMUX_TEST_LOG is set.
func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("RDSMUX_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// dsn is a go-sql-driver DSN for the listener.
func (e *env) dsn(user, pass, params string) string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = user, pass, "tcp", e.addr, "test"
	dsn := cfg.FormatDSN()
	if params != "" {
		dsn += "?" + params
	}
	return dsn
}

// open returns a go-sql-driver pool to the listener, closed at cleanup.
func (e *env) open(t testing.TB, params string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", e.dsn(appUser, appPass, params))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// conn returns one client connection to the listener.
func (e *env) conn(t testing.TB, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mysqlErr returns the MySQL error number of err, or 0.
func mysqlErr(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// mariadbCLI runs the mariadb command-line client against addr.
func mariadbCLI(t testing.TB, addr string, args ...string) (string, error) {
	t.Helper()
	bin := "/usr/bin/mariadb"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the mariadb client is missing (%v); install mariadb-client", err)
	}
	host, port, _ := net.SplitHostPort(addr)
	full := append([]string{"--no-defaults", "-h", host, "-P", port, "--batch", "--skip-column-names", "--connect-timeout=10"}, args...)
	cmd := exec.Command(bin, full...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// queryInt runs a query on c that returns one integer.
func queryInt(t testing.TB, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, query string, args ...any) int64 {
	t.Helper()
	var n sql.NullInt64
	require.NoError(t, q.QueryRowContext(context.Background(), query, args...).Scan(&n), query)
	return n.Int64
}

func must(t testing.TB, err error) {
	t.Helper()
	require.NoError(t, err)
}

// dialWire connects to the listener with the wire package's client.
func dialWire(t testing.TB, addr, user, pass string) *wire.ClientConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc, err := wire.Dial(ctx, addr, &wire.ClientConfig{User: user, Password: pass, Database: "test"})
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return cc
}

// registerTLS registers a go-sql-driver TLS config name once.
func registerTLS(t testing.TB, name string, cfg *tls.Config) {
	t.Helper()
	must(t, mysql.RegisterTLSConfig(name, cfg))
}

// startPrivateDB starts a MariaDB for a test that kills or restarts it.
func startPrivateDB(t testing.TB, opts ...mariadbtest.Option) *mariadbtest.Server {
	t.Helper()
	db := mariadbtest.Start(t, opts...)
	prepareDB(t, db)
	return db
}

// targetDSN is a go-sql-driver DSN for the app user, to the listener or,
// for target "direct", straight to MariaDB: the two sides a benchmark
// compares.
func (e *env) targetDSN(target, params string) string {
	if target == "direct" {
		return e.db.UserDSN(appUser, appPass, "test", params)
	}
	return e.dsn(appUser, appPass, params)
}

// openOne returns a go-sql-driver pool of one connection to dsn, closed at
// cleanup.
func openOne(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	return db
}

// eachClient runs n clients at once, each on its own connection from db
// (closed when it returns), and fails t with every error they return.
func eachClient(t testing.TB, db *sql.DB, n int, client func(ctx context.Context, c *sql.Conn, g int) error) {
	t.Helper()
	ctx := context.Background()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for g := range n {
		wg.Go(func() {
			c, err := db.Conn(ctx)
			if err != nil {
				errs[g] = err
				return
			}
			defer c.Close()
			errs[g] = client(ctx, c, g)
		})
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
}
