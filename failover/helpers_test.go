package failover

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// rootConfig is a go-sql-driver config for root on database test (address
// set per host by the prober or connector).
func rootConfig() *mysql.Config {
	c := mysql.NewConfig()
	c.User, c.DBName = "root", "test"
	c.Logger = &mysql.NopLogger{}
	return c
}

// appConfig is a go-sql-driver config for the restricted "app" user, to
// which read_only applies (root has READ_ONLY ADMIN and could write to a
// replica).
func appConfig() *mysql.Config {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.DBName = "app", "app-pw", "test"
	c.Logger = &mysql.NopLogger{}
	return c
}

// createApp creates the restricted app user on s (and, through
// replication, its replicas).
func createApp(t testing.TB, s *mariadbtest.Server) {
	t.Helper()
	s.Exec(t, "CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY 'app-pw'")
	s.Exec(t, "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP ON test.* TO 'app'@'%'")
}

// testProbe is a probe configuration with test-friendly timeouts.
func testProbe() ProbeConfig {
	return ProbeConfig{MySQL: rootConfig(), Timeout: 400 * time.Millisecond}
}

// startMonitor starts a monitor closed at cleanup.
func startMonitor(t testing.TB, p Provider, cfg MonitorConfig) *Monitor {
	t.Helper()
	cfg.Provider = p
	m, err := NewMonitor(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

// waitWriter waits for a verified writer and checks its address.
func waitWriter(t testing.TB, m *Monitor, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		w, err := m.WaitWriter(ctx)
		require.NoError(t, err)
		if w.Addr == want {
			return
		}
		select {
		case <-m.waitChange():
		case <-ctx.Done():
			t.Fatalf("writer is %s, want %s", w.Addr, want)
		}
	}
}

// openDB opens a database/sql pool over a failover Connector.
func openDB(t testing.TB, d *Dialer, cfg *mysql.Config, cc ConnectorConfig) *sql.DB {
	t.Helper()
	cc.MySQL = cfg
	c, err := NewConnector(d, cc)
	require.NoError(t, err)
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return db
}

// portOf returns the port the connection of db reaches.
func portOf(t testing.TB, db *sql.DB) int {
	t.Helper()
	var p int
	require.NoError(t, db.QueryRow("SELECT @@port").Scan(&p))
	return p
}
