package proxy_test

import "testing"

// BenchmarkPointSelect runs one client's point selects straight to MariaDB
// and through the listener (one connection, so the difference is the
// listener's added latency; allocs/op count every goroutine, so the
// listener's own allocations per query are the difference too).
func BenchmarkPointSelect(b *testing.B) {
	e := startEnv(b, withBackends(4))
	for _, mode := range []struct{ name, params string }{
		{"text", "interpolateParams=true"},
		{"prepared", ""},
	} {
		for _, target := range []string{"direct", "listener"} {
			b.Run(mode.name+"/"+target, func(b *testing.B) {
				db := openOne(b, e.targetDSN(target, mode.params))
				stmt, err := db.Prepare("SELECT name FROM users WHERE id = ?")
				must(b, err)
				defer stmt.Close()
				var name string
				must(b, stmt.QueryRow(1).Scan(&name))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := stmt.QueryRow(1 + i%3).Scan(&name); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkConnectQueryClose is the short-lived client: connect,
// authenticate, one query, close.
func BenchmarkConnectQueryClose(b *testing.B) {
	e := startEnv(b, withBackends(4))
	for _, target := range []string{"direct", "listener"} {
		b.Run(target, func(b *testing.B) {
			dsn := e.targetDSN(target, "interpolateParams=true")
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := oneClient(dsn, 1+i%3); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInsertTransaction runs one client's small transactions (BEGIN,
// an insert, COMMIT) straight to MariaDB and through the listener: the
// path where the listener reads LAST_INSERT_ID() back in the same write as
// the COMMIT (pool.Session.SettleAhead), one more statement for the server
// per transaction.
func BenchmarkInsertTransaction(b *testing.B) {
	e := startEnv(b, withBackends(4))
	for _, target := range []string{"direct", "listener"} {
		b.Run(target, func(b *testing.B) {
			db := openOne(b, e.targetDSN(target, "interpolateParams=true"))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tx, err := db.Begin()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := tx.Exec("INSERT INTO auto (who) VALUES (?)", "bench"); err != nil {
					b.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSetStatement runs one client's SET statements (alternating
// time zones, so each changes a tracked setting) straight to MariaDB and
// through the listener, where the pool reads every tracked setting back
// from the server after each (one more round trip, and a result of about
// fifty values to parse).
func BenchmarkSetStatement(b *testing.B) {
	e := startEnv(b, withBackends(4))
	for _, target := range []string{"direct", "listener"} {
		b.Run(target, func(b *testing.B) {
			db := openOne(b, e.targetDSN(target, ""))
			zones := []string{"SET time_zone = '+01:00'", "SET time_zone = '+02:00'"}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := db.Exec(zones[i%2]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
