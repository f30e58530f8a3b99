package reliability

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux/failover"
	"github.com/rdsmux/rdsmux/pool"
)

// Writer failovers during the soak (long mode).
//
// The run starts on a primary/replica pair with MariaDB's semi-synchronous
// replication, each server behind its own fault proxy; rdsmux knows only
// the proxies. At evenly spaced points the primary fails (SIGKILL, or a
// blackhole in front of it and then a SIGKILL to fence it), the replica is
// promoted, and halfway to the next failover the failed server comes back
// as a replica of the new primary, so the next failover goes the other way.
// The clients run throughout and every invariant is checked as without
// failovers: the ledger is not weakened.
//
// Why no acknowledged write can be lost: with
// rpl_semi_sync_master_wait_point=AFTER_SYNC the primary writes a
// transaction to its binary log, waits until the replica has written it to
// its relay log and acknowledged it, and only then commits it in the engine
// and answers the client; the one-hour rpl_semi_sync_master_timeout keeps
// it from falling back to asynchronous replication, and a failover starts
// only while semi-sync is active (checked). So a write a client saw
// succeed is in the replica's relay log when the primary dies. Promote
// (mariadbtest) stops the replica's receiver and applies its whole relay
// log before it switches read_only off, so the new writer has every
// acknowledged write before it takes its first one. A write whose answer
// was lost (the connection died around the COMMIT, or
// failover.ErrTransactionResolutionUnknown) may or may not be on the new
// writer: the ledger accepts it at most once. A transaction that the
// primary had written to its binary log but no replica had acknowledged
// was never reported committed; when the failed primary rejoins, MariaDB's
// semi-sync crash recovery (--init-rpl-role=SLAVE) truncates it, so the two
// servers do not diverge, and checkReplica compares their tables at the
// end.
//
// While one server runs alone (between a failover and the rejoin) the new
// primary replicates to no one and does not wait (it could not be failed
// over then anyway); RejoinAsReplica makes it wait for acknowledgements
// again once the other has caught up.

// TestSoakFailover is the short version that CI runs: the same clients and
// invariants through the driver and through the listener, each for a few
// seconds on a primary/replica pair, with one writer failover (a kill or
// a blackhole, as the seed picks) halfway and the failed server rejoining
// as a replica after three quarters.
func TestSoakFailover(t *testing.T) {
	for _, via := range []string{"driver", "listener"} {
		t.Run(via, func(t *testing.T) {
			cfg := configFromEnv(t)
			cfg.clients, cfg.backends, cfg.failovers = 24, 6, 1
			cfg.duration = 10 * time.Second
			if testing.Short() {
				cfg.duration = 6 * time.Second
			}
			runSoak(t, via, cfg)
		})
	}
}

// failoverRecord is one failover, for the figures and the liveness check.
type failoverRecord struct {
	n        int
	mode     string // "kill" or "blackhole"
	from, to string // node names
	failAt   time.Time

	mu         sync.Mutex     // guards the fields below
	promotedAt time.Time      // zero until the replica is promoted
	firstWrite time.Time      // first write acknowledged after the promotion
	detectedAt time.Time      // the listener's monitor: first "failover started" after failAt
	changedAt  time.Time      // the listener's monitor: "writer changed"
	errors     map[string]int // client errors by kind, from the failure until a second after firstWrite
}

// noteAck records an acknowledged write: the first after the promotion
// ends the outage. (Before the promotion no write can succeed: the old
// primary is dead.)
func (r *failoverRecord) noteAck(at time.Time) {
	r.mu.Lock()
	if r.firstWrite.IsZero() && !r.promotedAt.IsZero() && at.After(r.promotedAt) {
		r.firstWrite = at
	}
	r.mu.Unlock()
}

func (r *failoverRecord) noteError(at time.Time, kind string) {
	r.mu.Lock()
	if !at.Before(r.failAt) && (r.firstWrite.IsZero() || at.Before(r.firstWrite.Add(time.Second))) {
		r.errors[kind]++
	}
	r.mu.Unlock()
}

// errorKind names the kind of a client error for the failover figures.
func errorKind(err error) string {
	var me *mysql.MySQLError
	class := failover.Classify(err)
	switch {
	case errors.Is(err, failover.ErrTransactionResolutionUnknown):
		return "transaction outcome unknown"
	case errors.Is(err, pool.ErrBorrowTimeout):
		return "borrow timeout"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline exceeded"
	case class == failover.ClassReadOnly:
		return "server read-only"
	case errors.As(err, &me):
		return fmt.Sprintf("server error %d", me.Number)
	case class != failover.ClassOther:
		return class.String()
	case errors.Is(err, mysql.ErrInvalidConn):
		return "invalid connection"
	}
	return "other"
}

// runFailovers fails the writer over cfg.failovers times, evenly spaced
// over the run, and brings the failed server back as a replica halfway to
// the next one. It runs in the test goroutine (the mariadbtest steps may
// fail the test) and returns after the last rejoin.
func (h *harness) runFailovers(ctx context.Context) {
	rng := rand.New(rand.NewPCG(h.cfg.seed, 1<<34))
	modes := []string{"kill", "blackhole"}
	first := rng.IntN(len(modes))
	n, d := h.cfg.failovers, h.cfg.duration
	gap := d / time.Duration(n+1)
	for i := 0; i < n; i++ {
		at := h.start.Add(gap * time.Duration(i+1))
		if !sleepUntil(ctx, at) {
			h.t.Logf("failover %d skipped: the run ended first (the rejoin before it took long)", i+1)
			return
		}
		h.failOver(i+1, modes[(first+i)%len(modes)], rng)
		// The rejoin happens even after the run ended, for checkReplica.
		sleepUntil(ctx, at.Add(gap/2))
		h.rejoin()
	}
}

// sleepUntil sleeps until at, or until ctx ends (then it reports false).
func sleepUntil(ctx context.Context, at time.Time) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Until(at)):
		return true
	}
}

// failOver fails the current primary and promotes the replica.
func (h *harness) failOver(n int, mode string, rng *rand.Rand) {
	h.topoMu.Lock()
	from := h.writer
	to := (from + 1) % len(h.nodes)
	h.topoMu.Unlock()
	old, next := h.nodes[from], h.nodes[to]
	if !old.server.SemiSyncActive(h.t) {
		h.t.Fatalf("failover %d: semi-synchronous replication is not active on %s, so acknowledged writes could be lost: the ledger's premise does not hold", n, old.name)
	}
	rec := &failoverRecord{n: n, mode: mode, from: old.name, to: next.name, errors: map[string]int{}}

	h.chaosMu.Lock() // no fault of the faulter's on the proxies meanwhile
	rec.failAt = time.Now()
	h.failover.Store(rec)
	switch mode {
	case "kill":
		old.server.Kill()
	case "blackhole":
		// The network to the primary goes silent; the orchestrator
		// fences it (kills it) before promoting the replica, as it must
		// when it cannot tell a dead primary from an unreachable one.
		old.proxy.Blackhole()
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		old.server.Kill()
	}
	h.topoMu.Lock()
	h.down[from] = true
	h.topoMu.Unlock()
	h.chaosMu.Unlock()

	time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond) // deciding to promote
	next.server.Promote(h.t)
	rec.mu.Lock()
	rec.promotedAt = time.Now()
	rec.mu.Unlock()
	h.topoMu.Lock()
	h.writer = to
	h.topoMu.Unlock()
	h.failovers = append(h.failovers, rec)
	h.t.Logf("failover %d (%s): %s failed at +%v, %s promoted %v later", n, mode, old.name,
		rec.failAt.Sub(h.start).Round(time.Millisecond), next.name, rec.promotedAt.Sub(rec.failAt).Round(time.Millisecond))
}

// rejoin brings the failed server back as a replica of the new primary,
// then lifts any blackhole in front of it.
func (h *harness) rejoin() {
	h.topoMu.Lock()
	w := h.writer
	h.topoMu.Unlock()
	began := time.Now()
	for i, n := range h.nodes {
		if i == w || !h.downNode(i) {
			continue
		}
		n.server.RejoinAsReplica(h.t, h.nodes[w].server)
		h.chaosMu.Lock()
		n.proxy.Clear()
		h.topoMu.Lock()
		h.down[i] = false
		h.topoMu.Unlock()
		h.chaosMu.Unlock()
		h.t.Logf("%s rejoined as a replica of %s in %v", n.name, h.nodes[w].name, time.Since(began).Round(time.Millisecond))
	}
}

func (h *harness) downNode(i int) bool {
	h.topoMu.Lock()
	defer h.topoMu.Unlock()
	return h.down[i]
}

// monitorEvent records the listener's monitor's view of a failover.
func (h *harness) monitorEvent(ev failover.Event) {
	rec := h.failover.Load()
	if rec == nil {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	switch ev.Kind {
	case failover.EventFailoverStarted:
		if rec.detectedAt.IsZero() && ev.At.After(rec.failAt) {
			rec.detectedAt = ev.At
		}
	case failover.EventWriterChanged:
		if rec.changedAt.IsZero() {
			rec.changedAt = ev.At
		}
	}
}

// checkReplica: a replica that rejoined has, once caught up, exactly the
// writer's tables (the failed primary's recovery left nothing of its own),
// and the roles are where the failovers put them.
func (h *harness) checkReplica() {
	if len(h.nodes) < 2 {
		return
	}
	w := h.writerNode()
	if ro := w.server.QueryInt(h.t, "SELECT @@global.read_only"); ro != 0 {
		h.violation("the writer %s is read-only", w.name)
	}
	// The checks run once the pool is idle, so nothing writes any more;
	// a snapshot of the writer is taken between two equal positions all
	// the same.
	var want, pos string
	for try := 0; ; try++ {
		before := gtidBinlogPos(h, w)
		want = checksums(h, w)
		if pos = gtidBinlogPos(h, w); pos == before {
			break
		}
		if try == 20 {
			h.violation("writes still land on the writer %s after the run and the pool are idle (GTID %s, then %s)", w.name, before, pos)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, n := range h.nodes {
		if n == w || h.downNode(i) {
			continue
		}
		n.server.WaitReplicaCaughtUp(h.t, w.server) // up to pos at least, and there is nothing after it
		if ro := n.server.QueryInt(h.t, "SELECT @@global.read_only"); ro != 1 {
			h.violation("the replica %s is not read-only", n.name)
		}
		if got := checksums(h, n); got != want {
			h.violation("the replica %s diverged from the writer %s: %s, writer %s; ledger rows on one only: %s",
				n.name, w.name, got, want, h.ledgerDiff(w, n))
		} else {
			h.t.Logf("replica %s caught up with the writer %s: same tables (%s)", n.name, w.name, got)
		}
	}
}

// ledgerDiff lists (up to 20) ledger rows present on only one of a and b,
// with what the client was told about them.
func (h *harness) ledgerDiff(a, b *node) string {
	rowsOf := func(n *node) map[int64]string {
		out := map[int64]string{}
		rows, err := n.server.DB(h.t).Query("SELECT id, k FROM ledger")
		if err != nil {
			h.t.Fatalf("reading the ledger on %s: %v", n.name, err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var k string
			if err := rows.Scan(&id, &k); err != nil {
				h.t.Fatalf("reading the ledger on %s: %v", n.name, err)
			}
			out[id] = k
		}
		return out
	}
	ra, rb := rowsOf(a), rowsOf(b)
	outcomes := []string{acked: "acknowledged", failed: "failed", ambiguous: "unknown outcome"}
	var diff []string
	for _, d := range []struct {
		on         *node
		have, lack map[int64]string
	}{{a, ra, rb}, {b, rb, ra}} {
		for id, k := range d.have {
			if _, ok := d.lack[id]; !ok && len(diff) < 20 {
				h.ledger.mu.Lock()
				o, ok := h.ledger.entries[k]
				h.ledger.mu.Unlock()
				what := "never attempted"
				if ok {
					what = outcomes[o]
				}
				diff = append(diff, fmt.Sprintf("id %d (%s, %s) only on %s", id, k, what, d.on.name))
			}
		}
	}
	return strings.Join(diff, "; ")
}

func gtidBinlogPos(h *harness, n *node) string {
	var pos string
	if err := n.server.DB(h.t).QueryRow("SELECT @@global.gtid_binlog_pos").Scan(&pos); err != nil {
		h.t.Fatalf("reading the GTID position of %s: %v", n.name, err)
	}
	return pos
}

// checksums returns CHECKSUM TABLE of the soak's tables on n.
func checksums(h *harness, n *node) string {
	rows, err := n.server.DB(h.t).Query("CHECKSUM TABLE accounts, ledger")
	if err != nil {
		h.t.Fatalf("CHECKSUM TABLE on %s: %v", n.name, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var table string
		var sum int64
		if err := rows.Scan(&table, &sum); err != nil {
			h.t.Fatalf("CHECKSUM TABLE on %s: %v", n.name, err)
		}
		out = append(out, fmt.Sprintf("%s=%d", table, sum))
	}
	if err := rows.Err(); err != nil {
		h.t.Fatalf("CHECKSUM TABLE on %s: %v", n.name, err)
	}
	return strings.Join(out, " ")
}

// checkFailovers reports each failover's figures and checks that writes
// resumed after every promotion (by the end of the run: no time bound) and,
// for the listener, that its monitor saw exactly these failovers.
func (h *harness) checkFailovers() {
	if h.cfg.failovers == 0 {
		return
	}
	h.t.Logf("writer failovers: %d of %d planned", len(h.failovers), h.cfg.failovers)
	for _, r := range h.failovers {
		r.mu.Lock()
		line := fmt.Sprintf("failover %d (%s, %s -> %s): failure -> promotion %v", r.n, r.mode, r.from, r.to,
			r.promotedAt.Sub(r.failAt).Round(time.Millisecond))
		if r.firstWrite.IsZero() {
			h.violation("failover %d: no write was acknowledged after %s was promoted", r.n, r.to)
		} else {
			line += fmt.Sprintf(", promotion -> first write %v, failure -> first write %v",
				r.firstWrite.Sub(r.promotedAt).Round(time.Millisecond), r.firstWrite.Sub(r.failAt).Round(time.Millisecond))
		}
		if !r.detectedAt.IsZero() {
			line += fmt.Sprintf("; the monitor saw the writer fail %v after the failure", r.detectedAt.Sub(r.failAt).Round(time.Millisecond))
		}
		if !r.changedAt.IsZero() {
			line += fmt.Sprintf("; the monitor saw the new writer %v after the promotion", r.changedAt.Sub(r.promotedAt).Round(time.Millisecond))
		}
		type kv struct {
			kind string
			n    int
		}
		var kinds []kv
		total := 0
		for k, n := range r.errors {
			kinds = append(kinds, kv{k, n})
			total += n
		}
		slices.SortFunc(kinds, func(a, b kv) int { return b.n - a.n })
		var parts []string
		for _, e := range kinds {
			parts = append(parts, fmt.Sprintf("%s %d", e.kind, e.n))
		}
		line += fmt.Sprintf("; client errors until a second after the first write: %d (%s)", total, strings.Join(parts, ", "))
		r.mu.Unlock()
		h.t.Log(line)
	}
	if h.monitor != nil {
		st := h.monitor.Stats()
		h.t.Logf("listener's monitor: outages %d, failovers %d, connections to a former writer aborted %d, refreshes %d (errors %d), writer checks %d",
			st.Outages, st.Failovers, st.AbortedConns, st.Refreshes, st.RefreshErrors, st.WriterChecks)
		if st.Failovers != int64(len(h.failovers)) {
			h.violation("the listener's monitor counted %d failovers, the run made %d", st.Failovers, len(h.failovers))
		}
	}
}
