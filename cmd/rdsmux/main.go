// Command rdsmux runs the rdsmux MySQL-protocol listener standalone: many
// short-lived clients (Lambda handlers, scripts, programs in any language)
// connect to it as to MySQL and share a few backend connections, borrowed
// per transaction.
//
// Usage:
//
//	rdsmux -target db.example:3306 -user app:secret -max-connections 20 -metrics 127.0.0.1:9104
//
// Every flag can also be set as an RDSMUX_* environment variable or in the
// YAML file of -config; rdsmux -h lists them, with examples.
//
// Client users are given with -credentials FILE (JSON, see below; reloaded
// on SIGHUP), RDSMUX_USER=name:password, or -user name:password
// (repeatable; visible in ps). Backend credentials: by default each
// client user is served by the database account with the same name and
// password (as when the listener fronts the database's own users); with
// -backend-user/-backend-password every client user is served by that one
// account (-backend-secret: the account of a Secrets Manager secret,
// rotation followed); a -credentials entry may name its own backend account
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
// in a transaction finish it (up to -shutdown-timeout). SIGHUP reloads
// -credentials: users added, removed or with a new password take effect for
// the next logins, connected clients stay; the log names what changed.
//
// With -metrics ADDR: /metrics (Prometheus), /healthz (liveness: the
// process is up) and /readyz (503 while draining or while the database has
// been unreachable for -readiness-failure-window).
//
// At start, rdsmux runs itself again (same PID, an exec) with
// GODEBUG=schedtrace=2147483647 added, unless GODEBUG already sets
// schedtrace: see scheduler.go, and docs/design.md ("The listener",
// Performance) for why.
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
	"syscall"
	"time"

	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
)

func main() {
	keepSysmonAwake() // see scheduler.go
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// SIGHUP reloads the credentials instead of killing the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{}, 1)
	go func() { // ends with the process
		for range hup {
			select {
			case reload <- struct{}{}:
			default: // a reload is already pending
			}
		}
	}()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil, reload); err != nil {
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

// run runs the listener until ctx ends, then drains it. A value on reload
// reloads the credentials. out receives -h and -version, logOut the log.
func run(ctx context.Context, args []string, out, logOut io.Writer, ready listening, reload <-chan struct{}) error {
	cfg, err := parseFlags(args, out)
	if err != nil {
		return err
	}
	if cfg.version {
		fmt.Fprintln(out, "rdsmux", buildVersion())
		return nil
	}
	level := slog.LevelInfo
	if cfg.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: level}))
	for _, f := range cfg.passwordFlags {
		log.Warn("rdsmux: a password was given on the command line, where ps shows it to every local user; use -credentials FILE, RDSMUX_USER, RDSMUX_BACKEND_PASSWORD or -backend-secret instead", "flag", f)
	}

	creds, err := newCredStore(ctx, cfg)
	if err != nil {
		return err
	}
	backend, err := newBackend(cfg, creds)
	if err != nil {
		return err
	}
	budget, err := newFleet(cfg, "", log)
	if err != nil {
		return err
	}
	cl, err := newCluster(cfg, backend, log, budget.track())
	if err != nil {
		return err
	}
	if cl != nil {
		defer cl.monitor.Close()
	}
	filters, err := pinning.ParseFilters(cfg.filters)
	if err != nil {
		return fmt.Errorf("-session-pinning-filters: %w", err)
	}
	health := newHealth(log, cfg.unreadyAfter)
	p, err := pool.New(pool.Config{
		Budget:                    budget.budget(),
		Dial:                      health.wrapDial(backend.Dial),
		MaxConnections:            cfg.maxConnections,
		MaxConnectionsPercent:     cfg.maxConnPercent,
		MaxIdleConnectionsPercent: cfg.maxIdlePercent,
		ConnectionBorrowTimeout:   cfg.borrowTimeout,
		InitQuery:                 cfg.initQuery,
		VerifyState:               cfg.verifyState,
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

	srv := &proxy.Server{
		Pool:                 p,
		Target:               backend,
		Users:                creds.clients,
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
	reader, err := startReader(ctx, cfg, cl, srv, creds, log) // reader.go; nil without -reader-listen
	if err != nil {
		return err
	}
	defer reader.close()

	rawLn, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	tlsCount := &tlsCounter{}
	ln := countingListener{Listener: rawLn, t: tlsCount}
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
		endpoints := append([]endpoint{{name: "writer", stats: srv.Stats, tls: tlsCount}}, reader.metrics()...)
		reg := newRegistry(endpoints, func() bool { ok, _ := health.ready(); return ok })
		live := &liveness{check: func() { srv.Stats() }, timeout: livenessTimeout}
		hs = &http.Server{Handler: httpHandler(reg, health, live, cfg.pprof), ReadHeaderTimeout: 5 * time.Second}
		go func() { hsDone <- hs.Serve(mln) }() // ends with hs.Shutdown below
	}
	probeCtx, stopProbe := context.WithCancel(context.Background())
	probeDone := make(chan struct{})
	go func() { // ends with stopProbe below
		defer close(probeDone)
		health.probe(probeCtx, cfg.probeInterval, budget.trackDial(backend.Dial), creds.anyUser)
	}()
	log.Info("rdsmux: listening", "version", buildVersion(), "addr", ln.Addr().String(), "target", cfg.target, "metrics", metricsAddr,
		"users", len(*creds.backends.Load()), "max_connections", cfg.maxConnections, "max_connections_percent", cfg.maxConnPercent)
	if ready != nil {
		ready(ln.Addr().String(), metricsAddr)
	}
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ln) }() // ends with Shutdown below
	govCtx, stopGov := context.WithCancel(context.Background())
	defer stopGov()
	govDone := make(chan struct{})
	if gov := procsGovernorFor(cfg, srv, reader); gov != nil {
		go func() { // ends with stopGov below
			defer close(govDone)
			gov.run(govCtx)
		}()
	} else {
		close(govDone)
	}

	var serveErr error
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case serveErr = <-serveDone:
			break wait
		case <-reload:
			ch, err := creds.reload(ctx)
			logChange(log, ch, err)
		}
	}
	health.draining.Store(true)
	log.Info("rdsmux: draining", "timeout", cfg.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("rdsmux: clients still busy at the shutdown timeout were closed", "err", err)
	}
	if serveErr == nil {
		serveErr = <-serveDone
	}
	stopProbe()
	<-probeDone
	stopGov()
	<-govDone
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

// newBackend builds the backend side from the settings.
func newBackend(cfg *config, creds *credStore) (*proxy.Target, error) {
	b := &proxy.Target{Addr: cfg.target, Database: cfg.backendDatabase, StatementCacheSize: cfg.stmtCache, Credentials: creds.backendFor}
	if cfg.backendTLS {
		// No ServerName: each connection checks the name of the host it
		// dials (with -failover, whichever instance is the writer).
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
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
	return b, nil
}
