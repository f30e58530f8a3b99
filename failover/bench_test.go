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

// BenchmarkWaitWriter is the writer lookup every dial does.
func BenchmarkWaitWriter(b *testing.B) {
	m := startMonitor(b, NewStatic("127.0.0.1:3306"), MonitorConfig{})
	ctx := context.Background()
	_, err := m.WaitWriter(ctx)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.WaitWriter(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPickReader is the reader choice of a reader dialer.
func BenchmarkPickReader(b *testing.B) {
	m := startMonitor(b, NewStatic("127.0.0.1:3306"), MonitorConfig{})
	_, err := m.WaitWriter(context.Background())
	require.NoError(b, err)
	m.apply(Topology{
		Writer: Host{Addr: "127.0.0.1:3306", Role: RoleWriter}, WriterVerified: true,
		Readers: []Host{{Addr: "127.0.0.1:3307"}, {Addr: "127.0.0.1:3308"}, {Addr: "127.0.0.1:3309"}},
		Down:    []Host{{Addr: "127.0.0.1:3310"}},
	}, nil, 0)
	d := NewDialer(m, DialerConfig{Role: RoleReader})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.pick(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStatement compares a pooled statement over plain go-sql-driver
// with the same through the failover Connector (role-checked connection,
// error classification, stale check on reuse).
func BenchmarkStatement(b *testing.B) {
	s := mariadbtest.Start(b)
	b.Run("go-sql-driver", func(b *testing.B) {
		cfg := rootConfig()
		cfg.Addr = s.Addr()
		c, err := mysql.NewConnector(cfg)
		require.NoError(b, err)
		benchStatement(b, sql.OpenDB(c))
	})
	b.Run("failover", func(b *testing.B) {
		p, err := NewReadOnly(ReadOnlyConfig{Hosts: []string{s.Addr()}, Probe: testProbe()})
		require.NoError(b, err)
		m := startMonitor(b, p, MonitorConfig{})
		c, err := NewConnector(NewDialer(m, DialerConfig{}), ConnectorConfig{MySQL: rootConfig()})
		require.NoError(b, err)
		benchStatement(b, sql.OpenDB(c))
	})
}

func benchStatement(b *testing.B, db *sql.DB) {
	defer db.Close()
	db.SetMaxIdleConns(1)
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(time.Hour)
	require.NoError(b, db.Ping())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.Exec("DO 1"); err != nil {
			b.Fatal(err)
		}
	}
}
