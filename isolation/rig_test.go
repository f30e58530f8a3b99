package isolation

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
)

// The account every connection of the package uses: the driver's backends,
// the listener's clients and backends, and the twins.
const (
	appUser = "app"
	appPass = "app-pw-isolation"
)

// The schemas of the suite, each with its own default character set and a
// read-only table ro whose rows say which schema they are in. Sessions get
// their own tables in each of them.
var schemas = []string{"test", "s_utf8", "s_latin", "s_cp"}

var schemaCharset = map[string]string{"test": "utf8mb4", "s_utf8": "utf8mb4", "s_latin": "latin1", "s_cp": "cp1257"}

// opTimeout bounds one statement; generous, for a loaded machine. It is
// never an assertion: a statement that runs out of it is reported with its
// error like any other result.
const opTimeout = 60 * time.Second

var (
	sharedMu sync.Mutex // guards shared
	shared   *mariadbtest.Server
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	os.Exit(code)
}

// server returns the package's MariaDB, started on first use, with the
// app account and the suite's schemas. Its global character set is latin1
// while clients ask for utf8mb4 in their handshake (go-sql-driver's
// default), so that a session reset to the server's global values (SET
// ... = DEFAULT) instead of its own shows. Lock waits are short so that a
// session stuck behind a leaked lock fails in seconds, not in minutes. The
// twins run under the same server, so the comparison is fair.
func server(t testing.TB) *mariadbtest.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("needs MariaDB; skipped with -short")
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil {
		db, err := mariadbtest.Launch(mariadbtest.WithMaxConnections(800),
			mariadbtest.WithFlags("--innodb-lock-wait-timeout=5", "--lock-wait-timeout=10",
				"--character-set-server=latin1", "--collation-server=latin1_swedish_ci"))
		if err != nil {
			if db != nil {
				db.Close()
			}
			t.Fatalf("starting MariaDB: %v", err)
		}
		shared = db
		db.CreateUser(t, appUser, appPass)
		for i, s := range schemas {
			db.Exec(t, "CREATE DATABASE IF NOT EXISTS "+s)
			db.Exec(t, "ALTER DATABASE "+s+" CHARACTER SET "+schemaCharset[s])
			db.Exec(t, "CREATE TABLE IF NOT EXISTS "+s+".ro (id INT PRIMARY KEY, v VARCHAR(20))")
			db.Exec(t, "INSERT IGNORE INTO "+s+".ro VALUES (1, ?), (2, ?)", s, string(rune('a'+i))+"é")
		}
	}
	return shared
}

// directDSN is a go-sql-driver DSN straight to MariaDB as the app account,
// in database test, with extra go-sql-driver parameters.
func directDSN(db *mariadbtest.Server, params string) string {
	return db.UserDSN(appUser, appPass, "test", joinParams("timeout=10s", params))
}

func joinParams(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "&" + b
}

// openDirect opens a go-sql-driver handle straight to MariaDB. It keeps no
// idle connections, so a closed sql.Conn really disconnects and the next
// one is a fresh session.
func openDirect(t testing.TB, db *mariadbtest.Server, params string) *sql.DB {
	t.Helper()
	h, err := sql.Open("mysql", directDSN(db, params))
	if err != nil {
		t.Fatal(err)
	}
	h.SetMaxIdleConns(0)
	t.Cleanup(func() { h.Close() })
	return h
}

// openDriver opens an rdsmux handle with at most backends backend
// connections. It keeps no idle logical connections, so a closed sql.Conn
// ends its session.
func openDriver(t testing.TB, db *mariadbtest.Server, params string, backends int) *rdsmux.DB {
	t.Helper()
	h, err := rdsmux.Open(db.UserDSN(appUser, appPass, "test",
		joinParams(driverPoolParams(backends), params)), rdsmux.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	h.SetMaxIdleConns(0)
	t.Cleanup(func() { h.Close() })
	return h
}

// driverPoolParams are the pool settings of every driver handle with that
// many backends (handles on one target must agree on them).
func driverPoolParams(backends int) string {
	return "maxConnections=" + itoa(backends) + "&connectionBorrowTimeout=" + borrowTimeout(backends).String() + "&timeout=10s"
}

// borrowTimeout is the pools' borrow timeout. The differential runs
// (maxBackends) have many sessions waiting for each other's transactions
// and pins: a minute. Smaller pools serve scripts and shrinking trials,
// whose sessions take turns in one goroutine: there a wait for a backend
// means a session holds it (a pin, a transaction) while another needs it,
// which no wait resolves, so the statement fails early with the pool's
// error (which says so) instead of stalling the suite.
func borrowTimeout(backends int) time.Duration {
	if backends >= maxBackends {
		return 60 * time.Second
	}
	return 10 * time.Second
}

// testLogger logs rdsmux's events to the test when RDSMUX_TEST_LOG is
// set, and discards them otherwise.
func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("RDSMUX_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// listener is a proxy.Server in front of a pool on the package's MariaDB.
type listener struct {
	db   *mariadbtest.Server
	pool *pool.Pool
	srv  *proxy.Server
	addr string
	stop func() // closes the listener and its pool; also at the end of the test
}

// startListener starts a listener whose pool has at most backends backend
// connections; it is closed at the end of t.
func startListener(t testing.TB, db *mariadbtest.Server, backends int) *listener {
	t.Helper()
	users := proxy.StaticUsers{appUser: appPass}
	backend := &proxy.Target{Addr: db.Addr(), Credentials: proxy.SameCredentials(users)}
	p, err := pool.New(pool.Config{Dial: backend.Dial, MaxConnections: backends,
		ConnectionBorrowTimeout: borrowTimeout(backends), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	// Backend as cmd/rdsmux sets it: the listener announces the server's
	// version and offers the capabilities it has (metadata caching).
	srv := &proxy.Server{Pool: p, Target: backend, Users: users, Logger: testLogger(t)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &listener{db: db, pool: p, srv: srv, addr: ln.Addr().String()}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }() // ends with stop below
	var once sync.Once
	l.stop = func() {
		once.Do(func() {
			srv.Close()
			if err := <-served; !errors.Is(err, proxy.ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
			p.Close()
		})
	}
	t.Cleanup(l.stop)
	return l
}

// dsn is a go-sql-driver DSN for the listener with extra parameters.
func (l *listener) dsn(params string) string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = appUser, appPass, "tcp", l.addr, "test"
	dsn := cfg.FormatDSN()
	if p := joinParams("timeout=10s", params); p != "" {
		dsn += "?" + p
	}
	return dsn
}

// open returns a go-sql-driver handle on the listener that keeps no idle
// connections: a closed sql.Conn disconnects its client session.
func (l *listener) open(t testing.TB, params string) *sql.DB {
	t.Helper()
	h, err := sql.Open("mysql", l.dsn(params))
	if err != nil {
		t.Fatal(err)
	}
	h.SetMaxIdleConns(0)
	t.Cleanup(func() { h.Close() })
	return h
}

// refused reports whether err is rdsmux refusing a look-behind statement
// (SHOW WARNINGS, FOUND_ROWS(), ...) because the session no longer holds
// the connection the state is on: pool.ErrLookBehindLost in the driver, its
// message in an error packet through the listener.
func refused(err error) bool {
	if errors.Is(err, pool.ErrLookBehindLost) {
		return true
	}
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1105 &&
		strings.Contains(me.Message, "reads the state an earlier statement left on its connection")
}

// errText is an error as compared between subject and twin: the MySQL
// error number for server errors, "refused" for a look-behind refusal,
// else the message.
func errText(err error) string {
	if err == nil {
		return ""
	}
	if refused(err) {
		return errRefused
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return "E" + itoa(int(me.Number))
	}
	return "error: " + err.Error()
}

const errRefused = "refused (look-behind)"

func itoa(n int) string {
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// createTables creates, in every schema of the suite, the tables named
// names: (id auto_increment, g int, s varchar(8)). They are dropped by the
// returned function or at the end of t, whichever comes first.
func createTables(t testing.TB, db *mariadbtest.Server, names []string) (drop func()) {
	t.Helper()
	ctx := context.Background()
	root := db.DB(t)
	var wg sync.WaitGroup
	errs := make(chan error, len(names))
	sem := make(chan struct{}, 4)
	for _, n := range names {
		wg.Add(1)
		go func() { // ends when its tables exist
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			for _, s := range schemas {
				q := "CREATE TABLE IF NOT EXISTS " + s + "." + n +
					" (id INT AUTO_INCREMENT PRIMARY KEY, g INT, s VARCHAR(8))"
				if _, err := root.ExecContext(ctx, q); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("creating the sessions' tables: %v", err)
	}
	var once sync.Once
	drop = func() { once.Do(func() { dropTables(root, names) }) }
	t.Cleanup(drop)
	return drop
}

// dropTables drops the tables named names in every schema.
func dropTables(root *sql.DB, names []string) {
	ctx := context.Background()
	for _, s := range schemas {
		for i := 0; i < len(names); i += 50 {
			j := min(i+50, len(names))
			var b strings.Builder
			for k, n := range names[i:j] {
				if k > 0 {
					b.WriteString(", ")
				}
				b.WriteString(s + "." + n)
			}
			_, _ = root.ExecContext(ctx, "DROP TABLE IF EXISTS "+b.String())
		}
	}
}
