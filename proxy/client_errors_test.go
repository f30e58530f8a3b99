package proxy_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/proxy"
)

// TestClientLibrariesSeeListenerErrors: the listener's own failures (a
// backend lost mid-statement, a database it cannot reach) reach every
// client library as the listener's code and message. Client-side codes
// (2003, 2013) in an ERR packet made libmariadb-based clients (the mariadb
// CLI, mysqlclient, DBD::MariaDB) answer "ERROR 2027 (HY000): Received
// malformed packet" instead.
func TestClientLibrariesSeeListenerErrors(t *testing.T) {
	clients := realClients(t)
	db := startPrivateDB(t)
	e := startEnv(t, withDB(db), withBackends(len(clients)+2))

	// A backend lost mid-statement: every client runs SELECT SLEEP, then
	// the database dies.
	sleep := "SELECT SLEEP(60) /* lost-backend */"
	var wg sync.WaitGroup
	var cliOut string
	var cliErr error
	wg.Add(1)
	go func() { // ends when the database dies
		defer wg.Done()
		cliOut, cliErr = mariadbCLI(t, e.addr, "-u", appUser, "-p"+appPass, "--skip-ssl", "test", "-e", sleep)
	}()
	var lost map[string]map[string]checkResult
	wg.Add(1)
	go func() { // ends when the database dies
		defer wg.Done()
		lost = runAll(t, clients, e.addr, appUser, appPass, "test", map[string]string{"RDSMUX_SQL": sleep}, "probe")
	}()
	root := db.DB(t)
	want := len(clients) + 1
	for deadline := time.Now().Add(30 * time.Second); ; {
		var n int
		require.NoError(t, root.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(60)%' AND INFO NOT LIKE '%PROCESSLIST%'").Scan(&n))
		if n == want {
			break
		}
		if time.Now().After(deadline) {
			rows, _ := root.Query("SELECT CONCAT_WS(' ', USER, COMMAND, IFNULL(INFO, '')) FROM information_schema.PROCESSLIST")
			for rows != nil && rows.Next() {
				var s string
				_ = rows.Scan(&s)
				t.Log(s)
			}
			t.Fatalf("%d of %d clients' statements reached the database", n, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	db.Kill()
	wg.Wait()
	t.Logf("mariadb CLI: %s", cliOut)
	assert.Error(t, cliErr)
	assert.Contains(t, cliOut, "ERROR 1158 (08S01)")
	assert.Contains(t, cliOut, "Lost connection to the database")
	for _, name := range names(lost) {
		expectListenerError(t, name, lost[name]["probe"], proxy.ErLostBackend, "Lost connection to the database")
	}

	// The database is down: no backend can be opened. The client logs in
	// (no database asked for) and its first statement fails.
	cliOut, cliErr = mariadbCLI(t, e.addr, "-u", appUser, "-p"+appPass, "--skip-ssl", "-e", "SELECT 1")
	t.Logf("mariadb CLI: %s", cliOut)
	assert.Error(t, cliErr)
	assert.Contains(t, cliOut, "ERROR 1429 (HY000)")
	assert.Contains(t, cliOut, "rdsmux listener")
	down := runAll(t, clients, e.addr, appUser, appPass, "", map[string]string{"RDSMUX_SQL": "SELECT 1"}, "probe")
	for _, name := range names(down) {
		expectListenerError(t, name, down[name]["probe"], proxy.ErBackendUnavailable, "rdsmux listener")
	}
	// With a database asked for, the error comes at login.
	cliOut, _ = mariadbCLI(t, e.addr, "-u", appUser, "-p"+appPass, "--skip-ssl", "test", "-e", "SELECT 1")
	assert.Contains(t, cliOut, "ERROR 1429 (HY000)")

	// go-sql-driver.
	sdb, err := sql.Open("mysql", e.dsn(appUser, appPass, ""))
	require.NoError(t, err)
	defer sdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = sdb.QueryRowContext(ctx, "SELECT 1").Scan(new(int))
	var me *mysql.MySQLError
	if assert.ErrorAs(t, err, &me) {
		assert.Equal(t, proxy.ErBackendUnavailable, me.Number)
		assert.Contains(t, me.Message, "rdsmux listener")
	}
}

// expectListenerError checks that a client's probe failed with the
// listener's code and a message containing text.
func expectListenerError(t *testing.T, client string, r checkResult, code uint16, text string) {
	t.Helper()
	var d errDetail
	if !assert.False(t, r.OK, "%s: want error %d, got %s", client, code, r.Detail) ||
		!assert.NoError(t, json.Unmarshal(r.Detail, &d), "%s: want error %d, got %s", client, code, r.Detail) {
		return
	}
	t.Logf("%s: %s %s %s", client, d.code(), d.State, d.Message)
	assert.Equal(t, strings.TrimSpace(itoa(code)), d.code(), "%s: got error %s %q, want %d containing %q", client, d.code(), d.Message, code, text)
	assert.Contains(t, d.Message, text, "%s: got error %s %q, want %d containing %q", client, d.code(), d.Message, code, text)
}

func itoa(n uint16) string {
	b, _ := json.Marshal(n)
	return string(b)
}
