package proxy_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// matrixChecks are the checks every client script implements (a library
// without the feature reports ok with a "n/a" detail, directly and through
// the listener alike).
var matrixChecks = []string{
	"charsets", "unicode", "types", "json_metadata", "metadata_cache", "stmt_cache", "transactions", "insert_id", "dup_key",
	"warnings", "call_multi", "multi_on", "multi_off", "select_db", "change_user", "reset",
	"session_state", "stream", "cursor", "local_infile", "burst",
}

// matrixBackends caps the listener's backends in the matrix: few, so that
// the client's statements move between backends other clients use.
const matrixBackends = 4

// TestClientMatrix runs the same checks with real client libraries the
// project did not write, first directly against MariaDB, then through the
// listener with a small backend cap while other clients keep taking and
// giving back backends: every check that passes directly must pass through
// the listener.
func TestClientMatrix(t *testing.T) {
	clients := realClients(t)
	db := database(t)
	e := startEnv(t, withBackends(matrixBackends), withBorrowTimeout(60*time.Second))
	db.Exec(t, "CREATE PROCEDURE IF NOT EXISTS test.matrix_two() BEGIN SELECT 1 AS a; SELECT 2 AS b; END")
	db.Exec(t, "GRANT EXECUTE ON test.* TO "+appUser)
	infile := filepath.Join(t.TempDir(), "rows.txt")
	var b strings.Builder
	for i := 1; i <= 1000; i++ {
		fmt.Fprintf(&b, "inf-%d\n", i)
	}
	require.NoError(t, os.WriteFile(infile, []byte(b.String()), 0o644))

	stop := churn(t, e, 2)
	defer stop()
	for _, rc := range clients {
		t.Run(rc.name, func(t *testing.T) {
			results := map[string]map[string]checkResult{}
			for _, where := range []struct{ name, addr string }{{"direct", db.Addr()}, {"listener", e.addr}} {
				tag := strings.ReplaceAll(rc.name, "-", "_") + "_" + where.name
				prepareMatrixTables(t, db, tag)
				results[where.name] = rc.run(t, where.addr, appUser, appPass, "test",
					map[string]string{"RDSMUX_TAG": tag, "RDSMUX_INFILE": infile}, matrixChecks...)
			}
			for _, check := range matrixChecks {
				d, l := results["direct"][check], results["listener"][check]
				switch {
				case strings.Contains(string(d.Detail), "unknown check"):
					assert.Fail(t, "check not implemented", "%-14s is not implemented by the %s script", check, rc.name)
				case !d.OK:
					t.Logf("%-14s fails directly too (not held against the listener): %s", check, d.Detail)
				case !l.OK:
					assert.Fail(t, "fails through the listener only", "%-14s passes directly, fails through the listener: %s (direct: %s)", check, l.Detail, d.Detail)
				default:
					t.Logf("%-14s ok", check)
				}
			}
		})
	}
	t.Run("mariadb-cli", func(t *testing.T) { cliMatrix(t, db, e, infile) })
	st := e.srv.Stats().Pool
	t.Logf("listener pool: %d borrows (%d waited) over %d backends opened",
		st.BorrowRequests, st.WaitCount, st.DatabaseConnectionsSetupSucceeded)
	assert.LessOrEqual(t, st.MaxDatabaseConnectionsAllowed, matrixBackends, "the listener had %d backends, want at most %d", st.MaxDatabaseConnectionsAllowed, matrixBackends)
}

// cliMatrix runs the mariadb CLI (libmariadb) directly and through the
// listener: each script's output must be the same both ways.
func cliMatrix(t *testing.T, db *mariadbtest.Server, e *env, infile string) {
	tag := "cli"
	scripts := []struct {
		name string
		args []string
	}{
		{"unicode", []string{"-e", "SELECT 'h\u00e9llo w\u00f6rld \u65e5\u672c\u8a9e \U0001F600', HEX('\u00e9')"}},
		{"warnings", []string{"--show-warnings", "-e", "DO CAST('12abc' AS SIGNED)"}},
		{"call_multi", []string{"-e", "CALL matrix_two(); SELECT 7"}},
		{"multi", []string{"-e", "SELECT 1; SELECT 2"}},
		{"select_db", []string{"-e", "USE mysql; SELECT DATABASE(); USE test; SELECT DATABASE()"}},
		{"transactions", []string{"-e", "DELETE FROM matrix_auto_" + tag + "; BEGIN; INSERT INTO matrix_auto_" + tag + " (v) VALUES ('tx'); ROLLBACK; " +
			"BEGIN; INSERT INTO matrix_auto_" + tag + " (id, v) VALUES (5, 'tx'); COMMIT; SELECT id, v FROM matrix_auto_" + tag}},
		{"insert_id", []string{"-e", "INSERT INTO matrix_auto_" + tag + " (v) VALUES ('id'); SELECT 1; SELECT LAST_INSERT_ID() = MAX(id) FROM matrix_auto_" + tag}},
		{"dup_key", []string{"--force", "-e", "INSERT INTO matrix_auto_" + tag + " (id, v) VALUES (5, 'dup'); SELECT 'after'"}},
		{"session_state", []string{"-e", "SET @matrix = 42, SESSION time_zone = '+05:30'; SELECT SLEEP(0.05); SELECT @matrix, @@time_zone; SELECT @matrix, @@time_zone"}},
		{"stream", []string{"--quick", "-e", "SELECT SUM(seq), COUNT(*) FROM seq_1_to_50000; SELECT seq FROM seq_1_to_50000"}},
		{"local_infile", []string{"--local-infile=1", "-e", "LOAD DATA LOCAL INFILE '" + infile + "' INTO TABLE matrix_auto_" + tag + " (v); SELECT COUNT(*) FROM matrix_auto_" + tag + " WHERE v LIKE 'inf%'"}},
	}
	for _, cs := range []string{"utf8mb4", "utf8mb3", "latin1", "ascii", "binary"} {
		scripts = append(scripts, struct {
			name string
			args []string
		}{"charset " + cs, []string{"--default-character-set=" + cs, "-e", "SELECT @@character_set_client, @@character_set_connection, @@character_set_results, @@collation_connection"}})
	}
	outs := map[string][2]string{}
	for i, addr := range []string{db.Addr(), e.addr} {
		prepareMatrixTables(t, db, tag)
		for _, s := range scripts {
			args := append([]string{"-u", appUser, "-p" + appPass, "--skip-ssl", "test"}, s.args...)
			out, err := mariadbCLI(t, addr, args...)
			if err != nil {
				out += "\n(exit: " + err.Error() + ")"
			}
			o := outs[s.name]
			o[i] = out
			outs[s.name] = o
		}
	}
	for _, s := range scripts {
		o := outs[s.name]
		if o[0] != o[1] {
			assert.Fail(t, "outputs differ", "%-14s direct and through the listener differ:\n direct:   %.300q\n listener: %.300q", s.name, o[0], o[1])
		} else {
			t.Logf("%-14s same output (%.80q)", s.name, o[0])
		}
	}
}

// prepareMatrixTables creates the tables a client's checks use.
func prepareMatrixTables(t *testing.T, db *mariadbtest.Server, tag string) {
	t.Helper()
	db.Exec(t, "DROP TABLE IF EXISTS test.matrix_types_"+tag+", test.matrix_auto_"+tag)
	db.Exec(t, "CREATE TABLE test.matrix_types_"+tag+" (id INT PRIMARY KEY, j JSON, d DECIMAL(20,6), dt DATETIME(6), b LONGBLOB, n VARCHAR(10) NULL, s VARCHAR(100)) CHARSET utf8mb4")
	db.Exec(t, "CREATE TABLE test.matrix_auto_"+tag+" (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(50)) CHARSET utf8mb4")
}

// churn keeps n go-sql-driver clients taking backends for short
// transactions (with a session setting of their own) until stop is called,
// so that a matrix client's statements land on backends others just used.
func churn(t *testing.T, e *env, n int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { // ends with stop
			defer wg.Done()
			db, err := sql.Open("mysql", e.dsn(appUser, appPass, ""))
			if !assert.NoError(t, err) {
				return
			}
			defer db.Close()
			for ctx.Err() == nil {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					continue
				}
				_, _ = tx.ExecContext(ctx, fmt.Sprintf("SET @matrix = %d, SESSION time_zone = '-0%d:00'", -i, i+1))
				_, _ = tx.ExecContext(ctx, "SELECT SLEEP(0.005)")
				_ = tx.Rollback()
			}
		}()
	}
	return func() { cancel(); wg.Wait() }
}
