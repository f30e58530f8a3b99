package isolation

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// shrinkBudget bounds the time spent shortening a violation in short mode
// (in soak mode, ten times as much). It bounds only how short the
// reproduction gets, never a verdict.
const shrinkBudget = 25 * time.Second

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
// found.
func (s *suite) shrink(v *violation) {
	t := s.t
	budget := shrinkBudget
	if soak(t) > 0 {
		budget *= 10
	}
	deadline := time.Now().Add(budget)
	subj := s.kind.open(t, v.profile, 1)
	twin := openDirect(t, s.db, v.profile)
	createTables(t, s.db, shrinkTables)
	ctx := context.Background()
	ops := v.ops
	noise := true
	at, d := s.replay(ctx, subj, twin, ops, true)
	if d == nil {
		noise = false
		at, d = s.replay(ctx, subj, twin, ops, false)
	}
	if d == nil {
		t.Logf("shrinking session %d: its %d operations alone on one backend (with and without a noise session) showed no violation: "+
			"it needs the interleaving of the full run; repeat with RDSMUX_SEED=%d", v.session, len(ops), s.seed)
		return
	}
	ops = ops[:at+1]
	trials := 2
	for chunk := len(ops) / 2; chunk >= 1 && time.Now().Before(deadline); chunk /= 2 {
		for i := 0; i+chunk <= len(ops) && time.Now().Before(deadline); {
			cand := append(append([]op{}, ops[:i]...), ops[i+chunk:]...)
			trials++
			if a, dd := s.replay(ctx, subj, twin, cand, noise); dd != nil {
				ops, d = cand[:a+1], dd
				continue
			}
			i += chunk
		}
	}
	_, _, log := s.replayLog(ctx, subj, twin, ops, noise)
	var b strings.Builder
	fmt.Fprintf(&b, "SHRUNK (seed %d, session %d, client params %q): %d operations (from %d; %d trials) on a pool of 1 backend",
		s.seed, v.session, v.profile, len(ops), len(v.ops), trials)
	if noise {
		b.WriteString(", with a noise session's operation before each")
	}
	b.WriteString(":\n")
	for i, o := range ops {
		if i < len(log) && log[i] != "" {
			fmt.Fprintf(&b, "       (noise session: %s)\n", log[i])
		}
		fmt.Fprintf(&b, "    #%d %s\n", i, o)
	}
	fmt.Fprintf(&b, "  differing step: %s\n  subject: %s\n  twin:    %s", d.step, d.subject, d.twin)
	t.Log(b.String())
}

// replay runs ops on a fresh session of subj and of twin, with a noise
// session on subj when noise is set, and returns the index of the first
// operation whose outcomes differ, and the difference; -1 and nil when
// none does.
func (s *suite) replay(ctx context.Context, subj, twin *sql.DB, ops []op, noise bool) (int, *difference) {
	at, d, _ := s.replayLog(ctx, subj, twin, ops, noise)
	return at, d
}

// replayLog is replay that also returns, for each operation, what the
// noise session ran before it.
func (s *suite) replayLog(ctx context.Context, subj, twin *sql.DB, ops []op, noise bool) (int, *difference, []string) {
	var log []string
	root := s.db.DB(s.t)
	for _, sc := range schemas {
		for _, tb := range shrinkTables {
			if _, err := root.ExecContext(ctx, "TRUNCATE TABLE "+sc+"."+tb); err != nil {
				s.t.Errorf("shrinking: %v", err)
				return -1, nil, nil
			}
		}
	}
	a, err := newSide(ctx, subj, shrinkTables[0])
	if err != nil {
		return 0, &difference{step: "connect", subject: outcome{err: errText(err)}}, nil
	}
	defer a.close()
	b, err := newSide(ctx, twin, shrinkTables[1])
	if err != nil {
		s.t.Errorf("shrinking: connecting a twin: %v", err)
		return -1, nil, nil
	}
	defer b.close()
	var n *side
	ng := newGen(s.seed ^ 0x5eed)
	ng.noPinOps = true
	if noise {
		if n, err = newSide(ctx, subj, shrinkTables[2]); err != nil {
			n = nil
		}
	}
	defer func() {
		if n != nil {
			n.close()
		}
	}()
	var c, r atomic.Int64
	for i, o := range ops {
		log = append(log, "")
		if n != nil {
			// The noise session waits for the backend at most a second: the
			// session under test may hold it (a transaction, a pin), and
			// then the noise stops for this trial.
			nctx, cancel := context.WithTimeout(ctx, time.Second)
			no := ng.nextNoise()
			var outs []string
			for _, st := range no.steps {
				outs = append(outs, n.run(nctx, st).String())
				if nctx.Err() != nil {
					n.close()
					n = nil
					break
				}
			}
			cancel()
			log[i] = no.String() + "  =>  " + strings.Join(outs, " | ")
		}
		if d, _ := compareOp(ctx, a, b, o, &c, &r); d != nil {
			return i, d, log
		}
	}
	return -1, nil, log
}
