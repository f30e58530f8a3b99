package rdsmux_test

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"testing"

	_ "github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// BenchmarkDriver runs the same work through plain go-sql-driver and
// through rdsmux against one server in one run, so the two can be compared
// as a ratio: point select, parameterized select (server-side prepared),
// and a small transaction, at 1 and 64 goroutines.
//
//	go test -run '^$' -bench BenchmarkDriver -benchmem .
func BenchmarkDriver(b *testing.B) {
	s := mariadbtest.Start(b, mariadbtest.WithMaxConnections(500))
	s.CreateUser(b, "bench", "bench-pw")
	s.Exec(b, "CREATE TABLE bench_kv (k INT PRIMARY KEY, v VARCHAR(32))")
	for i := 0; i < 1000; i++ {
		s.Exec(b, "INSERT INTO bench_kv VALUES (?, ?)", i, fmt.Sprintf("value-%d", i))
	}
	s.Exec(b, "CREATE TABLE bench_log (id INT AUTO_INCREMENT PRIMARY KEY, k INT)")

	// go-sql-driver as most programs use it (a connection per goroutine),
	// at its best for this workload (client-side interpolation, one round
	// trip per statement) with the same 16 connections as rdsmux, and
	// rdsmux (16 backends).
	drivers := []struct {
		name, driver, params string
		maxOpen              int // 0: one per goroutine
	}{
		{"go-sql-driver", "mysql", "", 0},
		{"go-sql-driver-interpolate", "mysql", "interpolateParams=true", 16},
		{"rdsmux", "rdsmux", "maxConnections=16", 0},
	}
	work := []struct {
		name string
		fn   func(ctx context.Context, db *sql.DB, i int) error
	}{
		{"point-select", func(ctx context.Context, db *sql.DB, i int) error {
			var v string
			return db.QueryRowContext(ctx, "SELECT v FROM bench_kv WHERE k = 42").Scan(&v)
		}},
		{"param-select", func(ctx context.Context, db *sql.DB, i int) error {
			var v string
			return db.QueryRowContext(ctx, "SELECT v FROM bench_kv WHERE k = ?", i%1000).Scan(&v)
		}},
		{"small-tx", func(ctx context.Context, db *sql.DB, i int) error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			var v string
			if err := tx.QueryRowContext(ctx, "SELECT v FROM bench_kv WHERE k = ?", i%1000).Scan(&v); err != nil {
				tx.Rollback()
				return err
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO bench_log (k) VALUES (?)", i%1000); err != nil {
				tx.Rollback()
				return err
			}
			return tx.Commit()
		}},
	}
	for _, w := range work {
		for _, par := range []int{1, 64} {
			for _, d := range drivers {
				b.Run(fmt.Sprintf("%s/goroutines=%d/impl=%s", w.name, par, d.name), func(b *testing.B) {
					db, err := sql.Open(d.driver, s.UserDSN("bench", "bench-pw", "test", d.params))
					if err != nil {
						b.Fatal(err)
					}
					defer db.Close()
					open := par
					if d.maxOpen > 0 {
						open = min(par, d.maxOpen)
					}
					db.SetMaxIdleConns(open)
					db.SetMaxOpenConns(open)
					ctx := context.Background()
					if err := w.fn(ctx, db, 0); err != nil { // warm up
						b.Fatal(err)
					}
					b.ReportAllocs()
					b.ResetTimer()
					if par == 1 {
						for i := 0; i < b.N; i++ {
							if err := w.fn(ctx, db, i); err != nil {
								b.Fatal(err)
							}
						}
						return
					}
					procs := runtime.GOMAXPROCS(0)
					b.SetParallelism((par + procs - 1) / procs) // par goroutines in all
					b.RunParallel(func(pb *testing.PB) {
						i := 0
						for pb.Next() {
							i++
							if err := w.fn(ctx, db, i); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			}
		}
	}
}
