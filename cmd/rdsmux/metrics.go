package main

import (
	"io"
	"net/http"
	"net/http/pprof"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
)

// metricPrefix starts every rdsmux metric name. Names are CloudWatch's RDS
// Proxy metric names, snake_cased (ClientConnectionsNoTLS:
// client_connections_no_tls), counters with _total.
const metricPrefix = "rdsmux_"

// endpoint is one listener whose statistics /metrics exports: the main
// one ("writer") and, with -reader-listen, the reader endpoint ("reader").
// Every series of its statistics carries the label endpoint=name.
type endpoint struct {
	name  string
	stats func() proxy.Stats
	tls   *tlsCounter // its clients with and without TLS
}

// labels are the constant labels of the endpoint's series.
func (e endpoint) labels() prometheus.Labels { return prometheus.Labels{"endpoint": e.name} }

// statsCollector is a prometheus.Collector that reads an endpoint's Stats
// (the listener's and its pool's) once per scrape.
type statsCollector struct {
	stats func() proxy.Stats
	tls   *tlsCounter // current clients with and without TLS
	descs []*prometheus.Desc
	// The metrics, in the order collect emits them.
	gauges, counters []statMetric
	pins, closed     *prometheus.Desc
	histograms       []histMetric
}

// statMetric is one number of Stats.
type statMetric struct {
	desc *prometheus.Desc
	get  func(*proxy.Stats) float64
}

// histMetric is one histogram of Stats.
type histMetric struct {
	desc *prometheus.Desc
	get  func(*proxy.Stats) pool.Histogram
}

func i64(v int64) float64 { return float64(v) }

// newStatsCollector describes every metric of ep.
func newStatsCollector(ep endpoint) *statsCollector {
	tls := ep.tls
	c := &statsCollector{stats: ep.stats, tls: tls}
	labels := ep.labels()
	gauge := func(name, help string, get func(*proxy.Stats) float64) {
		c.gauges = append(c.gauges, statMetric{prometheus.NewDesc(metricPrefix+name, help, nil, labels), get})
	}
	counter := func(name, help string, get func(*proxy.Stats) float64) {
		c.counters = append(c.counters, statMetric{prometheus.NewDesc(metricPrefix+name+"_total", help, nil, labels), get})
	}
	hist := func(name, help string, get func(*proxy.Stats) pool.Histogram) {
		c.histograms = append(c.histograms, histMetric{prometheus.NewDesc(metricPrefix+name, help, nil, labels), get})
	}

	// Client side (RDS Proxy: ClientConnections...).
	gauge("client_connections", "Client connections open now.", func(s *proxy.Stats) float64 { return i64(s.ClientConnections) })
	gauge("client_connections_no_tls", "Client connections open now that do not use TLS.", func(*proxy.Stats) float64 { return float64(tls.plain.Load()) })
	gauge("client_connections_tls", "Client connections open now that use TLS.", func(*proxy.Stats) float64 { return float64(tls.secure.Load()) })
	gauge("client_commands_in_flight", "Client commands read and not yet answered, waits for a backend included.", func(s *proxy.Stats) float64 { return i64(s.CommandsInFlight) })
	counter("client_connections_received", "Client connections accepted.", func(s *proxy.Stats) float64 { return i64(s.ClientConnectionsReceived) })
	counter("client_connections_setup_succeeded", "Client handshakes and authentications that succeeded.", func(s *proxy.Stats) float64 { return i64(s.ClientConnectionsSetupSucceeded) })
	counter("client_connections_setup_failed_auth", "Client authentications that failed (wrong password, unknown user, refused for not using TLS).", func(s *proxy.Stats) float64 { return i64(s.ClientConnectionsSetupFailedAuth) })
	counter("client_connections_setup_failed", "Client handshakes that failed otherwise (malformed, timed out, went away).", func(s *proxy.Stats) float64 { return i64(s.ClientConnectionsSetupFailed) })
	counter("client_connections_refused_no_tls", "Clients refused under -require-tls for not using TLS (also in setup_failed_auth).", func(s *proxy.Stats) float64 { return i64(s.ClientConnectionsRefusedNoTLS) })
	counter("client_connections_refused", "Clients refused by -max-client-connections.", func(s *proxy.Stats) float64 { return i64(s.ClientConnectionsRefused) })
	counter("client_connections_closed", "Client connections closed, for any reason.", func(s *proxy.Stats) float64 { return i64(s.ClientConnectionsClosed) })
	counter("client_connections_idle_timeout", "Clients closed by -idle-client-timeout.", func(s *proxy.Stats) float64 { return i64(s.ClientConnectionsIdleTimeout) })

	// Commands (RDS Proxy: QueryRequests...).
	counter("query_requests", "COM_QUERY commands.", func(s *proxy.Stats) float64 { return i64(s.QueryRequests) })
	counter("command_requests", "Client commands of every kind.", func(s *proxy.Stats) float64 { return i64(s.CommandRequests) })
	counter("prepare_requests", "COM_STMT_PREPARE commands.", func(s *proxy.Stats) float64 { return i64(s.PrepareRequests) })
	counter("execute_requests", "COM_STMT_EXECUTE commands.", func(s *proxy.Stats) float64 { return i64(s.ExecuteRequests) })
	counter("backend_prepares", "Statements prepared on backend connections.", func(s *proxy.Stats) float64 { return i64(s.BackendPrepares) })
	counter("borrow_timeouts", "Commands answered with the borrow-timeout error (-borrow-timeout).", func(s *proxy.Stats) float64 { return i64(s.BorrowTimeouts) })
	counter("backend_errors", "Commands failed by a backend failure.", func(s *proxy.Stats) float64 { return i64(s.BackendErrors) })
	counter("cursor_holds", "Executes that opened a cursor.", func(s *proxy.Stats) float64 { return i64(s.CursorHolds) })
	counter("protocol_errors", "Clients closed for malformed or oversized packets.", func(s *proxy.Stats) float64 { return i64(s.ProtocolErrors) })
	counter("look_behind_lost", "ROW_COUNT()/FOUND_ROWS()/SHOW WARNINGS refused: the previous statement's connection was taken.", func(s *proxy.Stats) float64 { return i64(s.LookBehindLost) })
	counter("clients_vanished_mid_command", "Clients that went away while a command of theirs ran.", func(s *proxy.Stats) float64 { return i64(s.ClientsVanishedMidCommand) })
	counter("vanished_statements_killed", "Statements of vanished clients stopped with KILL QUERY.", func(s *proxy.Stats) float64 { return i64(s.VanishedStatementsKilled) })

	// Database side (RDS Proxy: DatabaseConnections...), from pool.Stats.
	gauge("database_connections", "Open backend connections.", func(s *proxy.Stats) float64 { return float64(s.Pool.DatabaseConnections) })
	gauge("database_connections_currently_borrowed", "Backend connections held by client sessions.", func(s *proxy.Stats) float64 { return float64(s.Pool.DatabaseConnectionsCurrentlyBorrowed) })
	gauge("database_connections_currently_in_transaction", "Backend connections in a transaction.", func(s *proxy.Stats) float64 { return float64(s.Pool.DatabaseConnectionsCurrentlyInTransaction) })
	gauge("database_connections_currently_session_pinned", "Backend connections held by pinned sessions.", func(s *proxy.Stats) float64 { return float64(s.Pool.DatabaseConnectionsCurrentlySessionPinned) })
	gauge("max_database_connections_allowed", "Cap on backend connections in force.", func(s *proxy.Stats) float64 { return float64(s.Pool.MaxDatabaseConnectionsAllowed) })
	gauge("database_connections_idle", "Idle backend connections.", func(s *proxy.Stats) float64 { return float64(s.Pool.IdleConnections) })
	gauge("database_connections_max_idle", "Idle backend connections kept indefinitely.", func(s *proxy.Stats) float64 { return float64(s.Pool.MaxIdleConnections) })
	gauge("database_connections_opening", "Backend connections being opened.", func(s *proxy.Stats) float64 { return float64(s.Pool.ConnectionsOpening) })
	gauge("database_server_max_connections", "The server's @@max_connections as last read (0: not read).", func(s *proxy.Stats) float64 { return float64(s.Pool.ServerMaxConnections) })
	gauge("database_connections_borrows_waiting", "Borrows waiting for a backend connection now.", func(s *proxy.Stats) float64 { return float64(s.Pool.WaitingNow) })
	counter("database_connection_requests", "Backend connection attempts.", func(s *proxy.Stats) float64 { return i64(s.Pool.DatabaseConnectionRequests) })
	counter("database_connections_setup_succeeded", "Backend connections opened.", func(s *proxy.Stats) float64 { return i64(s.Pool.DatabaseConnectionsSetupSucceeded) })
	counter("database_connections_setup_failed", "Backend connection attempts that failed.", func(s *proxy.Stats) float64 { return i64(s.Pool.DatabaseConnectionsSetupFailed) })
	counter("database_connections_dial_retries", "Borrows that retried after a transient dial failure.", func(s *proxy.Stats) float64 { return i64(s.Pool.DialRetries) })
	counter("database_connections_borrow_requests", "Borrows of a backend connection.", func(s *proxy.Stats) float64 { return i64(s.Pool.BorrowRequests) })
	counter("database_connections_borrow_waits", "Borrows that had to wait.", func(s *proxy.Stats) float64 { return i64(s.Pool.WaitCount) })
	counter("database_connections_borrow_wait_seconds", "Time borrows spent waiting, in total.", func(s *proxy.Stats) float64 { return s.Pool.WaitDuration.Seconds() })
	counter("database_connections_borrow_timeouts", "Borrows failed by -borrow-timeout.", func(s *proxy.Stats) float64 { return i64(s.Pool.BorrowTimeouts) })
	counter("database_connections_borrows_canceled", "Borrows ended because their client went away or gave up.", func(s *proxy.Stats) float64 { return i64(s.Pool.BorrowsCanceled) })
	counter("database_connections_health_checks", "Pings before reusing a backend connection.", func(s *proxy.Stats) float64 { return i64(s.Pool.HealthChecks) })
	counter("database_connections_reuse_exact_match", "Borrows whose connection already had the session's settings and schema.", func(s *proxy.Stats) float64 { return i64(s.Pool.ReuseExactMatch) })
	counter("database_connections_reuse_diff_applied", "Borrows that applied a settings or schema difference.", func(s *proxy.Stats) float64 { return i64(s.Pool.ReuseDiffApplied) })
	counter("database_connections_resets", "Backend connections reset (COM_RESET_CONNECTION) before reuse.", func(s *proxy.Stats) float64 { return i64(s.Pool.Resets) })
	counter("database_connections_rollbacks", "Transactions rolled back for vanished clients.", func(s *proxy.Stats) float64 { return i64(s.Pool.Rollbacks) })
	counter("database_connections_look_behind_reclaimed", "Look-behind statements served by taking back the previous statement's connection.", func(s *proxy.Stats) float64 { return i64(s.Pool.LookBehindReclaimed) })

	c.pins = prometheus.NewDesc(metricPrefix+"database_connections_session_pins_total", "Sessions pinned to their backend connection, by reason.", []string{"reason"}, labels)
	c.closed = prometheus.NewDesc(metricPrefix+"database_connections_closed_total", "Backend connections closed, by reason.", []string{"reason"}, labels)

	hist("query_database_response_latency_seconds", "Per command relayed to the database, the time the database took to answer it (from sending it to the end of the response).",
		func(s *proxy.Stats) pool.Histogram { return s.QueryDatabaseResponseLatency })
	hist("query_response_latency_seconds", "Per command, the time from the listener reading it to the end of the response to the client (borrowing a backend connection included).",
		func(s *proxy.Stats) pool.Histogram { return s.QueryResponseLatency })
	hist("database_connections_borrow_latency_seconds", "Time to get a ready backend connection (waiting, health check, settings difference).",
		func(s *proxy.Stats) pool.Histogram { return s.Pool.DatabaseConnectionsBorrowLatency })

	for _, m := range c.gauges {
		c.descs = append(c.descs, m.desc)
	}
	for _, m := range c.counters {
		c.descs = append(c.descs, m.desc)
	}
	for _, m := range c.histograms {
		c.descs = append(c.descs, m.desc)
	}
	c.descs = append(c.descs, c.pins, c.closed)
	return c
}

// Describe implements prometheus.Collector.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one Stats snapshot per scrape.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	for _, m := range c.gauges {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, m.get(&st))
	}
	for _, m := range c.counters {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, m.get(&st))
	}
	for r := 1; r < pinning.NumPinReasons; r++ {
		reason := pinning.PinReason(r)
		ch <- prometheus.MustNewConstMetric(c.pins, prometheus.CounterValue, i64(st.Pool.PinCount(reason)), reason.String())
	}
	for r := 0; r < pool.NumCloseReasons; r++ {
		reason := pool.CloseReason(r)
		ch <- prometheus.MustNewConstMetric(c.closed, prometheus.CounterValue, i64(st.Pool.ClosedCount(reason)), reason.String())
	}
	for _, m := range c.histograms {
		h := m.get(&st)
		ch <- constHistogram(m.desc, &h)
	}
}

// constHistogram converts a pool.Histogram (power-of-two microsecond
// buckets, exact sum) to a Prometheus histogram in seconds.
func constHistogram(desc *prometheus.Desc, h *pool.Histogram) prometheus.Metric {
	buckets := make(map[float64]uint64, pool.HistogramBuckets-1)
	var cum uint64
	for i := 0; i < pool.HistogramBuckets-1; i++ {
		cum += uint64(h.Counts[i])
		buckets[pool.BucketUpperBound(i).Seconds()] = cum
	}
	cum += uint64(h.Counts[pool.HistogramBuckets-1])
	return prometheus.MustNewConstHistogram(desc, cum, h.Sum.Seconds(), buckets)
}

// newRegistry returns the registry /metrics serves: the statistics of
// each endpoint (labelled endpoint="writer" or "reader"), build
// information, and the Go runtime's and the process's own metrics.
func newRegistry(endpoints []endpoint, ready func() bool) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	for _, ep := range endpoints {
		reg.MustRegister(newStatsCollector(ep), newFleetCollector(ep.stats, ep.labels()))
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: metricPrefix + "gomaxprocs",
			Help: "GOMAXPROCS now: 1 while -gomaxprocs-follow-load runs the listener on one P, else Go's default or the GOMAXPROCS environment variable.",
		}, func() float64 { return float64(runtime.GOMAXPROCS(0)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: metricPrefix + "ready",
			Help: "1 while /readyz answers 200, 0 while it answers 503.",
		}, func() float64 {
			if ready() {
				return 1
			}
			return 0
		}),
	)
	bi := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: metricPrefix + "build_info",
		Help: "Always 1; the labels say which rdsmux this is.",
	}, []string{"version", "goversion"})
	bi.WithLabelValues(buildVersion(), runtime.Version()).Set(1)
	reg.MustRegister(bi)
	return reg
}

// httpHandler serves /metrics, /healthz (liveness) and /readyz
// (readiness), and with profiles Go's profiles under /debug/pprof/.
func httpHandler(reg *prometheus.Registry, h *health, live *liveness, profiles bool) http.Handler {
	mux := http.NewServeMux()
	if profiles {
		// Block and mutex profiles record nothing unless sampled; one
		// event in 5 contentions and blocking of 10 µs or more is cheap
		// enough while someone profiles.
		runtime.SetBlockProfileRate(10_000)
		runtime.SetMutexProfileFraction(5)
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if !live.alive() {
			http.Error(w, "wedged: the pool's statistics did not answer within "+live.timeout.String(), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ok, why := h.ready()
		if !ok {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	return mux
}
