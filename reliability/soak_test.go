package reliability

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux"
	"github.com/rdsmux/rdsmux/failover"
	"github.com/rdsmux/rdsmux/internal/faultnet"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
)

// soakConfig sizes a run.
type soakConfig struct {
	clients  int
	duration time.Duration
	backends int
	seed     uint64
	faults   bool // latency and resets through the fault proxy
	kills    bool // server-side KILL of backend connections
	// failovers is how many times the writer fails over during the run
	// (a primary/replica pair); 0 runs against a single server.
	failovers int
}

func configFromEnv(t *testing.T) soakConfig {
	cfg := soakConfig{clients: 24, duration: 20 * time.Second, backends: 6, faults: os.Getenv("RDSMUX_SOAK_FAULTS") != "0", kills: os.Getenv("RDSMUX_SOAK_FAULTS") != "0"}
	if d := os.Getenv("RDSMUX_SOAK"); d != "" {
		dur, err := time.ParseDuration(d)
		require.NoError(t, err, "RDSMUX_SOAK must be a duration such as 10m")
		cfg.duration = dur
		cfg.clients = 64
		cfg.backends = 10
		cfg.failovers = 2
		if f := os.Getenv("RDSMUX_SOAK_FAILOVERS"); f != "" {
			n, err := strconv.Atoi(f)
			require.NoError(t, err, "RDSMUX_SOAK_FAILOVERS must be a number")
			cfg.failovers = n
		}
	} else if testing.Short() {
		cfg.duration = 5 * time.Second
	}
	cfg.seed = uint64(time.Now().UnixNano())
	if s := os.Getenv("RDSMUX_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		cfg.seed = seed
	}
	return cfg
}

// outcome of one write, for the ledger check.
type outcome int

const (
	acked     outcome = iota // the client saw success: must be present exactly once
	failed                   // definitely not committed: must be absent
	ambiguous                // the connection broke around COMMIT: either
)

// ledger records every write the clients attempted.
type ledger struct {
	mu      sync.Mutex // guards entries
	entries map[string]outcome
}

func (l *ledger) record(key string, o outcome) {
	l.mu.Lock()
	l.entries[key] = o
	l.mu.Unlock()
}

// counts of what happened, reported at the end.
type counts struct {
	ops, errors, txCommitted, txRolledBack, disconnects, cancels, kills, faults atomic.Int64
	isolationChecks, lastInsertChecks, pins                                     atomic.Int64
}

// node is one database server of the run and the fault proxy in front of
// it: rdsmux reaches the server only through the proxy.
type node struct {
	name   string
	server *mariadbtest.Server
	proxy  *faultnet.Proxy
	// root is a root handle straight to the server (not through the
	// proxy) for the killer and the sampler; it reconnects across
	// restarts, as the server keeps its port.
	root *sql.DB
}

// harness is one run's shared state.
type harness struct {
	t        *testing.T
	cfg      soakConfig
	nodes    []*node           // one, or a primary/replica pair (failovers > 0)
	db       *sql.DB           // the clients' handle: rdsmux driver, or go-sql-driver to the listener
	stats    func() pool.Stats // the pool under test
	shutdown func() error      // closes db and whatever serves it
	ledger   ledger
	counts   counts
	accounts int
	total    int64
	violated atomic.Bool
	peak     atomic.Int64 // most server threads of app seen by the sampler

	errMu  sync.Mutex     // guards errors
	errors map[string]int // error text (shortened) -> count, for the report

	topoMu sync.Mutex   // guards writer and down
	writer int          // index in nodes of the current primary
	down   map[int]bool // nodes failed and not yet rejoined: the chaos goroutines leave them alone
	// chaosMu is held by the faulter while a fault is on a proxy and by
	// the failover steps while they change a proxy's faults, so that the
	// faulter's Clear never lifts a failover's blackhole.
	chaosMu sync.Mutex

	start     time.Time                      // when the clients started; set before they do
	failover  atomic.Pointer[failoverRecord] // the latest failover, for the clients' acks and errors
	failovers []*failoverRecord              // every failover, appended by the test goroutine only
	monitor   *failover.Monitor              // the listener's, owned by shutdown; nil for the driver (its target owns it)
}

// writerNode returns the current primary.
func (h *harness) writerNode() *node {
	h.topoMu.Lock()
	defer h.topoMu.Unlock()
	return h.nodes[h.writer]
}

// chaosTarget picks the node a fault or a KILL goes to: the writer three
// times out of four, else another node that is up (its probe connections).
func (h *harness) chaosTarget(rng *rand.Rand) *node {
	h.topoMu.Lock()
	defer h.topoMu.Unlock()
	if len(h.nodes) > 1 && rng.IntN(4) == 0 {
		for i, n := range h.nodes {
			if i != h.writer && !h.down[i] {
				return n
			}
		}
	}
	if h.down[h.writer] {
		return nil
	}
	return h.nodes[h.writer]
}

// record notes the outcome of a write in the ledger (and an
// acknowledgement as the end of an outage).
func (h *harness) record(key string, o outcome) {
	h.ledger.record(key, o)
	if o == acked {
		if rec := h.failover.Load(); rec != nil {
			rec.noteAck(time.Now())
		}
	}
}

func (h *harness) noteError(err error) {
	if rec := h.failover.Load(); rec != nil {
		rec.noteError(time.Now(), errorKind(err))
	}
	msg := err.Error()
	if len(msg) > 220 {
		msg = msg[:220]
	}
	h.errMu.Lock()
	if h.errors == nil {
		h.errors = map[string]int{}
	}
	h.errors[msg]++
	h.errMu.Unlock()
}

func (h *harness) logErrors() {
	type kv struct {
		msg string
		n   int
	}
	var all []kv
	for m, n := range h.errors {
		all = append(all, kv{m, n})
	}
	slices.SortFunc(all, func(a, b kv) int { return b.n - a.n })
	for i, e := range all {
		if i == 12 {
			break
		}
		h.t.Logf("  %6d × %s", e.n, e.msg)
	}
}

func (h *harness) violation(format string, args ...any) {
	h.violated.Store(true)
	h.t.Errorf("INVARIANT VIOLATED (seed %d): %s", h.cfg.seed, fmt.Sprintf(format, args...))
}

// TestSoakDriver runs the randomized suite through the database/sql driver.
func TestSoakDriver(t *testing.T) { runSoak(t, "driver", configFromEnv(t)) }

// TestSoakListener runs the same clients, with go-sql-driver, through the
// MySQL-protocol listener (proxy.Server) in front of the same kind of pool.
func TestSoakListener(t *testing.T) { runSoak(t, "listener", configFromEnv(t)) }

func runSoak(t *testing.T, via string, cfg soakConfig) {
	t.Logf("seed %d (rerun with RDSMUX_SEED=%d), %d clients, %v, %d backends, %d writer failovers",
		cfg.seed, cfg.seed, cfg.clients, cfg.duration, cfg.backends, cfg.failovers)

	h := &harness{t: t, cfg: cfg, accounts: 20, ledger: ledger{entries: map[string]outcome{}}, down: map[int]bool{}}
	h.startNodes()
	primary := h.nodes[0].server
	primary.CreateUser(t, "app", "app-pw")
	primary.Exec(t, "CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL)")
	primary.Exec(t, "CREATE TABLE ledger (id BIGINT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(64) NOT NULL, KEY (k))")
	for i := 0; i < h.accounts; i++ {
		primary.Exec(t, "INSERT INTO accounts VALUES (?, 1000)", i)
	}
	h.total = int64(h.accounts) * 1000
	if len(h.nodes) > 1 {
		h.nodes[1].server.WaitReplicaCaughtUp(t, primary)
	}
	// The harness's own goroutines (servers, fault proxies, root handles)
	// are running; what the run starts from here must end.
	baseGoroutines := runtime.NumGoroutine()

	// Lost pinned sessions are expected here by the thousand; keep the log
	// to errors.
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	switch via {
	case "driver":
		h.openDriver(quiet)
	case "listener":
		h.openListener(quiet)
	}
	// Each sql.Conn is one client session; a released one really ends.
	h.db.SetMaxIdleConns(0)

	h.start = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < cfg.clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{h: h, id: i, rng: rand.New(rand.NewPCG(cfg.seed, uint64(i)))}
			c.run(ctx)
		}()
	}
	var chaos sync.WaitGroup
	if cfg.kills {
		chaos.Add(1)
		go func() { defer chaos.Done(); h.killer(ctx) }()
	}
	if cfg.faults {
		chaos.Add(1)
		go func() { defer chaos.Done(); h.faulter(ctx) }()
	}
	chaos.Add(1)
	go func() { defer chaos.Done(); h.sampler(ctx) }()
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	// A failover step that fails the test stops the run first (cleanups
	// run before the servers' own, registered earlier, stop them).
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(time.Minute):
		}
		chaos.Wait()
	})

	if cfg.failovers > 0 {
		h.runFailovers(ctx) // in the test goroutine: it may fail the test
	}
	// No client may hang: all must finish within the borrow timeout plus a
	// margin after the run ends.
	select {
	case <-finished:
	default:
		select {
		case <-finished:
		case <-time.After(max(time.Until(h.start.Add(cfg.duration+45*time.Second)), 0)):
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("clients hung past the borrow timeout (seed %d):\n%s", cfg.seed, buf[:n])
		}
	}
	chaos.Wait()
	for _, n := range h.nodes {
		n.proxy.Clear()
	}

	// Idle first: the listener may still run statements of clients that
	// gave up, and the ledger and replica checks want a database at rest.
	h.checkPoolIdle()
	h.checkLedger()
	h.checkBalances()
	h.checkReplica()
	h.checkFailovers()
	require.NoError(t, h.shutdown())
	h.checkNoLeaks(baseGoroutines)

	t.Logf("operations %d (errors %d), transactions committed %d rolled back %d, disconnects %d, cancellations %d, "+
		"server KILLs %d, network faults %d, isolation checks %d, LAST_INSERT_ID checks %d, pinned sessions %d, ledger entries %d",
		h.counts.ops.Load(), h.counts.errors.Load(), h.counts.txCommitted.Load(), h.counts.txRolledBack.Load(),
		h.counts.disconnects.Load(), h.counts.cancels.Load(), h.counts.kills.Load(), h.counts.faults.Load(),
		h.counts.isolationChecks.Load(), h.counts.lastInsertChecks.Load(), h.counts.pins.Load(), len(h.ledger.entries))
	t.Log("client errors by kind (expected under injected faults):")
	h.logErrors()
	if h.violated.Load() {
		t.Fatalf("invariants violated; rerun with RDSMUX_SEED=%d", cfg.seed)
	}
}

// startNodes starts one server, or with failovers a semi-synchronous
// primary/replica pair, each behind a fault proxy.
func (h *harness) startNodes() {
	var servers []*mariadbtest.Server
	if h.cfg.failovers > 0 {
		primary, replica := mariadbtest.StartReplicaPair(h.t, mariadbtest.WithMaxConnections(200), mariadbtest.WithSemiSync())
		servers = []*mariadbtest.Server{primary, replica}
	} else {
		servers = []*mariadbtest.Server{mariadbtest.Start(h.t, mariadbtest.WithMaxConnections(200))}
	}
	for i, s := range servers {
		root, err := sql.Open("mysql", s.DSN("timeout=2s&readTimeout=10s&writeTimeout=10s"))
		require.NoError(h.t, err)
		h.t.Cleanup(func() { root.Close() })
		h.nodes = append(h.nodes, &node{name: string(rune('A' + i)), server: s, proxy: faultnet.New(h.t, s.Addr()), root: root})
	}
}

// proxyAddrs lists the nodes' fault proxies, the addresses rdsmux knows.
func (h *harness) proxyAddrs() []string {
	var out []string
	for _, n := range h.nodes {
		out = append(out, n.proxy.Addr())
	}
	return out
}

// openDriver opens the rdsmux driver on the fault proxy; with failovers,
// on every node's proxy (failover=readonly).
func (h *harness) openDriver(logger *slog.Logger) {
	params := fmt.Sprintf("maxConnections=%d&connectionBorrowTimeout=20s&readTimeout=10s&writeTimeout=10s&timeout=5s", h.cfg.backends)
	if len(h.nodes) > 1 {
		params += "&failover=readonly&failoverHosts=" + strings.Join(h.proxyAddrs(), ",")
	}
	dsnCfg, err := rdsmux.ParseDSN(h.nodes[0].server.UserDSN("app", "app-pw", "test", params))
	require.NoError(h.t, err)
	dsnCfg.MySQL.Addr = h.nodes[0].proxy.Addr()
	db, err := rdsmux.OpenConfig(dsnCfg, rdsmux.WithLogger(logger))
	require.NoError(h.t, err)
	h.db, h.shutdown = db.DB, db.Close
	h.stats = func() pool.Stats { return db.PoolStats().Stats }
}

// openListener starts a proxy.Server whose pool dials through the fault
// proxy, and opens go-sql-driver on it. With failovers, its backend side is
// wired as cmd/rdsmux -failover readonly wires it: a monitor probing every
// node's proxy, its dialer as proxy.Target.DialContext, and the pool
// invalidated when the writer changes.
func (h *harness) openListener(logger *slog.Logger) {
	backend := &proxy.Target{Addr: h.nodes[0].proxy.Addr(), Credentials: proxy.OneAccount("app", "app-pw")}
	if len(h.nodes) > 1 {
		probe := mysql.NewConfig()
		probe.User, probe.Passwd = "app", "app-pw"
		prov, err := failover.NewReadOnly(failover.ReadOnlyConfig{Hosts: h.proxyAddrs(), Probe: failover.ProbeConfig{MySQL: probe}})
		require.NoError(h.t, err)
		m, err := failover.NewMonitor(failover.MonitorConfig{Provider: prov, Logger: logger})
		require.NoError(h.t, err)
		h.monitor = m
		m.Subscribe(h.monitorEvent)
		backend.Failover = failover.NewDialer(m, failover.DialerConfig{})
	}
	p, err := pool.New(pool.Config{Dial: backend.Dial, MaxConnections: h.cfg.backends,
		ConnectionBorrowTimeout: 20 * time.Second, Logger: logger})
	require.NoError(h.t, err)
	stopInvalidate := func() {}
	if h.monitor != nil {
		stopInvalidate = h.monitor.InvalidateOnWriterChange(p)
	}
	srv := &proxy.Server{Pool: p, Users: proxy.StaticUsers{"client": "client-pw"}, Logger: logger}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(h.t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }() // ends with Close below
	db, err := sql.Open("mysql", "client:client-pw@tcp("+ln.Addr().String()+")/test?readTimeout=30s&writeTimeout=10s&timeout=5s")
	require.NoError(h.t, err)
	h.db = db
	h.stats = func() pool.Stats { return srv.Stats().Pool }
	h.shutdown = func() error {
		db.Close()
		err := srv.Close()
		<-served
		stopInvalidate()
		p.Close()
		if h.monitor != nil {
			h.monitor.Close()
		}
		return err
	}
}

// sampler records the most server threads of app seen on the writer
// during the run.
func (h *harness) sampler(ctx context.Context) {
	for ctx.Err() == nil {
		var n int64
		if err := h.writerNode().root.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app'").Scan(&n); err == nil {
			if n > h.peak.Load() {
				h.peak.Store(n)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// killer KILLs random connections of the app user now and then: backends
// on the writer, and the failover monitor's probes on any node.
func (h *harness) killer(ctx context.Context) {
	rng := rand.New(rand.NewPCG(h.cfg.seed, 1<<32))
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(200+rng.IntN(600)) * time.Millisecond):
		}
		n := h.chaosTarget(rng)
		if n == nil {
			continue
		}
		var id int64
		err := n.root.QueryRowContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'app' ORDER BY RAND(?) LIMIT 1", rng.Int64()).Scan(&id)
		if err != nil {
			continue
		}
		if _, err := n.root.ExecContext(ctx, fmt.Sprintf("KILL %d", id)); err == nil {
			h.counts.kills.Add(1)
		}
	}
}

// faulter injects latency spikes and connection resets through the
// proxies (the writer's mostly).
func (h *harness) faulter(ctx context.Context) {
	rng := rand.New(rand.NewPCG(h.cfg.seed, 1<<33))
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(500+rng.IntN(1500)) * time.Millisecond):
		}
		h.fault(rng)
	}
}

// fault puts one fault on a node's proxy for a moment, then clears it.
func (h *harness) fault(rng *rand.Rand) {
	h.chaosMu.Lock()
	defer h.chaosMu.Unlock()
	n := h.chaosTarget(rng)
	if n == nil {
		return
	}
	switch rng.IntN(3) {
	case 0:
		n.proxy.Latency(time.Duration(5+rng.IntN(30)) * time.Millisecond)
	case 1:
		n.proxy.ResetPeer()
	case 2:
		n.proxy.Cut()
		time.Sleep(time.Duration(rng.IntN(50)) * time.Millisecond)
		n.proxy.Restore()
	}
	h.counts.faults.Add(1)
	time.Sleep(time.Duration(50+rng.IntN(200)) * time.Millisecond)
	n.proxy.Clear()
}

func (h *harness) checkLedger() {
	present := map[string]int{}
	rows, err := h.writerNode().server.DB(h.t).Query("SELECT k, COUNT(*) FROM ledger GROUP BY k")
	require.NoError(h.t, err)
	for rows.Next() {
		var k string
		var n int
		require.NoError(h.t, rows.Scan(&k, &n))
		present[k] = n
	}
	require.NoError(h.t, rows.Err())
	rows.Close()
	var nAcked, nFailed, nAmbiguous int
	for k, o := range h.ledger.entries {
		n := present[k]
		switch o {
		case acked:
			nAcked++
			if n != 1 {
				h.violation("acknowledged write %s present %d times", k, n)
			}
		case failed:
			nFailed++
			if n != 0 {
				h.violation("failed write %s present %d times", k, n)
			}
		case ambiguous:
			nAmbiguous++
			if n > 1 {
				h.violation("write %s with unknown outcome present %d times", k, n)
			}
		}
		delete(present, k)
	}
	for k, n := range present {
		h.violation("write %s present %d times but never attempted", k, n)
	}
	h.t.Logf("ledger: %d acknowledged (all present once), %d failed (all absent), %d unknown outcome (at most once)",
		nAcked, nFailed, nAmbiguous)
}

func (h *harness) checkBalances() {
	sum := h.writerNode().server.QueryInt(h.t, "SELECT SUM(balance) FROM accounts")
	if sum != h.total {
		h.violation("balances add up to %d, want %d", sum, h.total)
	}
}

func (h *harness) checkPoolIdle() {
	began := time.Now()
	require.Eventually(h.t, func() bool {
		st := h.stats()
		return st.DatabaseConnectionsCurrentlyBorrowed == 0 && st.WaitingNow == 0
	}, 10*time.Second, 10*time.Millisecond, "the pool's counters did not return to idle: %+v", h.stats())
	h.t.Logf("pool idle %v after the clients finished", time.Since(began).Round(time.Millisecond))
	// The cap, plus the one control connection that sends KILL QUERY
	// (and with failover the monitor's probe pool of at most two per
	// node). A connection rdsmux closed may take the server a moment to
	// tear down.
	limit, probes := h.cfg.backends+1, 0
	if len(h.nodes) > 1 {
		probes = 2
	}
	w := h.writerNode()
	require.Eventually(h.t, func() bool { return w.server.ConnectionsOf(h.t, "app") <= limit+probes },
		2*time.Second, 10*time.Millisecond, "the writer has more connections of app than the cap %d (+1 control connection, +%d probes)", h.cfg.backends, probes)
	for _, n := range h.nodes {
		if n != w && n.server.Running() {
			require.Eventually(h.t, func() bool { return n.server.ConnectionsOf(h.t, "app") <= probes },
				2*time.Second, 10*time.Millisecond, "the replica %s has connections of app beyond the monitor's probes", n.name)
		}
	}
	if peak := h.peak.Load(); peak > int64(limit+probes) {
		h.t.Logf("sampled peak of server threads of app: %d (cap %d + 1 control + %d probes); the excess are threads of closed connections the server had not torn down yet", peak, h.cfg.backends, probes)
	}
}

func (h *harness) checkNoLeaks(base int) {
	for _, n := range h.nodes {
		if n.server.Running() {
			require.Eventually(h.t, func() bool { return n.server.ConnectionsOf(h.t, "app") == 0 },
				10*time.Second, 20*time.Millisecond, "backend connections remain on %s after Close", n.name)
		}
	}
	// Goroutines of the run (clients, pool, monitor, go-sql-driver
	// watchers) end; a few of the harness's own (fault proxies, root
	// pools) may come and go.
	require.Eventually(h.t, func() bool { return runtime.NumGoroutine() <= base+12 },
		10*time.Second, 20*time.Millisecond, "goroutines leaked: %d now, %d before", runtime.NumGoroutine(), base)
}

// client is one simulated application client with its own session.
type client struct {
	h   *harness
	id  int
	rng *rand.Rand
	seq int

	conn *sql.Conn
	// What this client's current session must look like.
	tz        string // expected @@time_zone ("SYSTEM" when never set)
	userVar   bool   // @owner was set to the client id
	tempTable bool
	lock      bool
	lastID    int64 // expected LAST_INSERT_ID() (0 when unknown)
}

func (c *client) run(ctx context.Context) {
	defer c.disconnect()
	for ctx.Err() == nil {
		c.step(ctx)
	}
}

func (c *client) session(ctx context.Context) (*sql.Conn, error) {
	if c.conn != nil {
		return c.conn, nil
	}
	conn, err := c.h.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	c.conn = conn
	c.tz, c.userVar, c.tempTable, c.lock, c.lastID = "SYSTEM", false, false, false, 0
	return conn, nil
}

func (c *client) disconnect() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
		c.h.counts.disconnects.Add(1)
	}
}

func (c *client) key() string {
	c.seq++
	return fmt.Sprintf("c%d-%d", c.id, c.seq)
}

// broken reports whether err means the session's connection state is gone,
// in which case the client starts a new session (its expectations reset).
func (c *client) broken(err error) bool {
	if err == nil {
		return false
	}
	c.h.counts.errors.Add(1)
	c.h.noteError(err)
	// Any error may have cost the session state held on a backend (a
	// KILLed or reset backend takes user variables, temp tables and locks
	// with it): start over with a fresh session.
	c.disconnect()
	return true
}

func (c *client) step(ctx context.Context) {
	c.h.counts.ops.Add(1)
	conn, err := c.session(ctx)
	if err != nil {
		c.h.counts.errors.Add(1)
		return
	}
	opCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch n := c.rng.IntN(100); {
	case n < 20:
		c.autocommitWrite(opCtx, conn)
	case n < 35:
		c.transfer(opCtx, conn)
	case n < 45:
		c.read(opCtx, conn)
	case n < 55:
		c.setTimeZone(opCtx, conn)
	case n < 62:
		c.pin(opCtx, conn)
	case n < 80:
		c.checkIsolation(opCtx, conn)
	case n < 88:
		c.lastInsertID(opCtx, conn)
	case n < 93:
		c.cancelMidQuery(opCtx, conn)
	case n < 97:
		c.abandonTransaction(opCtx, conn)
	default:
		c.disconnect()
	}
}

func (c *client) autocommitWrite(ctx context.Context, conn *sql.Conn) {
	k := c.key()
	res, err := conn.ExecContext(ctx, "INSERT INTO ledger (k) VALUES (?)", k)
	switch {
	case err == nil:
		c.h.record(k, acked)
		if id, err := res.LastInsertId(); err == nil {
			c.lastID = id
		}
	case isServerError(err):
		c.h.record(k, failed)
		c.broken(err)
	default:
		c.h.record(k, ambiguous)
		c.broken(err)
	}
}

// transfer moves money between accounts in a transaction that commits or
// rolls back; the ledger row rides along.
func (c *client) transfer(ctx context.Context, conn *sql.Conn) {
	k := c.key()
	from, to := c.rng.IntN(c.h.accounts), c.rng.IntN(c.h.accounts)
	amount := 1 + c.rng.IntN(50)
	commit := c.rng.IntN(4) != 0
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		c.h.record(k, failed)
		c.broken(err)
		return
	}
	fail := func(err error) {
		tx.Rollback()
		c.h.record(k, failed)
		c.broken(err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE accounts SET balance = balance - ? WHERE id = ?", amount, from); err != nil {
		fail(err)
		return
	}
	if _, err := tx.ExecContext(ctx, "UPDATE accounts SET balance = balance + ? WHERE id = ?", amount, to); err != nil {
		fail(err)
		return
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO ledger (k) VALUES (?)", k)
	if err != nil {
		fail(err)
		return
	}
	if !commit {
		if err := tx.Rollback(); err != nil {
			c.broken(err)
		}
		c.h.record(k, failed) // rolled back, or lost with its connection: never committed
		c.h.counts.txRolledBack.Add(1)
		return
	}
	if err := tx.Commit(); err != nil {
		if isServerError(err) {
			c.h.record(k, failed)
		} else {
			c.h.record(k, ambiguous)
		}
		c.broken(err)
		return
	}
	c.h.record(k, acked)
	c.h.counts.txCommitted.Add(1)
	if id, err := res.LastInsertId(); err == nil {
		c.lastID = id
	}
}

func (c *client) read(ctx context.Context, conn *sql.Conn) {
	var sum int64
	if err := conn.QueryRowContext(ctx, "SELECT SUM(balance) FROM accounts").Scan(&sum); err != nil {
		c.broken(err)
		return
	}
	if sum != c.h.total {
		c.h.violation("an autocommit read saw balances add up to %d, want %d", sum, c.h.total)
	}
}

func (c *client) setTimeZone(ctx context.Context, conn *sql.Conn) {
	tz := fmt.Sprintf("+%02d:%02d", c.id%12, c.rng.IntN(4)*15)
	if _, err := conn.ExecContext(ctx, "SET time_zone = '"+tz+"'"); err != nil {
		c.broken(err)
		return
	}
	c.tz = tz
}

// pin runs one of the statements that pin the session to its backend.
func (c *client) pin(ctx context.Context, conn *sql.Conn) {
	var err error
	switch c.rng.IntN(3) {
	case 0:
		_, err = conn.ExecContext(ctx, "SET @owner = ?", c.id)
		if err == nil {
			c.userVar = true
		}
	case 1:
		if !c.tempTable {
			_, err = conn.ExecContext(ctx, "CREATE TEMPORARY TABLE probe (owner INT)")
			if err == nil {
				_, err = conn.ExecContext(ctx, "INSERT INTO probe VALUES (?)", c.id)
				c.tempTable = err == nil
			}
		}
	case 2:
		var got sql.NullInt64
		err = conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", fmt.Sprintf("owner-%d", c.id)).Scan(&got)
		if err == nil && got.Int64 == 1 {
			c.lock = true
		}
	}
	if err != nil {
		c.broken(err)
		return
	}
	c.h.counts.pins.Add(1)
}

// checkIsolation reads the session's state and compares it with what this
// client set: nothing of another client may show.
func (c *client) checkIsolation(ctx context.Context, conn *sql.Conn) {
	var tz string
	var owner sql.NullInt64
	var inTx int
	err := conn.QueryRowContext(ctx, "SELECT @@session.time_zone, @owner, @@in_transaction").Scan(&tz, &owner, &inTx)
	if err != nil {
		c.broken(err)
		return
	}
	c.h.counts.isolationChecks.Add(1)
	if tz != c.tz {
		c.h.violation("client %d sees time_zone %q, set %q", c.id, tz, c.tz)
	}
	switch {
	case c.userVar && (!owner.Valid || owner.Int64 != int64(c.id)):
		c.h.violation("client %d lost its user variable: @owner = %v", c.id, owner)
	case !c.userVar && owner.Valid:
		c.h.violation("client %d sees another session's user variable @owner = %d", c.id, owner.Int64)
	}
	if inTx != 0 {
		c.h.violation("client %d sees an open transaction it did not start", c.id)
	}
	var probeOwner int64
	err = conn.QueryRowContext(ctx, "SELECT owner FROM probe").Scan(&probeOwner)
	switch {
	case c.tempTable && err != nil:
		if isServerError(err) {
			c.h.violation("client %d lost its temporary table: %v", c.id, err)
		} else {
			c.broken(err)
		}
	case c.tempTable && probeOwner != int64(c.id):
		c.h.violation("client %d reads another session's temporary table (owner %d)", c.id, probeOwner)
	case !c.tempTable && err == nil:
		c.h.violation("client %d sees another session's temporary table (owner %d)", c.id, probeOwner)
	case !c.tempTable && !isServerError(err):
		c.broken(err)
	}
}

func (c *client) lastInsertID(ctx context.Context, conn *sql.Conn) {
	k := c.key()
	res, err := conn.ExecContext(ctx, "INSERT INTO ledger (k) VALUES (?)", k)
	if err != nil {
		if isServerError(err) {
			c.h.record(k, failed)
		} else {
			c.h.record(k, ambiguous)
		}
		c.broken(err)
		return
	}
	c.h.record(k, acked)
	want, _ := res.LastInsertId()
	c.lastID = want
	var got int64
	if err := conn.QueryRowContext(ctx, "SELECT LAST_INSERT_ID()").Scan(&got); err != nil {
		c.broken(err)
		return
	}
	c.h.counts.lastInsertChecks.Add(1)
	if got != want {
		c.h.violation("client %d: LAST_INSERT_ID() = %d after its insert got %d", c.id, got, want)
	}
}

func (c *client) cancelMidQuery(ctx context.Context, conn *sql.Conn) {
	qctx, cancel := context.WithTimeout(ctx, time.Duration(1+c.rng.IntN(30))*time.Millisecond)
	defer cancel()
	_, err := conn.ExecContext(qctx, "DO SLEEP(2)")
	c.h.counts.cancels.Add(1)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		c.broken(err)
		return
	}
	if err != nil {
		// A statement cancelled on a pinned session (pinned for any
		// reason, tracked here or not) loses its backend and so the pinned
		// state: rdsmux fails the session's next statement. Start over.
		c.disconnect()
	}
}

// abandonTransaction writes in a transaction and vanishes without COMMIT or
// ROLLBACK: rdsmux must roll it back.
func (c *client) abandonTransaction(ctx context.Context, conn *sql.Conn) {
	k := c.key()
	c.h.record(k, failed)
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		c.broken(err)
		return
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO ledger (k) VALUES (?)", k); err != nil {
		c.broken(err)
		return
	}
	if _, err := conn.ExecContext(ctx, "UPDATE accounts SET balance = balance + 1000000 WHERE id = 0"); err != nil {
		c.broken(err)
		return
	}
	c.disconnect()
}

// isServerError reports an error the server answered with (the statement
// was refused or rolled back), as opposed to a lost connection whose
// outcome is unknown.
func isServerError(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	// 1317 (query interrupted) and 1927/2013-like codes come from KILL:
	// the statement was stopped, but for a COMMIT the outcome is unknown.
	return me.Number != 1317 && me.Number != 1927 && !strings.Contains(me.Message, "connection")
}
