package failover

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

func TestConnectorWriterAndReader(t *testing.T) {
	t.Parallel()
	primary, replica := mariadbtest.StartReplicaPair(t)
	createApp(t, primary)
	primary.Exec(t, "CREATE TABLE t (id INT PRIMARY KEY)")
	replica.WaitReplicaCaughtUp(t, primary)
	p, err := NewReadOnly(ReadOnlyConfig{Hosts: []string{primary.Addr(), replica.Addr()}, Probe: testProbe()})
	require.NoError(t, err)
	m := startMonitor(t, p, MonitorConfig{})

	w := openDB(t, NewDialer(m, DialerConfig{}), appConfig(), ConnectorConfig{})
	require.Equal(t, primary.Port(), portOf(t, w))
	_, err = w.Exec("INSERT INTO t VALUES (1)")
	require.NoError(t, err)

	r := openDB(t, NewDialer(m, DialerConfig{Role: RoleReader}), appConfig(), ConnectorConfig{})
	require.Equal(t, replica.Port(), portOf(t, r))
	_, err = r.Exec("INSERT INTO t VALUES (2)")
	require.Equal(t, ClassReadOnly, Classify(err), "%v", err)

	// A reader dialer without readers falls back to the writer, unless
	// told not to.
	replica.Kill()
	m.ReportFailure(replica.Addr(), errors.New("gone"))
	fb := openDB(t, NewDialer(m, DialerConfig{Role: RoleReader}), appConfig(), ConnectorConfig{})
	require.Equal(t, primary.Port(), portOf(t, fb))
	strict := openDB(t, NewDialer(m, DialerConfig{Role: RoleReader, NoWriterFallback: true}), appConfig(), ConnectorConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	require.Error(t, strict.PingContext(ctx))

	// Bad credentials fail at once instead of waiting for another host.
	bad := appConfig()
	bad.Passwd = "wrong"
	bdb := openDB(t, NewDialer(m, DialerConfig{}), bad, ConnectorConfig{})
	var me *mysql.MySQLError
	require.ErrorAs(t, bdb.Ping(), &me)
	require.EqualValues(t, 1045, me.Number)
	_, ok := m.Writer()
	require.True(t, ok, "an authentication failure is not a host failure")
}

// A switchover the monitor has not seen yet: the connector reaches the old
// writer, sees read_only = 1, reports it, and ends up on the new writer.
// Pooled connections to the old writer are dropped on reuse.
func TestConnectorConfirmsRoleAndDropsStaleConnections(t *testing.T) {
	t.Parallel()
	primary, replica := mariadbtest.StartReplicaPair(t)
	createApp(t, primary)
	replica.WaitReplicaCaughtUp(t, primary)
	p, err := NewReadOnly(ReadOnlyConfig{Hosts: []string{primary.Addr(), replica.Addr()}, Probe: testProbe()})
	require.NoError(t, err)
	m := startMonitor(t, p, MonitorConfig{RefreshInterval: time.Hour, WriterCheckInterval: -1})
	waitWriter(t, m, primary.Addr())
	rec := &recorder{}
	defer m.Subscribe(rec.event)()

	d := NewDialer(m, DialerConfig{})
	old := openDB(t, d, appConfig(), ConnectorConfig{})
	old.SetMaxOpenConns(1)
	require.Equal(t, primary.Port(), portOf(t, old))

	primary.Exec(t, "SET GLOBAL read_only = 1")
	replica.Promote(t)
	_, stillVerified := m.Writer()
	require.True(t, stillVerified, "the monitor has not looked yet")

	fresh := openDB(t, d, appConfig(), ConnectorConfig{})
	require.Equal(t, replica.Port(), portOf(t, fresh))
	rec.waitKinds(t, []EventKind{EventFailoverStarted, EventFailoverCompleted, EventWriterChanged},
		EventFailoverStarted, EventFailoverCompleted, EventWriterChanged)
	require.ErrorIs(t, rec.find(EventFailoverStarted).Err, ErrWrongRole)

	// The pooled connection to the old writer is discarded on reuse.
	require.Equal(t, replica.Port(), portOf(t, old))
}

// DialContext plugs into go-sql-driver as Config.DialFunc: the address in
// the configuration is ignored, the cluster's writer is reached.
func TestDialContextAsGoSQLDriverDialFunc(t *testing.T) {
	t.Parallel()
	primary, replica := mariadbtest.StartReplicaPair(t)
	p, err := NewReadOnly(ReadOnlyConfig{Hosts: []string{replica.Addr(), primary.Addr()}, Probe: testProbe()})
	require.NoError(t, err)
	m := startMonitor(t, p, MonitorConfig{})
	d := NewDialer(m, DialerConfig{})

	cfg := rootConfig()
	cfg.Addr = "cluster-writer:3306" // a label; never resolved
	cfg.DialFunc = d.DialContext
	c, err := mysql.NewConnector(cfg)
	require.NoError(t, err)
	db := sql.OpenDB(c)
	defer db.Close()
	require.Equal(t, primary.Port(), portOf(t, db))

	_, err = d.DialContext(context.Background(), "unix", "/tmp/x.sock")
	require.ErrorContains(t, err, "over tcp")

	conn, h, err := d.DialHost(context.Background())
	require.NoError(t, err)
	untrack := d.Track(h, conn)
	untrack()
	conn.Close()
	require.Equal(t, primary.Addr(), h.Addr)
	require.Equal(t, "SELECT @@global.read_only", d.RoleQuery())
	require.NoError(t, d.ConfirmRole(h, false))
	require.ErrorIs(t, d.ConfirmRole(h, true), ErrWrongRole)
}

func TestConnectorDuringTransactionGivesTypedError(t *testing.T) {
	t.Parallel()
	primary, replica := mariadbtest.StartReplicaPair(t)
	createApp(t, primary)
	primary.Exec(t, "CREATE TABLE acct (id INT PRIMARY KEY, balance INT)")
	primary.Exec(t, "INSERT INTO acct VALUES (1, 100)")
	replica.WaitReplicaCaughtUp(t, primary)
	p, err := NewReadOnly(ReadOnlyConfig{Hosts: []string{primary.Addr(), replica.Addr()}, Probe: testProbe()})
	require.NoError(t, err)
	m := startMonitor(t, p, MonitorConfig{})
	db := openDB(t, NewDialer(m, DialerConfig{}), appConfig(), ConnectorConfig{})
	waitWriter(t, m, primary.Addr())

	tx, err := db.Begin()
	require.NoError(t, err)
	_, err = tx.Exec("UPDATE acct SET balance = balance - 10 WHERE id = 1")
	require.NoError(t, err)

	tx2, err := db.Begin()
	require.NoError(t, err)
	_, err = tx2.Exec("INSERT INTO acct VALUES (2, 5)")
	require.NoError(t, err)

	primary.Kill()
	replica.Promote(t)

	// A COMMIT that cannot reach the server: outcome unknown to the caller.
	err = tx2.Commit()
	require.ErrorIs(t, err, ErrTransactionResolutionUnknown, "%v", err)

	_, err = tx.Exec("UPDATE acct SET balance = balance + 10 WHERE id = 1")
	require.ErrorIs(t, err, ErrTransactionResolutionUnknown, "%v", err)
	require.False(t, ShouldRetry(err, false, true))
	require.Error(t, tx.Rollback())

	// Outside the transaction, the pool recovers on the new writer.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = db.ExecContext(ctx, "UPDATE acct SET balance = balance + 1 WHERE id = 1")
	require.NoError(t, err)
	require.Equal(t, replica.Port(), portOf(t, db))
	require.EqualValues(t, 101, replica.QueryInt(t, "SELECT balance FROM acct WHERE id = 1"))
}
