package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/proxy"
)

func TestListenerNextToHTTP(t *testing.T) {
	srv := mariadbtest.Start(t)
	srv.CreateUser(t, "app", "app-secret")
	const maxConns = 3
	a, err := start(config{DBAddr: srv.Addr(), DBUser: "app", DBPassword: "app-secret",
		Listen: "127.0.0.1:0", HTTP: "127.0.0.1:0", MaxConnections: maxConns})
	if err != nil {
		t.Fatal(err)
	}
	shut := false
	t.Cleanup(func() {
		if !shut {
			_ = a.shutdown(context.Background())
		}
	})

	// Fifty clients of the listener, as MySQL clients see it.
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = "app", "app-secret", "tcp", a.mysqlAddr(), "test"
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clients := sql.OpenDB(connector)
	defer clients.Close()
	clients.SetMaxIdleConns(50)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			for j := range 20 {
				var n int
				if err := clients.QueryRow("SELECT ?", i*100+j).Scan(&n); err != nil || n != i*100+j {
					t.Errorf("SELECT through the listener: %d, %v", n, err)
					return
				}
			}
		})
	}
	wg.Wait()

	get := func(path string) (int, []byte) {
		t.Helper()
		resp, err := http.Get("http://" + a.httpAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	if code, body := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d %s", code, body)
	}
	code, body := get("/stats")
	var st proxy.Stats
	if err := json.Unmarshal(body, &st); code != http.StatusOK || err != nil {
		t.Fatalf("/stats: %d %v %s", code, err, body)
	}
	t.Logf("clients now %d, accepted %d, queries %d+%d executes; backends %d (cap %d)",
		st.ClientConnections, st.ClientConnectionsReceived, st.QueryRequests, st.ExecuteRequests,
		st.Pool.DatabaseConnections, st.Pool.MaxDatabaseConnectionsAllowed)
	if st.ClientConnectionsSetupSucceeded < 2 || st.Pool.MaxDatabaseConnectionsAllowed != maxConns ||
		st.Pool.DatabaseConnections > maxConns {
		t.Errorf("stats: %+v", st)
	}
	if n := srv.ConnectionsOf(t, "app"); n > maxConns {
		t.Errorf("the server sees %d connections of app, want at most %d", n, maxConns)
	}

	// One shutdown for both servers.
	clients.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shut = true
	if err := a.shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case err := <-a.failed:
		t.Fatalf("a server failed: %v", err)
	default:
	}
	if _, err := http.Get("http://" + a.httpAddr() + "/healthz"); err == nil {
		t.Error("HTTP still served after shutdown")
	}
}
