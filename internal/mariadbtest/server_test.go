package mariadbtest_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/faultnet"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

func TestServerStartsAndAnswers(t *testing.T) {
	t.Parallel()
	s := mariadbtest.Start(t, mariadbtest.WithMaxConnections(33))
	require.True(t, net.ParseIP(s.Host()).IsLoopback())
	require.EqualValues(t, 1, s.QueryInt(t, "SELECT 1"))
	require.EqualValues(t, 33, s.QueryInt(t, "SELECT @@max_connections"))

	s.CreateUser(t, "app", "s3cret")
	db, err := sql.Open("mysql", s.UserDSN("app", "s3cret", "test", ""))
	require.NoError(t, err)
	defer db.Close()
	var user string
	require.NoError(t, db.QueryRow("SELECT CURRENT_USER()").Scan(&user))
	require.Equal(t, "app@%", user)

	bad, err := sql.Open("mysql", s.UserDSN("app", "wrong", "test", ""))
	require.NoError(t, err)
	defer bad.Close()
	var myErr *mysql.MySQLError
	require.ErrorAs(t, bad.Ping(), &myErr)
	require.EqualValues(t, 1045, myErr.Number)
}

func TestServerTLS(t *testing.T) {
	t.Parallel()
	s := mariadbtest.Start(t, mariadbtest.WithTLS())
	require.NoError(t, mysql.RegisterTLSConfig("harness-"+t.Name(), s.TLSConfig()))
	db, err := sql.Open("mysql", s.DSN("tls=harness-"+t.Name()))
	require.NoError(t, err)
	defer db.Close()
	var name, cipher string
	require.NoError(t, db.QueryRow("SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher))
	require.NotEmpty(t, cipher, "the connection should be encrypted")
}

func TestKillAndRestart(t *testing.T) {
	t.Parallel()
	s := mariadbtest.Start(t)
	s.Exec(t, "CREATE TABLE t (id INT PRIMARY KEY)")
	s.Exec(t, "INSERT INTO t VALUES (1)")
	s.Kill()
	require.False(t, s.Running())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	require.Error(t, s.Ping(ctx))
	s.Restart(t)
	require.EqualValues(t, 1, s.QueryInt(t, "SELECT COUNT(*) FROM t"))
	s.Stop()
	require.False(t, s.Running())
}

func TestReplicationAndPromotion(t *testing.T) {
	t.Parallel()
	primary, replica := mariadbtest.StartReplicaPair(t)
	primary.Exec(t, "CREATE TABLE ledger (id INT PRIMARY KEY, note VARCHAR(20))")
	primary.Exec(t, "INSERT INTO ledger VALUES (1, 'carried')")
	replica.WaitReplicaCaughtUp(t, primary)
	require.EqualValues(t, 1, replica.QueryInt(t, "SELECT COUNT(*) FROM ledger WHERE note = 'carried'"))
	require.EqualValues(t, 1, replica.QueryInt(t, "SELECT @@read_only"))

	primary.Kill()
	replica.Promote(t)
	require.EqualValues(t, 0, replica.QueryInt(t, "SELECT @@read_only"))
	// A non-root user (read_only applies to them) can write on the promoted replica.
	replica.CreateUser(t, "app", "pw")
	db, err := sql.Open("mysql", replica.UserDSN("app", "pw", "test", ""))
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec("INSERT INTO ledger VALUES (2, 'after')")
	require.NoError(t, err)
	require.EqualValues(t, 2, replica.QueryInt(t, "SELECT COUNT(*) FROM ledger"))
}

func TestFaultProxyBlackholeTimesOutWhileServerStaysUp(t *testing.T) {
	t.Parallel()
	s := mariadbtest.Start(t)
	p := faultnet.New(t, s.Addr())
	dsn := s.DSN("")
	cfg, err := mysql.ParseDSN(dsn)
	require.NoError(t, err)
	cfg.Addr = p.Addr()
	cfg.ReadTimeout = 300 * time.Millisecond
	cfg.Timeout = 300 * time.Millisecond
	conn, err := mysql.NewConnector(cfg)
	require.NoError(t, err)
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxIdleConns(0)
	require.NoError(t, db.Ping())

	p.Blackhole()
	start := time.Now()
	err = db.Ping()
	require.Error(t, err)
	require.Less(t, time.Since(start), 10*time.Second)

	// The server itself is fine.
	require.EqualValues(t, 1, s.QueryInt(t, "SELECT 1"))

	p.Clear()
	require.NoError(t, db.Ping())

	p.Cut()
	require.Error(t, db.Ping())
	p.Restore()
	require.NoError(t, db.Ping())
}

func TestFaultProxyLatencyAndReset(t *testing.T) {
	t.Parallel()
	s := mariadbtest.Start(t)
	p := faultnet.New(t, s.Addr())
	cfg, err := mysql.ParseDSN(s.DSN(""))
	require.NoError(t, err)
	cfg.Addr = p.Addr()
	conn, err := mysql.NewConnector(cfg)
	require.NoError(t, err)
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxOpenConns(1)
	require.NoError(t, db.Ping())

	p.Latency(50 * time.Millisecond)
	start := time.Now()
	require.NoError(t, db.Ping())
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
	p.Clear()

	c, err := db.Conn(context.Background())
	require.NoError(t, err)
	defer c.Close()
	p.ResetPeer()
	err = c.PingContext(context.Background())
	require.Error(t, err)
	require.False(t, errors.Is(err, context.DeadlineExceeded))
}
