// Package sweep holds BenchmarkSweep, the concurrency sweep of the
// benchmark report: `SELECT v FROM bench_kv WHERE k = ?` in a closed loop
// from N goroutines through go-sql-driver (three ways) and through rdsmux,
// against a throwaway MariaDB. It prints benchstat's format, so
//
//	go test -run '^$' -bench Sweep -count 5 ./sweep | benchstat -col /impl -
//
// compares the series with confidence intervals; bench/report plots it.
package sweep
