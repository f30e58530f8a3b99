package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// buildRdsmux builds the command into a temporary directory.
func buildRdsmux(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rdsmux")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// logWatcher collects a subprocess's JSON log lines.
type logWatcher struct {
	lines chan map[string]any
	all   syncBuffer
}

func watchLog(r io.Reader) *logWatcher {
	w := &logWatcher{lines: make(chan map[string]any, 100)}
	go func() { // ends when the process closes its stderr
		defer close(w.lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			w.all.Write(append(sc.Bytes(), '\n'))
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				w.lines <- m
			}
		}
	}()
	return w
}

// wait returns the next log line whose msg is msg.
func (w *logWatcher) wait(t *testing.T, msg string) map[string]any {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case m, ok := <-w.lines:
			if !ok {
				t.Fatalf("rdsmux exited before logging %q:\n%s", msg, w.all.String())
			}
			if m["msg"] == msg {
				return m
			}
		case <-timeout:
			t.Fatalf("no %q in the log after 60s:\n%s", msg, w.all.String())
		}
	}
}

func writeCredentials(t *testing.T, path string, users ...userEntry) {
	t.Helper()
	b, err := json.Marshal(credentialsFile{Users: users})
	must(t, err)
	must(t, os.WriteFile(path, b, 0o600))
}

// TestSIGHUPReloadsCredentials runs the built binary, reloads its
// -credentials with SIGHUP while a client is connected in a transaction:
// the process lives on, logs the names that changed, the next logins see
// the new users and passwords, and the connected client keeps working.
func TestSIGHUPReloadsCredentials(t *testing.T) {
	db := mariadbtest.Start(t)
	db.CreateUser(t, "svc", "svc-pw")
	db.Exec(t, "CREATE TABLE test.t (id INT PRIMARY KEY)")
	bin := buildRdsmux(t)
	cred := filepath.Join(t.TempDir(), "users.json")
	writeCredentials(t, cred, userEntry{Name: "app", Password: "pw1"}, userEntry{Name: "old", Password: "pwo"})

	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-target", db.Addr(), "-credentials", cred, "-backend-user", "svc")
	cmd.Env = append(os.Environ(), "RDSMUX_BACKEND_PASSWORD=svc-pw")
	stderr, err := cmd.StderrPipe()
	must(t, err)
	must(t, cmd.Start())
	exited := make(chan struct{})
	var waitErr error
	go func() { // ends when the process does
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	logs := watchLog(stderr)
	addr, _ := logs.wait(t, "rdsmux: listening")["addr"].(string)
	require.NotEmpty(t, addr)
	assert.NotContains(t, logs.all.String(), "svc-pw")

	login := func(user, pw string) (*sql.DB, error) {
		c, err := sql.Open("mysql", user+":"+pw+"@tcp("+addr+")/test")
		must(t, err)
		t.Cleanup(func() { c.Close() })
		return c, c.Ping()
	}
	held, err := login("app", "pw1")
	must(t, err)
	ctx := context.Background()
	tx, err := held.BeginTx(ctx, nil)
	must(t, err)
	_, err = tx.Exec("INSERT INTO t VALUES (1)")
	must(t, err)

	writeCredentials(t, cred, userEntry{Name: "app", Password: "pw2"}, userEntry{Name: "new", Password: "pwn"})
	must(t, cmd.Process.Signal(syscall.SIGHUP))
	m := logs.wait(t, "rdsmux: credentials reloaded")
	assert.Equal(t, []any{"new"}, m["added"])
	assert.Equal(t, []any{"old"}, m["removed"])
	assert.Equal(t, []any{"app"}, m["changed"])
	for _, secret := range []string{"pw1", "pw2", "pwn", "pwo"} {
		assert.NotContains(t, logs.all.String(), secret)
	}

	// The connected client's transaction goes on.
	_, err = tx.Exec("INSERT INTO t VALUES (2)")
	must(t, err)
	must(t, tx.Commit())
	assert.EqualValues(t, 2, db.QueryInt(t, "SELECT COUNT(*) FROM test.t"))

	_, err = login("app", "pw1")
	assert.ErrorContains(t, err, "1045", "the old password still works")
	_, err = login("old", "pwo")
	assert.ErrorContains(t, err, "1045", "the removed user still logs in")
	_, err = login("app", "pw2")
	assert.NoError(t, err)
	c, err := login("new", "pwn")
	must(t, err)
	var n int
	must(t, c.QueryRow("SELECT COUNT(*) FROM t").Scan(&n))
	assert.Equal(t, 2, n)

	// A broken file keeps the users in force.
	must(t, os.WriteFile(cred, []byte("{not json"), 0o600))
	must(t, cmd.Process.Signal(syscall.SIGHUP))
	logs.wait(t, "rdsmux: reloading the credentials failed; the previous ones stay in force")
	_, err = login("new", "pwn")
	assert.NoError(t, err)

	must(t, cmd.Process.Signal(syscall.SIGTERM))
	logs.wait(t, "rdsmux: stopped")
	select {
	case <-exited:
		assert.NoError(t, waitErr)
	case <-time.After(60 * time.Second):
		t.Fatal("rdsmux did not exit after SIGTERM")
	}
}
