package proxy_test

import (
	"context"
	"database/sql"
	"net"
	"strconv"
	"sync"
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
	backend := &proxy.Target{Addr: "cluster-ro", Credentials: proxy.SameCredentials(users),
		Failover: failover.NewDialer(m, failover.DialerConfig{Role: failover.RoleReader})}
	p, err := pool.New(pool.Config{Dial: backend.Dial, MaxConnections: 4, ConnectionBorrowTimeout: 20 * time.Second})
	require.NoError(t, err)
	defer p.Close()
	srv := &proxy.Server{Pool: p, Users: users, Target: backend, Logger: testLogger(t)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }() // ends with Close below
	defer func() {
		srv.Close()
		err := <-done
		assert.ErrorIs(t, err, proxy.ErrServerClosed, "Serve: %v", err)
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

// readerEndpoint is a reader endpoint over w, r1 and r2 (helper of
// TestReaderEndpointLeastBorrows).
type readerEndpoint struct {
	backend *proxy.Target
	addr    string
}

// startReaderEndpoint serves a fresh reader pool of maxConns connections
// over the monitor's readers; the test's cleanup stops it.
func startReaderEndpoint(t *testing.T, m *failover.Monitor, maxConns int) *readerEndpoint {
	t.Helper()
	users := proxy.StaticUsers{appUser: appPass}
	backend := &proxy.Target{Addr: "cluster-ro", Credentials: proxy.SameCredentials(users),
		Failover: failover.NewDialer(m, failover.DialerConfig{Role: failover.RoleReader})}
	p, err := pool.New(pool.Config{Dial: backend.Dial, MaxConnections: maxConns, ConnectionBorrowTimeout: 20 * time.Second})
	require.NoError(t, err)
	srv := &proxy.Server{Pool: p, Users: users, Target: backend, Logger: testLogger(t)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }() // ends with Close in the cleanup
	t.Cleanup(func() {
		srv.Close()
		err := <-done
		assert.ErrorIs(t, err, proxy.ErrServerClosed, "Serve: %v", err)
		p.Close()
	})
	return &readerEndpoint{backend: backend, addr: ln.Addr().String()}
}

// waitBorrows waits until the endpoint's borrows per reader are want (a
// transaction's connection goes back to the pool as its end is relayed).
func (e *readerEndpoint) waitBorrows(t *testing.T, want map[string]int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		got := e.backend.ReaderBorrows()
		if assert.ObjectsAreEqual(want, got) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("borrows per reader: %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReaderEndpointLeastBorrows: a reader endpoint's new connections go
// to the reader with the fewest outstanding borrows: concurrent clients'
// transactions spread over both readers, and a reader with as many
// connections open but fewer of them borrowed gets the next ones.
func TestReaderEndpointLeastBorrows(t *testing.T) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, err = m.WaitWriter(ctx)
	require.NoError(t, err)
	for deadline := time.Now().Add(30 * time.Second); len(m.Topology().Readers) < 2; {
		require.False(t, time.Now().After(deadline), "the monitor does not list both readers")
		time.Sleep(20 * time.Millisecond)
	}
	portOf := map[int]string{r1.Port(): r1.Addr(), r2.Port(): r2.Addr()}
	// begin opens a transaction and returns the reader it runs on.
	begin := func(db *sql.DB) (*sql.Tx, string) {
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		var port int
		require.NoError(t, tx.QueryRowContext(ctx, "SELECT @@port").Scan(&port))
		require.Contains(t, portOf, port, "a reader serves the transaction")
		return tx, portOf[port]
	}

	t.Run("concurrent", func(t *testing.T) {
		e := startReaderEndpoint(t, m, 8)
		db, err := sql.Open("mysql", appUser+":"+appPass+"@tcp("+e.addr+")/test")
		require.NoError(t, err)
		defer db.Close()
		const clients = 6
		var (
			mu    sync.Mutex
			txs   []*sql.Tx
			where = map[string]int{}
			wg    sync.WaitGroup
		)
		for range clients {
			wg.Add(1)
			go func() { // ends after its transaction began
				defer wg.Done()
				tx, addr := begin(db)
				mu.Lock()
				defer mu.Unlock()
				txs = append(txs, tx)
				where[addr]++
			}()
		}
		wg.Wait()
		require.Len(t, txs, clients)
		assert.Equal(t, where, e.backend.ReaderBorrows(), "borrows counted per reader")
		assert.Positive(t, where[r1.Addr()], "r1 serves some transactions")
		assert.Positive(t, where[r2.Addr()], "r2 serves some transactions")
		for _, tx := range txs {
			require.NoError(t, tx.Rollback())
		}
		e.waitBorrows(t, map[string]int{})
	})

	t.Run("fewest borrows over fewest open", func(t *testing.T) {
		e := startReaderEndpoint(t, m, 8)
		// Clients asking for CLIENT_FOUND_ROWS use a pool partition of
		// their own: their idle connections do not serve the others.
		fr, err := sql.Open("mysql", appUser+":"+appPass+"@tcp("+e.addr+")/test?clientFoundRows=true")
		require.NoError(t, err)
		defer fr.Close()
		db, err := sql.Open("mysql", appUser+":"+appPass+"@tcp("+e.addr+")/test")
		require.NoError(t, err)
		defer db.Close()
		// Four transactions one after the other: two per reader.
		byReader := map[string][]*sql.Tx{}
		for range 4 {
			tx, addr := begin(fr)
			byReader[addr] = append(byReader[addr], tx)
		}
		require.Len(t, byReader[r1.Addr()], 2)
		require.Len(t, byReader[r2.Addr()], 2)
		// r1's end: both readers have two connections open, r1 none
		// borrowed, r2 two.
		for _, tx := range byReader[r1.Addr()] {
			require.NoError(t, tx.Rollback())
		}
		e.waitBorrows(t, map[string]int{r2.Addr(): 2})
		assert.Equal(t, map[string]int{r1.Addr(): 2, r2.Addr(): 2}, e.backend.ReaderConnections())
		// The other partition's next two connections go to r1 (counting
		// open connections would have sent one to r2).
		var held []*sql.Tx
		for range 2 {
			tx, addr := begin(db)
			assert.Equal(t, r1.Addr(), addr, "the reader with the fewest borrows out")
			held = append(held, tx)
		}
		assert.Equal(t, map[string]int{r1.Addr(): 2, r2.Addr(): 2}, e.backend.ReaderBorrows())
		for _, tx := range append(held, byReader[r2.Addr()]...) {
			require.NoError(t, tx.Rollback())
		}
		e.waitBorrows(t, map[string]int{})
	})
}
