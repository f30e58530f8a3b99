package isolation

import (
	"context"
	"database/sql"
	"sync/atomic"
	"testing"
)

// script runs hand-written steps on numbered sessions, each step on the
// session's subject and then on its twin, and reports every step whose
// outcomes differ. The regression tests are scripts.
type script struct {
	t     *testing.T
	label string
	pairs map[int]*pair
	// diffs counts the differing steps; refusals the look-behind refusals.
	diffs, comparisons, refusals atomic.Int64
}

type pair struct{ subj, twin *side }

func newScript(t *testing.T, label string) *script {
	return &script{t: t, label: label, pairs: map[int]*pair{}}
}

// session opens session i: a connection from subj and one from twin. names
// maps placeholders to the subject's and the twin's own names:
// {"{T}": {"t_s", "t_d"}}.
func (sc *script) session(i int, subj, twin *sql.DB, names map[string][2]string) {
	sc.t.Helper()
	ctx := context.Background()
	a, err := newSide(ctx, subj, "")
	if err != nil {
		sc.t.Fatalf("%s: opening session %d through rdsmux: %v", sc.label, i, err)
	}
	b, err := newSide(ctx, twin, "")
	if err != nil {
		sc.t.Fatalf("%s: opening session %d's direct twin: %v", sc.label, i, err)
	}
	delete(a.names, "{T}")
	delete(b.names, "{T}")
	for k, v := range names {
		a.names[k], b.names[k] = v[0], v[1]
	}
	sc.pairs[i] = &pair{subj: a, twin: b}
	sc.t.Cleanup(func() { a.close(); b.close() })
}

// step runs st on session i's subject, then on its twin, and reports a
// difference. A look-behind step the subject refuses is skipped on the
// twin.
func (sc *script) step(i int, st step) {
	sc.t.Helper()
	sc.run(i, op{steps: []step{st}})
}

func (sc *script) run(i int, o op) {
	sc.t.Helper()
	p := sc.pairs[i]
	if p == nil {
		sc.t.Fatalf("%s: no session %d", sc.label, i)
	}
	d, _ := compareOp(context.Background(), p.subj, p.twin, o, &sc.comparisons, &sc.refusals)
	if d != nil {
		sc.diffs.Add(1)
		sc.t.Errorf("%s: session %d: %s\n    through rdsmux: %s\n    direct:         %s", sc.label, i, d.step, d.subject, d.twin)
	}
}

func (sc *script) exec(i int, q string, args ...any)  { sc.t.Helper(); sc.step(i, ex(q, args...)) }
func (sc *script) query(i int, q string, args ...any) { sc.t.Helper(); sc.step(i, qu(q, args...)) }

// execW runs q and then compares SHOW WARNINGS.
func (sc *script) execW(i int, q string, args ...any) {
	sc.t.Helper()
	sc.run(i, op{steps: []step{ex(q, args...)}, warnings: true})
}

func (sc *script) queryW(i int, q string, args ...any) {
	sc.t.Helper()
	sc.run(i, op{steps: []step{qu(q, args...)}, warnings: true})
}

// fresh ends session i and starts a new one on the same handles.
func (sc *script) fresh(i int) { sc.t.Helper(); sc.step(i, step{kind: opReconnect}) }

// end ends session i for good.
func (sc *script) end(i int) {
	p := sc.pairs[i]
	p.subj.close()
	p.twin.close()
	delete(sc.pairs, i)
}

// names gives each session own tables (created in every schema) under
// the placeholder {T}: prefix_<i>s for the subject, prefix_<i>d for the
// twin.
func ownTables(t *testing.T, prefix string, sessions int) []map[string][2]string {
	t.Helper()
	var all []string
	out := make([]map[string][2]string, sessions)
	for i := range sessions {
		s, d := prefix+"_"+itoa(i)+"s", prefix+"_"+itoa(i)+"d"
		all = append(all, s, d)
		out[i] = map[string][2]string{"{T}": {s, d}}
	}
	createTables(t, server(t), all)
	return out
}

// bothWays runs f through the driver and through the listener. open
// returns a handle on a pool of backends backend connections for the
// (sub)test it is given, closed at its end: subtests do not share a pool.
func bothWays(t *testing.T, backends int, f func(t *testing.T, open func(t *testing.T, params string) *sql.DB)) {
	db := server(t)
	t.Run("driver", func(t *testing.T) {
		f(t, func(t *testing.T, params string) *sql.DB { return openDriver(t, db, params, backends).DB })
	})
	t.Run("listener", func(t *testing.T) {
		ls := map[*testing.T]*listener{}
		f(t, func(t *testing.T, params string) *sql.DB {
			if ls[t] == nil {
				ls[t] = startListener(t, db, backends)
			}
			return ls[t].open(t, params)
		})
	})
}

// createSchemas creates schemas (dropped at the end of t) each with a
// table t (id auto_increment, g int).
func createSchemas(t *testing.T, names ...string) {
	t.Helper()
	db := server(t)
	for _, n := range names {
		db.Exec(t, "DROP DATABASE IF EXISTS "+n)
		db.Exec(t, "CREATE DATABASE "+n)
		db.Exec(t, "CREATE TABLE "+n+".t (id INT AUTO_INCREMENT PRIMARY KEY, g INT)")
		t.Cleanup(func() { db.Exec(t, "DROP DATABASE IF EXISTS "+n) })
	}
}

// connID runs SELECT CONNECTION_ID() on session i's subject (and on its
// twin, so that both saw the same statements) and returns the subject's:
// which backend connection the session is on.
func (sc *script) connID(i int) int64 {
	sc.t.Helper()
	p := sc.pairs[i]
	ctx := context.Background()
	var id, other int64
	if err := p.subj.ex().QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		sc.t.Fatalf("%s: session %d: SELECT CONNECTION_ID(): %v", sc.label, i, err)
	}
	_ = p.twin.ex().QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&other)
	return id
}
