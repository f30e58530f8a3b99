package failover

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// recorder collects events and invalidations.
type recorder struct {
	mu          sync.Mutex
	events      []Event
	invalidated []string
}

func (r *recorder) event(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

// Invalidate records the reason, as a pool would drop its connections.
func (r *recorder) Invalidate(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.invalidated = append(r.invalidated, reason)
}

func (r *recorder) kinds(filter ...EventKind) []EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []EventKind
	for _, ev := range r.events {
		for _, k := range filter {
			if ev.Kind == k {
				out = append(out, ev.Kind)
			}
		}
	}
	return out
}

// waitKinds waits until the events of the filtered kinds are want:
// subscribers hear of a change just after it becomes visible through
// Writer and WaitWriter.
func (r *recorder) waitKinds(t testing.TB, want []EventKind, filter ...EventKind) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got := r.kinds(filter...); len(got) >= len(want) {
			require.Equal(t, want, got)
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	require.Equal(t, want, r.kinds(filter...))
}

func (r *recorder) find(k EventKind) Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range r.events {
		if ev.Kind == k {
			return ev
		}
	}
	return Event{}
}

func TestMonitorFailover(t *testing.T) {
	t.Parallel()
	primary, replica := mariadbtest.StartReplicaPair(t)
	p, err := NewReadOnly(ReadOnlyConfig{Hosts: []string{primary.Addr(), replica.Addr()}, Probe: testProbe()})
	require.NoError(t, err)
	m := startMonitor(t, p, MonitorConfig{WriterCheckInterval: 50 * time.Millisecond})
	rec := &recorder{}
	stopInv := m.InvalidateOnWriterChange(rec)
	defer stopInv()
	ch, cancelCh := m.Events(16)
	defer cancelCh()
	// Subscribed last: once rec has an event, the others have it too.
	unsub := m.Subscribe(rec.event)
	defer unsub()

	waitWriter(t, m, primary.Addr())
	st := m.Stats()
	require.True(t, st.WriterVerified)
	require.False(t, st.Fast)
	require.Equal(t, primary.Addr(), st.Writer.Addr)
	require.Equal(t, []string{replica.Addr()}, addrs(st.Topology.Readers))

	primary.Kill()
	// The writer check notices without any traffic.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for m.Stats().WriterVerified {
		select {
		case <-m.waitChange():
		case <-ctx.Done():
			t.Fatal("the monitor did not notice the dead writer")
		}
	}
	require.True(t, m.Stats().Fast)
	_, ok := m.Writer()
	require.False(t, ok)

	replica.Promote(t)
	waitWriter(t, m, replica.Addr())

	rec.waitKinds(t, []EventKind{EventFailoverStarted, EventFailoverCompleted, EventWriterChanged},
		EventFailoverStarted, EventFailoverCompleted, EventWriterChanged)
	started := rec.find(EventFailoverStarted)
	require.Equal(t, primary.Addr(), started.From.Addr)
	require.Error(t, started.Err)
	done := rec.find(EventFailoverCompleted)
	require.Equal(t, primary.Addr(), done.From.Addr)
	require.Equal(t, replica.Addr(), done.To.Addr)
	require.Positive(t, done.Duration)
	changed := rec.find(EventWriterChanged)
	require.Equal(t, primary.Addr(), changed.From.Addr)
	require.Equal(t, replica.Addr(), changed.To.Addr)
	require.Equal(t, replica.Addr(), changed.Topology.Writer.Addr)

	rec.mu.Lock()
	require.Len(t, rec.invalidated, 1)
	require.True(t, strings.Contains(rec.invalidated[0], primary.Addr()) && strings.Contains(rec.invalidated[0], replica.Addr()))
	rec.mu.Unlock()

	st = m.Stats()
	require.EqualValues(t, 1, st.Failovers)
	require.EqualValues(t, 1, st.Outages)
	require.Equal(t, done.Duration, st.LastRecovery)
	require.Positive(t, st.WriterChecks)
	require.Equal(t, []string{primary.Addr()}, addrs(st.Topology.Down))

	// The channel subscriber saw the same events.
	var fromCh []EventKind
	for len(ch) > 0 {
		if ev := <-ch; ev.Kind != EventTopologyChanged {
			fromCh = append(fromCh, ev.Kind)
		}
	}
	require.Equal(t, []EventKind{EventFailoverStarted, EventFailoverCompleted, EventWriterChanged}, fromCh)

	require.NoError(t, m.Close())
	require.NoError(t, m.Close())
	_, err = m.WaitWriter(context.Background())
	require.Error(t, err)
}

func TestMonitorReportFailureAndWait(t *testing.T) {
	t.Parallel()
	s := mariadbtest.Start(t)
	p, err := NewReadOnly(ReadOnlyConfig{Hosts: []string{s.Addr()}, Probe: testProbe()})
	require.NoError(t, err)
	m := startMonitor(t, p, MonitorConfig{WriterCheckInterval: -1, RefreshInterval: time.Hour})
	rec := &recorder{}
	defer m.Subscribe(rec.event)()
	waitWriter(t, m, s.Addr())

	// A report about the writer unverifies it at once; the fast refresh
	// verifies it again (the server is fine): a transient outage, not a
	// failover.
	m.ReportFailure(s.Addr(), errors.New("read: connection reset by peer"))
	require.Equal(t, []EventKind{EventFailoverStarted}, rec.kinds(EventFailoverStarted))
	waitWriter(t, m, s.Addr())
	rec.waitKinds(t, []EventKind{EventFailoverStarted, EventFailoverCompleted},
		EventFailoverStarted, EventFailoverCompleted, EventWriterChanged)
	st := m.Stats()
	require.EqualValues(t, 0, st.Failovers)
	require.EqualValues(t, 1, st.Outages)

	// Reports about unknown hosts change nothing.
	m.ReportFailure("127.0.0.1:1", errors.New("x"))
	_, ok := m.Writer()
	require.True(t, ok)

	// WaitWriter with no writer ends with ErrNoWriter when its context does.
	s.Kill()
	m.ReportFailure(s.Addr(), errors.New("gone"))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = m.WaitWriter(ctx)
	require.ErrorIs(t, err, ErrNoWriter)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, ClassNotSent, Classify(err))
}

func TestMonitorStatic(t *testing.T) {
	m := startMonitor(t, NewStatic("127.0.0.1"), MonitorConfig{})
	w, err := m.WaitWriter(context.Background())
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:3306", w.Addr)
	require.Equal(t, RoleWriter, w.Role)
	_, err = NewMonitor(MonitorConfig{})
	require.ErrorContains(t, err, "Provider is required")
}

func TestMonitorClosesTrackedConnectionsOnWriterChange(t *testing.T) {
	m := startMonitor(t, NewStatic("127.0.0.1:3306"), MonitorConfig{RefreshInterval: time.Hour})
	a, err := m.WaitWriter(context.Background())
	require.NoError(t, err)
	d := NewDialer(m, DialerConfig{})
	oldSide, peer := net.Pipe()
	defer peer.Close()
	kept, keptPeer := net.Pipe()
	defer kept.Close()
	defer keptPeer.Close()
	d.Track(a, oldSide)
	untrack := d.Track(a, kept)
	untrack() // closed by its owner's choice, not the monitor's
	epoch := m.writerEpoch()

	m.apply(Topology{Writer: Host{Addr: "127.0.0.1:3307", Role: RoleWriter}, WriterVerified: true}, nil, 0)
	_, err = oldSide.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.ErrClosedPipe)
	require.EqualValues(t, 1, m.Stats().AbortedConns)
	require.Equal(t, epoch+1, m.writerEpoch())
	go keptPeer.Write([]byte{1}) //nolint:errcheck // the read below checks it
	_, err = kept.Read(make([]byte, 1))
	require.NoError(t, err, "an untracked connection stays open")
}
