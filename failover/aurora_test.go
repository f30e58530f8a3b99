package failover

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// auroraStandIn creates, on primary (replicated to its replicas), a table
// shaped like information_schema.replica_host_status, with the instances'
// ports as server ids.
func auroraStandIn(t *testing.T, primary, replica *mariadbtest.Server) {
	t.Helper()
	primary.Exec(t, "CREATE TABLE replica_host_status (SERVER_ID VARCHAR(100) PRIMARY KEY, "+
		"SESSION_ID VARCHAR(100), LAST_UPDATE_TIMESTAMP DATETIME(6), REPLICA_LAG_IN_MILLISECONDS DOUBLE)")
	primary.Exec(t, "INSERT INTO replica_host_status VALUES (?, 'MASTER_SESSION_ID', NOW(6), 0), "+
		"(?, 'a1b2c3', NOW(6), 12.5), ('1', 'gone', NOW(6) - INTERVAL 10 MINUTE, 0)",
		strconv.Itoa(primary.Port()), strconv.Itoa(replica.Port()))
	replica.WaitReplicaCaughtUp(t, primary)
}

// standInConfig points the Aurora provider at the stand-in.
func standInConfig(seeds ...string) AuroraConfig {
	return AuroraConfig{
		Seeds:        seeds,
		HostPattern:  "127.0.0.1:?",
		Probe:        testProbe(),
		Table:        "test.replica_host_status",
		ServerIDExpr: "CAST(@@port AS CHAR)",
		ReadOnlyExpr: "@@global.read_only",
	}
}

func TestAuroraProviderStandIn(t *testing.T) {
	t.Parallel()
	primary, replica := mariadbtest.StartReplicaPair(t)
	auroraStandIn(t, primary, replica)
	ctx := context.Background()

	// Seeded with the replica only: its view names the primary as writer,
	// which is probed in the same refresh and verified.
	p, err := NewAurora(standInConfig(replica.Addr()))
	require.NoError(t, err)
	defer p.Close()
	top, err := p.Refresh(ctx)
	require.NoError(t, err)
	require.True(t, top.WriterVerified)
	require.Equal(t, primary.Addr(), top.Writer.Addr)
	require.Equal(t, strconv.Itoa(primary.Port()), top.Writer.ID)
	require.Len(t, top.Readers, 1, "the stale row is dropped")
	require.Equal(t, replica.Addr(), top.Readers[0].Addr)
	require.Equal(t, 12500*time.Microsecond, top.Readers[0].ReplicaLag)
	require.Empty(t, top.Down)
	require.NoError(t, p.CheckWriter(ctx, top.Writer))

	// The writer dies; the replica's view still names it: no writer.
	primary.Kill()
	top, err = p.Refresh(ctx)
	require.NoError(t, err)
	require.False(t, top.WriterVerified)
	require.True(t, top.Writer.IsZero())
	require.Equal(t, []string{primary.Addr()}, addrs(top.Down))
	require.Error(t, p.CheckWriter(ctx, Host{Addr: primary.Addr()}))

	// Aurora promotes the replica and its view changes.
	replica.Promote(t)
	replica.Exec(t, "UPDATE replica_host_status SET SESSION_ID = IF(SERVER_ID = ?, 'MASTER_SESSION_ID', 'old'), "+
		"LAST_UPDATE_TIMESTAMP = NOW(6) WHERE SERVER_ID IN (?, ?)",
		strconv.Itoa(replica.Port()), strconv.Itoa(replica.Port()), strconv.Itoa(primary.Port()))
	top, err = p.Refresh(ctx)
	require.NoError(t, err)
	require.True(t, top.WriterVerified)
	require.Equal(t, replica.Addr(), top.Writer.Addr)
	require.Empty(t, top.Readers)
	require.Equal(t, []string{primary.Addr()}, addrs(top.Down))
}

func TestNewAuroraConfig(t *testing.T) {
	_, err := NewAurora(AuroraConfig{Probe: testProbe()})
	require.ErrorContains(t, err, "ClusterEndpoint")
	_, err = NewAurora(AuroraConfig{ClusterEndpoint: "db.example.com", Probe: testProbe()})
	require.ErrorContains(t, err, "not an RDS endpoint")
	_, err = NewAurora(AuroraConfig{Seeds: []string{"127.0.0.1:1"}, HostPattern: "127.0.0.1", Probe: testProbe()})
	require.ErrorContains(t, err, "exactly one '?'")
	_, err = NewAurora(AuroraConfig{Seeds: []string{"127.0.0.1:1"}, HostPattern: "127.0.0.1:?"})
	require.ErrorContains(t, err, "ProbeConfig.MySQL")

	// Derivation from the endpoint; nothing is dialed here.
	p, err := NewAurora(AuroraConfig{ClusterEndpoint: "c.cluster-abc.us-east-1.rds.amazonaws.com:3307", Probe: testProbe()})
	require.NoError(t, err)
	defer p.Close()
	require.Equal(t, "?.abc.us-east-1.rds.amazonaws.com:3307", p.cfg.HostPattern)
	require.Equal(t, 3307, p.cfg.Port)
	require.Contains(t, p.topoSQL, "information_schema.replica_host_status")
	require.Contains(t, p.topoSQL, "INTERVAL 300 SECOND")
	require.Equal(t, "SELECT @@aurora_server_id, @@innodb_read_only", p.identity)
	require.Equal(t, "SELECT @@innodb_read_only", p.roleQuery())
}
