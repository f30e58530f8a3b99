package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/rdsmux/rdsmux/failover"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
)

// readerEndpoint is the running reader endpoint of -reader-listen.
type readerEndpoint struct {
	srv *proxy.Server
	tls *tlsCounter // its clients with and without TLS
	// stop drains it within -shutdown-timeout and closes its pool.
	stop func()
}

// metrics returns the endpoint /metrics exports for r (none when r is nil:
// no -reader-listen).
func (r *readerEndpoint) metrics() []endpoint {
	if r == nil {
		return nil
	}
	return []endpoint{{name: "reader", stats: r.srv.Stats, tls: r.tls}}
}

// close stops r (nil-safe).
func (r *readerEndpoint) close() {
	if r != nil {
		r.stop()
	}
}

// readerFleetSuffix ends the name of the reader pool's fleet budget: the
// readers are other servers than the writer, each with its own
// max_connections, so the reader endpoint's pool shares a budget of its
// own (-fleet-name + "/reader") with the other processes' reader pools,
// and the writer never sees more than the writer budget.
const readerFleetSuffix = "/reader"

// startReader starts the reader endpoint of -reader-listen: a second
// listener, configured as the writer's (srv), whose own pool dials the
// cluster's readers through cl's monitor (the healthy one with the fewest
// borrows out; the writer when none is) and, with -fleet, takes its
// connections from the fleet budget named -fleet-name + "/reader".
// Without -reader-listen it does nothing and returns nil.
func startReader(ctx context.Context, cfg *config, cl *cluster, srv *proxy.Server, creds *credStore, log *slog.Logger) (*readerEndpoint, error) {
	if cfg.readerListen == "" || cl == nil {
		return nil, nil
	}
	b, err := newBackend(cfg, creds)
	if err != nil {
		return nil, err
	}
	b.Addr = srv.Target.Addr
	b.Failover = failover.NewDialer(cl.monitor, failover.DialerConfig{Role: failover.RoleReader})
	log = log.With("endpoint", "reader")
	budget, err := newFleet(cfg, readerFleetSuffix, log)
	if err != nil {
		return nil, fmt.Errorf("-reader-listen: %w", err)
	}
	p, err := pool.New(pool.Config{
		Budget:                    budget.budget(),
		Dial:                      b.Dial,
		MaxConnections:            cfg.maxConnections,
		MaxConnectionsPercent:     cfg.maxConnPercent,
		MaxIdleConnectionsPercent: cfg.maxIdlePercent,
		ConnectionBorrowTimeout:   cfg.borrowTimeout,
		InitQuery:                 cfg.initQuery,
		Logger:                    log,
	})
	if err != nil {
		budget.close()
		return nil, fmt.Errorf("-reader-listen: %w", err)
	}
	rs := &proxy.Server{
		Pool:                 p,
		Target:               b,
		Users:                srv.Users,
		TLSConfig:            srv.TLSConfig,
		RequireTLS:           srv.RequireTLS,
		MaxClientConnections: srv.MaxClientConnections,
		IdleClientTimeout:    srv.IdleClientTimeout,
		DisableLocalInfile:   srv.DisableLocalInfile,
		Mode:                 srv.Mode,
		Classifier:           srv.Classifier,
		Logger:               log,
	}
	rawLn, err := net.Listen("tcp", cfg.readerListen)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("-reader-listen: %w", err)
	}
	tlsCount := &tlsCounter{}
	ln := countingListener{Listener: rawLn, t: tlsCount}
	log.Info("rdsmux: reader endpoint listening", "addr", ln.Addr().String())
	done := make(chan error, 1)
	go func() { done <- rs.Serve(ln) }() // ends with Shutdown in stop
	return &readerEndpoint{srv: rs, tls: tlsCount, stop: func() {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
		defer cancel()
		if err := rs.Shutdown(sctx); err != nil {
			log.Warn("rdsmux: reader clients still busy at the shutdown timeout were closed", "err", err)
		}
		if err := <-done; err != nil && !errors.Is(err, proxy.ErrServerClosed) {
			log.Warn("rdsmux: the reader endpoint stopped", "err", err)
		}
		log.Info("rdsmux: reader endpoint stopped", "clients_served", rs.Stats().ClientConnectionsSetupSucceeded,
			"reader_connections", b.ReaderConnections())
		p.Close()
	}}, nil
}
