package failover

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
)

// AuroraConfig configures an AuroraProvider. Every query can be pointed at
// stand-ins, so that tests run against MariaDB with a table shaped like
// information_schema.replica_host_status.
type AuroraConfig struct {
	// ClusterEndpoint is the cluster (writer) endpoint, e.g.
	// "mycluster.cluster-abc.us-east-1.rds.amazonaws.com:3306". It is asked
	// for the topology when no known instance answers, and HostPattern is
	// derived from it when not set.
	ClusterEndpoint string
	// Seeds are further addresses to ask when no known instance answers
	// (for example instance endpoints).
	Seeds []string
	// HostPattern builds an instance's address from its server id: "?" is
	// replaced by the id, e.g. "?.abc.us-east-1.rds.amazonaws.com". A port
	// in the pattern wins over Port.
	HostPattern string
	// Port is the instances' port when HostPattern has none. Default: the
	// cluster endpoint's port, else 3306.
	Port int
	// Probe says how to reach instances.
	Probe ProbeConfig

	// Table is the topology table. Default
	// "information_schema.replica_host_status".
	Table string
	// ServerIDExpr is an SQL expression giving the answering instance's
	// server id. Default "@@aurora_server_id".
	ServerIDExpr string
	// ReadOnlyExpr is an SQL expression, non-zero on a read-only instance.
	// Default "@@innodb_read_only".
	ReadOnlyExpr string
	// MaxAge drops topology rows older than this (the writer row is kept
	// whatever its age). Default 5 minutes.
	MaxAge time.Duration
}

// AuroraProvider reads an Aurora MySQL cluster's topology from
// information_schema.replica_host_status: the writer is the row whose
// SESSION_ID is 'MASTER_SESSION_ID', readers are the other rows updated
// within MaxAge. Each known instance is asked for its own server id and
// innodb_read_only flag in the same probe, so the writer is verified
// directly, not only by another instance's view.
type AuroraProvider struct {
	cfg      AuroraConfig // immutable after NewAurora
	identity string       // probe query: server id and read-only flag
	topoSQL  string       // topology query
	p        *prober

	mu    sync.Mutex // guards known
	known []string   // instance addresses from the last topology
}

var (
	_ Provider      = (*AuroraProvider)(nil)
	_ WriterChecker = (*AuroraProvider)(nil)
)

// NewAurora returns an AuroraProvider. It does not connect until the first
// Refresh.
func NewAurora(cfg AuroraConfig) (*AuroraProvider, error) {
	if cfg.ClusterEndpoint == "" && len(cfg.Seeds) == 0 {
		return nil, errors.New("failover: AuroraConfig needs ClusterEndpoint (or Seeds) to find the cluster")
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
		if _, p, err := net.SplitHostPort(cfg.ClusterEndpoint); err == nil {
			if n, err := strconv.Atoi(p); err == nil {
				cfg.Port = n
			}
		}
	}
	if cfg.HostPattern == "" {
		pat, err := HostPatternFromEndpoint(cfg.ClusterEndpoint)
		if err != nil {
			return nil, err
		}
		cfg.HostPattern = pat
	}
	if err := checkHostPattern(cfg.HostPattern); err != nil {
		return nil, err
	}
	if cfg.Table == "" {
		cfg.Table = "information_schema.replica_host_status"
	}
	if cfg.ServerIDExpr == "" {
		cfg.ServerIDExpr = "@@aurora_server_id"
	}
	if cfg.ReadOnlyExpr == "" {
		cfg.ReadOnlyExpr = "@@innodb_read_only"
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 5 * time.Minute
	}
	p, err := newProber(cfg.Probe)
	if err != nil {
		return nil, err
	}
	ap := &AuroraProvider{cfg: cfg, p: p}
	ap.identity = "SELECT " + cfg.ServerIDExpr + ", " + cfg.ReadOnlyExpr
	ap.topoSQL = "SELECT SERVER_ID, SESSION_ID = 'MASTER_SESSION_ID', " +
		"TIMESTAMPDIFF(MICROSECOND, LAST_UPDATE_TIMESTAMP, NOW(6)), REPLICA_LAG_IN_MILLISECONDS FROM " + cfg.Table +
		" WHERE SESSION_ID = 'MASTER_SESSION_ID' OR LAST_UPDATE_TIMESTAMP >= NOW(6) - INTERVAL " +
		strconv.FormatInt(int64(cfg.MaxAge/time.Second), 10) + " SECOND"
	return ap, nil
}

// auroraRow is one row of the topology table.
type auroraRow struct {
	id     string
	writer bool
	age    time.Duration
	lag    time.Duration
}

// auroraView is what one instance said about itself and the cluster.
type auroraView struct {
	selfID   string
	readOnly bool
	rows     []auroraRow
}

// probeView asks one instance for its identity and its view of the
// topology.
func (ap *AuroraProvider) probeView(ctx context.Context, db *sql.DB) (auroraView, error) {
	var v auroraView
	var ro sql.NullInt64
	if err := db.QueryRowContext(ctx, ap.identity).Scan(&v.selfID, &ro); err != nil {
		return v, err
	}
	v.readOnly = ro.Valid && ro.Int64 != 0
	rows, err := db.QueryContext(ctx, ap.topoSQL)
	if err != nil {
		return v, err
	}
	defer rows.Close()
	for rows.Next() {
		var r auroraRow
		var w, ageUS sql.NullInt64
		var lag sql.NullFloat64
		if err := rows.Scan(&r.id, &w, &ageUS, &lag); err != nil {
			return v, err
		}
		r.writer = w.Valid && w.Int64 != 0
		r.age = time.Duration(ageUS.Int64) * time.Microsecond
		r.lag = time.Duration(lag.Float64 * float64(time.Millisecond))
		v.rows = append(v.rows, r)
	}
	return v, rows.Err()
}

// candidates returns the addresses to probe: known instances first, then
// the cluster endpoint and seeds.
func (ap *AuroraProvider) candidates() []string {
	ap.mu.Lock()
	out := append([]string(nil), ap.known...)
	ap.mu.Unlock()
	seen := map[string]bool{}
	for _, a := range out {
		seen[a] = true
	}
	extra := append([]string{}, ap.cfg.Seeds...)
	if ap.cfg.ClusterEndpoint != "" {
		extra = append([]string{ap.cfg.ClusterEndpoint}, extra...)
	}
	for _, a := range extra {
		a = withDefaultPort(a, ap.cfg.Port)
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// Refresh probes the known instances (and the endpoint) concurrently, reads
// the topology from the writer's view (or, without an answering writer,
// from the freshest view), and probes a newly reported writer in the same
// call so that a completed Aurora failover is verified at once.
func (ap *AuroraProvider) Refresh(ctx context.Context) (Topology, error) {
	addrs := ap.candidates()
	res := probeAll(ctx, ap.p, addrs, ap.probeView)
	rows, err := ap.chooseRows(res)
	if err != nil {
		return Topology{At: time.Now()}, err
	}
	// Probe instances the chosen view reports that were not asked yet.
	asked := map[string]bool{}
	for _, r := range res {
		asked[r.Addr] = true
	}
	var more []string
	for _, r := range rows {
		if a, err := InstanceAddr(ap.cfg.HostPattern, r.id, ap.cfg.Port); err == nil && !asked[a] {
			asked[a] = true
			more = append(more, a)
		}
	}
	if len(more) > 0 && ctx.Err() == nil {
		res = append(res, probeAll(ctx, ap.p, more, ap.probeView)...)
	}
	return ap.build(rows, res)
}

// chooseRows picks the view to trust: a writer's own view, else the view
// whose writer row is freshest.
func (ap *AuroraProvider) chooseRows(res []probeResult[auroraView]) ([]auroraRow, error) {
	var best []auroraRow
	bestAge := time.Duration(-1)
	var errs []error
	for _, r := range res {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Addr, r.Err))
			continue
		}
		if !r.Val.readOnly {
			return r.Val.rows, nil
		}
		for _, row := range r.Val.rows {
			if row.writer && (bestAge < 0 || row.age < bestAge) {
				best, bestAge = r.Val.rows, row.age
			}
		}
		if best == nil {
			best = r.Val.rows
		}
	}
	if best == nil && len(errs) > 0 {
		return nil, fmt.Errorf("failover: no Aurora instance answered the topology query: %w", errors.Join(errs...))
	}
	return best, nil
}

// build assembles the topology from the chosen rows and the direct probes.
func (ap *AuroraProvider) build(rows []auroraRow, res []probeResult[auroraView]) (Topology, error) {
	now := time.Now()
	top := Topology{At: now}
	type direct struct {
		ok, readOnly bool
	}
	byAddr := map[string]direct{} // instance address -> what it said itself
	var directWriters []Host
	for _, r := range res {
		if r.Err != nil {
			continue
		}
		a, err := InstanceAddr(ap.cfg.HostPattern, r.Val.selfID, ap.cfg.Port)
		if err != nil {
			continue
		}
		if _, dup := byAddr[a]; dup {
			continue // the endpoint and the instance address reached the same instance
		}
		byAddr[a] = direct{ok: true, readOnly: r.Val.readOnly}
		if !r.Val.readOnly {
			directWriters = append(directWriters, Host{Addr: a, ID: r.Val.selfID, Role: RoleWriter, Updated: now})
		}
	}
	// The newest writer row is the reported writer.
	var rowWriter *auroraRow
	for i := range rows {
		if rows[i].writer && (rowWriter == nil || rows[i].age < rowWriter.age) {
			rowWriter = &rows[i]
		}
	}
	known := make([]string, 0, len(rows))
	keep := map[string]bool{}
	for _, r := range rows {
		a, err := InstanceAddr(ap.cfg.HostPattern, r.id, ap.cfg.Port)
		if err != nil {
			continue
		}
		known = append(known, a)
		keep[a] = true
		h := Host{Addr: a, ID: r.id, ReplicaLag: r.lag, Updated: now.Add(-r.age)}
		d, answered := byAddr[a]
		isWriter := rowWriter != nil && r.id == rowWriter.id
		switch {
		case !answered && ap.p.isDown(a):
			top.Down = append(top.Down, h)
		case isWriter && (!answered || !d.readOnly):
			h.Role = RoleWriter
			top.Writer = h
		case answered && !d.readOnly:
			// Says it is writable but the view names another writer: the
			// direct answer is counted below.
		default:
			h.Role = RoleReader
			top.Readers = append(top.Readers, h)
		}
	}
	// Instances that failed their probe are down.
	for _, r := range res {
		if r.Err != nil && keep[r.Addr] {
			if !slices.ContainsFunc(top.Down, func(h Host) bool { return h.Addr == r.Addr }) {
				top.Down = append(top.Down, Host{Addr: r.Addr, ID: r.Addr})
			}
			top.Readers = removeHost(top.Readers, r.Addr)
			if top.Writer.Addr == r.Addr {
				top.Writer = Host{}
			}
		}
	}
	keepSeeds := map[string]bool{}
	for _, a := range ap.candidates() {
		keepSeeds[a] = true
	}
	for a := range keepSeeds {
		keep[a] = true
	}
	if len(known) > 0 {
		ap.mu.Lock()
		ap.known = known
		ap.mu.Unlock()
	}
	ap.p.retain(keep)
	sort.Slice(top.Readers, func(i, j int) bool { return top.Readers[i].Addr < top.Readers[j].Addr })
	switch len(directWriters) {
	case 0:
		top.WriterVerified = false
	case 1:
		top.Writer, top.WriterVerified = directWriters[0], true
		if rowWriter != nil && rowWriter.id == directWriters[0].ID {
			top.Writer.ReplicaLag, top.Writer.Updated = rowWriter.lag, now.Add(-rowWriter.age)
		}
	default:
		top.Writer, top.WriterVerified = Host{}, false
		return top, &AmbiguousWriterError{Writers: directWriters}
	}
	return top, nil
}

func removeHost(hs []Host, addr string) []Host {
	out := hs[:0]
	for _, h := range hs {
		if h.Addr != addr {
			out = append(out, h)
		}
	}
	return out
}

// CheckWriter confirms that w still reports itself writable.
func (ap *AuroraProvider) CheckWriter(ctx context.Context, w Host) error {
	return checkWriter(ctx, ap.p, w, "SELECT "+ap.cfg.ReadOnlyExpr)
}

// Close stops running probes and closes probe connections.
func (ap *AuroraProvider) Close() error {
	ap.p.close()
	return nil
}

// roleQuery is the query a Dialer uses to confirm a connection's role.
func (ap *AuroraProvider) roleQuery() string { return "SELECT " + ap.cfg.ReadOnlyExpr }
