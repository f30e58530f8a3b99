// Command rdsmux runs the rdsmux MySQL-protocol listener standalone: many
// short-lived clients (Lambda handlers, scripts, programs in any language)
// connect to it as to MySQL and share a few backend connections, borrowed
// per transaction.
//
// Usage:
//
//	rdsmux -target db.example:3306 -user app:secret -max-connections 20 -metrics 127.0.0.1:9104
//
// Client users are given with -user name:password (repeatable) or
// -credentials FILE (JSON, see below). Backend credentials: by default each
// client user is served by the database account with the same name and
// password (as when the listener fronts the database's own users); with
// -backend-user/-backend-password every client user is served by that one
// account; a -credentials entry may name its own backend account
// (backend_user, backend_password), which wins over both. With
// -backend-iam the backend password is an IAM token for the backend user,
// signed with the AWS default credentials and sent over TLS.
//
//	{"users": [
//	  {"name": "app", "password": "secret"},
//	  {"name": "report", "password": "s2", "backend_user": "ro", "backend_password": "db-pw"}
//	]}
//
// SIGTERM or SIGINT drains: no new clients, idle clients are closed, clients
// in a transaction finish it (up to -shutdown-timeout).
//
// At start, rdsmux runs itself again (same PID, an exec) with
// GODEBUG=schedtrace=2147483647 added, which keeps the Go runtime's
// monitor thread from a deep sleep that each relayed packet would otherwise
// wake it from: at one sysbench thread, this takes about 40% off the
// latency the listener adds to a query. A GODEBUG that sets schedtrace itself (GODEBUG=schedtrace=0,
// say) is left as it is.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rdsmux/rdsmux/iamauth"
	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
)

func main() {
	keepSysmonAwake() // see scheduler.go
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "rdsmux:", err)
		os.Exit(1)
	}
}

// listening receives the listener's and the metrics server's addresses
// once they listen (a test seam).
type listening func(clients, metrics string)

// run runs the listener until ctx ends, then drains it.
func run(ctx context.Context, args []string, logOut io.Writer, ready listening) error {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if cfg.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: level}))

	backend, err := newBackend(ctx, cfg)
	if err != nil {
		return err
	}
	cl, err := newCluster(cfg, backend, log)
	if err != nil {
		return err
	}
	if cl != nil {
		defer cl.monitor.Close()
	}
	filters, err := pinning.ParseFilters(cfg.filters)
	if err != nil {
		return err
	}
	p, err := pool.New(pool.Config{
		Dial:                      backend.Dial,
		MaxConnections:            cfg.maxConnections,
		MaxConnectionsPercent:     cfg.maxConnPercent,
		MaxIdleConnectionsPercent: cfg.maxIdlePercent,
		ConnectionBorrowTimeout:   cfg.borrowTimeout,
		InitQuery:                 cfg.initQuery,
		Logger:                    log,
	})
	if err != nil {
		return err
	}
	defer p.Close()
	if cl != nil {
		// On a new writer, connections to the old one close (idle now,
		// borrowed when given back) and waiting clients get fresh ones.
		defer cl.monitor.InvalidateOnWriterChange(p)()
	}

	users := proxy.StaticUsers{}
	for _, u := range cfg.users {
		users[u.Name] = u.Password
	}
	srv := &proxy.Server{
		Pool:                 p,
		Backend:              backend,
		Users:                users,
		RequireTLS:           cfg.requireTLS,
		MaxClientConnections: cfg.maxClients,
		IdleClientTimeout:    cfg.idleClientTimeout,
		DisableLocalInfile:   !cfg.localInfile,
		Classifier:           pinning.NewClassifier(pinning.WithFilters(filters)),
		Logger:               log,
	}
	if cfg.sessionMode {
		srv.Mode = pool.ModeSession
	}
	if cfg.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
		if err != nil {
			return fmt.Errorf("loading -tls-cert/-tls-key: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	stopReader, err := startReader(ctx, cfg, cl, srv, log) // reader.go; a no-op without -reader-listen
	if err != nil {
		return err
	}
	defer stopReader()

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	var draining atomic.Bool
	metricsAddr := ""
	var hs *http.Server
	hsDone := make(chan error, 1)
	if cfg.metrics != "" {
		mln, err := net.Listen("tcp", cfg.metrics)
		if err != nil {
			ln.Close()
			return fmt.Errorf("-metrics: %w", err)
		}
		metricsAddr = mln.Addr().String()
		hs = &http.Server{Handler: metricsHandler(srv, func() bool { return !draining.Load() }), ReadHeaderTimeout: 5 * time.Second}
		go func() { hsDone <- hs.Serve(mln) }() // ends with hs.Shutdown below
	}
	log.Info("rdsmux: listening", "addr", ln.Addr().String(), "target", cfg.target, "metrics", metricsAddr,
		"users", len(cfg.users), "max_connections", cfg.maxConnections, "max_connections_percent", cfg.maxConnPercent)
	if ready != nil {
		ready(ln.Addr().String(), metricsAddr)
	}
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ln) }() // ends with Shutdown below

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-serveDone:
	}
	draining.Store(true)
	log.Info("rdsmux: draining", "timeout", cfg.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("rdsmux: clients still busy at the shutdown timeout were closed", "err", err)
	}
	if serveErr == nil {
		serveErr = <-serveDone
	}
	if hs != nil {
		_ = hs.Shutdown(sctx)
		<-hsDone
	}
	log.Info("rdsmux: stopped", "clients_served", srv.Stats().ClientConnectionsSetupSucceeded)
	if errors.Is(serveErr, proxy.ErrServerClosed) {
		return nil
	}
	return serveErr
}

// newBackend builds the backend side from the flags.
func newBackend(ctx context.Context, cfg *config) (*proxy.Backend, error) {
	b := &proxy.Backend{Addr: cfg.target, Database: cfg.backendDatabase, StatementCacheSize: cfg.stmtCache}
	if cfg.backendTLS {
		host, _, err := net.SplitHostPort(cfg.target)
		if err != nil {
			return nil, fmt.Errorf("-target: %w", err)
		}
		tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if cfg.backendCA != "" {
			pem, err := os.ReadFile(cfg.backendCA)
			if err != nil {
				return nil, fmt.Errorf("-backend-ca: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("-backend-ca %s: no PEM certificates found", cfg.backendCA)
			}
		}
		b.TLSConfig = tc
	}
	providers := make(map[string]iamauth.Provider, len(cfg.users))
	for _, u := range cfg.users {
		user, pw := u.Name, u.Password
		switch {
		case u.BackendUser != "":
			user, pw = u.BackendUser, u.BackendPassword
		case cfg.backendUser != "":
			user, pw = cfg.backendUser, cfg.backendPassword
		}
		if cfg.backendIAM {
			host, portStr, err := net.SplitHostPort(cfg.target)
			if err != nil {
				return nil, fmt.Errorf("-target: %w", err)
			}
			port, err := strconv.Atoi(portStr)
			if err != nil {
				return nil, fmt.Errorf("-target port: %w", err)
			}
			src, err := iamauth.NewTokenSource(ctx, host, port, user)
			if err != nil {
				return nil, fmt.Errorf("-backend-iam: %w", err)
			}
			providers[u.Name] = src
			continue
		}
		providers[u.Name] = iamauth.Static{User: user, Password: pw, Source: "rdsmux flags"}
	}
	b.Credentials = func(user string) (iamauth.Provider, error) {
		p, ok := providers[user]
		if !ok {
			return nil, fmt.Errorf("no backend credentials for client user %q", user)
		}
		return p, nil
	}
	return b, nil
}
