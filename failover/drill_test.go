package failover

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/faultnet"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// The failover drill: steady write load through database/sql, the primary
// fails (SIGKILL, or a network blackhole in front of it), the replica is
// promoted, and we measure how long until writes succeed again, how many
// statements failed, and whether every acknowledged write is on the new
// writer exactly once. A client that uses plain go-sql-driver with the old
// writer's fixed address runs alongside for comparison.
//
// The writes go through a *sql.DB over this package's Connector; a pool
// (package pool) can replace it behind the writer interface.

type drillMode int

const (
	drillKill drillMode = iota
	drillBlackhole
)

func (m drillMode) String() string {
	if m == drillBlackhole {
		return "blackhole"
	}
	return "kill"
}

// writer is what the drill writes through.
type writer interface {
	Insert(ctx context.Context, client, n int) error
}

// sqlWriter writes through a database/sql pool.
type sqlWriter struct{ db *sql.DB }

func (w sqlWriter) Insert(ctx context.Context, client, n int) error {
	_, err := w.db.ExecContext(ctx, "INSERT INTO ledger (client, n) VALUES (?, ?)", client, n)
	return err
}

// ledger records what each client was told about each insert.
type ledger struct {
	mu        sync.Mutex
	acked     map[[2]int]bool // (client, n) acknowledged
	failed    map[[2]int]error
	successes []time.Time // completion times of acknowledged inserts
	classes   map[Class]int
}

func newLedger() *ledger {
	return &ledger{acked: map[[2]int]bool{}, failed: map[[2]int]error{}, classes: map[Class]int{}}
}

func (l *ledger) record(client, n int, err error, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		l.acked[[2]int{client, n}] = true
		l.successes = append(l.successes, at)
		return
	}
	l.failed[[2]int{client, n}] = err
	l.classes[Classify(err)]++
}

// firstSuccessAfter returns the completion time of the first acknowledged
// insert after t.
func (l *ledger) firstSuccessAfter(t time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first time.Time
	for _, s := range l.successes {
		if s.After(t) && (first.IsZero() || s.Before(first)) {
			first = s
		}
	}
	return first, !first.IsZero()
}

// writeLoop inserts (client, 1), (client, 2), ... until stop is closed.
// A failed insert is never retried: its outcome is unknown.
func writeLoop(w writer, client int, stmtTimeout time.Duration, l *ledger, stop <-chan struct{}) {
	for n := 1; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), stmtTimeout)
		err := w.Insert(ctx, client, n)
		cancel()
		l.record(client, n, err, time.Now())
		time.Sleep(2 * time.Millisecond) // steady load, not a CPU hog
	}
}

type drillOptions struct {
	mode         drillMode
	workers      int
	promoteDelay time.Duration // failure -> promotion
	stmtTimeout  time.Duration
	fixedWait    time.Duration // how long after promotion the fixed-address client gets
	// Monitor tuning; zero means the library defaults (1s, 1s).
	probeTimeout, checkInterval time.Duration
}

type drillResult struct {
	mode          drillMode
	recovered     bool
	recovery      time.Duration // promotion -> first acknowledged write
	fromFailure   time.Duration // failure -> first acknowledged write
	detection     time.Duration // failure -> monitor's "failover started"
	errors        int
	classes       map[Class]int
	acked         int
	missingLag    int // acknowledged, not on the new writer, on the old primary: async replication lag
	lost          int // acknowledged and on neither
	duplicated    int
	fixedAcked    int
	fixedErrors   int
	fixedRecovery time.Duration // promotion -> first success of the fixed-address client; -1: never
	aborted       int64         // writer connections closed by the monitor on the writer change
}

func runDrill(t *testing.T, o drillOptions) drillResult {
	t.Helper()
	primary, replica := mariadbtest.StartReplicaPair(t)
	createApp(t, primary)
	primary.Exec(t, "CREATE TABLE ledger (seq BIGINT AUTO_INCREMENT PRIMARY KEY, client INT NOT NULL, n INT NOT NULL, KEY (client, n))")
	replica.WaitReplicaCaughtUp(t, primary)

	writerAddr := primary.Addr()
	var fp *faultnet.Proxy
	if o.mode == drillBlackhole {
		fp = faultnet.New(t, primary.Addr())
		writerAddr = fp.Addr()
	}
	// Library defaults for probing and monitoring: the numbers are what a
	// user gets.
	p, err := NewReadOnly(ReadOnlyConfig{Hosts: []string{writerAddr, replica.Addr()},
		Probe: ProbeConfig{MySQL: rootConfig(), Timeout: o.probeTimeout}})
	require.NoError(t, err)
	m := startMonitor(t, p, MonitorConfig{WriterCheckInterval: o.checkInterval})
	rec := &recorder{}
	defer m.Subscribe(rec.event)()
	waitWriter(t, m, writerAddr)

	db := openDB(t, NewDialer(m, DialerConfig{}), appConfig(), ConnectorConfig{})
	db.SetMaxOpenConns(o.workers)
	db.SetMaxIdleConns(o.workers)

	// The comparison: go-sql-driver with the writer's fixed address.
	fixedCfg := appConfig()
	fixedCfg.Addr = writerAddr
	fixedCfg.Timeout = time.Second
	fc, err := mysql.NewConnector(fixedCfg)
	require.NoError(t, err)
	fixedDB := sql.OpenDB(fc)
	defer fixedDB.Close()

	l, fl := newLedger(), newLedger()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 1; c <= o.workers; c++ {
		wg.Add(1)
		go func() { defer wg.Done(); writeLoop(sqlWriter{db}, c, o.stmtTimeout, l, stop) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); writeLoop(sqlWriter{fixedDB}, 99, o.stmtTimeout, fl, stop) }()
	stopped := false
	stopLoad := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	defer stopLoad()

	time.Sleep(300 * time.Millisecond) // steady state
	failAt := time.Now()
	if o.mode == drillKill {
		primary.Kill()
	} else {
		fp.Blackhole()
	}
	time.Sleep(o.promoteDelay)
	replica.Promote(t)
	promotedAt := time.Now()

	res := drillResult{mode: o.mode, fixedRecovery: -1}
	deadline := promotedAt.Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if at, ok := l.firstSuccessAfter(promotedAt); ok {
			res.recovered = true
			res.recovery, res.fromFailure = at.Sub(promotedAt), at.Sub(failAt)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for time.Until(promotedAt.Add(o.fixedWait)) > 0 {
		if at, ok := fl.firstSuccessAfter(promotedAt); ok {
			res.fixedRecovery = at.Sub(promotedAt)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // load on the new writer
	stopLoad()

	if ev := rec.find(EventFailoverStarted); !ev.At.IsZero() {
		res.detection = ev.At.Sub(failAt)
	}
	res.acked, res.errors, res.classes = len(l.acked), len(l.failed), l.classes
	res.aborted = m.Stats().AbortedConns
	res.fixedAcked, res.fixedErrors = len(fl.acked), len(fl.failed)

	// Ledger check on the new writer.
	onNew := ledgerRows(t, replica)
	var missing [][2]int
	for _, acked := range []map[[2]int]bool{l.acked, fl.acked} {
		for k := range acked {
			switch onNew[k] {
			case 1:
			case 0:
				missing = append(missing, k)
			}
		}
	}
	for _, cnt := range onNew {
		if cnt > 1 {
			res.duplicated++
		}
	}
	if len(missing) > 0 {
		// Acknowledged by the old primary but never replicated? Look there.
		if o.mode == drillKill {
			primary.Restart(t)
		}
		onOld := ledgerRows(t, primary)
		for _, k := range missing {
			if onOld[k] > 0 {
				res.missingLag++
			} else {
				res.lost++
			}
		}
	}
	return res
}

// ledgerRows counts the rows of each (client, n) on s.
func ledgerRows(t *testing.T, s *mariadbtest.Server) map[[2]int]int {
	t.Helper()
	rows, err := s.DB(t).Query("SELECT client, n, COUNT(*) FROM ledger GROUP BY client, n")
	require.NoError(t, err)
	defer rows.Close()
	out := map[[2]int]int{}
	for rows.Next() {
		var c, n, cnt int
		require.NoError(t, rows.Scan(&c, &n, &cnt))
		out[[2]int{c, n}] = cnt
	}
	require.NoError(t, rows.Err())
	return out
}

func (r drillResult) String() string {
	fixed := "no success"
	if r.fixedRecovery >= 0 {
		fixed = r.fixedRecovery.Round(time.Millisecond).String()
	}
	return fmt.Sprintf("%-9s recovered=%v promotion->first write=%v failure->first write=%v detection=%v "+
		"acked=%d errors=%d %v missing(async lag)=%d lost=%d duplicated=%d aborted=%d | fixed-address go-sql-driver: acked=%d errors=%d promotion->first write=%s",
		r.mode, r.recovered, r.recovery.Round(time.Millisecond), r.fromFailure.Round(time.Millisecond),
		r.detection.Round(time.Millisecond), r.acked, r.errors, r.classes, r.missingLag, r.lost, r.duplicated, r.aborted,
		r.fixedAcked, r.fixedErrors, fixed)
}

// checkDrill asserts what must hold in every drill: recovery, no
// acknowledged write lost (beyond what async replication explains), none
// duplicated.
func checkDrill(t *testing.T, r drillResult) {
	t.Helper()
	t.Log(r)
	require.True(t, r.recovered, "writes through the failover dialer never succeeded on the new writer")
	require.Zero(t, r.lost, "acknowledged writes lost")
	require.Zero(t, r.duplicated, "writes applied more than once")
	require.Positive(t, r.acked)
}

func defaultDrill(mode drillMode) drillOptions {
	return drillOptions{mode: mode, workers: 4, promoteDelay: 200 * time.Millisecond,
		stmtTimeout: 2 * time.Second, fixedWait: time.Second}
}

func TestFailoverDrillKill(t *testing.T) {
	t.Parallel()
	r := runDrill(t, defaultDrill(drillKill))
	checkDrill(t, r)
	// The fixed address is dead: that client cannot succeed.
	require.EqualValues(t, -1, r.fixedRecovery)
}

func TestFailoverDrillBlackhole(t *testing.T) {
	t.Parallel()
	// Detection tuned well below the statement timeout, so that the
	// statements stuck on the blackholed writer are cut by the writer
	// change, not by their deadline. (RDSMUX_DRILL also runs the defaults.)
	o := defaultDrill(drillBlackhole)
	o.probeTimeout, o.checkInterval = 300*time.Millisecond, 200*time.Millisecond
	r := runDrill(t, o)
	checkDrill(t, r)
	require.EqualValues(t, -1, r.fixedRecovery)
	// Statements stuck on the blackholed writer were cut when the writer
	// changed, as lost connections, instead of running into their timeout.
	require.Positive(t, r.aborted)
	require.Positive(t, r.classes[ClassConnectionLost], "%v", r.classes)
}

// TestFailoverDrillRepeated runs the drill RDSMUX_DRILL times per mode and
// prints p50/max recovery. Example:
//
//	RDSMUX_DRILL=10 go test ./failover -run DrillRepeated -v
func TestFailoverDrillRepeated(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("RDSMUX_DRILL"))
	if n <= 0 {
		t.Skip("set RDSMUX_DRILL=N to repeat the failover drill N times per mode (the single drills run by default)")
	}
	tuned := func(o drillOptions) drillOptions {
		o.probeTimeout, o.checkInterval = 300*time.Millisecond, 200*time.Millisecond
		return o
	}
	late := func(o drillOptions) drillOptions {
		o.promoteDelay = 3 * time.Second
		return o
	}
	for _, v := range []struct {
		name string
		opts drillOptions
	}{
		{"kill", defaultDrill(drillKill)},
		{"blackhole", defaultDrill(drillBlackhole)},
		{"blackhole, check 200ms, probe timeout 300ms", tuned(defaultDrill(drillBlackhole))},
		{"blackhole, promotion 3s after the failure", late(defaultDrill(drillBlackhole))},
	} {
		var results []drillResult
		for i := 0; i < n; i++ {
			o := v.opts
			o.fixedWait = 3 * time.Second
			var r drillResult
			t.Run(fmt.Sprintf("%s-%d", o.mode, i), func(t *testing.T) {
				r = runDrill(t, o)
				checkDrill(t, r)
			})
			results = append(results, r)
		}
		summarize(t, v.name, results, 3*time.Second)
	}
}

// summarize prints one variant's outcome over its runs and, when
// RDSMUX_DRILL_JSON names a file, appends it there as a JSON line (what
// bench/report reads).
func summarize(t *testing.T, name string, rs []drillResult, fixedWait time.Duration) {
	pick := func(f func(drillResult) time.Duration) (p50, max time.Duration) {
		var ds []time.Duration
		for _, r := range rs {
			ds = append(ds, f(r))
		}
		slices.Sort(ds)
		return ds[len(ds)/2], ds[len(ds)-1]
	}
	rp50, rmax := pick(func(r drillResult) time.Duration { return r.recovery })
	fp50, fmax := pick(func(r drillResult) time.Duration { return r.fromFailure })
	dp50, dmax := pick(func(r drillResult) time.Duration { return r.detection })
	errs, lag, fixedOK := 0, 0, 0
	for _, r := range rs {
		errs += r.errors
		lag += r.missingLag
		if r.fixedRecovery >= 0 {
			fixedOK++
		}
	}
	fmt.Printf("drill %s: n=%d  promotion->first write p50=%v max=%v  failure->first write p50=%v max=%v  detection p50=%v max=%v  "+
		"client errors=%d (%.1f/run)  acked-but-unreplicated=%d  fixed-address go-sql-driver recovered in %d/%d runs within %v\n",
		name, len(rs), rp50.Round(time.Millisecond), rmax.Round(time.Millisecond), fp50.Round(time.Millisecond), fmax.Round(time.Millisecond),
		dp50.Round(time.Millisecond), dmax.Round(time.Millisecond), errs, float64(errs)/float64(len(rs)), lag, fixedOK, len(rs), fixedWait)
	path := os.Getenv("RDSMUX_DRILL_JSON")
	if path == "" {
		return
	}
	line, err := json.Marshal(map[string]any{"variant": name, "runs": len(rs),
		"promotion_p50_ns": rp50, "promotion_max_ns": rmax, "failure_p50_ns": fp50, "failure_max_ns": fmax,
		"detection_p50_ns": dp50, "detection_max_ns": dmax, "client_errors": errs, "acked_unreplicated": lag,
		"fixed_recovered": fixedOK, "fixed_wait_ns": fixedWait})
	require.NoError(t, err)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err, "RDSMUX_DRILL_JSON: cannot open %s", path)
	defer f.Close()
	_, err = f.Write(append(line, '\n'))
	require.NoError(t, err, "RDSMUX_DRILL_JSON: writing %s", path)
}
