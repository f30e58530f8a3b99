package failover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// MonitorConfig configures a Monitor.
type MonitorConfig struct {
	// Provider observes the cluster. Required. The Monitor closes it.
	Provider Provider
	// RefreshInterval is the full refresh period while a writer is
	// verified. Default 30s.
	RefreshInterval time.Duration
	// FastInterval is the refresh period while no writer is verified
	// (startup, failover). Default 100ms.
	FastInterval time.Duration
	// WriterCheckInterval is the period of the cheap writer liveness check
	// between full refreshes, for providers that implement WriterChecker.
	// Default 300ms (with the probe timeout, a silent writer is noticed
	// within about 0.8s); negative disables it.
	WriterCheckInterval time.Duration
	// RefreshTimeout bounds one refresh or check. Default 3s (probes have
	// their own, shorter, timeout).
	RefreshTimeout time.Duration
	// Logger receives debug logs of refreshes and events. Default: none.
	Logger *slog.Logger
	// Now is the clock; a test seam. Default time.Now.
	Now func() time.Time
}

func (c MonitorConfig) withDefaults() (MonitorConfig, error) {
	if c.Provider == nil {
		return c, errors.New("failover: MonitorConfig.Provider is required (NewStatic, NewReadOnly or NewAurora)")
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = 30 * time.Second
	}
	if c.FastInterval <= 0 {
		c.FastInterval = 100 * time.Millisecond
	}
	if c.WriterCheckInterval == 0 {
		c.WriterCheckInterval = 300 * time.Millisecond
	}
	if c.RefreshTimeout <= 0 {
		c.RefreshTimeout = 3 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// Monitor follows one cluster's topology: it refreshes slowly while a
// writer is verified and fast while none is, checks the writer's liveness
// in between, accepts failure reports from dialers and pools, and tells
// subscribers about failovers. One goroutine, stopped by Close.
type Monitor struct {
	cfg     MonitorConfig // immutable
	checker WriterChecker // cfg.Provider as a WriterChecker, or nil

	kick   chan struct{}   // buffered(1): refresh now
	stop   chan struct{}   // closed by Close
	done   chan struct{}   // closed when run returns
	ctx    context.Context // parent of refreshes; cancelled by Close
	cancel context.CancelFunc

	epoch atomic.Uint64 // incremented on every writer change

	// emitMu serializes state transitions with the delivery of their
	// events, so that subscribers see events in order. Taken before mu.
	emitMu sync.Mutex

	mu          sync.Mutex // guards the fields below
	top         Topology
	verified    bool          // top.Writer is verified and not reported dead since
	lastWriter  Host          // last verified writer
	outageStart time.Time     // zero unless an outage is in progress
	outageFrom  Host          // writer lost when the outage started
	changed     chan struct{} // closed and replaced on every state change
	stats       Stats         // counters (Writer/Topology filled on read)
	subs        map[int]func(Event)
	nextSub     int
	closed      bool
	// reports counts failure reports about the verified writer; a refresh
	// that started before the latest report cannot verify reportedAddr.
	reports      uint64
	reportedAddr string
	// conns are the open writer connections by host address, closed when
	// that host stops being the writer (see track).
	conns map[string]map[*trackedConn]struct{}
}

// trackedConn is a registered writer connection.
type trackedConn struct{ c io.Closer }

// NewMonitor starts a Monitor. It refreshes at once and then at the fast
// rate until a writer is verified; use WaitWriter to wait for that.
func NewMonitor(cfg MonitorConfig) (*Monitor, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Monitor{
		ctx:     ctx,
		cancel:  cancel,
		cfg:     cfg,
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
		subs:    map[int]func(Event){},
		conns:   map[string]map[*trackedConn]struct{}{},
	}
	if wc, ok := cfg.Provider.(WriterChecker); ok && cfg.WriterCheckInterval > 0 {
		m.checker = wc
	}
	go m.run()
	return m, nil
}

// run is the monitor goroutine; it returns when Close is called.
func (m *Monitor) run() {
	defer close(m.done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	var lastFull time.Time
	for {
		kicked := false
		select {
		case <-m.stop:
			return
		case <-timer.C:
		case <-m.kick:
			kicked = true
			timer.Stop()
		}
		m.mu.Lock()
		verified := m.verified
		m.mu.Unlock()
		now := m.cfg.Now()
		if !kicked && verified && m.checker != nil && now.Sub(lastFull) < m.cfg.RefreshInterval {
			m.checkWriter()
		} else {
			m.refresh()
			lastFull = m.cfg.Now()
		}
		m.mu.Lock()
		next := m.cfg.FastInterval
		if m.verified {
			next = m.cfg.RefreshInterval
			if m.checker != nil {
				next = min(m.cfg.WriterCheckInterval, m.cfg.RefreshInterval)
			}
		}
		m.mu.Unlock()
		timer.Reset(next)
	}
}

// stopCtx returns a context bounded by RefreshTimeout and cancelled by
// Close.
func (m *Monitor) stopCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(m.ctx, m.cfg.RefreshTimeout)
}

// refresh runs one full provider refresh and applies the result.
func (m *Monitor) refresh() {
	m.mu.Lock()
	seq := m.reports
	m.mu.Unlock()
	ctx, cancel := m.stopCtx()
	top, err := m.cfg.Provider.Refresh(ctx)
	cancel()
	if errors.Is(err, errMonitorClosed) {
		return
	}
	m.apply(top, err, seq)
}

// checkWriter runs the cheap liveness check of the verified writer.
func (m *Monitor) checkWriter() {
	m.mu.Lock()
	w := m.top.Writer
	m.stats.WriterChecks++
	m.mu.Unlock()
	ctx, cancel := m.stopCtx()
	err := m.checker.CheckWriter(ctx, w)
	cancel()
	if err == nil || errors.Is(err, errMonitorClosed) {
		return
	}
	m.ReportFailure(w.Addr, fmt.Errorf("failover: writer check of %s: %w", w.Addr, err))
}

// apply updates the state from a refresh result and emits events.
func (m *Monitor) apply(top Topology, err error, seq uint64) {
	m.emitMu.Lock()
	defer m.emitMu.Unlock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	now := m.cfg.Now()
	if top.At.IsZero() {
		top.At = now
	}
	var evs []Event
	m.stats.Refreshes++
	var amb *AmbiguousWriterError
	if err != nil {
		m.stats.RefreshErrors++
		m.stats.LastError = err
		m.cfg.Logger.Debug("failover: refresh failed", "err", err)
	} else {
		m.stats.LastError = nil
	}
	prev := m.top
	newVerified := err == nil && top.WriterVerified && !top.Writer.IsZero()
	if newVerified && seq != m.reports && top.Writer.Addr == m.reportedAddr {
		// The refresh started before the writer was reported dead: its
		// answer may predate the failure. Look again.
		newVerified = false
		m.Refresh()
	}
	if errors.As(err, &amb) {
		evs = append(evs, Event{Kind: EventAmbiguousWriter, At: now, Err: err})
	}
	if err != nil && !errors.As(err, &amb) && top.Writer.IsZero() {
		// The provider could not observe anything: keep what we knew, but
		// the writer is no longer verified.
		top.Writer = prev.Writer
	}
	if m.verified && !newVerified {
		cause := err
		if cause == nil {
			cause = fmt.Errorf("failover: writer %s not verified by the latest refresh", prev.Writer.Addr)
		}
		evs = append(evs, m.startOutageLocked(now, cause))
	}
	var abort []*trackedConn
	if newVerified {
		from := m.lastWriter
		evs = append(evs, m.writerVerifiedLocked(now, top)...)
		if !from.IsZero() && from.Addr != top.Writer.Addr {
			for tc := range m.conns[from.Addr] {
				abort = append(abort, tc)
			}
			delete(m.conns, from.Addr)
			m.stats.AbortedConns += int64(len(abort))
		}
	}
	if !slices.Equal(addrs(prev.Readers), addrs(top.Readers)) || !slices.Equal(addrs(prev.Down), addrs(top.Down)) {
		evs = append(evs, Event{Kind: EventTopologyChanged, At: now, From: prev.Writer, To: top.Writer})
	}
	top.WriterVerified = newVerified
	m.top = top
	m.verified = newVerified
	m.broadcastLocked()
	for i := range evs {
		evs[i].Topology = top.Clone()
	}
	subs := m.subscribersLocked()
	m.mu.Unlock()
	for _, tc := range abort {
		tc.c.Close() // in-flight statements on the old writer fail now
	}
	m.deliver(subs, evs)
}

// track registers an open connection to the writer at addr. When another
// host becomes the verified writer, the monitor closes it, so that
// statements blocked on the old writer (a blackholed host answers nothing)
// fail at once with a connection error instead of waiting for their
// timeouts. The returned function unregisters it (call it on close).
func (m *Monitor) track(addr string, c io.Closer) (untrack func()) {
	tc := &trackedConn{c: c}
	m.mu.Lock()
	set := m.conns[addr]
	if set == nil {
		set = map[*trackedConn]struct{}{}
		m.conns[addr] = set
	}
	set[tc] = struct{}{}
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		if set := m.conns[addr]; set != nil {
			delete(set, tc)
			if len(set) == 0 {
				delete(m.conns, addr)
			}
		}
		m.mu.Unlock()
	}
}

// startOutageLocked records the start of an outage and returns its event.
func (m *Monitor) startOutageLocked(now time.Time, cause error) Event {
	m.verified = false
	m.top.WriterVerified = false
	m.outageStart, m.outageFrom = now, m.top.Writer
	m.stats.Outages++
	m.cfg.Logger.Debug("failover: writer lost", "writer", m.top.Writer.Addr, "err", cause)
	return Event{Kind: EventFailoverStarted, At: now, From: m.top.Writer, Err: cause}
}

// writerVerifiedLocked handles a refresh that verified top.Writer and
// returns the events: completion of an outage, writer change.
func (m *Monitor) writerVerifiedLocked(now time.Time, top Topology) []Event {
	var evs []Event
	from := m.lastWriter
	changed := !from.IsZero() && from.Addr != top.Writer.Addr
	if !m.outageStart.IsZero() {
		d := now.Sub(m.outageStart)
		evs = append(evs, Event{Kind: EventFailoverCompleted, At: now, From: m.outageFrom, To: top.Writer, Duration: d})
		m.stats.LastRecovery, m.stats.LastFailoverAt = d, now
		if changed {
			m.stats.Failovers++
		}
		m.outageStart, m.outageFrom = time.Time{}, Host{}
	} else if changed {
		// A switchover between two refreshes, without an observed outage.
		m.stats.Failovers++
		m.stats.LastRecovery, m.stats.LastFailoverAt = 0, now
	}
	if changed {
		m.epoch.Add(1)
		evs = append(evs, Event{Kind: EventWriterChanged, At: now, From: from, To: top.Writer})
		m.cfg.Logger.Debug("failover: writer changed", "from", from.Addr, "to", top.Writer.Addr)
	}
	m.lastWriter = top.Writer
	return evs
}

// broadcastLocked wakes everyone waiting for a state change.
func (m *Monitor) broadcastLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

func addrs(hs []Host) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Addr
	}
	return out
}

// ReportFailure tells the monitor that a connection to addr failed (a dial,
// a handshake, a statement that lost its connection). If addr is the
// verified writer, the writer becomes unverified at once (an outage
// starts, dialers wait) and the monitor refreshes at the fast rate until a
// writer is verified again. Reports about other hosts just trigger a
// refresh. It does no I/O; it may wait for the delivery of events already
// being delivered.
func (m *Monitor) ReportFailure(addr string, err error) {
	m.emitMu.Lock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.emitMu.Unlock()
		return
	}
	var evs []Event
	if m.top.Writer.Addr == addr {
		m.reports++
		m.reportedAddr = addr
	}
	if m.verified && m.top.Writer.Addr == addr {
		if err == nil {
			err = errors.New("failover: reported dead")
		}
		evs = append(evs, m.startOutageLocked(m.cfg.Now(), err))
		evs[0].Topology = m.top.Clone()
		m.broadcastLocked()
	}
	subs := m.subscribersLocked()
	m.mu.Unlock()
	m.deliver(subs, evs)
	m.emitMu.Unlock()
	m.Refresh()
}

// Refresh asks the monitor to refresh now instead of at the next tick. It
// never blocks.
func (m *Monitor) Refresh() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Topology returns the latest topology. WriterVerified reports whether the
// writer may be dialed without waiting.
func (m *Monitor) Topology() Topology {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.top.Clone()
}

// Writer returns the verified writer, or false while none is verified.
func (m *Monitor) Writer() (Host, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.verified {
		return Host{}, false
	}
	return m.top.Writer, true
}

// writerEpoch counts writer changes; connections remember the epoch they
// were dialed in.
func (m *Monitor) writerEpoch() uint64 { return m.epoch.Load() }

// WaitWriter returns the verified writer, waiting for one within ctx. It
// fails with an error wrapping ErrNoWriter (and ctx's error) when ctx ends
// first.
func (m *Monitor) WaitWriter(ctx context.Context) (Host, error) {
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return Host{}, errMonitorClosed
		}
		if m.verified {
			w := m.top.Writer
			m.mu.Unlock()
			return w, nil
		}
		ch, lastErr := m.changed, m.stats.LastError
		m.mu.Unlock()
		select {
		case <-ch:
		case <-m.stop:
			return Host{}, errMonitorClosed
		case <-ctx.Done():
			if lastErr != nil {
				return Host{}, fmt.Errorf("%w: waited %v: %w (last refresh: %v)", ErrNoWriter, ctxWaited(ctx), ctx.Err(), lastErr)
			}
			return Host{}, fmt.Errorf("%w: %w", ErrNoWriter, ctx.Err())
		}
	}
}

// viewTopology calls fn with the current topology (read-only, valid only
// during the call) and the channel closed at the next change, under the
// monitor's lock: fn must be quick and must not call the monitor.
func (m *Monitor) viewTopology(fn func(top *Topology, changed <-chan struct{})) {
	m.mu.Lock()
	defer m.mu.Unlock()
	top := m.top
	top.WriterVerified = m.verified
	fn(&top, m.changed)
}

// waitChange returns a channel closed at the next state change.
func (m *Monitor) waitChange() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

func ctxWaited(ctx context.Context) string {
	if dl, ok := ctx.Deadline(); ok {
		return fmt.Sprintf("until %s", dl.Format(time.TimeOnly))
	}
	return "until cancelled"
}

// Stats returns a snapshot of the monitor's state and counters.
func (m *Monitor) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats
	s.Topology = m.top.Clone()
	s.Writer = m.top.Writer
	s.WriterVerified = m.verified
	s.Fast = !m.verified
	return s
}

// Close stops the monitor goroutine, waits for it and closes the provider.
// Waiters in WaitWriter return. It is safe to call more than once.
func (m *Monitor) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		<-m.done
		return nil
	}
	m.closed = true
	close(m.stop)
	m.cancel()
	m.mu.Unlock()
	<-m.done
	return m.cfg.Provider.Close()
}
