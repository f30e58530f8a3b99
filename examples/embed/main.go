// Command embed runs rdsmux's MySQL-protocol listener inside an existing Go
// server, next to its HTTP endpoints: programs that cannot hold a pool
// themselves (scripts, other languages, short-lived processes) connect to
// the listener as to MySQL, and the server's HTTP side exposes health and
// the listener's statistics. One process, one shutdown for both.
//
//	DB_PASSWORD=secret go run ./embed -db 127.0.0.1:3306 -db-user app -listen 127.0.0.1:3307 -http 127.0.0.1:8080
//	mysql -h 127.0.0.1 -P 3307 -u app -psecret
//	curl 127.0.0.1:8080/stats
//
// For the listener's latency, start the server with
// GODEBUG=schedtrace=2147483647 in its environment, as cmd/rdsmux does to
// itself: it keeps the Go runtime's monitor thread out of a deep sleep that
// each relayed packet would otherwise wake it from (see the proxy package
// documentation).
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
)

// config is what the program needs to know.
type config struct {
	DBAddr, DBUser, DBPassword string
	Listen, HTTP               string
	MaxConnections             int
}

func main() {
	var c config
	fs := flag.NewFlagSet("embed", flag.ExitOnError)
	fs.StringVar(&c.DBAddr, "db", "127.0.0.1:3306", "the database's host:port")
	fs.StringVar(&c.DBUser, "db-user", "app", "the database account; clients sign in to the listener with the same name and password ($DB_PASSWORD)")
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:3307", "where the MySQL-protocol listener accepts clients")
	fs.StringVar(&c.HTTP, "http", "127.0.0.1:8080", "where the HTTP endpoints are served")
	fs.IntVar(&c.MaxConnections, "max-connections", 20, "database connections the listener may open")
	_ = fs.Parse(os.Args[1:])
	c.DBPassword = os.Getenv("DB_PASSWORD")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := start(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
	slog.Info("serving", "mysql", a.mysqlAddr(), "http", a.httpAddr())
	select {
	case <-ctx.Done():
	case err := <-a.failed:
		slog.Error("a server stopped", "err", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.shutdown(shutdownCtx); err != nil {
		fmt.Fprintln(os.Stderr, "embed: shutdown:", err)
		os.Exit(1)
	}
}

// app is the listener and the HTTP server, started together and shut down
// together.
type app struct {
	pool   *pool.Pool
	proxy  *proxy.Server
	web    *http.Server
	mysqlL net.Listener
	httpL  net.Listener
	probe  *sql.DB    // one connection through the listener, for healthz
	failed chan error // a server that stopped on its own; buffered for both
	served chan error // Serve's results, one per server, after they return
}

// start opens the listeners and serves on them in the background.
func start(c config) (*app, error) {
	users := proxy.StaticUsers{c.DBUser: c.DBPassword}
	backend := &proxy.Target{Addr: c.DBAddr, Credentials: proxy.SameCredentials(users)}
	p, err := pool.New(pool.Config{Dial: backend.Dial, MaxConnections: c.MaxConnections, ConnectionBorrowTimeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	a := &app{
		pool:   p,
		proxy:  &proxy.Server{Pool: p, Users: users, MaxClientConnections: 5000},
		failed: make(chan error, 2),
		served: make(chan error, 2),
	}
	if a.mysqlL, err = net.Listen("tcp", c.Listen); err != nil {
		p.Close()
		return nil, fmt.Errorf("listening for MySQL clients: %w", err)
	}
	if a.httpL, err = net.Listen("tcp", c.HTTP); err != nil {
		a.mysqlL.Close()
		p.Close()
		return nil, fmt.Errorf("listening for HTTP: %w", err)
	}
	probeCfg := mysql.NewConfig()
	probeCfg.User, probeCfg.Passwd, probeCfg.Net, probeCfg.Addr = c.DBUser, c.DBPassword, "tcp", a.mysqlL.Addr().String()
	probeCfg.Timeout = 2 * time.Second
	connector, err := mysql.NewConnector(probeCfg)
	if err != nil {
		a.mysqlL.Close()
		a.httpL.Close()
		p.Close()
		return nil, err
	}
	a.probe = sql.OpenDB(connector)
	a.probe.SetMaxOpenConns(1)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /stats", a.stats)
	a.web = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	go a.serve(func() error { return a.proxy.Serve(a.mysqlL) }, proxy.ErrServerClosed) // owned by app; ends at shutdown
	go a.serve(func() error { return a.web.Serve(a.httpL) }, http.ErrServerClosed)     // owned by app; ends at shutdown
	return a, nil
}

// serve runs one server until it returns; an unexpected end is reported
// on failed.
func (a *app) serve(run func() error, closed error) {
	err := run()
	if !errors.Is(err, closed) {
		a.failed <- err
	}
	a.served <- err
}

func (a *app) mysqlAddr() string { return a.mysqlL.Addr().String() }
func (a *app) httpAddr() string  { return a.httpL.Addr().String() }

// healthz answers 200 when the database answers through the listener, as
// a client would reach it.
func (a *app) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.probe.PingContext(ctx); err != nil {
		http.Error(w, "database unreachable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// stats answers the listener's and the pool's statistics as JSON, named as
// RDS Proxy's metrics.
func (a *app) stats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(a.proxy.Stats())
}

// shutdown drains both servers (clients finish their transactions, HTTP
// requests complete), then closes the pool.
func (a *app) shutdown(ctx context.Context) error {
	errs := []error{a.web.Shutdown(ctx), a.probe.Close(), a.proxy.Shutdown(ctx)}
	for range 2 {
		<-a.served
	}
	a.pool.Close()
	return errors.Join(errs...)
}
