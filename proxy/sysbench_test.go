package proxy_test

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// sysbenchRig is a private MariaDB with sysbench's tables, and a listener
// on 4 backends in front of it.
type sysbenchRig struct {
	bin    string   // the sysbench binary
	common []string // the workload and its connection options, without host and port
	db     *mariadbtest.Server
	e      *env
}

// prepareSysbench starts the rig and runs sysbench's prepare for workload
// directly on the server.
func prepareSysbench(t *testing.T, workload string, tables, rows int) *sysbenchRig {
	t.Helper()
	bin, err := exec.LookPath("sysbench")
	require.NoError(t, err, "sysbench is not installed: apt-get install sysbench")
	r := &sysbenchRig{bin: bin, db: startPrivateDB(t)}
	r.e = startEnv(t, withDB(r.db), withBackends(4))
	r.common = []string{workload, "--db-driver=mysql", "--mysql-user=" + appUser, "--mysql-password=" + appPass,
		"--mysql-db=test", "--tables=" + strconv.Itoa(tables), "--table-size=" + strconv.Itoa(rows), "--mysql-ssl=off"}
	host, port := splitAddr(t, r.db.Addr())
	prep := exec.Command(bin, append(r.common, "--mysql-host="+host, "--mysql-port="+port, "prepare")...)
	out, err := prep.CombinedOutput()
	require.NoError(t, err, "sysbench prepare: %v\n%s", err, out)
	return r
}

// TestSysbenchPointSelect runs sysbench's oltp_point_select through the
// listener, with server-side prepared statements and without, and checks
// that it completes without errors on fewer backends than threads.
func TestSysbenchPointSelect(t *testing.T) {
	r := prepareSysbench(t, "oltp_point_select", 1, 1000)
	bin, common, e := r.bin, r.common, r.e
	host, port := splitAddr(t, r.db.Addr())
	lhost, lport := splitAddr(t, e.addr)
	for _, tc := range []struct{ target, host, port, ps string }{
		{"direct", host, port, "auto"},
		{"listener", lhost, lport, "auto"},
		{"listener", lhost, lport, "disable"},
	} {
		ps := tc.target + " ps-mode=" + tc.ps
		run := exec.Command(bin, append(common, "--mysql-host="+tc.host, "--mysql-port="+tc.port, "--threads=8", "--time=2",
			"--db-ps-mode="+tc.ps, "run")...)
		start := time.Now()
		out, err := run.CombinedOutput()
		require.NoError(t, err, "sysbench run %s: %v\n%s", ps, err, out)
		s := string(out)
		assert.True(t, strings.Contains(s, "ignored errors:                      0") || strings.Contains(s, "ignored errors: 0"), "%s: errors in\n%s", ps, s)
		for _, line := range strings.Split(s, "\n") {
			if strings.Contains(line, "queries:") || strings.Contains(line, "transactions:") || strings.Contains(line, "95th") {
				t.Logf("%s (%v): %s", ps, time.Since(start).Round(time.Millisecond), strings.TrimSpace(line))
			}
		}
	}
	st := e.srv.Stats()
	assert.LessOrEqual(t, st.Pool.DatabaseConnectionsSetupSucceeded, int64(4), "%d backends opened for a cap of 4", st.Pool.DatabaseConnectionsSetupSucceeded)
}

// TestSysbenchReadWrite runs sysbench's oltp_read_write (transactions of
// point and range selects, updates, a delete and an insert) through the
// listener on fewer backends than threads, with and without server-side
// prepared statements. Every error sysbench ignored must be a deadlock the
// server reports (sysbench retries those), and the tables keep their rows
// (each transaction deletes and re-inserts one).
func TestSysbenchReadWrite(t *testing.T) {
	const tables, rows = 2, 5000
	r := prepareSysbench(t, "oltp_read_write", tables, rows)
	bin, common, db, e := r.bin, r.common, r.db, r.e
	deadlocks := func() int64 {
		return db.QueryInt(t, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'INNODB_DEADLOCKS'")
	}
	lhost, lport := splitAddr(t, e.addr)
	for _, ps := range []string{"auto", "disable"} {
		before := deadlocks()
		run := exec.Command(bin, append(common, "--mysql-host="+lhost, "--mysql-port="+lport, "--threads=8", "--time=2",
			"--db-ps-mode="+ps, "run")...)
		out, err := run.CombinedOutput()
		require.NoError(t, err, "sysbench oltp_read_write ps-mode=%s through the listener: %v\n%s", ps, err, out)
		s := string(out)
		m := regexp.MustCompile(`ignored errors:\s+(\d+)`).FindStringSubmatch(s)
		require.NotNil(t, m, "ps-mode=%s: no error count in sysbench's output:\n%s", ps, s)
		ignored, _ := strconv.ParseInt(m[1], 10, 64)
		dl := deadlocks() - before
		assert.LessOrEqual(t, ignored, dl, "ps-mode=%s: sysbench ignored %d errors but the server reports %d deadlocks:\n%s", ps, ignored, dl, s)
		for _, line := range strings.Split(s, "\n") {
			if strings.Contains(line, "transactions:") || strings.Contains(line, "ignored errors:") || strings.Contains(line, "95th") {
				t.Logf("listener ps-mode=%s: %s", ps, strings.TrimSpace(line))
			}
		}
	}
	for i := 1; i <= tables; i++ {
		n := db.QueryInt(t, "SELECT COUNT(*) FROM test.sbtest"+strconv.Itoa(i))
		assert.Equal(t, int64(rows), n, "sbtest%d has %d rows, want %d", i, n, rows)
	}
	st := e.srv.Stats()
	assert.LessOrEqual(t, st.Pool.DatabaseConnectionsSetupSucceeded, int64(4), "%d backends opened for a cap of 4, %d backend errors", st.Pool.DatabaseConnectionsSetupSucceeded, st.BackendErrors)
	assert.Zero(t, st.BackendErrors, "%d backends opened for a cap of 4, %d backend errors", st.Pool.DatabaseConnectionsSetupSucceeded, st.BackendErrors)
}
