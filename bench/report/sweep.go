package main

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/go-sql-driver/mysql" // the baseline driver, "mysql"

	_ "github.com/rdsmux/rdsmux" // registers "rdsmux"
)

// SweepSeries is one way of reaching the database in the concurrency
// sweep.
type SweepSeries struct {
	Name   string // for legends
	Short  string // for table headers
	Driver string // database/sql driver name: "mysql" or "rdsmux"
	Params string // extra DSN parameters
	// MaxOpen is database/sql's SetMaxOpenConns for a level (goroutines);
	// nil means one connection per goroutine.
	MaxOpen func(goroutines int) int
}

// DefaultSeries are the sweep's series: plain go-sql-driver with a
// connection per goroutine (as BenchmarkDriver runs it), the same with
// interpolateParams=true (no server-side prepare per query), go-sql-driver
// capped at 16 connections by database/sql, and rdsmux sharing 16
// backends.
func DefaultSeries() []SweepSeries {
	return []SweepSeries{
		{Name: "go-sql-driver, a connection per goroutine", Short: "go-sql-driver", Driver: "mysql"},
		{Name: "go-sql-driver with interpolateParams=true, a connection per goroutine", Short: "go-sql-driver interpolateParams",
			Driver: "mysql", Params: "interpolateParams=true"},
		{Name: "go-sql-driver, at most 16 connections (database/sql pool)", Short: "go-sql-driver ≤16 conns",
			Driver: "mysql", MaxOpen: func(g int) int { return min(g, 16) }},
		{Name: "rdsmux, 16 backend connections", Short: "rdsmux", Driver: "rdsmux", Params: "maxConnections=16"},
	}
}

// SweepConfig is what Sweep runs.
type SweepConfig struct {
	DSN      func(params string) string // the benchmark account's DSN with extra parameters
	Series   []SweepSeries
	Levels   []int         // goroutine counts
	Warmup   time.Duration // before each measurement
	Duration time.Duration // of each measurement
	Rounds   int           // every (level, series) is measured once per round
	Progress func(string)  // optional
}

// SweepPoint is one series at one level over every round.
type SweepPoint struct {
	Series     string
	Goroutines int
	OpsPerSec  []float64     // one per round
	P50, P99   time.Duration // latency over every round's operations
	Errors     int
}

// Throughput is the median operations per second over the rounds.
func (p SweepPoint) Throughput() float64 { return stat(p.OpsPerSec).Median }

// SweepQuery is the statement the sweep runs, with a parameter
// (server-side prepared by go-sql-driver; virtual in rdsmux).
const SweepQuery = "SELECT v FROM bench_kv WHERE k = ?"

// SetupSweep creates the sweep's table (1,000 rows) through db.
func SetupSweep(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS bench_kv (k INT PRIMARY KEY, v VARCHAR(32))"); err != nil {
		return fmt.Errorf("creating bench_kv: %w", err)
	}
	if _, err := db.ExecContext(ctx, "DELETE FROM bench_kv"); err != nil {
		return fmt.Errorf("emptying bench_kv: %w", err)
	}
	for i := 0; i < 1000; i += 100 {
		q := "INSERT INTO bench_kv VALUES "
		var args []any
		for k := i; k < i+100; k++ {
			if k > i {
				q += ","
			}
			q += "(?, ?)"
			args = append(args, k, fmt.Sprintf("value-%d", k))
		}
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("filling bench_kv: %w", err)
		}
	}
	return nil
}

// Sweep measures closed-loop throughput and latency of SweepQuery for
// every series at every level. Series alternate order from round to round
// (A B C, then C B A) so that a slow stretch of a noisy machine does not
// always hit the same one. Points come back ordered by series, then level.
func Sweep(ctx context.Context, c SweepConfig) ([]SweepPoint, error) {
	type key struct {
		series string
		level  int
	}
	points := map[key]*SweepPoint{}
	lat := map[key][]time.Duration{}
	for r := 0; r < max(c.Rounds, 1); r++ {
		for _, level := range c.Levels {
			series := slices.Clone(c.Series)
			if r%2 == 1 {
				slices.Reverse(series)
			}
			for _, s := range series {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				m, err := measure(ctx, c, s, level)
				if err != nil {
					return nil, fmt.Errorf("%s at %d goroutines: %w", s.Name, level, err)
				}
				k := key{s.Name, level}
				p := points[k]
				if p == nil {
					p = &SweepPoint{Series: s.Name, Goroutines: level}
					points[k] = p
				}
				p.OpsPerSec = append(p.OpsPerSec, m.opsPerSec)
				p.Errors += m.errors
				lat[k] = append(lat[k], m.latencies...)
				if c.Progress != nil {
					c.Progress(fmt.Sprintf("sweep round %d: %-45s goroutines=%-4d %8.0f ops/s", r+1, s.Name, level, m.opsPerSec))
				}
			}
		}
	}
	var out []SweepPoint
	for _, s := range c.Series {
		for _, level := range c.Levels {
			k := key{s.Name, level}
			p := points[k]
			p.P50, p.P99 = percentile(lat[k], 0.50), percentile(lat[k], 0.99)
			out = append(out, *p)
		}
	}
	return out, nil
}

type measurement struct {
	opsPerSec float64
	latencies []time.Duration
	errors    int
}

// measure runs level goroutines over one fresh *sql.DB for Warmup, then
// counts the operations that start and end within Duration.
func measure(ctx context.Context, c SweepConfig, s SweepSeries, level int) (measurement, error) {
	db, err := sql.Open(s.Driver, c.DSN(s.Params))
	if err != nil {
		return measurement{}, err
	}
	defer db.Close()
	maxOpen := level
	if s.MaxOpen != nil {
		maxOpen = s.MaxOpen(level)
	}
	db.SetMaxOpenConns(maxOpen)
	db.SetMaxIdleConns(maxOpen)
	var v string
	if err := db.QueryRowContext(ctx, SweepQuery, 1).Scan(&v); err != nil {
		return measurement{}, err
	}

	const (
		warming = iota
		measuring
		stopped
	)
	var phase atomic.Int32
	var (
		mu     sync.Mutex
		m      measurement
		ops    int
		firstE error
	)
	var wg sync.WaitGroup
	for g := 0; g < level; g++ {
		wg.Add(1)
		go func() { // owned by measure; ends when phase is stopped
			defer wg.Done()
			var mine []time.Duration
			errs := 0
			var firstErr error
			for i := g; ; i++ {
				ph := phase.Load()
				if ph == stopped {
					break
				}
				start := time.Now()
				var v string
				err := db.QueryRowContext(ctx, SweepQuery, i%1000).Scan(&v)
				d := time.Since(start)
				if ph != measuring || phase.Load() != measuring {
					continue
				}
				if err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				mine = append(mine, d)
			}
			mu.Lock()
			m.latencies = append(m.latencies, mine...)
			ops += len(mine)
			m.errors += errs
			if firstE == nil {
				firstE = firstErr
			}
			mu.Unlock()
		}()
	}
	sleep(ctx, c.Warmup)
	phase.Store(measuring)
	t0 := time.Now()
	sleep(ctx, c.Duration)
	phase.Store(stopped)
	elapsed := time.Since(t0)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return m, err
	}
	if ops == 0 && firstE != nil {
		return m, fmt.Errorf("no successful operation: %w", firstE)
	}
	m.opsPerSec = float64(ops) / elapsed.Seconds()
	return m, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// percentile returns the q-quantile (0..1) of ds by nearest rank; 0 for
// none. It sorts ds.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.5) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}
