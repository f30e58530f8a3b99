package core

import (
	"context"
	"runtime"
	"testing"

	"github.com/jackc/puddle/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The benchmarks run the same work on this core and on jackc/puddle/v2 in
// the same run, so the two can be compared on the same machine.

func newBenchCore(b *testing.B, size int) (*Pool[int], *Partition[int]) {
	n := 0
	p := New(Config[int]{
		Dial:   func(context.Context, string) (int, error) { n++; return n, nil },
		Close:  func(int) {},
		Limits: Limits{MaxSize: size, MaxIdle: size},
	})
	b.Cleanup(p.Close)
	part := p.Partition("user")
	// Pre-dial so that the benchmark measures borrowing, not dialing.
	rs := make([]*Resource[int], size)
	for i := range rs {
		r, _, err := p.Acquire(context.Background(), part, "", 0)
		require.NoError(b, err)
		rs[i] = r
	}
	for _, r := range rs {
		r.Release()
	}
	return p, part
}

func newBenchPuddle(b *testing.B, size int) *puddle.Pool[int] {
	n := 0
	p, err := puddle.NewPool(&puddle.Config[int]{
		Constructor: func(context.Context) (int, error) { n++; return n, nil },
		Destructor:  func(int) {},
		MaxSize:     int32(size),
	})
	require.NoError(b, err)
	b.Cleanup(p.Close)
	rs := make([]*puddle.Resource[int], size)
	for i := range rs {
		rs[i], err = p.Acquire(context.Background())
		require.NoError(b, err)
	}
	for _, r := range rs {
		r.Release()
	}
	return p
}

func BenchmarkAcquireRelease(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=rdsmux", func(b *testing.B) {
		p, part := newBenchCore(b, 8)
		b.ReportAllocs()
		for b.Loop() {
			r, _, err := p.Acquire(ctx, part, "", 0)
			require.NoError(b, err)
			r.Release()
		}
	})
	b.Run("impl=puddle", func(b *testing.B) {
		p := newBenchPuddle(b, 8)
		b.ReportAllocs()
		for b.Loop() {
			r, err := p.Acquire(ctx)
			require.NoError(b, err)
			r.Release()
		}
	})
}

// 256 goroutines over 8 resources.
func BenchmarkAcquireReleaseContended(b *testing.B) {
	ctx := context.Background()
	par := max(256/runtime.GOMAXPROCS(0), 1)
	b.Run("impl=rdsmux", func(b *testing.B) {
		p, part := newBenchCore(b, 8)
		b.ReportAllocs()
		b.SetParallelism(par)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r, _, err := p.Acquire(ctx, part, "", 0)
				if !assert.NoError(b, err) {
					return
				}
				r.Release()
			}
		})
	})
	b.Run("impl=puddle", func(b *testing.B) {
		p := newBenchPuddle(b, 8)
		b.ReportAllocs()
		b.SetParallelism(par)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r, err := p.Acquire(ctx)
				if !assert.NoError(b, err) {
					return
				}
				r.Release()
			}
		})
	})
}

// A holder that releases under a claim and takes the resource straight back,
// as a session does for a look-behind statement.
func BenchmarkReleaseClaimReclaim(b *testing.B) {
	p, part := newBenchCore(b, 8)
	r, _, err := p.Acquire(context.Background(), part, "", 0)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		c := r.ReleaseClaim()
		r, err = p.Reclaim(part, c)
		require.NoError(b, err)
	}
	r.Release()
}
