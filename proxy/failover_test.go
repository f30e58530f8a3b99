package proxy_test

import (
	"database/sql"
	"net"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/failover"
	"github.com/rdsmux/rdsmux/internal/faultnet"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
)

// TestFailoverCutsStatementsOnTheFormerWriter: with Target.Failover, a
// statement running on a writer that stops answering (a blackhole: no
// data, no reset) fails with 2013 as soon as the monitor has verified the
// new writer, rather than when TCP gives up; the client's next statement
// runs on the new writer.
func TestFailoverCutsStatementsOnTheFormerWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MariaDB; skipped with -short")
	}
	a, b := mariadbtest.StartReplicaPair(t)
	a.CreateUser(t, appUser, appPass)
	b.WaitReplicaCaughtUp(t, a)
	fa, fb := faultnet.New(t, a.Addr()), faultnet.New(t, b.Addr())

	probe := mysql.NewConfig()
	probe.User, probe.Passwd = appUser, appPass
	prov, err := failover.NewReadOnly(failover.ReadOnlyConfig{Hosts: []string{fa.Addr(), fb.Addr()}, Probe: failover.ProbeConfig{MySQL: probe}})
	must(t, err)
	m, err := failover.NewMonitor(failover.MonitorConfig{Provider: prov})
	must(t, err)
	defer m.Close()
	backend := &proxy.Target{Addr: fa.Addr(), Credentials: proxy.OneAccount(appUser, appPass),
		Failover: failover.NewDialer(m, failover.DialerConfig{})}
	p, err := pool.New(pool.Config{Dial: backend.Dial, MaxConnections: 2, ConnectionBorrowTimeout: 20 * time.Second})
	must(t, err)
	defer p.Close()
	defer m.InvalidateOnWriterChange(p)()
	srv := &proxy.Server{Pool: p, Users: proxy.StaticUsers{appUser: appPass}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }() // ends with Close below
	defer func() { srv.Close(); <-served }()
	ctx := ctxT(t)
	_, err = m.WaitWriter(ctx)
	must(t, err)

	client, err := sql.Open("mysql", appUser+":"+appPass+"@tcp("+ln.Addr().String()+")/test")
	must(t, err)
	defer client.Close()
	stmtDone := make(chan error, 1)
	go func() { // ends when the statement fails (or after 60 s)
		_, err := client.ExecContext(ctx, "DO SLEEP(60)")
		stmtDone <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for a.QueryInt(t, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = 'DO SLEEP(60)'") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the statement did not start on the writer")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The writer stops answering; the replica is promoted.
	fa.Blackhole()
	b.Promote(t)
	select {
	case err := <-stmtDone:
		require.EqualValues(t, proxy.ErLostBackend, mysqlErr(err), "the statement on the former writer: err = %v, want error %d", err, proxy.ErLostBackend)
	case <-time.After(20 * time.Second):
		t.Fatal("the statement on the blackholed former writer was not cut after the failover")
	}
	st := m.Stats()
	assert.NotEqual(t, int64(0), st.AbortedConns, "the monitor aborted no connection to the former writer: %+v", st)
	var port int
	require.NoError(t, client.QueryRowContext(ctx, "SELECT @@port").Scan(&port), "the next statement")
	require.Equal(t, b.Port(), port, "the next statement ran on port %d, want the new writer's %d", port, b.Port())
	_, err = client.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS after_failover (id INT)")
	require.NoError(t, err, "a write on the new writer: %v", err)
}
