package pool

import (
	"context"
	"runtime"
	"testing"

	"github.com/jackc/puddle/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/pinning"
)

// Borrow+release through the full policy layer (Session.Acquire +
// Session.Done), side by side with jackc/puddle/v2 doing Acquire+Release
// over the same in-memory connections in the same run. The core alone is
// benchmarked in internal/core.

func benchPool(b *testing.B, size int) *Pool {
	m := newMemServer()
	p, err := New(Config{Dial: m.Dial, MaxConnections: size, HealthCheckIdle: -1})
	require.NoError(b, err)
	b.Cleanup(p.Close)
	// Open every connection before measuring.
	ctx := context.Background()
	ss := make([]*Session, size)
	for i := range ss {
		ss[i] = p.NewSession("u", SessionOptions{})
		_, err := ss[i].Acquire(ctx)
		require.NoError(b, err)
	}
	for _, s := range ss {
		s.Done(ctx, s.Held(), nil, Status{})
	}
	return p
}

func benchPuddle(b *testing.B, size int) *puddle.Pool[Conn] {
	m := newMemServer()
	p, err := puddle.NewPool(&puddle.Config[Conn]{
		Constructor: func(ctx context.Context) (Conn, error) { return m.Dial(ctx, "u") },
		Destructor:  func(c Conn) { _ = c.Close() },
		MaxSize:     int32(size),
	})
	require.NoError(b, err)
	b.Cleanup(p.Close)
	rs := make([]*puddle.Resource[Conn], size)
	for i := range rs {
		rs[i], err = p.Acquire(context.Background())
		require.NoError(b, err)
	}
	for _, r := range rs {
		r.Release()
	}
	return p
}

func BenchmarkBorrowRelease(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=rdsmux", func(b *testing.B) {
		p := benchPool(b, 8)
		s := p.NewSession("u", SessionOptions{})
		b.ReportAllocs()
		for b.Loop() {
			be, err := s.Acquire(ctx)
			require.NoError(b, err)
			s.Done(ctx, be, nil, Status{})
		}
	})
	b.Run("impl=puddle", func(b *testing.B) {
		p := benchPuddle(b, 8)
		b.ReportAllocs()
		for b.Loop() {
			r, err := p.Acquire(ctx)
			require.NoError(b, err)
			r.Release()
		}
	})
}

// 256 goroutines over 8 connections.
func BenchmarkBorrowReleaseContended(b *testing.B) {
	ctx := context.Background()
	par := max(256/runtime.GOMAXPROCS(0), 1)
	b.Run("impl=rdsmux", func(b *testing.B) {
		p := benchPool(b, 8)
		b.ReportAllocs()
		b.SetParallelism(par)
		b.RunParallel(func(pb *testing.PB) {
			s := p.NewSession("u", SessionOptions{})
			for pb.Next() {
				be, err := s.Acquire(ctx)
				if !assert.NoError(b, err) {
					return
				}
				s.Done(ctx, be, nil, Status{})
			}
		})
	})
	b.Run("impl=puddle", func(b *testing.B) {
		p := benchPuddle(b, 8)
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

// A statement, then a look-behind statement that takes its connection back
// (Session.AcquireFor), as "INSERT ...; SELECT ROW_COUNT()" does.
func BenchmarkLookBehindReclaim(b *testing.B) {
	ctx := context.Background()
	p := benchPool(b, 8)
	s := p.NewSession("u", SessionOptions{})
	var insert, rowCount pinning.Result
	classifier.Classify("INSERT INTO t VALUES (1)", &insert)
	classifier.Classify("SELECT ROW_COUNT()", &rowCount)
	b.ReportAllocs()
	for b.Loop() {
		be, err := s.AcquireFor(ctx, "INSERT INTO t VALUES (1)", &insert)
		require.NoError(b, err)
		s.Done(ctx, be, &insert, Status{})
		be, err = s.AcquireFor(ctx, "SELECT ROW_COUNT()", &rowCount)
		require.NoError(b, err)
		s.Done(ctx, be, &rowCount, Status{})
	}
	st := p.Stats()
	require.Equal(b, int64(0), st.LookBehindLost, "%d refused", st.LookBehindLost)
}
