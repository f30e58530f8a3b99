package sweep

import (
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // the baseline driver, "mysql"

	_ "github.com/rdsmux/rdsmux" // registers "rdsmux"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// series is one way of running the query: a driver and its settings.
type series struct {
	impl    string // the impl= name part
	driver  string // database/sql driver: "mysql" or "rdsmux"
	params  string // extra DSN parameters
	maxOpen func(goroutines int) int
}

// allSeries are the sweep's series, in the order the report shows them.
var allSeries = []series{
	{impl: "go-sql-driver", driver: "mysql"},
	{impl: "go-sql-driver-interpolate", driver: "mysql", params: "interpolateParams=true"},
	{impl: "go-sql-driver-16conns", driver: "mysql", maxOpen: func(g int) int { return min(g, 16) }},
	{impl: "rdsmux", driver: "rdsmux", params: "maxConnections=16"},
}

var (
	serverOnce sync.Once
	server     *mariadbtest.Server // launched by the first benchmark, closed by TestMain
	serverErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if server != nil {
		server.Close()
	}
	os.Exit(code)
}

// dsn launches the server on first use and returns the benchmark
// account's DSN with params.
func dsn(b *testing.B, params string) string {
	serverOnce.Do(func() {
		server, serverErr = mariadbtest.Launch(mariadbtest.WithMaxConnections(1000))
		if serverErr == nil {
			serverErr = setup(server)
		}
	})
	if serverErr != nil {
		b.Fatalf("starting MariaDB (scripts/install-deps.sh installs it): %v", serverErr)
	}
	return server.UserDSN("bench", "bench-pw", "test", params)
}

// setup creates the benchmark account and fills bench_kv with 1,000 rows.
func setup(srv *mariadbtest.Server) error {
	db, err := sql.Open("mysql", srv.DSN("timeout=5s"))
	if err != nil {
		return err
	}
	defer db.Close()
	stmts := []string{
		"CREATE USER IF NOT EXISTS 'bench'@'%' IDENTIFIED BY 'bench-pw'",
		"GRANT ALL PRIVILEGES ON *.* TO 'bench'@'%'",
		"CREATE TABLE IF NOT EXISTS test.bench_kv (k INT PRIMARY KEY, v VARCHAR(32))",
		"INSERT INTO test.bench_kv SELECT seq, CONCAT('value-', seq) FROM seq_0_to_999",
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// levels are the goroutine counts; RDSMUX_SWEEP_LEVELS="1 4 16" picks
// others.
func levels(b *testing.B) []int {
	s := os.Getenv("RDSMUX_SWEEP_LEVELS")
	if s == "" {
		return []int{1, 2, 4, 8, 16, 32, 64, 128, 256}
	}
	var out []int
	for _, f := range strings.Fields(strings.ReplaceAll(s, ",", " ")) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			b.Fatalf("RDSMUX_SWEEP_LEVELS: %q is not a positive goroutine count", f)
		}
		out = append(out, n)
	}
	return out
}

const query = "SELECT v FROM bench_kv WHERE k = ?"

// BenchmarkSweep runs the query in a closed loop from N goroutines, each
// series on a fresh *sql.DB (SetMaxOpenConns(N) unless the series says
// otherwise), after a warm-up. Besides ns/op (wall time over queries, the
// inverse of throughput) it reports q/s, the p50 and p99 latency of a
// query, and the errors seen.
func BenchmarkSweep(b *testing.B) {
	for _, level := range levels(b) {
		for _, s := range allSeries {
			b.Run(fmt.Sprintf("goroutines=%d/impl=%s", level, s.impl), func(b *testing.B) {
				db, err := sql.Open(s.driver, dsn(b, s.params))
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				maxOpen := level
				if s.maxOpen != nil {
					maxOpen = s.maxOpen(level)
				}
				db.SetMaxOpenConns(maxOpen)
				db.SetMaxIdleConns(maxOpen)
				closedLoop(db, level, 20*level) // warm-up: connections, caches
				b.ResetTimer()
				lat, errs := closedLoop(db, level, b.N)
				b.StopTimer()
				if len(lat) == 0 {
					b.Fatalf("%s: every query failed", s.impl)
				}
				slices.Sort(lat)
				pct := func(q float64) float64 { return float64(lat[min(int(q*float64(len(lat))), len(lat)-1)]) }
				b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "q/s")
				b.ReportMetric(pct(0.50), "p50-ns")
				b.ReportMetric(pct(0.99), "p99-ns")
				b.ReportMetric(float64(errs), "errors")
			})
		}
	}
}

// closedLoop runs n queries from the given number of goroutines, each
// starting its next query when the last one ends, and returns the latency
// of each successful query and the number of failed ones.
func closedLoop(db *sql.DB, goroutines, n int) (lat []time.Duration, errs int) {
	var (
		next atomic.Int64
		mu   sync.Mutex
		wg   sync.WaitGroup
	)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() { // owned by closedLoop; ends when the n queries are taken
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				var v string
				start := time.Now()
				if err := db.QueryRow(query, i%1000).Scan(&v); err != nil {
					bad++
					continue
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lat, errs = append(lat, mine...), errs+bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	return lat, errs
}
