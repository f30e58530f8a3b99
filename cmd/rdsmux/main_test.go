package main

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

func TestParseFlags(t *testing.T) {
	dir := t.TempDir()
	cred := filepath.Join(dir, "users.json")
	must(t, os.WriteFile(cred, []byte(`{"users": [{"name": "report", "password": "s2", "backend_user": "ro", "backend_password": "db"}]}`), 0o600))
	c, err := parseFlags([]string{"-target", "127.0.0.1:3306", "-user", "app:a:b", "-credentials", cred, "-max-connections", "20"}, io.Discard)
	must(t, err)
	users, err := loadUsers(c)
	must(t, err)
	require.Len(t, users, 2)
	assert.Equal(t, "a:b", users[0].Password)
	assert.Equal(t, "ro", users[1].BackendUser)
	assert.Equal(t, 20, c.maxConnections)
	assert.Equal(t, []string{"-user"}, c.passwordFlags)

	for _, bad := range []struct {
		args []string
		want string // the setting the error must name
	}{
		{[]string{"-user", "app:x"}, "-target"},
		{[]string{"-target", "h:1"}, "-credentials"},
		{[]string{"-target", "db.internal", "-user", "a:1"}, "-target"}, // no port
		{[]string{"-target", "h:port", "-user", "a:1"}, "-target"},
		{[]string{"-target", ":3306", "-user", "a:1"}, "-target"},
		{[]string{"-target", "h:1", "-user", "nocolon"}, "-user"},
		{[]string{"-target", "h:1", "-user", "a:1", "-user", "a:2"}, "-user"},
		{[]string{"-target", "h:1", "-user", "a:1", "-require-tls"}, "-require-tls"},
		{[]string{"-target", "h:1", "-user", "a:1", "-max-connections-percent", "0"}, "-max-connections-percent"},
		{[]string{"-target", "h:1", "-user", "a:1", "-borrow-timeout", "0s"}, "-borrow-timeout"},
		{[]string{"-target", "h:1", "-user", "a:1", "-metrics", "9104"}, "-metrics"},
		{[]string{"-target", "h:1", "-user", "a:1", "-pprof"}, "-metrics"},
		{[]string{"-target", "h:1", "-user", "a:1", "-backend-password", "x"}, "-backend-password"},
		{[]string{"-target", "h:1", "-user", "a:1", "-backend-secret", "arn", "-backend-user", "u"}, "-backend-secret"},
	} {
		_, err := parseFlags(bad.args, io.Discard)
		if assert.Error(t, err, "%q accepted", bad.args) {
			assert.Contains(t, err.Error(), bad.want, "%q", bad.args)
		}
	}
	c, err = parseFlags([]string{"-target", "h:1", "-credentials", "/nonexistent"}, io.Discard)
	must(t, err)
	_, err = loadUsers(c)
	assert.ErrorContains(t, err, "-credentials")
	must(t, os.WriteFile(cred, []byte(`{"users": [{"name": "x", "pasword": "typo"}]}`), 0o600))
	_, err = loadUsers(&config{credFile: cred})
	assert.Error(t, err, "unknown field in -credentials accepted")
}

// TestConfigSources: the -config file, then RDSMUX_* variables, then
// flags, each winning over the one before.
func TestConfigSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rdsmux.yaml")
	must(t, os.WriteFile(file, []byte("target: file-host:3306\nmax-connections: 7\nborrow-timeout: 5s\nuser:\n  - a:1\n  - b:2\n"), 0o600))
	c, err := parseFlags([]string{"-config", file}, io.Discard)
	must(t, err)
	assert.Equal(t, "file-host:3306", c.target)
	assert.Equal(t, 7, c.maxConnections)
	assert.Equal(t, 5*time.Second, c.borrowTimeout)
	assert.Len(t, c.users, 2)
	assert.Empty(t, c.passwordFlags, "users from the file are not on the command line")

	t.Setenv("RDSMUX_TARGET", "env-host:3306")
	t.Setenv("RDSMUX_BACKEND_USER", "svc")
	t.Setenv("RDSMUX_BACKEND_PASSWORD", "from-env")
	c, err = parseFlags([]string{"-config", file, "-max-connections", "9"}, io.Discard)
	must(t, err)
	assert.Equal(t, "env-host:3306", c.target)
	assert.Equal(t, 9, c.maxConnections)
	assert.Equal(t, "from-env", c.backendPassword)

	t.Setenv("RDSMUX_CONFIG", file)
	t.Setenv("RDSMUX_TARGET", "")
	c, err = parseFlags(nil, io.Discard)
	must(t, err)
	assert.Equal(t, "file-host:3306", c.target)

	must(t, os.WriteFile(file, []byte("target: nowhere\nuser: [a:1]\n"), 0o600))
	_, err = parseFlags(nil, io.Discard)
	assert.ErrorContains(t, err, "-target")
}

func TestUsageAndVersion(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-h"}, &out, io.Discard, nil, nil)
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.True(t, strings.HasPrefix(out.String(), "rdsmux: a MySQL-protocol listener"), "-h starts with the synopsis:\n%s", out.String())
	for _, want := range []string{"Usage:", "Examples:", "-backend-secret", "RDSMUX_", "prefer", "SIGHUP", "/readyz"} {
		assert.Contains(t, out.String(), want)
	}
	out.Reset()
	must(t, run(context.Background(), []string{"-version"}, &out, io.Discard, nil, nil))
	assert.Regexp(t, `^rdsmux \S+\n$`, out.String())
}

// listenerRun is the command run in-process by a test.
type listenerRun struct {
	clients, metrics string
	logs             *syncBuffer
	reload           chan struct{}
	cancel           context.CancelFunc
	done             chan error
}

// startRun runs the command with args until the test ends (or stop).
func startRun(t *testing.T, args ...string) *listenerRun {
	t.Helper()
	r := &listenerRun{logs: &syncBuffer{}, reload: make(chan struct{}), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	addrs := make(chan [2]string, 1)
	go func() { // the command; ends when ctx is cancelled
		r.done <- run(ctx, append([]string{"-listen", "127.0.0.1:0", "-metrics", "127.0.0.1:0"}, args...),
			io.Discard, r.logs, func(c, m string) { addrs <- [2]string{c, m} }, r.reload)
	}()
	select {
	case a := <-addrs:
		r.clients, r.metrics = a[0], a[1]
	case err := <-r.done:
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the command (as SIGTERM does) and waits for it.
func (r *listenerRun) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		must(t, err)
	case <-time.After(60 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// scrape reads /metrics with the Prometheus text parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	must(t, err)
	defer resp.Body.Close()
	var p expfmt.TextParser
	mf, err := p.TextToMetricFamilies(resp.Body)
	must(t, err)
	return mf
}

// value returns the value of the single sample of family name.
func value(t *testing.T, mf map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	f, ok := mf[name]
	require.True(t, ok, "/metrics lacks %s", name)
	require.Len(t, f.Metric, 1, name)
	m := f.Metric[0]
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	t.Fatalf("%s is neither a gauge nor a counter", name)
	return 0
}

// TestRunEndToEnd runs the command against MariaDB: clients connect, a pin
// is logged with its reason, /metrics parses and carries the listener's,
// the pool's, the runtime's and the build's metrics with real latency
// histograms, /healthz and /readyz answer, and cancelling (as SIGTERM does)
// drains and returns.
func TestRunEndToEnd(t *testing.T) {
	db := mariadbtest.Start(t)
	db.CreateUser(t, "app", "pw")
	r := startRun(t, "-target", db.Addr(), "-user", "app:pw", "-max-connections", "3", "-debug")

	client, err := sql.Open("mysql", "app:pw@tcp("+r.clients+")/test")
	must(t, err)
	defer client.Close()
	ctx := context.Background()
	conn, err := client.Conn(ctx)
	must(t, err)
	var v int
	for range 5 {
		must(t, conn.QueryRowContext(ctx, "SELECT 1").Scan(&v))
	}
	_, err = conn.ExecContext(ctx, "SET @pinned = 1")
	must(t, err)

	mf := scrape(t, r.metrics)
	assert.Equal(t, 1.0, value(t, mf, "rdsmux_client_connections"))
	assert.Equal(t, 1.0, value(t, mf, "rdsmux_client_connections_no_tls"))
	assert.Equal(t, 0.0, value(t, mf, "rdsmux_client_connections_tls"))
	assert.Equal(t, 0.0, value(t, mf, "rdsmux_client_connections_refused_no_tls_total"))
	assert.Equal(t, 1.0, value(t, mf, "rdsmux_database_connections"))
	assert.Equal(t, 1.0, value(t, mf, "rdsmux_ready"))
	assert.GreaterOrEqual(t, value(t, mf, "rdsmux_query_requests_total"), 6.0)
	// The fields the hand-written exporter left out.
	for _, name := range []string{"rdsmux_database_connections_dial_retries_total", "rdsmux_database_server_max_connections",
		"rdsmux_database_connections_borrows_canceled_total", "rdsmux_database_connections_health_checks_total",
		"rdsmux_database_connections_borrow_wait_seconds_total", "rdsmux_database_connections_max_idle",
		"rdsmux_database_connections_opening", "rdsmux_database_connections_reuse_exact_match_total",
		"go_goroutines", "process_open_fds"} {
		value(t, mf, name)
	}
	pins := mf["rdsmux_database_connections_session_pins_total"]
	require.NotNil(t, pins)
	found := false
	for _, m := range pins.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["reason"] == "user-variable" {
			found = true
			assert.Equal(t, 1.0, m.Counter.GetValue())
			assert.Equal(t, "writer", labels["endpoint"], "the main listener's series are endpoint=\"writer\"")
		}
	}
	assert.True(t, found, "no user-variable pin reason")
	for _, name := range []string{"rdsmux_query_database_response_latency_seconds", "rdsmux_query_response_latency_seconds",
		"rdsmux_database_connections_borrow_latency_seconds"} {
		f := mf[name]
		require.NotNil(t, f, name)
		require.Equal(t, dto.MetricType_HISTOGRAM, f.GetType(), name)
		h := f.Metric[0].Histogram
		assert.GreaterOrEqual(t, h.GetSampleCount(), uint64(6), name)
		assert.Greater(t, h.GetSampleSum(), 0.0, name)
		last := h.Bucket[len(h.Bucket)-1]
		assert.LessOrEqual(t, last.GetCumulativeCount(), h.GetSampleCount(), name)
	}
	db2 := mf["rdsmux_query_database_response_latency_seconds"].Metric[0].Histogram
	resp := mf["rdsmux_query_response_latency_seconds"].Metric[0].Histogram
	assert.LessOrEqual(t, db2.GetSampleSum(), resp.GetSampleSum(), "database time is part of the client-seen time")
	bi := mf["rdsmux_build_info"]
	require.NotNil(t, bi)
	labels := map[string]string{}
	for _, l := range bi.Metric[0].Label {
		labels[l.GetName()] = l.GetValue()
	}
	assert.NotEmpty(t, labels["version"])
	assert.True(t, strings.HasPrefix(labels["goversion"], "go"), labels["goversion"])

	assert.Equal(t, "ok\n", get(t, "http://"+r.metrics+"/healthz"))
	assert.Equal(t, "ok\n", get(t, "http://"+r.metrics+"/readyz"))
	conn.Close()
	client.Close()
	r.stop(t)
	out := r.logs.String()
	for _, want := range []string{`"reasons":"user-variable"`, `"msg":"rdsmux: draining"`, `"msg":"rdsmux: stopped"`} {
		assert.Contains(t, out, want)
	}
}

// TestReadyzFollowsDatabase: /readyz turns 503 once the database has been
// unreachable for the failure window, the failures are logged without
// -debug, and it turns 200 again once the database is back; /healthz
// (liveness) stays 200 throughout.
func TestReadyzFollowsDatabase(t *testing.T) {
	db := mariadbtest.Start(t)
	db.CreateUser(t, "app", "pw")
	r := startRun(t, "-target", db.Addr(), "-user", "app:pw",
		"-readiness-probe-interval", "50ms", "-readiness-failure-window", "200ms")
	readyz := func() int {
		resp, err := http.Get("http://" + r.metrics + "/readyz")
		must(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("still not %s after 60s; log:\n%s", what, r.logs.String())
			}
		}
	}
	waitFor("ready", func() bool { return readyz() == http.StatusOK })

	db.Kill()
	waitFor("unready with the database killed", func() bool { return readyz() == http.StatusServiceUnavailable })
	assert.Equal(t, "ok\n", get(t, "http://"+r.metrics+"/healthz"))
	assert.Equal(t, 0.0, value(t, scrape(t, r.metrics), "rdsmux_ready"))
	assert.Contains(t, r.logs.String(), `"level":"WARN","msg":"rdsmux: cannot connect to the database"`)

	db.Restart(t)
	waitFor("ready with the database back", func() bool { return readyz() == http.StatusOK })
	assert.Contains(t, r.logs.String(), `"msg":"rdsmux: the database answers again"`)
	client, err := sql.Open("mysql", "app:pw@tcp("+r.clients+")/test")
	must(t, err)
	defer client.Close()
	var v int
	must(t, client.QueryRow("SELECT 1").Scan(&v))
}

func TestReadyzDraining(t *testing.T) {
	h := newHealth(slog.New(slog.DiscardHandler), time.Hour)
	ok, _ := h.ready()
	assert.True(t, ok)
	h.draining.Store(true)
	ok, why := h.ready()
	assert.False(t, ok)
	assert.Equal(t, "draining", why)
}

// TestPprofOnlyWhenAsked: Go's profiles are served on the metrics address
// with -pprof and not without it.
func TestPprofOnlyWhenAsked(t *testing.T) {
	db := mariadbtest.Start(t)
	db.CreateUser(t, "app", "pw")
	status := func(r *listenerRun) int {
		resp, err := http.Get("http://" + r.metrics + "/debug/pprof/cmdline")
		must(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	off := startRun(t, "-target", db.Addr(), "-user", "app:pw")
	assert.Equal(t, http.StatusNotFound, status(off), "profiles served without -pprof")
	off.stop(t)
	on := startRun(t, "-target", db.Addr(), "-user", "app:pw", "-pprof")
	assert.Equal(t, http.StatusOK, status(on))
	assert.Contains(t, get(t, "http://"+on.metrics+"/debug/pprof/"), "mutex")
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return string(b)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func must(t testing.TB, err error) {
	t.Helper()
	require.NoError(t, err)
}

func TestLivenessWedged(t *testing.T) {
	var mu sync.Mutex
	var checks int // guarded by mu
	l := &liveness{check: func() {
		mu.Lock()
		checks++
		mu.Unlock()
	}, timeout: 50 * time.Millisecond}
	assert.True(t, l.alive())
	mu.Lock() // as a deadlocked pool would hold its lock
	assert.False(t, l.alive())
	assert.False(t, l.alive(), "a second check while the first is stuck")
	mu.Unlock()
	assert.Eventually(t, l.alive, 10*time.Second, 10*time.Millisecond)
	mu.Lock()
	assert.LessOrEqual(t, checks, 3, "the stuck check was run again instead of waited for")
	mu.Unlock()
}

// TestSecretsOffTheCommandLine: client users from RDSMUX_USER, the backend
// password from RDSMUX_BACKEND_PASSWORD, and a warning naming the flag when
// a password is on the command line.
func TestSecretsOffTheCommandLine(t *testing.T) {
	db := mariadbtest.Start(t)
	db.CreateUser(t, "svc", "svc-pw")
	t.Setenv("RDSMUX_USER", "app:env-pw")
	t.Setenv("RDSMUX_BACKEND_PASSWORD", "svc-pw")
	r := startRun(t, "-target", db.Addr(), "-backend-user", "svc")
	c, err := sql.Open("mysql", "app:env-pw@tcp("+r.clients+")/test")
	must(t, err)
	defer c.Close()
	must(t, c.Ping())
	assert.NotContains(t, r.logs.String(), "command line")

	t.Setenv("RDSMUX_USER", "")
	r2 := startRun(t, "-target", db.Addr(), "-user", "app:pw", "-backend-user", "svc")
	assert.Contains(t, r2.logs.String(), `"level":"WARN","msg":"rdsmux: a password was given on the command line`)
	assert.Contains(t, r2.logs.String(), `"flag":"-user"`)
	assert.NotContains(t, r2.logs.String(), "svc-pw")
}

// TestReadyzWhileDraining: once draining starts (SIGTERM), /readyz answers
// 503 while a client finishes its transaction, and /healthz stays 200.
func TestReadyzWhileDraining(t *testing.T) {
	db := mariadbtest.Start(t)
	db.CreateUser(t, "app", "pw")
	r := startRun(t, "-target", db.Addr(), "-user", "app:pw")
	client, err := sql.Open("mysql", "app:pw@tcp("+r.clients+")/test")
	must(t, err)
	defer client.Close()
	tx, err := client.Begin()
	must(t, err)
	var v int
	must(t, tx.QueryRow("SELECT 1").Scan(&v))
	assert.Equal(t, "ok\n", get(t, "http://"+r.metrics+"/readyz"))

	r.cancel() // as SIGTERM does; the open transaction holds the drain
	status := func(path string) int {
		resp, err := http.Get("http://" + r.metrics + path)
		must(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Eventually(t, func() bool { return status("/readyz") == http.StatusServiceUnavailable }, 30*time.Second, 10*time.Millisecond)
	assert.Equal(t, http.StatusOK, status("/healthz"))
	must(t, tx.QueryRow("SELECT 2").Scan(&v))
	must(t, tx.Commit())
	select {
	case err := <-r.done:
		must(t, err)
	case <-time.After(60 * time.Second):
		t.Fatal("run did not return after the transaction ended")
	}
	r.cancel = nil
}

// TestBackendTLSWithSeveralHosts: -backend-tls with -failover's host list
// builds (each connection checks its own host's name).
func TestBackendTLSWithSeveralHosts(t *testing.T) {
	c, err := parseFlags([]string{"-target", "127.0.0.1:1,127.0.0.1:2", "-failover", "readonly", "-backend-tls",
		"-user", "a:1", "-backend-user", "svc"}, io.Discard)
	must(t, err)
	creds, err := newCredStore(context.Background(), c)
	must(t, err)
	b, err := newBackend(c, creds)
	must(t, err)
	assert.Empty(t, b.TLSConfig.ServerName)
}
