package mariadbtest_test

import (
	"context"
	"database/sql"
	"net"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

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
