package fleet_test

import (
	"context"
	"sync"
	"testing"

	"github.com/rdsmux/rdsmux/fleet"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/internal/redistest"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
)

// benchPool returns a pool of size connections to a real MariaDB, all
// opened, with or without a fleet budget of size on a real Redis. The
// benchmarks measure the borrow path: no statement runs.
func benchPool(b *testing.B, size int, redisURL string) (*pool.Pool, *fleet.Member) {
	s := mariadbtest.Start(b)
	s.CreateUser(b, "u", "u-pw")
	users := proxy.StaticUsers{"u": "u-pw"}
	backend := &proxy.Target{Addr: s.Addr(), Credentials: proxy.SameCredentials(users)}
	cfg := pool.Config{Dial: backend.Dial, MaxConnections: size, HealthCheckIdle: -1}
	var m *fleet.Member
	if redisURL != "" {
		var err error
		m, err = fleet.New(fleet.Config{URL: redisURL, Name: b.Name()})
		if err != nil {
			b.Fatal(err)
		}
		cfg.Budget = m
	}
	p, err := pool.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	ctx := context.Background()
	ss := make([]*pool.Session, size)
	var wg sync.WaitGroup
	for i := range ss {
		ss[i] = p.NewSession("u", pool.SessionOptions{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := ss[i].Acquire(ctx); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, s := range ss {
		s.Done(ctx, s.Held(), nil, pool.Status{})
	}
	return p, m
}

// roundTrips reports Redis round trips per 1,000 borrows over the
// benchmark (heartbeats included).
func roundTrips(b *testing.B, m *fleet.Member, before int64) {
	if m == nil {
		return
	}
	n := m.Stats().RoundTrips - before
	b.ReportMetric(float64(n)*1000/float64(b.N), "redis-trips/1000borrows")
}

func redisFor(b *testing.B, on bool) string {
	if !on {
		return ""
	}
	return redistest.Start(b).URL()
}

// BenchmarkFleetBorrow: one goroutine borrows and gives back, fleet off
// and on side by side: with the fleet, the slots are held and the borrow
// never reaches Redis.
func BenchmarkFleetBorrow(b *testing.B) {
	ctx := context.Background()
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "fleet=off", true: "fleet=on"}[on], func(b *testing.B) {
			p, m := benchPool(b, 8, redisFor(b, on))
			s := p.NewSession("u", pool.SessionOptions{})
			var before int64
			if m != nil {
				before = m.Stats().RoundTrips
			}
			b.ReportAllocs()
			for b.Loop() {
				be, err := s.Acquire(ctx)
				if err != nil {
					b.Fatal(err)
				}
				s.Done(ctx, be, nil, pool.Status{})
			}
			roundTrips(b, m, before)
		})
	}
}

// BenchmarkFleetBorrowContended: 32 goroutines over 8 connections (every
// borrow waits), fleet off and on: waiting borrows wake the Member, which
// asks Redis for more at most once per MinRequestInterval.
func BenchmarkFleetBorrowContended(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "fleet=off", true: "fleet=on"}[on], func(b *testing.B) {
			p, m := benchPool(b, 8, redisFor(b, on))
			var before int64
			if m != nil {
				before = m.Stats().RoundTrips
			}
			b.ReportAllocs()
			b.SetParallelism(16) // 32 goroutines on 2 CPUs
			b.ResetTimer()       // not the servers' start
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				s := p.NewSession("u", pool.SessionOptions{})
				for pb.Next() {
					be, err := s.Acquire(ctx)
					if err != nil {
						b.Error(err)
						return
					}
					s.Done(ctx, be, nil, pool.Status{})
				}
			})
			roundTrips(b, m, before)
		})
	}
}
