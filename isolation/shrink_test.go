package isolation

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// shrinkBudget bounds the time spent shortening a violation in short mode
// (in soak mode, ten times as much). It bounds only how short the
// reproduction gets, never a verdict.
const shrinkBudget = 15 * time.Second

// Tables of the shrinking trials: the session's, its twin's, the noise
// session's.
var shrinkTables = []string{"shr_s", "shr_d", "shr_n"}

// nextNoise returns an operation for the noise session of a shrinking
// trial: it changes the state of whichever backend it borrows (settings,
// schema, cached statements, inserts) but never keeps the backend (no
// transaction, no pin, autocommit left on), so the session under test
// always gets it back.
func (g *gen) nextNoise() op {
	for {
		var o op
		switch g.r.IntN(6) {
		case 0:
			o = one(ex("SET " + g.assignment()))
		case 1:
			o = one(ex(g.setNames()))
		case 2:
			o = one(ex("USE " + g.pick(schemas)))
		case 3:
			o = g.read()
		case 4:
			o = g.write()
		default:
			o = g.stmt()
		}
		txt := strings.ToUpper(o.String())
		if strings.Contains(txt, "AUTOCOMMIT") || strings.Contains(txt, "COMPLETION_TYPE") {
			continue
		}
		o.warnings = false
		g.follow(o)
		return o
	}
}

// shrink replays a violating session's operations alone on a pool of
// one backend, with noise operations (each in a short session of its own)
// before and between them, and removes operations, its own and the
// noise's, while a violation still shows; it logs the shortest schedule
// found, a self-contained reproduction. It tries the violations of
// distinct kinds, shortest history first, until one shows again or the
// time budget is spent.
func (s *suite) shrink(viols []*violation) {
	t := s.t
	budget := shrinkBudget
	if soak(t) > 0 {
		budget *= 10
	}
	deadline := time.Now().Add(budget)
	createTables(t, s.db, shrinkTables)
	seen := map[string]bool{}
	var cands []*violation
	for _, v := range viols {
		if !seen[v.signature()] && v.op.steps != nil {
			seen[v.signature()] = true
			cands = append(cands, v)
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return len(cands[i].ops) < len(cands[j].ops) })
	for _, v := range cands {
		if time.Now().After(deadline) {
			return
		}
		if s.shrinkOne(v, openDirect(t, s.db, v.profile), deadline) {
			return
		}
	}
}

// entry is one operation of a shrinking schedule: the session under
// test's (compared with its twin's) or a noise operation.
type entry struct {
	noise bool
	op    op
}

// preludeOps is how many noise operations dirty a trial's fresh pool
// before the session under test starts.
const preludeOps = 12

// schedule lays out ops with noise from source: preludeOps noise
// operations first, then one before each of ops.
func schedule(ops []op, source *noiseSource) []entry {
	var sched []entry
	var next func() op
	if source != nil {
		next = source.iter()
		for range preludeOps {
			sched = append(sched, entry{noise: true, op: next()})
		}
	}
	for _, o := range ops {
		if next != nil {
			sched = append(sched, entry{noise: true, op: next()})
		}
		sched = append(sched, entry{op: o})
	}
	return sched
}

// shrinkOne shrinks v; it reports whether v showed again alone.
func (s *suite) shrinkOne(v *violation, twin *sql.DB, deadline time.Time) bool {
	t := s.t
	ctx := context.Background()
	// Noise from a few generator seeds, then the operations of a few other
	// sessions of the run, then none, until the violation shows.
	var sched []entry
	var source *noiseSource
	var d *difference
	trials := 0
	for _, n := range s.noiseSources(v) {
		if time.Now().After(deadline) {
			break
		}
		trials++
		cand := schedule(v.ops, n)
		var at int
		if at, d, _ = s.replay(ctx, v.profile, twin, cand); d != nil {
			sched, source = cand[:at+1], n
			break
		}
	}
	if d == nil {
		t.Logf("shrinking session %d (%s): its %d operations alone on one backend (with and without noise) showed no violation: "+
			"it needs the interleaving of the full run; repeat with RDSMUX_SEED=%d", v.session, v.signature(), len(v.ops), s.seed)
		return false
	}
	for chunk := len(sched) / 2; chunk >= 1 && time.Now().Before(deadline); chunk /= 2 {
		for i := 0; i+chunk <= len(sched) && time.Now().Before(deadline); {
			cand := append(append([]entry{}, sched[:i]...), sched[i+chunk:]...)
			trials++
			if a, dd, _ := s.replay(ctx, v.profile, twin, cand); dd != nil {
				sched, d = cand[:a+1], dd
				continue
			}
			i += chunk
		}
	}
	_, _, log := s.replay(ctx, v.profile, twin, sched)
	mine := 0
	for _, e := range sched {
		if !e.noise {
			mine++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SHRUNK (seed %d, session %d, client params %q): %d of its %d operations and %d noise operations",
		s.seed, v.session, v.profile, mine, len(v.ops), len(sched)-mine)
	if source != nil {
		fmt.Fprintf(&b, " (from %s; each in a session of its own)", source.name)
	}
	fmt.Fprintf(&b, ", on a fresh pool of 1 backend (%d trials):\n", trials)
	n := 0
	for i, e := range sched {
		l := ""
		if i < len(log) {
			l = "  =>  " + log[i]
		}
		if e.noise {
			fmt.Fprintf(&b, "       noise: %s%s\n", e.op, l)
			continue
		}
		fmt.Fprintf(&b, "    #%d %s%s\n", n, e.op, l)
		n++
	}
	fmt.Fprintf(&b, "  differing step: %s\n  subject: %s\n  twin:    %s", d.step, d.subject, d.twin)
	t.Log(b.String())
	return true
}

// runNoise runs one noise operation on a session of its own, ended right
// after: the backend it used keeps what the operation changed, and
// whatever rdsmux pinned the session for is released. It waits for the
// backend at most a second, since the session under test may hold it (a
// transaction, a pin); the operation is then cut short, and it reports
// that it was blocked.
func (s *suite) runNoise(ctx context.Context, subj *sql.DB, o op) (string, bool) {
	nctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	n, err := newSide(nctx, subj, shrinkTables[2])
	if err != nil {
		return "noise session not connected: " + err.Error(), nctx.Err() != nil
	}
	defer n.close()
	var outs []string
	for _, st := range o.steps {
		outs = append(outs, n.run(nctx, st).String())
	}
	return strings.Join(outs, " | "), nctx.Err() != nil
}

// noiseSource is where a trial's noise operations come from: a generator
// seed, or another session's operations.
type noiseSource struct {
	name string
	seed uint64
	ops  []op
}

// iter returns the source's operations one by one, from the start.
func (n *noiseSource) iter() func() op {
	if n.ops == nil {
		g := newGen(n.seed)
		g.noPinOps = true
		return func() op {
			g.slots, g.inTx, g.apiTx, g.noAuto = map[string]stmtTemplate{}, 0, false, false
			return g.nextNoise()
		}
	}
	i := 0
	return func() op {
		o := n.ops[i%len(n.ops)]
		i++
		return o
	}
}

// noiseSources are the noises the shrinker tries for v, the last one
// none (nil).
func (s *suite) noiseSources(v *violation) []*noiseSource {
	var out []*noiseSource
	for k := range uint64(3) {
		out = append(out, &noiseSource{name: fmt.Sprintf("generated, seed %d", s.seed^0x5eed+k), seed: s.seed ^ 0x5eed + k})
	}
	s.mu.Lock()
	ids := make([]int, 0, len(s.allOps))
	for id := range s.allOps {
		if id != v.session && len(s.allOps[id]) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	r := rand.New(rand.NewPCG(s.seed, uint64(v.session)))
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	for _, id := range ids[:min(4, len(ids))] {
		out = append(out, &noiseSource{name: fmt.Sprintf("session %d's operations", id), ops: s.allOps[id]})
	}
	s.mu.Unlock()
	return append(out, nil)
}

// replay runs a schedule on a fresh pool of one backend: the session
// under test's operations on a fresh session of it and of twin, compared;
// the noise operations each on a short session of their own on the same
// pool. It returns the index of the first entry whose outcomes differ and
// the difference (-1 and nil when none does), and the subject's outcome
// of each entry run. Once a noise operation waited a second for the
// backend (the session under test holds it), the trial runs no more
// noise.
func (s *suite) replay(ctx context.Context, params string, twin *sql.DB, sched []entry) (int, *difference, []string) {
	root := s.db.DB(s.t)
	for _, sc := range schemas {
		for _, tb := range shrinkTables {
			if _, err := root.ExecContext(ctx, "TRUNCATE TABLE "+sc+"."+tb); err != nil {
				s.t.Logf("shrinking: %v", err)
				return -1, nil, nil
			}
		}
	}
	subj, closeSubj := s.kind.fresh(s.t, params)
	defer closeSubj()
	var log []string
	var a, b *side
	defer func() {
		if a != nil {
			a.close()
		}
		if b != nil {
			b.close()
		}
	}()
	blocked := false
	var c, r atomic.Int64
	for i, e := range sched {
		if e.noise {
			if blocked {
				log = append(log, "(skipped: the session holds the backend)")
				continue
			}
			l, bl := s.runNoise(ctx, subj, e.op)
			log = append(log, l)
			blocked = bl
			continue
		}
		if a == nil {
			// The session starts at its first operation, after the
			// noise before it.
			var err error
			if a, err = newSide(ctx, subj, shrinkTables[0]); err != nil {
				return i, &difference{step: "connect", subject: outcome{err: errText(err)}}, log
			}
			if b, err = newSide(ctx, twin, shrinkTables[1]); err != nil {
				s.t.Errorf("shrinking: connecting a twin: %v", err)
				return -1, nil, nil
			}
		}
		d, hist := compareOp(ctx, a, b, e.op, &c, &r)
		log = append(log, hist)
		if d != nil {
			return i, d, log
		}
	}
	return -1, nil, log
}
