package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/proxy"
)

func TestParseFlags(t *testing.T) {
	dir := t.TempDir()
	cred := filepath.Join(dir, "users.json")
	must(t, os.WriteFile(cred, []byte(`{"users": [{"name": "report", "password": "s2", "backend_user": "ro", "backend_password": "db"}]}`), 0o600))
	c, err := parseFlags([]string{"-target", "127.0.0.1:3306", "-user", "app:a:b", "-credentials", cred, "-max-connections", "20"})
	must(t, err)
	if len(c.users) != 2 || c.users[0].Password != "a:b" || c.users[1].BackendUser != "ro" || c.maxConnections != 20 {
		t.Fatalf("parsed %+v", c)
	}
	for _, bad := range [][]string{
		{"-user", "app:x"},                                 // no target
		{"-target", "h:1"},                                 // no users
		{"-target", "h:1", "-user", "nocolon"},             // bad -user
		{"-target", "h:1", "-user", "a:1", "-user", "a:2"}, // duplicate
		{"-target", "h:1", "-user", "a:1", "-require-tls"}, // no cert
		{"-target", "h:1", "-user", "a:1", "-credentials", "/nonexistent"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
	must(t, os.WriteFile(cred, []byte(`{"users": [{"name": "x", "pasword": "typo"}]}`), 0o600))
	if _, err := parseFlags([]string{"-target", "h:1", "-credentials", cred}); err == nil {
		t.Error("unknown field in -credentials accepted")
	}
}

func TestWriteMetrics(t *testing.T) {
	var b bytes.Buffer
	st := proxy.Stats{ClientConnections: 3, QueryRequests: 10}
	st.Pool.DatabaseConnectionsBorrowLatency.Counts[0] = 5
	must(t, writeMetrics(&b, st))
	out := b.String()
	for _, want := range []string{
		"# TYPE rdsmux_client_connections gauge\nrdsmux_client_connections 3\n",
		"rdsmux_query_requests_total 10\n",
		`rdsmux_session_pins_total{reason="user-variable"} 0`,
		`rdsmux_database_connections_borrow_latency_seconds_bucket{le="+Inf"} 5`,
		"rdsmux_database_connections_borrow_latency_seconds_count 5\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Every sample line is "name[{labels}] value".
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if f := strings.Fields(line); len(f) != 2 || !strings.HasPrefix(f[0], "rdsmux_") {
			t.Errorf("bad sample line %q", line)
		}
	}
}

// TestRunEndToEnd runs the command against MariaDB: clients connect, a pin
// is logged with its reason, /metrics and /healthz answer, and cancelling
// (as SIGTERM does) drains and returns.
func TestRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MariaDB")
	}
	db := mariadbtest.Start(t)
	db.CreateUser(t, "app", "pw")
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() { // the command; ends when ctx is cancelled
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-metrics", "127.0.0.1:0", "-target", db.Addr(),
			"-user", "app:pw", "-max-connections", "3", "-debug"}, &logs, func(c, m string) { addrs <- [2]string{c, m} })
	}()
	var a [2]string
	select {
	case a = <-addrs:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	client, err := sql.Open("mysql", "app:pw@tcp("+a[0]+")/test")
	must(t, err)
	defer client.Close()
	conn, err := client.Conn(context.Background())
	must(t, err)
	var v int
	must(t, conn.QueryRowContext(context.Background(), "SELECT 1").Scan(&v))
	_, err = conn.ExecContext(context.Background(), "SET @pinned = 1")
	must(t, err)
	metrics := get(t, "http://"+a[1]+"/metrics")
	for _, want := range []string{"rdsmux_client_connections 1", `rdsmux_session_pins_total{reason="user-variable"} 1`, "rdsmux_database_connections 1"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics)
		}
	}
	if h := get(t, "http://"+a[1]+"/healthz"); h != "ok\n" {
		t.Errorf("/healthz = %q", h)
	}
	conn.Close()
	client.Close()
	cancel()
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	out := logs.String()
	for _, want := range []string{`"reasons":"user-variable"`, `"msg":"rdsmux: draining"`, `"msg":"rdsmux: stopped"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
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
	if err != nil {
		t.Fatal(err)
	}
}
