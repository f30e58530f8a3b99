package reliability

// A connection id names a session only on its own server. After a writer
// change, a KILL QUERY for a statement still running on the former writer
// must not go to the new writer, where the same id can name an unrelated
// session: the pool's Killer (pool/kill.go), which the listener's
// vanished-client watcher and the driver both use, sends it only over a
// control connection to a server with the statement's identity
// (TestCancelKillsOnlyOnTheStatementsServer in the root package covers the
// driver).

import (
	"context"
	"database/sql"
	"net"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/failover"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
)

func TestVanishedClientKillStaysOnItsServer(t *testing.T) {
	a, b := mariadbtest.StartReplicaPair(t)
	a.CreateUser(t, "app", "app-pw")
	b.WaitReplicaCaughtUp(t, a)

	// Connection ids on A run ahead of B's, so that B can be made to
	// hold the id of the listener's backend on A.
	for i := 0; i < 150; i++ {
		require.NoError(t, a.Ping(context.Background()))
	}

	// A listener that follows the writer.
	probe := mysql.NewConfig()
	probe.User, probe.Passwd = "app", "app-pw"
	prov, err := failover.NewReadOnly(failover.ReadOnlyConfig{Hosts: []string{a.Addr(), b.Addr()}, Probe: failover.ProbeConfig{MySQL: probe}})
	require.NoError(t, err)
	m, err := failover.NewMonitor(failover.MonitorConfig{Provider: prov})
	require.NoError(t, err)
	defer m.Close()
	backend := &proxy.Target{Addr: a.Addr(), Credentials: proxy.OneAccount("app", "app-pw"),
		// The dialer as a plain DialContext: backend connections are not
		// registered with the monitor (Backend.Failover would have the
		// switchover cut the statement with 2013), so the statement still
		// runs on A when its client vanishes.
		DialContext: failover.NewDialer(m, failover.DialerConfig{}).DialContext}
	p, err := pool.New(pool.Config{Dial: backend.Dial, MaxConnections: 2, ConnectionBorrowTimeout: 10 * time.Second})
	require.NoError(t, err)
	defer p.Close()
	defer m.InvalidateOnWriterChange(p)()
	srv := &proxy.Server{Pool: p, Users: proxy.StaticUsers{"client": "client-pw"}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }() // ends with Close below
	defer func() { srv.Close(); <-served }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = m.WaitWriter(ctx)
	require.NoError(t, err)

	// A client's long statement runs on a backend on A.
	client, err := sql.Open("mysql", "client:client-pw@tcp("+ln.Addr().String()+")/test")
	require.NoError(t, err)
	defer client.Close()
	stmtCtx, vanish := context.WithCancel(context.Background())
	stmtDone := make(chan error, 1)
	go func() { // ends when the client vanishes below
		_, err := client.ExecContext(stmtCtx, "DO SLEEP(30)")
		stmtDone <- err
	}()
	var onA int64
	require.Eventually(t, func() bool {
		err := a.DB(t).QueryRow("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'app' AND INFO = 'DO SLEEP(30)'").Scan(&onA)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)

	// A planned switchover: A stops taking writes (it stays up), B is
	// promoted, the monitor follows.
	a.Exec(t, "SET GLOBAL read_only = 1")
	b.Promote(t)
	require.Eventually(t, func() bool {
		w, ok := m.Writer()
		return ok && w.Addr == b.Addr()
	}, 10*time.Second, 10*time.Millisecond)

	// An unrelated session on B happens to have the same connection id.
	victimDone := mariadbtest.Sleep(b.ConnWithID(t, onA), 10)
	time.Sleep(200 * time.Millisecond)

	// The client goes away; the listener stops its statement with KILL
	// QUERY. It must stop the statement on A, and leave B alone.
	vanish()
	<-stmtDone
	select {
	case r := <-victimDone:
		t.Fatalf("KILL QUERY %d meant for A's backend interrupted the unrelated session %d on B: %s "+
			"(listener's VanishedStatementsKilled %d; the statement still running on A: %d)", onA, onA, r,
			srv.Stats().VanishedStatementsKilled,
			a.QueryInt(t, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ? AND INFO = 'DO SLEEP(30)'", onA))
	case <-time.After(3 * time.Second):
	}
	require.Zero(t, a.QueryInt(t, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ? AND INFO = 'DO SLEEP(30)'", onA),
		"the vanished client's statement still runs on A")
}
