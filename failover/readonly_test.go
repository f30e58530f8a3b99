package failover

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/faultnet"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

func TestReadOnlyProvider(t *testing.T) {
	t.Parallel()
	primary, replica := mariadbtest.StartReplicaPair(t)
	dead := mariadbtest.Start(t)
	deadAddr := dead.Addr()
	dead.Kill()

	p, err := NewReadOnly(ReadOnlyConfig{Hosts: []string{replica.Addr(), primary.Addr(), deadAddr}, Probe: testProbe()})
	require.NoError(t, err)
	defer p.Close()
	ctx := context.Background()

	top, err := p.Refresh(ctx)
	require.NoError(t, err)
	require.True(t, top.WriterVerified)
	require.Equal(t, primary.Addr(), top.Writer.Addr)
	require.Equal(t, RoleWriter, top.Writer.Role)
	require.Equal(t, []string{replica.Addr()}, addrs(top.Readers))
	require.Equal(t, []string{deadAddr}, addrs(top.Down))
	require.NoError(t, p.CheckWriter(ctx, top.Writer))
	require.ErrorIs(t, p.CheckWriter(ctx, top.Readers[0]), ErrWrongRole)

	// Promote the replica while the primary still accepts writes: two
	// writers are reported, not guessed.
	replica.Promote(t)
	top, err = p.Refresh(ctx)
	var amb *AmbiguousWriterError
	require.ErrorAs(t, err, &amb)
	require.ErrorIs(t, err, ErrAmbiguousWriter)
	require.ElementsMatch(t, []string{primary.Addr(), replica.Addr()}, addrs(amb.Writers))
	require.True(t, top.Writer.IsZero())
	require.False(t, top.WriterVerified)

	// Demoting the old primary resolves it.
	primary.Exec(t, "SET GLOBAL read_only = 1")
	top, err = p.Refresh(ctx)
	require.NoError(t, err)
	require.Equal(t, replica.Addr(), top.Writer.Addr)
	require.Equal(t, []string{primary.Addr()}, addrs(top.Readers))

	require.GreaterOrEqual(t, p.p.failures(deadAddr), 1)
}

func TestReadOnlyProviderBlackholedHostIsNotWaitedFor(t *testing.T) {
	t.Parallel()
	s := mariadbtest.Start(t)
	hole := newBlackhole(t)
	probe := testProbe()
	probe.Timeout = 300 * time.Millisecond
	p, err := NewReadOnly(ReadOnlyConfig{Hosts: []string{s.Addr(), hole}, Probe: probe})
	require.NoError(t, err)
	defer p.Close()

	// The first refresh waits for the blackholed host's probe timeout.
	top, err := p.Refresh(context.Background())
	require.NoError(t, err)
	require.Equal(t, s.Addr(), top.Writer.Addr)
	require.Equal(t, []string{hole}, addrs(top.Down))
	require.Equal(t, 1, p.p.failures(hole))
	// Now it is suspect: the next refresh does not wait for it. Give its
	// probes a timeout far beyond the test's to show that.
	p.p.mu.Lock()
	p.p.cfg.Timeout = time.Hour
	p.p.mu.Unlock()
	top, err = p.Refresh(context.Background())
	require.NoError(t, err)
	require.Equal(t, s.Addr(), top.Writer.Addr)
	require.Equal(t, []string{hole}, addrs(top.Down))
	p.p.mu.Lock()
	inflight := p.p.hosts[hole].inflight
	p.p.mu.Unlock()
	require.True(t, inflight, "the blackholed host's probe should still be running")
	// Close cancels it.
	require.NoError(t, p.Close())
}

// newBlackhole starts a server behind a fault proxy that blackholes all
// traffic (connections are accepted, then nothing flows) and returns the
// proxy's address.
func newBlackhole(t *testing.T) string {
	t.Helper()
	s := mariadbtest.Start(t)
	fp := faultnet.New(t, s.Addr())
	fp.Blackhole()
	return fp.Addr()
}
