package main

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux"
	"github.com/rdsmux/rdsmux/pinning"
)

// client is how a phase's handlers reach the database.
type client interface {
	// handler returns the state of one handler (one warm Lambda
	// execution environment); the phase closes it when the handler ends.
	handler() handler
	// gauges samples the client side.
	gauges() gauges
	// summary reports what the client counted itself, once the traffic
	// has stopped.
	summary() summary
	// close releases everything the client holds.
	close() error
}

// gauges is one sample of a client.
type gauges struct {
	clientConns int // connections the handlers hold: MySQL (direct) or logical (rdsmux)
	dbConns     int // database connections as the client counts them
	waiting     int // handlers waiting for a database connection; -1: no such queue
}

// handler runs one handler's requests, one at a time.
type handler interface {
	// request runs invocation number n.
	request(ctx context.Context, rng *rand.Rand, n uint64) error
	close()
}

// summary is what a client counted over a phase.
type summary struct {
	opened     int64            // database connections opened
	peakClient int              // exact peak of gauges.clientConns, 0 if only sampled
	peakDB     int              // exact peak of gauges.dbConns, 0 if only sampled
	pins       map[string]int64 // sessions pinned per reason; nil when the client does not pin
}

// directClient is a naive Lambda handler: a new MySQL connection for every
// request, closed at its end.
type directClient struct {
	db        *sql.DB
	connected atomic.Int64 // connections established and not yet closed
	peak      atomic.Int64 // most connections established at once
	opened    atomic.Int64 // connections established
}

func openDirect(_ context.Context, d *database, _ options) (client, error) {
	cfg, err := mysql.ParseDSN(d.dsn)
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxIdleConns(-1) // nothing is kept between requests
	return &directClient{db: db}, nil
}

// directHandler keeps nothing between requests.
type directHandler struct{ c *directClient }

func (c *directClient) handler() handler { return directHandler{c} }
func (directHandler) close()             {}

func (h directHandler) request(ctx context.Context, rng *rand.Rand, n uint64) error {
	c := h.c
	conn, err := c.db.Conn(ctx) // connect (TCP, handshake, auth)
	if err != nil {
		return err
	}
	c.opened.Add(1)
	now := c.connected.Add(1)
	for p := c.peak.Load(); now > p && !c.peak.CompareAndSwap(p, now); p = c.peak.Load() {
	}
	defer func() {
		// Uncount before hanging up: the server frees the slot on
		// COM_QUIT, and another handler may take it before a later
		// decrement, which would count one connection twice. Counted
		// after the handshake and uncounted before the quit, the
		// client's count never exceeds the server's.
		c.connected.Add(-1)
		conn.Close() // and hang up
	}()
	return doRequest(ctx, conn, kindOf(n), rng, n)
}

func (c *directClient) gauges() gauges {
	n := int(c.connected.Load())
	return gauges{clientConns: n, dbConns: n, waiting: -1}
}

func (c *directClient) summary() summary {
	p := int(c.peak.Load())
	return summary{opened: c.opened.Load(), peakClient: p, peakDB: p}
}

func (c *directClient) close() error { return c.db.Close() }

// rdsmuxClient shares one rdsmux.DB between all handlers: every handler
// keeps its own logical connection, as a warm Lambda keeps its connection to
// RDS Proxy, and they take turns on a few database connections.
type rdsmuxClient struct{ db *rdsmux.DB }

func openRdsmux(_ context.Context, d *database, o options) (client, error) {
	cfg, err := rdsmux.ParseDSN(d.dsn)
	if err != nil {
		return nil, err
	}
	cfg.MaxConnections = o.pool
	cfg.ConnectionBorrowTimeout = o.requestTimeout
	// Pool events go nowhere: the demo reports through the pool's stats.
	db, err := rdsmux.OpenConfig(cfg, rdsmux.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return nil, err
	}
	return &rdsmuxClient{db: db}, nil
}

// rdsmuxHandler holds a logical connection, opened at its first request.
// Opening one is cheap: it borrows a database connection only per
// statement or transaction.
type rdsmuxHandler struct {
	c    *rdsmuxClient
	conn *sql.Conn
}

func (c *rdsmuxClient) handler() handler { return &rdsmuxHandler{c: c} }

func (h *rdsmuxHandler) request(ctx context.Context, rng *rand.Rand, n uint64) error {
	kind := kindOf(n)
	if kind == tagRequest {
		// A user variable pins the session that sets it until the session
		// ends; the legacy code path gets a session of its own, so that the
		// handler's connection stays shareable.
		s, err := h.c.db.Session(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		return doRequest(ctx, s, kind, rng, n)
	}
	if h.conn == nil {
		conn, err := h.c.db.Conn(ctx)
		if err != nil {
			return err
		}
		h.conn = conn
	}
	return doRequest(ctx, h.conn, kind, rng, n)
}

func (h *rdsmuxHandler) close() {
	if h.conn != nil {
		_ = h.conn.Close()
	}
}

func (c *rdsmuxClient) gauges() gauges {
	st := c.db.PoolStats()
	return gauges{clientConns: c.db.Stats().OpenConnections, dbConns: st.DatabaseConnections, waiting: st.WaitingNow}
}

func (c *rdsmuxClient) summary() summary {
	st := c.db.PoolStats()
	s := summary{opened: st.DatabaseConnectionsSetupSucceeded, pins: map[string]int64{}}
	for r := pinning.PinReason(1); int(r) < pinning.NumPinReasons; r++ {
		if n := st.PinCount(r); n > 0 {
			s.pins[r.String()] = n
		}
	}
	return s
}

func (c *rdsmuxClient) close() error { return c.db.Close() }
