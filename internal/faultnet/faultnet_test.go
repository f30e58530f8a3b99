package faultnet_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/faultnet"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

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
