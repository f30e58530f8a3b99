package fleet_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux"
	"github.com/rdsmux/rdsmux/fleet"
	"github.com/rdsmux/rdsmux/internal/faultnet"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/internal/redistest"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
)

// The multi-process tests re-run this test binary as children: with
// childEnv set, TestMain runs a driver user or a listener instead of the
// tests. A child serves until its stdin closes, then prints "done ok=N
// err=M" (and the first error) and exits.
const childEnv = "RDSMUX_FLEET_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "driver":
		os.Exit(runDriverChild())
	case "listener":
		os.Exit(runListenerChild())
	default:
		fmt.Fprintln(os.Stderr, "unknown", childEnv)
		os.Exit(2)
	}
}

// load runs workers goroutines of SELECT SLEEP(0.005) on db until stop is
// closed, and counts successes and errors.
type load struct {
	ok, errs atomic.Int64
	mu       sync.Mutex
	first    error // guarded by mu
	wg       sync.WaitGroup
}

func (l *load) run(db *sql.DB, workers int, stop <-chan struct{}) {
	for range workers {
		l.wg.Add(1)
		go func() { // owned by l; ends when stop closes
			defer l.wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var v int
				if err := db.QueryRow("SELECT SLEEP(0.005) + 1").Scan(&v); err != nil {
					l.errs.Add(1)
					l.mu.Lock()
					if l.first == nil {
						l.first = err
					}
					l.mu.Unlock()
					time.Sleep(10 * time.Millisecond)
					continue
				}
				l.ok.Add(1)
			}
		}()
	}
}

func (l *load) report() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("done ok=%d err=%d first=%v", l.ok.Load(), l.errs.Load(), l.first)
}

// runDriverChild: a program using the driver with fleet=.
func runDriverChild() int {
	db, err := rdsmux.Open(os.Getenv("DSN"))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	workers, _ := strconv.Atoi(os.Getenv("WORKERS"))
	stop := make(chan struct{})
	var l load
	l.run(db.DB, workers, stop)
	fmt.Println("ready")
	go statsLoop(func() *pool.BudgetStats { return db.PoolStats().Fleet }, l.ok.Load, stop)
	_, _ = io.Copy(io.Discard, os.Stdin)
	close(stop)
	l.wg.Wait()
	fmt.Println(l.report())
	_ = db.Close()
	return 0
}

// statsLoop prints the fleet stats and the work done every 50ms: "stats
// held=H allowed=A fallback=F ok=N".
func statsLoop(get func() *pool.BudgetStats, ok func() int64, stop <-chan struct{}) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if f := get(); f != nil {
				fmt.Printf("stats held=%d allowed=%d fallback=%v ok=%d\n", f.Held, f.Allowed, f.Fallback, ok())
			}
		}
	}
}

// runListenerChild: a listener (as cmd/rdsmux wires it) with -fleet.
func runListenerChild() int {
	users := proxy.StaticUsers{os.Getenv("DB_USER"): os.Getenv("DB_PASSWORD")}
	backend := &proxy.Target{Addr: os.Getenv("DB_ADDR"), Database: "test", Credentials: proxy.SameCredentials(users)}
	m, err := fleet.New(fleet.Config{URL: os.Getenv("FLEET"), Name: os.Getenv("FLEET_NAME")})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	maxConns, _ := strconv.Atoi(os.Getenv("MAX_CONNECTIONS"))
	p, err := pool.New(pool.Config{Dial: backend.Dial, MaxConnections: maxConns, Budget: m})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	srv := &proxy.Server{Pool: p, Users: users}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	go func() { _ = srv.Serve(ln) }() // owned by the child; ends at Shutdown
	fmt.Println("addr", ln.Addr().String())
	stop := make(chan struct{})
	go statsLoop(func() *pool.BudgetStats { return p.Stats().Fleet }, func() int64 { return p.Stats().BorrowRequests }, stop)
	_, _ = io.Copy(io.Discard, os.Stdin)
	close(stop)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	p.Close()
	fmt.Println("done ok=0 err=0 first=<nil>")
	return 0
}

// child is a running child process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string // a listener's address

	mu     sync.Mutex
	last   string // guarded by mu: last "done" line
	held   int    // guarded by mu: from the last stats line
	allow  int    // guarded by mu
	fallbk bool   // guarded by mu
	ok     int64  // guarded by mu: statements (driver) or borrows (listener) done
	exited chan struct{}
}

func startChild(t *testing.T, mode string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + mode}, env...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &child{cmd: cmd, stdin: stdin, exited: make(chan struct{})}
	ready := make(chan string, 1)
	go func() { // owned by c; ends when the child's stdout closes
		defer close(c.exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "ready", strings.HasPrefix(line, "addr "), strings.HasPrefix(line, "error "):
				ready <- line
			case strings.HasPrefix(line, "stats "):
				var h, a int
				var f bool
				var ok int64
				if _, err := fmt.Sscanf(line, "stats held=%d allowed=%d fallback=%t ok=%d", &h, &a, &f, &ok); err == nil {
					c.mu.Lock()
					c.held, c.allow, c.fallbk, c.ok = h, a, f, ok
					c.mu.Unlock()
				}
			case strings.HasPrefix(line, "done "):
				c.mu.Lock()
				c.last = line
				c.mu.Unlock()
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.exited
	})
	select {
	case line := <-ready:
		require.False(t, strings.HasPrefix(line, "error "), "child %s: %s", mode, line)
		c.addr = strings.TrimPrefix(line, "addr ")
	case <-c.exited:
		t.Fatalf("child %s exited before it was ready", mode)
	case <-time.After(30 * time.Second):
		t.Fatalf("child %s not ready within 30s", mode)
	}
	return c
}

// stop closes the child's stdin and returns its "done" line.
func (c *child) stop(t *testing.T) string {
	t.Helper()
	_ = c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("child did not stop within 60s")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// done is how much work the child reported last.
func (c *child) done() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok
}

func (c *child) stats() (held, allowed int, fallback bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held, c.allow, c.fallbk
}

// fleetEnv is a database, a Redis and the settings the children share.
type fleetEnv struct {
	db       *mariadbtest.Server
	redis    *redistest.Server
	fleetURL string // what the children connect to (Redis, or a fault proxy in front of it)
	budget   int
}

func newFleetEnv(t *testing.T, budget int, viaProxy bool) (*fleetEnv, *faultnet.Proxy) {
	s := mariadbtest.Start(t, mariadbtest.WithMaxConnections(200))
	s.CreateUser(t, "app", "app-pw")
	r := redistest.Start(t)
	e := &fleetEnv{db: s, redis: r, fleetURL: r.URL(), budget: budget}
	var fp *faultnet.Proxy
	if viaProxy {
		fp = faultnet.New(t, r.Addr())
		e.fleetURL = "redis://" + fp.Addr() + "/0"
	}
	return e, fp
}

func (e *fleetEnv) driver(t *testing.T, workers int) *child {
	params := fmt.Sprintf("maxConnections=%d&fleet=%s&fleetName=f", e.budget, url.QueryEscape(e.fleetURL))
	return startChild(t, "driver", "DSN="+e.db.UserDSN("app", "app-pw", "test", params), "WORKERS="+strconv.Itoa(workers))
}

func (e *fleetEnv) listener(t *testing.T) *child {
	return startChild(t, "listener", "DB_ADDR="+e.db.Addr(), "DB_USER=app", "DB_PASSWORD=app-pw",
		"FLEET="+e.fleetURL, "FLEET_NAME=f", "MAX_CONNECTIONS="+strconv.Itoa(e.budget))
}

// clientLoad runs workers clients against a listener, each with a
// connection of its own.
func clientLoad(t *testing.T, addr string, workers int, stop <-chan struct{}) *load {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = "app", "app-pw", "tcp", addr, "test"
	db, err := sql.Open("mysql", cfg.FormatDSN())
	require.NoError(t, err)
	db.SetMaxOpenConns(workers)
	db.SetMaxIdleConns(workers)
	t.Cleanup(func() { db.Close() })
	l := &load{}
	l.run(db, workers, stop)
	return l
}

// sampler counts the fleet's connections (user app) every 10ms until
// stopped, and keeps the highest count.
type sampler struct {
	limit        int64
	over         func(n int64) // called from the sampler's goroutine when n > limit
	max, samples atomic.Int64
	stop         chan struct{}
	done         chan struct{}
}

func sample(t *testing.T, s *mariadbtest.Server) *sampler { return sampleWith(t, s, 0, nil) }

// sampleWith is sample that calls over when a sample exceeds limit.
func sampleWith(t *testing.T, s *mariadbtest.Server, limit int64, over func(int64)) *sampler {
	sp := &sampler{limit: limit, over: over, stop: make(chan struct{}), done: make(chan struct{})}
	root := s.DB(t)
	go func() { // owned by sp; ends at sp.end
		defer close(sp.done)
		for {
			select {
			case <-sp.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			var n int64
			if err := root.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app'").Scan(&n); err != nil {
				continue
			}
			sp.samples.Add(1)
			if sp.over != nil && n > sp.limit {
				sp.over(n)
			}
			for {
				m := sp.max.Load()
				if n <= m || sp.max.CompareAndSwap(m, n) {
					break
				}
			}
		}
	}()
	return sp
}

func (sp *sampler) end() (maxSeen, samples int64) {
	close(sp.stop)
	<-sp.done
	return sp.max.Load(), sp.samples.Load()
}

func assertClean(t *testing.T, name, done string) {
	t.Helper()
	assert.Contains(t, done, " err=0 ", "%s: %s", name, done)
}

// TestFleetBurstNeverExceedsBudget: three driver processes and two
// listeners (each loaded by clients of its own) share a budget of 10; the
// database never sees more than 10 connections from them, and no client
// gets an error.
func TestFleetBurstNeverExceedsBudget(t *testing.T) {
	e, _ := newFleetEnv(t, 10, false)
	sp := sample(t, e.db)
	var drivers []*child
	for range 3 {
		drivers = append(drivers, e.driver(t, 12))
	}
	var listeners []*child
	stop := make(chan struct{})
	var loads []*load
	for range 2 {
		l := e.listener(t)
		listeners = append(listeners, l)
		loads = append(loads, clientLoad(t, l.addr, 12, stop))
	}
	time.Sleep(4 * time.Second)
	close(stop)
	for _, l := range loads {
		l.wg.Wait()
	}
	for i, d := range drivers {
		assertClean(t, fmt.Sprintf("driver %d", i), d.stop(t))
	}
	for _, l := range listeners {
		l.stop(t)
	}
	for i, l := range loads {
		assert.Zero(t, l.errs.Load(), "listener %d clients: %s", i, l.report())
		assert.Positive(t, l.ok.Load())
	}
	maxSeen, samples := sp.end()
	t.Logf("fleet of 5 processes, budget 10: at most %d database connections in %d samples", maxSeen, samples)
	assert.LessOrEqual(t, maxSeen, int64(10))
	assert.Positive(t, maxSeen)
}

// TestFleetSurvivesSIGKILL: a process killed under load loses its slots
// when its lease expires; the others take them within the lease TTL plus a
// heartbeat, without an error.
func TestFleetSurvivesSIGKILL(t *testing.T) {
	e, _ := newFleetEnv(t, 6, false)
	a, b, c := e.driver(t, 10), e.driver(t, 10), e.driver(t, 10)
	require.Eventually(t, func() bool {
		ha, _, _ := a.stats()
		hb, _, _ := b.stats()
		hc, _, _ := c.stats()
		return ha == 2 && hb == 2 && hc == 2
	}, 20*time.Second, 10*time.Millisecond, "each of 3 processes holds its fair share of 6")

	require.NoError(t, c.cmd.Process.Signal(syscall.SIGKILL))
	killed := time.Now()
	// The slots come back when the lease lapses and the survivors renew
	// (TTL plus a heartbeat, 6 s); the bound is twice that so that a busy
	// machine does not fail the test, and the time it took is logged.
	bound := 2 * (fleet.DefaultLeaseTTL + fleet.DefaultLeaseTTL/5)
	require.Eventually(t, func() bool {
		ha, _, _ := a.stats()
		hb, _, _ := b.stats()
		return ha+hb == 6 && ha == 3
	}, bound, 10*time.Millisecond, "the survivors take the killed process's slots after its lease lapses")
	t.Logf("survivors hold all 6 slots %v after SIGKILL (lease TTL %v, heartbeat %v)", time.Since(killed), fleet.DefaultLeaseTTL, fleet.DefaultLeaseTTL/5)
	assertClean(t, "a", a.stop(t))
	assertClean(t, "b", b.stop(t))
}

// TestFleetRedisFailures: Redis killed and restarted, then stalled behind
// a fault proxy: borrows go on within the fallback cap, nobody wedges, and
// the budget holds again afterwards.
func TestFleetRedisFailures(t *testing.T) {
	e, fp := newFleetEnv(t, 6, true)
	var a, b *child
	var ready atomic.Bool
	sp := sampleWith(t, e.db, 6, func(n int64) {
		if ready.Load() {
			ha, aa, fa := a.stats()
			hb, ab, fb := b.stats()
			t.Logf("%d connections: a held=%d allowed=%d fallback=%v, b held=%d allowed=%d fallback=%v", n, ha, aa, fa, hb, ab, fb)
		}
	})
	a, b = e.driver(t, 8), e.driver(t, 8)
	ready.Store(true)
	both := func(cond func(held, allowed int, fallback bool) bool) func() bool {
		return func() bool {
			ha, aa, fa := a.stats()
			hb, ab, fb := b.stats()
			return cond(ha, aa, fa) && cond(hb, ab, fb)
		}
	}
	require.Eventually(t, both(func(h, _ int, f bool) bool { return h == 3 && !f }), 20*time.Second, 10*time.Millisecond)

	e.redis.Kill()
	require.Eventually(t, both(func(_, a int, f bool) bool { return f && a == 3 }), 20*time.Second, 10*time.Millisecond,
		"after the lease lapses both run on the fallback cap (their fair share)")
	progress(t, a, b)
	e.redis.Restart()
	require.Eventually(t, both(func(h, _ int, f bool) bool { return h == 3 && !f }), 20*time.Second, 10*time.Millisecond,
		"both rejoin the budget")

	fp.Blackhole()
	require.Eventually(t, both(func(_, _ int, f bool) bool { return f }), 20*time.Second, 10*time.Millisecond,
		"a stalled Redis lapses the lease too")
	progress(t, a, b)
	fp.Clear()
	require.Eventually(t, both(func(h, _ int, f bool) bool { return h == 3 && !f }), 30*time.Second, 10*time.Millisecond,
		"both rejoin after the stall")

	assertClean(t, "a", a.stop(t))
	assertClean(t, "b", b.stop(t))
	maxSeen, samples := sp.end()
	t.Logf("budget 6 through a Redis kill, restart and stall: at most %d database connections in %d samples", maxSeen, samples)
	assert.LessOrEqual(t, maxSeen, int64(6))
}

// progress checks that every child still gets work done.
func progress(t *testing.T, cs ...*child) {
	t.Helper()
	for i, c := range cs {
		before := c.done()
		require.Eventually(t, func() bool { return c.done() > before+10 }, 10*time.Second, 10*time.Millisecond,
			"child %d makes progress", i)
	}
}

// TestFleetRebalances: load moves from process A to process B; B gets the
// slots A no longer uses.
func TestFleetRebalances(t *testing.T) {
	e, _ := newFleetEnv(t, 6, false)
	a := e.listener(t)
	stopA := make(chan struct{})
	la := clientLoad(t, a.addr, 12, stopA)
	require.Eventually(t, func() bool { h, _, _ := a.stats(); return h == 6 }, 20*time.Second, 10*time.Millisecond)

	b := e.listener(t)
	stopB := make(chan struct{})
	lb := clientLoad(t, b.addr, 12, stopB)
	start := time.Now()
	require.Eventually(t, func() bool { h, _, _ := b.stats(); return h == 3 }, 20*time.Second, 10*time.Millisecond)
	t.Logf("B reached its fair share (3 of 6) %v after its load started", time.Since(start))

	close(stopA)
	la.wg.Wait()
	start = time.Now()
	// A keeps its share of idle connections (50% of 6 over 2 processes:
	// 1) and gives B the rest.
	// A gives the slots back over its next heartbeats (1 s apart; about
	// 3 s on a quiet machine), not by letting a lease lapse: A stays a
	// member throughout. The bound is two lease TTLs so that a busy
	// machine does not fail the test; the time it took is logged.
	require.Eventually(t, func() bool { h, _, _ := b.stats(); return h == 5 }, 2*fleet.DefaultLeaseTTL, 10*time.Millisecond,
		"B takes the slots A no longer uses")
	t.Logf("B holds 5 of 6 slots %v after A's load ended (A keeps 1 idle)", time.Since(start))
	ha, _, fallback := a.stats()
	assert.LessOrEqual(t, ha, 1, "A keeps at most its idle share")
	assert.False(t, fallback, "A gave its slots back through the budget, not by losing Redis")
	close(stopB)
	lb.wg.Wait()
	assert.Zero(t, la.errs.Load(), la.report())
	assert.Zero(t, lb.errs.Load(), lb.report())
	a.stop(t)
	b.stop(t)
}
