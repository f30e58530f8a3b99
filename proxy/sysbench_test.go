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
	e := startEnv(t, withDB(db), withBackends(4))
	host, port := splitAddr(t, db.Addr())
	common := []string{"oltp_point_select", "--db-driver=mysql", "--mysql-user=" + appUser, "--mysql-password=" + appPass,
		"--mysql-db=test", "--tables=1", "--table-size=1000", "--mysql-ssl=off"}
	prep := exec.Command(bin, append(common, "--mysql-host="+host, "--mysql-port="+port, "prepare")...)
	if out, err := prep.CombinedOutput(); err != nil {
		t.Fatalf("sysbench prepare: %v\n%s", err, out)
	}
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
		if err != nil {
			t.Fatalf("sysbench run %s: %v\n%s", ps, err, out)
		}
		s := string(out)
		if !strings.Contains(s, "ignored errors:                      0") && !strings.Contains(s, "ignored errors: 0") {
			t.Errorf("%s: errors in\n%s", ps, s)
		}
		for _, line := range strings.Split(s, "\n") {
			if strings.Contains(line, "queries:") || strings.Contains(line, "transactions:") || strings.Contains(line, "95th") {
				t.Logf("%s (%v): %s", ps, time.Since(start).Round(time.Millisecond), strings.TrimSpace(line))
			}
		}
	}
	if st := e.srv.Stats(); st.Pool.DatabaseConnectionsSetupSucceeded > 4 {
		t.Errorf("%d backends opened for a cap of 4", st.Pool.DatabaseConnectionsSetupSucceeded)
	}
}
