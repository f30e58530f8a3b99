package rdsmux

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseDSNStripsRdsmuxParams(t *testing.T) {
	cfg, err := ParseDSN("app:p?ss@tcp(127.0.0.1:3306)/shop?parseTime=true&maxConnections=20&" +
		"connectionBorrowTimeout=5s&initQuery=SET+SESSION+sql_mode%3D%27ANSI%27&poolingMode=session&" +
		"sessionPinningFilters=exclude_variable_sets&time_zone=%27%2B00%3A00%27")
	require.NoError(t, err)
	require.Equal(t, 20, cfg.MaxConnections)
	require.Equal(t, 5*time.Second, cfg.ConnectionBorrowTimeout)
	require.Equal(t, "SET SESSION sql_mode='ANSI'", cfg.InitQuery)
	require.Equal(t, SessionPooling, cfg.PoolingMode)
	require.Equal(t, []string{"EXCLUDE_VARIABLE_SETS"}, cfg.SessionPinningFilters)
	require.Equal(t, "p?ss", cfg.MySQL.Passwd)
	require.Equal(t, "shop", cfg.MySQL.DBName)
	require.True(t, cfg.MySQL.ParseTime)
	// go-sql-driver sends unknown parameters to the server as SET; none of
	// rdsmux's may reach it.
	require.Equal(t, map[string]string{"time_zone": "'+00:00'"}, cfg.MySQL.Params)
}

func TestFormatDSNRoundTrips(t *testing.T) {
	for _, dsn := range []string{
		"root@tcp(127.0.0.1:3306)/test",
		"app:secret@tcp(127.0.0.1:3306)/shop?parseTime=true&maxConnections=20",
		"app@unix(/tmp/m.sock)/?maxConnectionsPercent=40&maxIdleConnectionsPercent=10&connectionBorrowTimeout=1m30s" +
			"&initQuery=SET+NAMES+utf8mb4&sessionPinningFilters=EXCLUDE_VARIABLE_SETS&poolingMode=session" +
			"&maxLifetime=10m&idleTimeout=1m&healthCheckIdle=5s&statementCacheSize=-1",
		"app@tcp(127.0.0.1:3306)/d?failover=readonly&failoverHosts=127.0.0.1:3306,127.0.0.1:3307&failoverRole=reader",
	} {
		cfg, err := ParseDSN(dsn)
		require.NoError(t, err, dsn)
		again, err := ParseDSN(cfg.FormatDSN())
		require.NoError(t, err, cfg.FormatDSN())
		require.Equal(t, cfg, again, "round trip of %s via %s", dsn, cfg.FormatDSN())
	}
}

func TestParseDSNRejectsBadValues(t *testing.T) {
	for dsn, want := range map[string]string{
		"u@tcp(127.0.0.1:1)/d?maxConnections=x":                  "maxConnections",
		"u@tcp(127.0.0.1:1)/d?maxConnections=-1":                 "maxConnections=-1",
		"u@tcp(127.0.0.1:1)/d?maxConnectionsPercent=0":           "between 1 and 100",
		"u@tcp(127.0.0.1:1)/d?poolingMode=statement":             `"transaction" or "session"`,
		"u@tcp(127.0.0.1:1)/d?sessionPinningFilters=EXCLUDE_ALL": "unknown session pinning filter",
		"u@tcp(127.0.0.1:1)/d?connectionBorrowTimeout=soon":      "connectionBorrowTimeout",
		"u@tcp(127.0.0.1:1)/d?failover=dns":                      "want readonly or aurora",
		"u@tcp(127.0.0.1:1)/d?failoverRole=primary":              "want writer or reader",
	} {
		_, err := ParseDSN(dsn)
		require.ErrorContains(t, err, want, dsn)
	}
}
