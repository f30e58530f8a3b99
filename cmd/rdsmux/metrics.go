package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
)

// writeMetrics writes st in the Prometheus text exposition format (0.0.4).
// Names follow RDS Proxy's metrics, snake_cased, under rdsmux_.
func writeMetrics(w io.Writer, st proxy.Stats) error {
	bw := bufio.NewWriter(w)
	m := func(name, typ, help string, v int64) {
		fmt.Fprintf(bw, "# HELP rdsmux_%s %s\n# TYPE rdsmux_%s %s\nrdsmux_%s %d\n", name, help, name, typ, name, v)
	}
	p := st.Pool
	m("client_connections", "gauge", "Client connections open now.", st.ClientConnections)
	m("client_connections_received_total", "counter", "Client connections accepted.", st.ClientConnectionsReceived)
	m("client_connections_setup_succeeded_total", "counter", "Client handshakes that succeeded.", st.ClientConnectionsSetupSucceeded)
	m("client_connections_setup_failed_auth_total", "counter", "Client authentications that failed.", st.ClientConnectionsSetupFailedAuth)
	m("client_connections_setup_failed_total", "counter", "Client handshakes that failed otherwise.", st.ClientConnectionsSetupFailed)
	m("client_connections_no_tls_total", "counter", "Clients refused for not using TLS.", st.ClientConnectionsRefusedNoTLS)
	m("client_connections_refused_total", "counter", "Clients refused by the client connection cap.", st.ClientConnectionsRefused)
	m("client_connections_closed_total", "counter", "Client connections closed.", st.ClientConnectionsClosed)
	m("client_connections_idle_timeout_total", "counter", "Clients closed by the idle client timeout.", st.ClientConnectionsIdleTimeout)
	m("query_requests_total", "counter", "COM_QUERY commands.", st.QueryRequests)
	m("command_requests_total", "counter", "Client commands.", st.CommandRequests)
	m("prepare_requests_total", "counter", "COM_STMT_PREPARE commands.", st.PrepareRequests)
	m("execute_requests_total", "counter", "COM_STMT_EXECUTE commands.", st.ExecuteRequests)
	m("backend_prepares_total", "counter", "Statements prepared on backend connections.", st.BackendPrepares)
	m("borrow_timeouts_total", "counter", "Commands answered with the borrow-timeout error.", st.BorrowTimeouts)
	m("backend_errors_total", "counter", "Commands failed by a backend failure.", st.BackendErrors)
	m("cursor_holds_total", "counter", "Executes that opened a cursor.", st.CursorHolds)
	m("protocol_errors_total", "counter", "Clients closed for malformed or oversized packets.", st.ProtocolErrors)
	m("look_behind_lost_total", "counter", "ROW_COUNT()/FOUND_ROWS()/SHOW WARNINGS refused: the previous statement's connection was taken.", st.LookBehindLost)
	m("clients_vanished_mid_command_total", "counter", "Clients that went away while a command of theirs ran.", st.ClientsVanishedMidCommand)
	m("vanished_statements_killed_total", "counter", "Statements of vanished clients stopped with KILL QUERY.", st.VanishedStatementsKilled)

	m("database_connections", "gauge", "Open backend connections.", int64(p.DatabaseConnections))
	m("database_connections_currently_borrowed", "gauge", "Backend connections held by client sessions.", int64(p.DatabaseConnectionsCurrentlyBorrowed))
	m("database_connections_currently_in_transaction", "gauge", "Backend connections in a transaction.", int64(p.DatabaseConnectionsCurrentlyInTransaction))
	m("database_connections_currently_session_pinned", "gauge", "Backend connections held by pinned sessions.", int64(p.DatabaseConnectionsCurrentlySessionPinned))
	m("database_connection_requests_total", "counter", "Backend connection attempts.", p.DatabaseConnectionRequests)
	m("database_connections_setup_succeeded_total", "counter", "Backend connections opened.", p.DatabaseConnectionsSetupSucceeded)
	m("database_connections_setup_failed_total", "counter", "Backend connection attempts that failed.", p.DatabaseConnectionsSetupFailed)
	m("max_database_connections_allowed", "gauge", "Cap on backend connections.", int64(p.MaxDatabaseConnectionsAllowed))
	m("idle_connections", "gauge", "Idle backend connections.", int64(p.IdleConnections))
	m("borrow_requests_total", "counter", "Borrows of a backend connection.", p.BorrowRequests)
	m("borrow_waits_total", "counter", "Borrows that had to wait.", p.WaitCount)
	m("borrows_waiting", "gauge", "Borrows waiting now.", int64(p.WaitingNow))
	m("resets_total", "counter", "Backend connections reset before reuse.", p.Resets)
	m("rollbacks_total", "counter", "Transactions rolled back for vanished clients.", p.Rollbacks)

	fmt.Fprintf(bw, "# HELP rdsmux_session_pins_total Sessions pinned, by reason.\n# TYPE rdsmux_session_pins_total counter\n")
	for r := 1; r < pinning.NumPinReasons; r++ {
		fmt.Fprintf(bw, "rdsmux_session_pins_total{reason=%q} %d\n", pinning.PinReason(r).String(), p.PinCount(pinning.PinReason(r)))
	}
	fmt.Fprintf(bw, "# HELP rdsmux_database_connections_closed_total Backend connections closed, by reason.\n# TYPE rdsmux_database_connections_closed_total counter\n")
	for r := 0; r < pool.NumCloseReasons; r++ {
		fmt.Fprintf(bw, "rdsmux_database_connections_closed_total{reason=%q} %d\n", pool.CloseReason(r).String(), p.ClosedCount(pool.CloseReason(r)))
	}
	h := p.DatabaseConnectionsBorrowLatency
	fmt.Fprintf(bw, "# HELP rdsmux_database_connections_borrow_latency_seconds Time to get a ready backend connection.\n# TYPE rdsmux_database_connections_borrow_latency_seconds histogram\n")
	var cum int64
	for i := 0; i < pool.HistogramBuckets-1; i++ {
		cum += h.Counts[i]
		le := strconv.FormatFloat(pool.BucketUpperBound(i).Seconds(), 'g', -1, 64)
		fmt.Fprintf(bw, "rdsmux_database_connections_borrow_latency_seconds_bucket{le=%q} %d\n", le, cum)
	}
	cum += h.Counts[pool.HistogramBuckets-1]
	fmt.Fprintf(bw, "rdsmux_database_connections_borrow_latency_seconds_bucket{le=\"+Inf\"} %d\n", cum)
	// The pool keeps counts per bucket, not a sum: the sum is estimated
	// from the bucket bounds (an upper bound).
	var sum float64
	for i := 0; i < pool.HistogramBuckets-1; i++ {
		sum += float64(h.Counts[i]) * pool.BucketUpperBound(i).Seconds()
	}
	fmt.Fprintf(bw, "rdsmux_database_connections_borrow_latency_seconds_sum %g\n", sum)
	fmt.Fprintf(bw, "rdsmux_database_connections_borrow_latency_seconds_count %d\n", cum)
	return bw.Flush()
}

// metricsHandler serves /metrics and /healthz.
func metricsHandler(srv *proxy.Server, healthy func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = writeMetrics(w, srv.Stats())
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if !healthy() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	return mux
}
