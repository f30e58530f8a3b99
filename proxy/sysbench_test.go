package proxy_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSysbenchPointSelect runs sysbench's oltp_point_select through the
// listener, with server-side prepared statements and without, and checks
// that it completes without errors on fewer backends than threads.
func TestSysbenchPointSelect(t *testing.T) {
	bin, err := exec.LookPath("sysbench")
	if err != nil {
		t.Fatalf("sysbench is not installed (%v): apt-get install sysbench", err)
	}
	db := startPrivateDB(t)
	e := startEnv(t, withDB(db), withBackends(2))
	host, port := splitAddr(t, db.Addr())
	common := []string{"oltp_point_select", "--db-driver=mysql", "--mysql-user=" + appUser, "--mysql-password=" + appPass,
		"--mysql-db=test", "--tables=1", "--table-size=1000", "--mysql-ssl=off"}
	prep := exec.Command(bin, append(common, "--mysql-host="+host, "--mysql-port="+port, "prepare")...)
	if out, err := prep.CombinedOutput(); err != nil {
		t.Fatalf("sysbench prepare: %v\n%s", err, out)
	}
	host, port = splitAddr(t, e.addr)
	for _, ps := range []string{"auto", "disable"} {
		run := exec.Command(bin, append(common, "--mysql-host="+host, "--mysql-port="+port, "--threads=4", "--time=2",
			"--db-ps-mode="+ps, "run")...)
		start := time.Now()
		out, err := run.CombinedOutput()
		if err != nil {
			t.Fatalf("sysbench run --db-ps-mode=%s: %v\n%s", ps, err, out)
		}
		s := string(out)
		if !strings.Contains(s, "ignored errors:                      0") && !strings.Contains(s, "ignored errors: 0") {
			t.Errorf("--db-ps-mode=%s: errors in\n%s", ps, s)
		}
		for _, line := range strings.Split(s, "\n") {
			if strings.Contains(line, "queries:") || strings.Contains(line, "transactions:") || strings.Contains(line, "95th") {
				t.Logf("ps-mode=%s (%v): %s", ps, time.Since(start).Round(time.Millisecond), strings.TrimSpace(line))
			}
		}
	}
	if st := e.srv.Stats(); st.Pool.DatabaseConnectionsSetupSucceeded > 2 {
		t.Errorf("%d backends opened for a cap of 2", st.Pool.DatabaseConnectionsSetupSucceeded)
	}
}
