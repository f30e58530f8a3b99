package isolation

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// Short mode sizes: 64 sessions of 40 operations over 4 backends.
const (
	shortSessions = 64
	shortOps      = 40
	maxBackends   = 4
	historyLen    = 50
)

// subjectKind opens the handles sessions are multiplexed through.
type subjectKind struct {
	name string
	// shared: sessions run their statements on the handle itself, not on
	// a sql.Conn each (see side.shared).
	shared bool
	// open returns a handle on which each sql.Conn is one client session,
	// given the client's go-sql-driver parameters and the number of
	// backend connections to share.
	open func(t *testing.T, params string, backends int) *sql.DB
	// fresh returns a handle on a pool of its own with one backend, and
	// the function that closes both: each shrinking trial starts from
	// clean backends.
	fresh func(t *testing.T, params string) (*sql.DB, func())
}

func driverSubject(db *mariadbtest.Server) subjectKind {
	return subjectKind{name: "driver", open: func(t *testing.T, params string, backends int) *sql.DB {
		return openDriver(t, db, params, backends).DB
	}, fresh: func(t *testing.T, params string) (*sql.DB, func()) {
		h := openDriver(t, db, params, 1)
		return h.DB, func() { h.Close() }
	}}
}

// listenerSubject starts one listener per number of backends asked for;
// every profile of a run shares it.
func listenerSubject(db *mariadbtest.Server) subjectKind {
	ls := map[int]*listener{}
	return subjectKind{name: "listener", open: func(t *testing.T, params string, backends int) *sql.DB {
		l := ls[backends]
		if l == nil {
			l = startListener(t, db, backends)
			ls[backends] = l
		}
		return l.open(t, params)
	}, fresh: func(t *testing.T, params string) (*sql.DB, func()) {
		l := startListener(t, db, 1)
		h := l.open(t, params)
		return h, func() { h.Close(); l.stop() }
	}}
}

func directSubject(db *mariadbtest.Server) subjectKind {
	open := func(t *testing.T, params string, _ int) *sql.DB { return openDirect(t, db, params) }
	return subjectKind{name: "direct", open: open, fresh: func(t *testing.T, params string) (*sql.DB, func()) {
		h := open(t, params, 1)
		return h, func() { h.Close() }
	}}
}

// profile is one client behaviour: go-sql-driver parameters, with the
// subject and twin handles that use them.
type profile struct {
	params  string
	subject *sql.DB
	twin    *sql.DB
}

// suite is one differential run.
type suite struct {
	id   int // this run's number in the process, in its table names
	t    *testing.T
	db   *mariadbtest.Server
	seed uint64
	kind subjectKind

	sessions, ops, comparisons, refusals, violations atomic.Int64

	mu       sync.Mutex // guards viols, backends, slowest and slowestOp
	viols    []*violation
	backends map[int64]bool // CONNECTION_ID()s the subjects ran on
	// slowest is the longest an operation took (subject and twin), for
	// the statistics only: nothing is asserted on time.
	slowest   time.Duration
	slowestOp string
	// allOps are every session's operations, noise for the shrinker.
	allOps map[int][]op
}

// violation is the first difference one session saw.
type violation struct {
	session int
	profile string
	opIndex int
	op      op
	step    string
	subject outcome
	twin    outcome
	ops     []op     // the session's operations up to and including op
	history []string // the same, with the subject's outcomes
}

func (v *violation) report(seed uint64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "VIOLATION (seed %d, RDSMUX_SEED=%d to repeat) session %d (client params %q), operation #%d: %s\n",
		seed, seed, v.session, v.profile, v.opIndex, v.op)
	fmt.Fprintf(&b, "  differing step: %s\n  subject: %s\n  twin:    %s\n", v.step, v.subject, v.twin)
	h := v.history
	from := 0
	if len(h) > historyLen {
		from = len(h) - historyLen
	}
	fmt.Fprintf(&b, "  the session's history (operations %d..%d):\n", from, len(h)-1)
	for i := from; i < len(h); i++ {
		fmt.Fprintf(&b, "    #%d %s\n", i, h[i])
	}
	return b.String()
}

// seed returns the run's seed: RDSMUX_SEED when set, else the clock.
func seed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("RDSMUX_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("RDSMUX_SEED=%q: %v", v, err)
		}
		s = n
	}
	t.Logf("seed %d (rerun with RDSMUX_SEED=%d)", s, s)
	return s
}

// soak returns the RDSMUX_ISOLATION duration, 0 in short mode.
func soak(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv("RDSMUX_ISOLATION")
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("RDSMUX_ISOLATION=%q: want a duration such as 10m: %v", v, err)
	}
	return d
}

// differential runs the suite: sessions spread over the client profiles,
// each session's operations compared with its twin's, sessions in
// parallel. In soak mode it runs rounds until the duration is over.
func differential(t *testing.T, kind subjectKind, params []string, sessions, nops int) {
	db := server(t)
	if os.Getenv("RDSMUX_ISOLATION_DIRECT") != "" && kind.name != "direct" {
		t.Logf("RDSMUX_ISOLATION_DIRECT is set: the subject is a direct connection, not the %s", kind.name)
		kind = directSubject(db)
	}
	s, profiles := runDifferential(t, db, kind, params, sessions, nops, soak(t))
	if len(s.viols) == 0 {
		return
	}
	s.report()
	for _, p := range profiles {
		p.subject.Close() // a driver handle with another pool size must not meet these
	}
	shrinkStart := time.Now()
	s.shrink(s.viols)
	t.Logf("shrinking took %v", time.Since(shrinkStart).Round(time.Millisecond))
}

// runDifferential runs sessions over the client profiles params, in
// rounds until dur is over (one round when dur is 0, and no round after
// one with a violation), and logs the statistics.
func runDifferential(t *testing.T, db *mariadbtest.Server, kind subjectKind, params []string, sessions, nops int,
	dur time.Duration) (*suite, []*profile) {
	s := &suite{t: t, db: db, seed: seed(t), kind: kind, backends: map[int64]bool{}, allOps: map[int][]op{},
		id: int(suites.Add(1))}
	profiles := make([]*profile, len(params))
	for i, p := range params {
		profiles[i] = &profile{params: p, subject: kind.open(t, p, maxBackends), twin: openDirect(t, db, p)}
	}
	began := time.Now()
	deadline := began.Add(dur)
	for round := 0; ; round++ {
		s.round(round, profiles, sessions, nops)
		if dur == 0 || time.Now().After(deadline) || s.violations.Load() > 0 {
			break
		}
	}
	t.Logf("%s: %d sessions, %d operations, %d comparisons, %d violations, %d look-behind refusals, %d backend connections seen, %v",
		kind.name, s.sessions.Load(), s.ops.Load(), s.comparisons.Load(), s.violations.Load(), s.refusals.Load(), len(s.backends),
		time.Since(began).Round(time.Millisecond))
	if s.slowest > 0 {
		t.Logf("slowest operation (over a second): %v: %s", s.slowest.Round(time.Millisecond), s.slowestOp)
	}
	return s, profiles
}

// report fails the test with one report per kind of violation (the
// step's kind and both outcomes: one root cause usually shows in many
// sessions) and a count by kind.
func (s *suite) report() {
	t := s.t
	shown := map[string]bool{}
	bySig := map[string]int{}
	var sigs []string
	for _, v := range s.viols {
		sig := v.signature()
		if bySig[sig] == 0 {
			sigs = append(sigs, sig)
		}
		bySig[sig]++
		if !shown[sig] && len(shown) < 8 {
			shown[sig] = true
			t.Error(v.report(s.seed))
		}
	}
	var b strings.Builder
	for _, sig := range sigs {
		fmt.Fprintf(&b, "\n    %4d  %s", bySig[sig], sig)
	}
	t.Errorf("%d of %d sessions saw a violation; seed %d; by kind (sessions, differing step, subject vs twin):%s",
		len(s.viols), s.sessions.Load(), s.seed, b.String())
}

// signature names the kind of a violation: the differing step's kind and
// what each side got, errors by number.
func (v *violation) signature() string {
	short := func(o outcome) string {
		switch {
		case o.err != "":
			if len(o.err) > 60 {
				return o.err[:60] + "..."
			}
			return o.err
		case o.exec:
			return "ok"
		}
		return "rows"
	}
	what := firstWord(v.step)
	if v.subject.err == "" && v.twin.err == "" {
		// Both ran: what differs is in the values; name the statement.
		what = v.step
		if i := strings.Index(what, " ["); i > 0 {
			what = what[:i] // without the arguments
		}
		if len(what) > 70 {
			what = what[:70] + "..."
		}
	}
	return what + ": " + short(v.subject) + " vs " + short(v.twin)
}

func firstWord(s string) string {
	w, rest, _ := strings.Cut(s, " ")
	if w == "exec" || w == "query" {
		w2, _, _ := strings.Cut(rest, " ")
		return w + " " + strings.ToUpper(w2)
	}
	return w
}

// round runs one set of sessions in parallel.
func (s *suite) round(round int, profiles []*profile, sessions, nops int) {
	names := make([]string, 0, 2*sessions)
	for i := range sessions {
		names = append(names, s.tableName(round, i, "s"), s.tableName(round, i, "d"))
	}
	drop := createTables(s.t, s.db, names)
	defer drop()
	if s.kind.shared {
		// The sessions leave their transactions on the shared pool's
		// connections: close those before the tables are dropped.
		defer func() {
			for _, p := range profiles {
				p.subject.SetMaxIdleConns(0)
				p.subject.SetMaxIdleConns(2)
			}
		}()
	}
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Add(1)
		go func() { // ends after its session's last operation
			defer wg.Done()
			id := round*sessions + i
			p := profiles[i%len(profiles)]
			v := s.session(id, p, s.tableName(round, i, "s"), s.tableName(round, i, "d"), nops)
			if v != nil {
				s.violations.Add(1)
				s.mu.Lock()
				s.viols = append(s.viols, v)
				s.mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// suites numbers the differential runs of the test process, so that no
// run meets another's tables.
var suites atomic.Int64

func (s *suite) tableName(round, i int, side string) string {
	return "t" + itoa(s.id) + "r" + itoa(round) + "_" + itoa(i) + side
}

// session runs one session's operations on its subject and its twin and
// returns the first violation, if any.
func (s *suite) session(id int, p *profile, subjTable, twinTable string, nops int) *violation {
	s.sessions.Add(1)
	ctx := context.Background()
	g := newGen(s.seed + uint64(id)*0x100000001b3)
	g.multi = strings.Contains(p.params, "multiStatements=true")
	probe := rand.New(rand.NewPCG(s.seed, uint64(id)))
	v := &violation{session: id, profile: p.params}
	defer func() {
		s.mu.Lock()
		s.allOps[id] = v.ops
		s.mu.Unlock()
	}()
	var subj *side
	if s.kind.shared {
		subj = newSharedSide(p.subject, subjTable)
	} else {
		var err error
		if subj, err = newSide(ctx, p.subject, subjTable); err != nil {
			v.step, v.subject = "connect", outcome{err: errText(err)}
			return v
		}
	}
	defer subj.close()
	twin, err := newSide(ctx, p.twin, twinTable)
	if err != nil {
		s.t.Errorf("connecting a twin: %v", err)
		return nil
	}
	defer twin.close()
	defer func() {
		if v.step != "" {
			return
		}
		// What the session left committed, once it ended: what a
		// subject's session commits or rolls back as it closes shows
		// here.
		subj.close()
		twin.close()
		s.comparisons.Add(1)
		if a, b := s.committed(subjTable), s.committed(twinTable); a != b {
			v.step, v.subject, v.twin = "the rows committed in the session's tables after it ended (read as root)",
				outcome{rows: [][]string{{a}}}, outcome{rows: [][]string{{b}}}
			v.opIndex, v.op = len(v.ops), op{}
			s.violations.Add(1)
			s.mu.Lock()
			s.viols = append(s.viols, v)
			s.mu.Unlock()
		}
	}()
	for i := range nops {
		o := g.next()
		v.ops = append(v.ops, o)
		if probe.IntN(4) == 0 {
			s.probe(ctx, subj, twin)
		}
		s.ops.Add(1)
		start := time.Now()
		bad, hist := compareOp(ctx, subj, twin, o, &s.comparisons, &s.refusals)
		if took := time.Since(start); took > time.Second {
			s.mu.Lock()
			if took > s.slowest {
				s.slowest, s.slowestOp = took, fmt.Sprintf("session %d #%d %s => %s", id, i, o, hist)
			}
			s.mu.Unlock()
		}
		v.history = append(v.history, o.String()+"  =>  "+hist)
		if bad != nil {
			v.opIndex, v.op, v.step, v.subject, v.twin = i, o, bad.step, bad.subject, bad.twin
			return v
		}
	}
	return nil
}

// committed reads, as root, the committed rows of a session's tables in
// every schema.
func (s *suite) committed(table string) string {
	var b strings.Builder
	for _, sc := range schemas {
		var n int64
		var ids, gs sql.NullString
		err := s.db.DB(s.t).QueryRow("SELECT COUNT(*), GROUP_CONCAT(id ORDER BY id), GROUP_CONCAT(COALESCE(g, 'NULL') ORDER BY id) FROM "+
			sc+"."+table).Scan(&n, &ids, &gs)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v; ", sc, err)
			continue
		}
		fmt.Fprintf(&b, "%s: %d rows, ids [%s], g [%s]; ", sc, n, ids.String, gs.String)
	}
	return b.String()
}

// probe records which backend connection the subject runs on. It is not
// compared; it runs on the twin too, so that what later statements read
// of the previous one (FOUND_ROWS(), warnings) stays the same on both.
func (s *suite) probe(ctx context.Context, subj, twin *side) {
	var id, other int64
	err := subj.ex().QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id)
	_ = twin.ex().QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&other)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.backends[id] = true
	s.mu.Unlock()
}

// difference is one step whose outcomes differ.
type difference struct {
	step          string
	subject, twin outcome
}

// compareOp runs o's steps, each on the subject then on the twin, and
// returns the first difference and a one-line summary of the subject's
// outcomes. A look-behind step the subject refuses is counted and skipped
// on the twin too.
func compareOp(ctx context.Context, subj, twin *side, o op, comparisons, refusals *atomic.Int64) (*difference, string) {
	steps := o.steps
	if o.warnings {
		steps = append(steps[:len(steps):len(steps)], showWarnings)
	}
	var hist []string
	for i, st := range steps {
		warn := o.warnings && i == len(steps)-1
		so := subj.run(ctx, st)
		if so.err == errRefused {
			refusals.Add(1)
			hist = append(hist, "refused")
			continue
		}
		to := twin.run(ctx, st)
		if warn {
			so, to = warningsOutcome(so), warningsOutcome(to)
		}
		comparisons.Add(1)
		hist = append(hist, so.String())
		if !so.same(to) {
			return &difference{step: st.String(), subject: so, twin: to}, strings.Join(hist, " | ")
		}
	}
	return nil, strings.Join(hist, " | ")
}

// Client behaviours of the driver: server-side prepared statements for
// arguments, and client-side interpolation. Both set session variables in
// the DSN (go-sql-driver runs SET on each new connection): they are the
// backends' baseline, which a session reset to the server's defaults
// would lose. (Handles on one target share one pool and must agree on
// them.)
var driverProfiles = []string{
	"time_zone=%27%2B02%3A00%27&div_precision_increment=6",
	"time_zone=%27%2B02%3A00%27&div_precision_increment=6&interpolateParams=true",
	"time_zone=%27%2B02%3A00%27&div_precision_increment=6&multiStatements=true",
	"time_zone=%27%2B02%3A00%27&div_precision_increment=6&interpolateParams=true",
}

// Client behaviours through the listener: text and binary protocol, and
// the handshake collations clients ask for.
var listenerProfiles = []string{
	"",
	"interpolateParams=true",
	"collation=utf8mb4_unicode_ci",
	"collation=latin1_swedish_ci",
	"collation=utf8mb3_general_ci",
	"collation=utf8mb4_general_ci&interpolateParams=true",
	"collation=cp1257_bin&time_zone=%27%2B02%3A00%27",
	"multiStatements=true",
}

// TestDifferentialDriver compares sessions through the rdsmux driver
// (64 sessions over 4 backends) with their twins.
func TestDifferentialDriver(t *testing.T) {
	differential(t, driverSubject(server(t)), driverProfiles, shortSessions, shortOps)
}

// TestDifferentialListener compares client sessions through the listener
// (64 sessions over 4 backends) with their twins.
func TestDifferentialListener(t *testing.T) {
	differential(t, listenerSubject(server(t)), listenerProfiles, shortSessions, shortOps)
}

// TestDifferentialCatchesANaivePool runs the suite against a naive
// multiplexer: sessions send each statement to a go-sql-driver pool of
// two connections, which tracks no state at all. The suite must report
// violations; if it did not, it would prove nothing about rdsmux.
func TestDifferentialCatchesANaivePool(t *testing.T) {
	db := server(t)
	naive := subjectKind{name: "naive pool", shared: true, open: func(t *testing.T, params string, _ int) *sql.DB {
		h := openDirect(t, db, params)
		h.SetMaxOpenConns(2)
		h.SetMaxIdleConns(2)
		return h
	}}
	s, _ := runDifferential(t, db, naive, []string{"", "interpolateParams=true"}, 8, 20, 0)
	require.NotZero(t, s.violations.Load(), "a pool that tracks no session state showed no violation: the suite compares too little")
	kinds := map[string]bool{}
	for _, v := range s.viols {
		kinds[v.signature()] = true
	}
	t.Logf("%d of 8 sessions through the naive pool saw a violation, of %d kinds", len(s.viols), len(kinds))
}

// TestDifferentialDirectVsDirect runs the suite with direct connections as
// subjects: with no multiplexer there must be no violation, or the suite
// compares something that legitimately differs between two connections.
func TestDifferentialDirectVsDirect(t *testing.T) {
	db := server(t)
	differential(t, directSubject(db), append(append([]string{}, driverProfiles...), listenerProfiles[2:]...), 24, shortOps)
}
