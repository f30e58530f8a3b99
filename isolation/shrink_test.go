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

// shrink replays the violating session's operations alone on a pool of
// one backend, with a noise session's operations interleaved, and removes
// operations while a violation still shows; it logs the shortest sequence
// found. It tries the violations of distinct kinds, shortest history
// first, until one reproduces or the time budget is spent.
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

// shrinkOne shrinks v; it reports whether v showed again alone.
func (s *suite) shrinkOne(v *violation, twin *sql.DB, deadline time.Time) bool {
	t := s.t
	ctx := context.Background()
	ops := v.ops
	// Noise from a few generator seeds, then the operations of a few other
	// sessions of the run, then none, until the violation shows.
	var noise *noiseSource
	at, d := -1, (*difference)(nil)
	for _, n := range s.noiseSources(v) {
		if time.Now().After(deadline) {
			break
		}
		if at, d = s.replay(ctx, v.profile, twin, ops, n); d != nil {
			noise = n
			break
		}
	}
	if d == nil {
		t.Logf("shrinking session %d (%s): its %d operations alone on one backend (with and without a noise session) showed no violation: "+
			"it needs the interleaving of the full run; repeat with RDSMUX_SEED=%d", v.session, v.signature(), len(ops), s.seed)
		return false
	}
	ops = ops[:at+1]
	trials := 2
	for chunk := len(ops) / 2; chunk >= 1 && time.Now().Before(deadline); chunk /= 2 {
		for i := 0; i+chunk <= len(ops) && time.Now().Before(deadline); {
			cand := append(append([]op{}, ops[:i]...), ops[i+chunk:]...)
			trials++
			if a, dd := s.replay(ctx, v.profile, twin, cand, noise); dd != nil {
				ops, d = cand[:a+1], dd
				continue
			}
			i += chunk
		}
	}
	_, _, log, prelude := s.replayLog(ctx, v.profile, twin, ops, noise)
	var b strings.Builder
	fmt.Fprintf(&b, "SHRUNK (seed %d, session %d, client params %q): %d operations (from %d; %d trials) on a pool of 1 backend",
		s.seed, v.session, v.profile, len(ops), len(v.ops), trials)
	if noise != nil {
		fmt.Fprintf(&b, ", after %d noise operations (%s) on the fresh pool, each in a session of its own, and with one before each", preludeOps, noise.name)
	}
	b.WriteString(":\n")
	if noise != nil {
		for _, l := range prelude {
			fmt.Fprintf(&b, "       (noise session, before: %s)\n", l)
		}
	}
	for i, o := range ops {
		if i < len(log) && log[i] != "" {
			fmt.Fprintf(&b, "       (noise session: %s)\n", log[i])
		}
		fmt.Fprintf(&b, "    #%d %s\n", i, o)
	}
	fmt.Fprintf(&b, "  differing step: %s\n  subject: %s\n  twin:    %s", d.step, d.subject, d.twin)
	t.Log(b.String())
	return true
}

// noise runs one noise operation on a session of its own, ended right
// after: the backend it used keeps what the operation changed, and
// whatever rdsmux pinned the session for is released. It waits for the
// backend at most a second, since the session under test may hold it (a
// transaction, a pin); the operation is then cut short.
func (s *suite) noise(ctx context.Context, subj *sql.DB, next func() op) (string, bool) {
	nctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	n, err := newSide(nctx, subj, shrinkTables[2])
	if err != nil {
		return "noise session not connected: " + err.Error(), nctx.Err() != nil
	}
	defer n.close()
	no := next()
	var outs []string
	for _, st := range no.steps {
		outs = append(outs, n.run(nctx, st).String())
	}
	return no.String() + "  =>  " + strings.Join(outs, " | "), nctx.Err() != nil
}

// replay runs ops on a fresh session of a subject on a pool of its own
// (one backend, clean) and of twin, with a noise session on the same pool
// when noise is set, and returns the index of the first
// operation whose outcomes differ, and the difference; -1 and nil when
// none does.
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

// noiseSources are the noises the shrinker tries for v.
func (s *suite) noiseSources(v *violation) []*noiseSource {
	var out []*noiseSource
	for k := range uint64(3) {
		out = append(out, &noiseSource{name: fmt.Sprintf("generated, seed %d", s.seed^0x5eed+k), seed: s.seed ^ 0x5eed + k})
	}
	s.mu.Lock()
	ids := make([]int, 0, len(s.allOps))
	for id := range s.allOps {
		if id != v.session {
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

func (s *suite) replay(ctx context.Context, params string, twin *sql.DB, ops []op, noise *noiseSource) (int, *difference) {
	at, d, _, _ := s.replayLog(ctx, params, twin, ops, noise)
	return at, d
}

// preludeOps is how many noise operations dirty a trial's fresh pool
// before the session under test starts.
const preludeOps = 12

// replayLog is replay that also returns, for each operation, what the
// noise session ran before it, and the noise operations run before the
// session started.
func (s *suite) replayLog(ctx context.Context, params string, twin *sql.DB, ops []op, source *noiseSource) (int, *difference, []string, []string) {
	var log, prelude []string
	subj, closeSubj := s.kind.fresh(s.t, params)
	defer closeSubj()
	noise := source != nil
	var next func() op
	if noise {
		next = source.iter()
		for range preludeOps {
			l, _ := s.noise(ctx, subj, next)
			prelude = append(prelude, l)
		}
	}
	root := s.db.DB(s.t)
	for _, sc := range schemas {
		for _, tb := range shrinkTables {
			if _, err := root.ExecContext(ctx, "TRUNCATE TABLE "+sc+"."+tb); err != nil {
				s.t.Logf("shrinking: %v", err)
				return -1, nil, nil, nil
			}
		}
	}
	a, err := newSide(ctx, subj, shrinkTables[0])
	if err != nil {
		return 0, &difference{step: "connect", subject: outcome{err: errText(err)}}, nil, nil
	}
	defer a.close()
	b, err := newSide(ctx, twin, shrinkTables[1])
	if err != nil {
		s.t.Errorf("shrinking: connecting a twin: %v", err)
		return -1, nil, nil, nil
	}
	defer b.close()
	var c, r atomic.Int64
	for i, o := range ops {
		log = append(log, "")
		if noise {
			var blocked bool
			if log[i], blocked = s.noise(ctx, subj, next); blocked {
				// The session under test holds the backend: no more
				// noise in this trial.
				noise = false
			}
		}
		if d, _ := compareOp(ctx, a, b, o, &c, &r); d != nil {
			return i, d, log, prelude
		}
	}
	return -1, nil, log, prelude
}
