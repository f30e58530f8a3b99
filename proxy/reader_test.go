package proxy_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/failover"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
)

// TestReaderEndpoint: a listener whose Backend dials failover.RoleReader
// spreads its backend connections over the cluster's readers (the least
// loaded first) and falls back to the writer when no reader is healthy.
func TestReaderEndpoint(t *testing.T) {
	w := startPrivateDB(t)
	r1 := startPrivateDB(t)
	r2 := startPrivateDB(t)
	for _, r := range []*mariadbtest.Server{r1, r2} {
		r.Exec(t, "SET GLOBAL read_only = 1")
	}
	probe := mysql.NewConfig()
	probe.User, probe.Passwd = appUser, appPass
	prov, err := failover.NewReadOnly(failover.ReadOnlyConfig{Hosts: []string{w.Addr(), r1.Addr(), r2.Addr()},
		Probe: failover.ProbeConfig{MySQL: probe}})
	require.NoError(t, err)
	m, err := failover.NewMonitor(failover.MonitorConfig{Provider: prov, RefreshInterval: 100 * time.Millisecond})
	require.NoError(t, err)
	defer m.Close()
	users := proxy.StaticUsers{appUser: appPass}
	backend := &proxy.Backend{Addr: "cluster-ro", Credentials: proxy.SameCredentials(users),
		Failover: failover.NewDialer(m, failover.DialerConfig{Role: failover.RoleReader})}
	p, err := pool.New(pool.Config{Dial: backend.Dial, MaxConnections: 4, ConnectionBorrowTimeout: 20 * time.Second})
	require.NoError(t, err)
	defer p.Close()
	srv := &proxy.Server{Pool: p, Users: users, Backend: backend, Logger: testLogger(t)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }() // ends with Close below
	defer func() {
		srv.Close()
		if err := <-done; !errors.Is(err, proxy.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err = m.WaitWriter(ctx)
	require.NoError(t, err)

	db, err := sql.Open("mysql", appUser+":"+appPass+"@tcp("+ln.Addr().String()+")/test")
	require.NoError(t, err)
	defer db.Close()
	// Four transactions at once hold the four backends: two per reader.
	ports := map[string]int{}
	var txs []*sql.Tx
	for range 4 {
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		var port int
		require.NoError(t, tx.QueryRowContext(ctx, "SELECT @@port").Scan(&port))
		ports[strconv.Itoa(port)]++
		txs = append(txs, tx)
	}
	for _, tx := range txs {
		require.NoError(t, tx.Rollback())
	}
	want := map[string]int{strconv.Itoa(r1.Port()): 2, strconv.Itoa(r2.Port()): 2}
	assert.Equal(t, want, ports, "transactions per reader port")
	assert.Equal(t, map[string]int{r1.Addr(): 2, r2.Addr(): 2}, backend.ReaderConnections())
	assert.Equal(t, 4, int(srv.Stats().Pool.DatabaseConnections))

	// No reader is healthy: the reader endpoint uses the writer.
	r1.Kill()
	r2.Kill()
	p.Invalidate("readers gone")
	for deadline := time.Now().Add(30 * time.Second); ; {
		if top := m.Topology(); len(top.Readers) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the monitor still lists readers")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var port int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @@port").Scan(&port))
	assert.Equal(t, w.Port(), port, "the writer serves the reader endpoint when no reader is up")
}
