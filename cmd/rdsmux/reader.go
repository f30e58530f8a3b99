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

// startReader starts the reader endpoint of -reader-listen: a second
// listener, configured as the writer's (srv), whose own pool dials the
// cluster's readers through cl's monitor (the least loaded healthy one;
// the writer when none is). stop drains it within -shutdown-timeout and
// closes its pool. Without -reader-listen it does nothing.
func startReader(ctx context.Context, cfg *config, cl *cluster, srv *proxy.Server, creds *credStore, log *slog.Logger) (stop func(), err error) {
	if cfg.readerListen == "" || cl == nil {
		return func() {}, nil
	}
	b, err := newBackend(cfg, creds)
	if err != nil {
		return nil, err
	}
	b.Addr = srv.Backend.Addr
	b.Failover = failover.NewDialer(cl.monitor, failover.DialerConfig{Role: failover.RoleReader})
	log = log.With("endpoint", "reader")
	p, err := pool.New(pool.Config{
		Dial:                      b.Dial,
		MaxConnections:            cfg.maxConnections,
		MaxConnectionsPercent:     cfg.maxConnPercent,
		MaxIdleConnectionsPercent: cfg.maxIdlePercent,
		ConnectionBorrowTimeout:   cfg.borrowTimeout,
		InitQuery:                 cfg.initQuery,
		Logger:                    log,
	})
	if err != nil {
		return nil, fmt.Errorf("-reader-listen: %w", err)
	}
	rs := &proxy.Server{
		Pool:                 p,
		Backend:              b,
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
	ln, err := net.Listen("tcp", cfg.readerListen)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("-reader-listen: %w", err)
	}
	log.Info("rdsmux: reader endpoint listening", "addr", ln.Addr().String())
	done := make(chan error, 1)
	go func() { done <- rs.Serve(ln) }() // ends with Shutdown in stop
	return func() {
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
	}, nil
}
