package wire_test

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"testing"

	"github.com/rdsmux/rdsmux/proxy/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pipe returns two Conns connected in memory; the writer side runs in a
// goroutine owned by the test.
func pipePair(t testing.TB) (*wire.Conn, *wire.Conn) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return wire.NewConn(a), wire.NewConn(b)
}

func TestPacketSplitJoin(t *testing.T) {
	sizes := []int{0, 1, 100, 16 << 10, 20 << 10, wire.MaxChunk - 1, wire.MaxChunk, wire.MaxChunk + 1, 2 * wire.MaxChunk, 2*wire.MaxChunk + 7}
	w, r := pipePair(t)
	errc := make(chan error, 1)
	go func() {
		for i, n := range sizes {
			p := bytes.Repeat([]byte{byte(i + 1)}, n)
			if err := w.WritePacket(p); err != nil {
				errc <- err
				return
			}
		}
		errc <- w.Flush()
	}()
	for i, n := range sizes {
		p, err := r.ReadPacket()
		require.NoError(t, err, "size %d: %v", n, err)
		require.Len(t, p, n, "size %d: got %d bytes", n, len(p))
		require.False(t, n > 0 && (p[0] != byte(i+1) || p[n-1] != byte(i+1)), "size %d: got %d bytes", n, len(p))
	}
	err := <-errc
	require.NoError(t, err)
	// Sequence ids advanced once per chunk on both sides, identically.
	require.Equal(t, r.Seq(), w.Seq(), "seq writer %d reader %d", w.Seq(), r.Seq())
}

func TestPacketSequenceAndLimit(t *testing.T) {
	w, r := pipePair(t)
	go func() {
		w.SetSeq(5)
		w.WritePacketFlush([]byte("x"))
	}()
	_, err := r.ReadPacket()
	require.ErrorIs(t, err, wire.ErrPacketSequence, "err = %v, want ErrPacketSequence", err)

	w, r = pipePair(t)
	r.SetMaxPacketSize(1000)
	go func() {
		w.WritePacketFlush(make([]byte, 1001))
	}()
	_, err = r.ReadPacket()
	require.ErrorIs(t, err, wire.ErrPacketTooLarge, "err = %v, want ErrPacketTooLarge", err)

	w, r = pipePair(t)
	r.SetMaxPacketSize(wire.MaxChunk + 10)
	go func() {
		w.WritePacketFlush(make([]byte, wire.MaxChunk+11))
	}()
	_, err = r.ReadPacket()
	require.ErrorIs(t, err, wire.ErrPacketTooLarge, "multi-chunk: err = %v, want ErrPacketTooLarge", err)

	a, b := net.Pipe()
	r = wire.NewConn(b)
	go func() {
		a.Write([]byte{10, 0, 0, 0, 'a'})
		a.Close()
	}()
	_, err = r.ReadPacket()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF, "truncated: err = %v", err)
}

func TestPacketReadNoAllocs(t *testing.T) {
	var stream bytes.Buffer
	c := wire.NewConn(&fakeConn{w: &stream})
	for i := 0; i < 200; i++ {
		c.WritePacket(bytes.Repeat([]byte("r"), 300))
		c.ResetSeq()
	}
	c.Flush()
	rc := wire.NewConn(&fakeConn{r: bytes.NewReader(stream.Bytes())})
	rc.ReadPacket()
	rc.ResetSeq()
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := rc.ReadPacket(); err != nil {
			t.Fatal(err)
		}
		rc.ResetSeq()
	})
	require.Equal(t, float64(0), allocs, "ReadPacket: %.1f allocs per packet", allocs)
	wc := wire.NewConn(&fakeConn{w: io.Discard})
	p := make([]byte, 300)
	allocs = testing.AllocsPerRun(100, func() { wc.WritePacket(p); wc.ResetSeq() })
	require.Equal(t, float64(0), allocs, "WritePacket: %.1f allocs per packet", allocs)
}

// fakeConn is a net.Conn over a reader or writer, for benchmarks and
// allocation tests.
type fakeConn struct {
	net.Conn
	r io.Reader
	w io.Writer
}

func (f *fakeConn) Read(b []byte) (int, error)  { return f.r.Read(b) }
func (f *fakeConn) Write(b []byte) (int, error) { return f.w.Write(b) }
func (f *fakeConn) Close() error                { return nil }

// loopReader replays a byte stream forever.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(b []byte) (int, error) {
	n := copy(b, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

func benchmarkRead(b *testing.B, size int) {
	var stream bytes.Buffer
	c := wire.NewConn(&fakeConn{w: &stream})
	for i := 0; i < 64; i++ {
		c.WritePacket(make([]byte, size))
		c.ResetSeq()
	}
	c.Flush()
	rc := wire.NewConn(&fakeConn{r: &loopReader{data: stream.Bytes()}})
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := rc.ReadPacket()
		require.NoError(b, err)
		rc.ResetSeq()
	}
}

func BenchmarkReadPacket64(b *testing.B)   { benchmarkRead(b, 64) }
func BenchmarkReadPacket4K(b *testing.B)   { benchmarkRead(b, 4<<10) }
func BenchmarkReadPacket64K(b *testing.B)  { benchmarkRead(b, 64<<10) }
func BenchmarkReadPacket17M(b *testing.B)  { benchmarkRead(b, 17<<20) }
func BenchmarkWritePacket64(b *testing.B)  { benchmarkWrite(b, 64) }
func BenchmarkWritePacket4K(b *testing.B)  { benchmarkWrite(b, 4<<10) }
func BenchmarkWritePacket17M(b *testing.B) { benchmarkWrite(b, 17<<20) }

func benchmarkWrite(b *testing.B, size int) {
	c := wire.NewConn(&fakeConn{w: io.Discard})
	p := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		err := c.WritePacket(p)
		require.NoError(b, err)
		c.ResetSeq()
	}
	c.Flush()
}

// BenchmarkRelayPacket reads a row-sized packet from one Conn and writes it
// to another, the listener's hot path.
func BenchmarkRelayPacket(b *testing.B) {
	var stream bytes.Buffer
	c := wire.NewConn(&fakeConn{w: &stream})
	for i := 0; i < 64; i++ {
		c.WritePacket(make([]byte, 200))
		c.ResetSeq()
	}
	c.Flush()
	src := wire.NewConn(&fakeConn{r: &loopReader{data: stream.Bytes()}})
	dst := wire.NewConn(&fakeConn{w: io.Discard})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p, err := src.ReadPacket()
		require.NoError(b, err)
		err = dst.WritePacket(p)
		require.NoError(b, err)
		src.ResetSeq()
		dst.ResetSeq()
	}
}

// TestPacketAnnouncedNotAllocated: a peer that announces a large packet and
// sends a few bytes of it makes ReadPacket allocate for what arrived (within
// a step of 1 MiB), not for the 16 MiB announced; the read fails cleanly.
func TestPacketAnnouncedNotAllocated(t *testing.T) {
	for _, announced := range []int{wire.MaxChunk - 1, wire.MaxChunk} {
		a, b := net.Pipe()
		r := wire.NewConn(b)
		go func() { // the peer: a header, 100 bytes, gone
			hdr := []byte{byte(announced), byte(announced >> 8), byte(announced >> 16), 0}
			_, _ = a.Write(append(hdr, make([]byte, 100)...))
			a.Close()
		}()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := r.ReadPacket()
		runtime.ReadMemStats(&after)
		b.Close()
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "announced %d: err = %v, want io.ErrUnexpectedEOF", announced, err)
		got := after.TotalAlloc - before.TotalAlloc
		assert.LessOrEqual(t, got, uint64(3<<20), "announced %d bytes, sent 100: ReadPacket allocated %d bytes", announced, got)
	}
}
