// Package mariadbtest starts real, throwaway MariaDB (or MySQL) servers for
// tests: each in its own temporary directory, on a free loopback port, ready
// in well under a second, and stopped and removed when the test ends.
//
// A test that needs a server and cannot find one fails with a message that
// says what to install; with go test -short it is skipped instead.
package mariadbtest

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// InstallHint tells a developer how to get a server binary.
const InstallHint = "install MariaDB: `apt-get install mariadb-server` on Debian/Ubuntu " +
	"(or run `make deps`), or put mariadbd/mysqld on PATH"

// Option configures a server started by Start.
type Option func(*options)

type options struct {
	maxConnections int
	tls            bool
	serverID       int
	binlog         bool
	readOnly       bool
	semiSync       bool
	flags          []string
}

// WithMaxConnections sets the server's max_connections.
func WithMaxConnections(n int) Option { return func(o *options) { o.maxConnections = n } }

// WithTLS generates a CA and a server certificate for 127.0.0.1/localhost and
// enables TLS on the server. Server.TLSConfig returns a client config that
// trusts the CA.
func WithTLS() Option { return func(o *options) { o.tls = true } }

// WithBinlog enables the binary log (row format, GTIDs) with the given
// server_id, for replication.
func WithBinlog(serverID int) Option {
	return func(o *options) { o.binlog = true; o.serverID = serverID }
}

// WithFlags passes extra command-line flags to the server, e.g.
// "--max-allowed-packet=64M".
func WithFlags(flags ...string) Option {
	return func(o *options) { o.flags = append(o.flags, flags...) }
}

// WithSemiSync prepares the server for semi-synchronous replication in
// either role, with MariaDB's built-in semi-sync: as a primary it waits,
// after writing a transaction to its binary log and before committing it in
// the engine (rpl_semi_sync_master_wait_point=AFTER_SYNC), until a replica
// has written it to its relay log, and does not fall back to asynchronous
// replication on a slow replica (a one-hour rpl_semi_sync_master_timeout);
// as a replica it acknowledges what it received. gtid_strict_mode makes a
// replica whose binary log diverged from its primary's stop with an error
// instead of replicating on top of it. The primary side is switched on by
// StartReplicaPair and Promote; use with WithBinlog.
func WithSemiSync() Option { return func(o *options) { o.semiSync = true } }

// withReadOnly starts the server with read_only=1 (replicas).
func withReadOnly() Option { return func(o *options) { o.readOnly = true } }

// Server is a running throwaway server.
type Server struct {
	t       testing.TB // nil for servers from Launch
	dir     string
	host    string
	port    int
	binary  string
	args    []string
	tlsConf *tls.Config
	// semiSync: started WithSemiSync.
	semiSync bool

	mu      sync.Mutex // guards cmd and exited
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the current process has exited
	rootDB  *sql.DB
	logPath string
}

var (
	binOnce  sync.Once
	binPath  string
	binErr   error
	tmplOnce sync.Once
	tmplDir  string
	tmplErr  error
)

func findBinary() (string, error) {
	binOnce.Do(func() {
		for _, name := range []string{"mariadbd", "mysqld"} {
			if p, err := exec.LookPath(name); err == nil {
				binPath = p
				return
			}
			for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/mysql/bin"} {
				p := filepath.Join(dir, name)
				if _, err := os.Stat(p); err == nil {
					binPath = p
					return
				}
			}
		}
		binErr = errors.New("no mariadbd or mysqld binary found")
	})
	return binPath, binErr
}

// Available reports whether a server binary can be found.
func Available() bool {
	_, err := findBinary()
	return err == nil
}

// require fails (or, with -short, skips) the test when no server is installed.
func require(t testing.TB) string {
	t.Helper()
	bin, err := findBinary()
	if err != nil {
		if testing.Short() {
			t.Skipf("skipping in -short mode: %v; %s", err, InstallHint)
		}
		t.Fatalf("this test needs a real MariaDB server: %v; %s", err, InstallHint)
	}
	return bin
}

// template initializes one data directory per test process; each server
// starts from a copy of it.
func template(bin string) (string, error) {
	tmplOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rdsmux-mariadb-template-")
		if err != nil {
			tmplErr = err
			return
		}
		data := filepath.Join(dir, "data")
		// Each bootstrap and each server gets its own tmpdir: concurrent
		// bootstraps sharing /tmp collide on temporary table names.
		tmp := filepath.Join(dir, "tmp")
		if err := os.Mkdir(tmp, 0o700); err != nil {
			tmplErr = err
			return
		}
		install, err := exec.LookPath("mariadb-install-db")
		if err != nil {
			install, err = exec.LookPath("mysql_install_db")
		}
		if err != nil {
			tmplErr = fmt.Errorf("mariadb-install-db not found: %w; %s", err, InstallHint)
			return
		}
		args := []string{"--no-defaults", "--datadir=" + data, "--tmpdir=" + tmp, "--auth-root-authentication-method=normal",
			"--skip-test-db", "--innodb-log-file-size=8M"}
		if os.Geteuid() == 0 {
			args = append(args, "--user=root")
		}
		out, err := exec.Command(install, args...).CombinedOutput()
		if err != nil {
			tmplErr = fmt.Errorf("initializing a MariaDB data directory: %w\n%s", err, out)
			return
		}
		if err := os.Mkdir(filepath.Join(data, "test"), 0o755); err != nil {
			tmplErr = err
			return
		}
		tmplDir = data
	})
	return tmplDir, tmplErr
}

// Start starts a server and registers its shutdown with t.Cleanup.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	require(t)
	s, err := Launch(opts...)
	if s != nil {
		s.t = t
		t.Cleanup(s.Close)
	}
	if err != nil {
		t.Fatalf("mariadbtest: %v", err)
	}
	return s
}

// Launch starts a server without a test (for Example functions and
// programs); the caller must Close it.
func Launch(opts ...Option) (*Server, error) {
	bin, err := findBinary()
	if err != nil {
		return nil, fmt.Errorf("%w; %s", err, InstallHint)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	tmpl, err := template(bin)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "rdsmux-mariadb-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, host: "127.0.0.1", binary: bin}
	data := filepath.Join(dir, "data")
	if out, err := exec.Command("cp", "-a", tmpl, data).CombinedOutput(); err != nil {
		return s, fmt.Errorf("copying the template data directory: %w\n%s", err, out)
	}
	s.logPath = filepath.Join(dir, "error.log")
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return s, err
	}
	args := []string{
		"--no-defaults",
		"--datadir=" + data,
		"--tmpdir=" + tmp,
		"--bind-address=127.0.0.1",
		"--socket=" + filepath.Join(dir, "mysqld.sock"),
		"--pid-file=" + filepath.Join(dir, "mysqld.pid"),
		"--log-error=" + s.logPath,
		"--innodb-log-file-size=8M",
		"--innodb-buffer-pool-size=32M",
		"--innodb-flush-log-at-trx-commit=2",
		"--performance-schema=OFF",
		"--skip-name-resolve",
		"--max-connect-errors=1000000",
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_general_ci",
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	if o.maxConnections > 0 {
		args = append(args, "--max-connections="+strconv.Itoa(o.maxConnections))
	}
	if o.binlog {
		args = append(args,
			"--server-id="+strconv.Itoa(o.serverID),
			"--log-bin="+filepath.Join(dir, "binlog"),
			"--relay-log="+filepath.Join(dir, "relay-bin"),
			"--binlog-format=ROW",
			"--log-slave-updates",
			"--sync-binlog=0",
		)
	} else {
		args = append(args, "--skip-log-bin")
	}
	if o.readOnly {
		args = append(args, "--read-only=1")
	}
	if o.semiSync {
		s.semiSync = true
		args = append(args,
			"--rpl-semi-sync-master-wait-point=AFTER_SYNC",
			"--rpl-semi-sync-master-timeout=3600000",
			"--rpl-semi-sync-slave-enabled=ON",
			"--gtid-strict-mode=ON",
		)
	}
	if o.tls {
		files, conf, err := writeTLSFiles(dir)
		if err != nil {
			return s, fmt.Errorf("generating TLS certificates: %w", err)
		}
		s.tlsConf = conf
		args = append(args, "--ssl-ca="+files.ca, "--ssl-cert="+files.cert, "--ssl-key="+files.key)
	}
	args = append(args, o.flags...)
	s.args = args
	if err := s.startProcess(); err != nil {
		return s, err
	}
	return s, nil
}

// startProcess picks a free port and starts the server, retrying when the
// port was taken between picking and binding.
func (s *Server) startProcess() error {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		if lastErr = s.launch(port); lastErr == nil {
			return nil
		}
	}
	return lastErr
}

// launch starts the server process on port with the flags of Launch and
// extra (for this run of the process only).
func (s *Server) launch(port int, extra ...string) error {
	args := append(append(append([]string{}, s.args...), extra...), "--port="+strconv.Itoa(port))
	cmd := exec.Command(s.binary, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.binary, err)
	}
	exited := make(chan struct{})
	go func() { // owned by the Server; ends when the process exits
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	s.port = port

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("mariadbd exited during startup on port %d:\n%s", port, s.logTail())
		default:
		}
		conn, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond)
		if err == nil {
			conn.Close()
			db, err := sql.Open("mysql", s.DSN("timeout=2s"))
			if err == nil {
				err = db.Ping()
				db.Close()
			}
			if err == nil {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("mariadbd did not accept connections within 30s:\n%s", s.logTail())
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.Contains(l, "[Note]") {
			lines = append(lines, l)
		}
	}
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// Close kills the server and removes its directory. Start registers it
// with t.Cleanup; callers of Launch call it themselves.
func (s *Server) Close() {
	if s.rootDB != nil {
		s.rootDB.Close()
	}
	s.Kill()
	if s.t != nil && s.t.Failed() {
		s.t.Logf("mariadbtest: server log of %s:\n%s", s.Addr(), s.logTail())
	}
	os.RemoveAll(s.dir)
}

// Addr is the server's "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// Host is the server's host, always a loopback address.
func (s *Server) Host() string { return s.host }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.port }

// Dir is the server's temporary directory (data directory, logs, certificates).
func (s *Server) Dir() string { return s.dir }

// DSN is a go-sql-driver DSN for root (no password) on database test, with
// extra parameters such as "parseTime=true" (may be empty).
func (s *Server) DSN(params string) string {
	return s.UserDSN("root", "", "test", params)
}

// UserDSN is a go-sql-driver DSN for the given user, password and database.
func (s *Server) UserDSN(user, pass, db, params string) string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = user, pass, "tcp", s.Addr(), db
	dsn := cfg.FormatDSN()
	if params != "" {
		if strings.Contains(dsn, "?") {
			dsn += "&" + params
		} else {
			dsn += "?" + params
		}
	}
	return dsn
}

// DB returns a root connection pool to database test, closed at cleanup.
func (s *Server) DB(t testing.TB) *sql.DB {
	t.Helper()
	if s.rootDB == nil {
		db, err := sql.Open("mysql", s.DSN("timeout=5s"))
		if err != nil {
			t.Fatalf("mariadbtest: %v", err)
		}
		s.rootDB = db
	}
	return s.rootDB
}

// Exec runs a statement as root and fails the test on error.
func (s *Server) Exec(t testing.TB, query string, args ...any) {
	t.Helper()
	if _, err := s.DB(t).Exec(query, args...); err != nil {
		t.Fatalf("mariadbtest: %s: %v", query, err)
	}
}

// QueryInt runs a query that returns one integer and fails the test on error.
func (s *Server) QueryInt(t testing.TB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := s.DB(t).QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("mariadbtest: %s: %v", query, err)
	}
	return n
}

// CreateUser creates user@'%' identified by password (mysql_native_password)
// with all privileges on *.*.
func (s *Server) CreateUser(t testing.TB, user, password string) {
	t.Helper()
	s.Exec(t, "CREATE USER IF NOT EXISTS "+Quote(user)+"@'%' IDENTIFIED BY "+Quote(password))
	s.Exec(t, "GRANT ALL PRIVILEGES ON *.* TO "+Quote(user)+"@'%' WITH GRANT OPTION")
}

// SetPassword changes the password of user@'%'.
func (s *Server) SetPassword(t testing.TB, user, password string) {
	t.Helper()
	s.Exec(t, "ALTER USER "+Quote(user)+"@'%' IDENTIFIED BY "+Quote(password))
}

// TLSConfig returns a client TLS configuration that trusts the server's
// generated CA, or nil when the server was started without WithTLS.
func (s *Server) TLSConfig() *tls.Config {
	if s.tlsConf == nil {
		return nil
	}
	return s.tlsConf.Clone()
}

// ThreadsConnected reads the server's Threads_connected status (the root
// connection used to read it counts).
func (s *Server) ThreadsConnected(t testing.TB) int {
	t.Helper()
	var name string
	var n int
	if err := s.DB(t).QueryRow("SHOW GLOBAL STATUS LIKE 'Threads_connected'").Scan(&name, &n); err != nil {
		t.Fatalf("mariadbtest: reading Threads_connected: %v", err)
	}
	return n
}

// ConnectionsOf counts the server's client connections of user.
func (s *Server) ConnectionsOf(t testing.TB, user string) int {
	t.Helper()
	return int(s.QueryInt(t, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?", user))
}

// Kill stops the server with SIGKILL, as a crash would, and waits for it to
// exit. It is safe to call more than once.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
	if s.rootDB != nil {
		s.rootDB.Close()
		s.rootDB = nil
	}
}

// Stop shuts the server down cleanly (SIGTERM) and waits for it to exit.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	if s.rootDB != nil {
		s.rootDB.Close()
		s.rootDB = nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		s.Kill()
	}
}

// Restart starts a stopped or killed server again on the same port and data
// directory.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill()
	if err := s.launch(s.port); err != nil {
		t.Fatalf("mariadbtest: restarting: %v", err)
	}
}

// Running reports whether the server process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	exited := s.exited
	s.mu.Unlock()
	if exited == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// Ping checks that the server answers a query within ctx.
func (s *Server) Ping(ctx context.Context) error {
	db, err := sql.Open("mysql", s.DSN("timeout=2s"))
	if err != nil {
		return err
	}
	defer db.Close()
	return db.PingContext(ctx)
}

// Quote returns s as a single-quoted SQL string literal, for statements
// that take no placeholders (CREATE USER, ALTER USER).
func Quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`)
	return "'" + r.Replace(s) + "'"
}
