package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
)

// MaxChunk is the largest payload one physical packet carries. A logical
// packet of MaxChunk bytes or more is split into chunks of MaxChunk bytes,
// ended by a shorter (possibly empty) chunk.
const MaxChunk = 0xffffff

// DefaultMaxPacketSize is the default limit on the payload of one logical
// packet: 64 MiB, four times MariaDB's default max_allowed_packet.
const DefaultMaxPacketSize = 64 << 20

// bufferSize is the size of the read and write buffers of a Conn. Packets
// that fit in the read buffer are returned without a copy.
const bufferSize = 16 << 10

// retainLimit is the largest reassembly buffer a Conn keeps between packets;
// a larger one, used for a big packet, is released after it.
const retainLimit = 1 << 20

// ErrPacketTooLarge is returned (wrapped) by ReadPacket when a logical packet
// exceeds the connection's maximum packet size. The stream is no longer in
// sync after it: close the connection.
var ErrPacketTooLarge = errors.New("wire: packet too large")

// ErrPacketSequence is returned (wrapped) by ReadPacket when a packet's
// sequence id is not the expected one: the peer does not speak the protocol
// as expected, or the stream is out of sync. Close the connection.
var ErrPacketSequence = errors.New("wire: packet out of sequence")

// Conn is a packet-framed MySQL protocol connection: it reads and writes
// logical packets over a net.Conn with buffered I/O, tracks sequence ids,
// splits and joins packets of 16 MiB and more, and enforces a maximum packet
// size.
//
// A Conn is not safe for concurrent use; one goroutine owns it at a time.
type Conn struct {
	nc  net.Conn
	br  *bufio.Reader
	bw  *bufio.Writer
	seq uint8 // sequence id of the next packet read or written

	maxPacket int    // limit on a logical payload, in bytes
	rbuf      []byte // reassembly buffer for packets that do not fit in br
	wscratch  []byte // scratch buffer handed out by Scratch
	hdr       [4]byte
}

// NewConn wraps nc. The Conn owns nc from now on: Close closes it.
func NewConn(nc net.Conn) *Conn {
	return &Conn{
		nc:        nc,
		br:        bufio.NewReaderSize(nc, bufferSize),
		bw:        bufio.NewWriterSize(nc, bufferSize),
		maxPacket: DefaultMaxPacketSize,
	}
}

// NetConn returns the underlying connection (a *tls.Conn after a TLS
// upgrade), for deadlines and addresses. Reading or writing it directly
// bypasses the Conn's buffers.
func (c *Conn) NetConn() net.Conn { return c.nc }

// SetMaxPacketSize sets the limit on the payload of one logical packet read
// by ReadPacket; n <= 0 restores DefaultMaxPacketSize.
func (c *Conn) SetMaxPacketSize(n int) {
	if n <= 0 {
		n = DefaultMaxPacketSize
	}
	c.maxPacket = n
}

// MaxPacketSize returns the limit set by SetMaxPacketSize.
func (c *Conn) MaxPacketSize() int { return c.maxPacket }

// Seq returns the sequence id the next packet read or written will carry.
func (c *Conn) Seq() uint8 { return c.seq }

// SetSeq sets the sequence id of the next packet.
func (c *Conn) SetSeq(s uint8) { c.seq = s }

// ResetSeq starts a new command phase: the next packet has sequence id 0.
func (c *Conn) ResetSeq() { c.seq = 0 }

// Buffered returns the number of bytes read from the network but not yet
// consumed as packets.
func (c *Conn) Buffered() int { return c.br.Buffered() }

// ReadPacket reads one logical packet and returns its payload. The payload
// aliases the Conn's buffers: it is valid only until the next call of
// ReadPacket (or any other read). Packets of MaxChunk bytes or more are
// joined; the sequence id of every chunk is checked.
func (c *Conn) ReadPacket() ([]byte, error) {
	n, err := c.readHeader()
	if err != nil {
		return nil, err
	}
	if n < MaxChunk {
		if n > c.maxPacket {
			return nil, c.tooLarge(n)
		}
		if n <= c.br.Size() {
			// Fast path: the whole packet fits in the read buffer; return
			// a slice of it without copying.
			p, err := c.br.Peek(n)
			if err != nil {
				return nil, c.readErr(err)
			}
			_, _ = c.br.Discard(n)
			if cap(c.rbuf) > retainLimit {
				c.rbuf = nil
			}
			return p, nil
		}
		if c.rbuf, err = c.readAppend(c.rbuf[:0], n); err != nil {
			return nil, err
		}
		return c.rbuf, nil
	}
	// A multi-chunk packet: join the chunks into rbuf.
	total := 0
	c.rbuf = c.rbuf[:0]
	for {
		if total+n > c.maxPacket {
			return nil, c.tooLarge(total + n)
		}
		if c.rbuf, err = c.readAppend(c.rbuf, n); err != nil {
			return nil, err
		}
		total += n
		if n < MaxChunk {
			return c.rbuf, nil
		}
		if n, err = c.readHeader(); err != nil {
			return nil, err
		}
	}
}

// readHeader reads a 4-byte packet header, checks and advances the sequence
// id and returns the chunk's payload length.
func (c *Conn) readHeader() (int, error) {
	h, err := c.br.Peek(4)
	if err != nil {
		return 0, c.readErr(err)
	}
	n := int(uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16)
	seq := h[3]
	_, _ = c.br.Discard(4)
	if seq != c.seq {
		return 0, fmt.Errorf("%w: got sequence id %d, want %d", ErrPacketSequence, seq, c.seq)
	}
	c.seq++
	return n, nil
}

func (c *Conn) tooLarge(n int) error {
	return fmt.Errorf("%w: %d bytes exceed the limit of %d bytes (raise it with SetMaxPacketSize, or send smaller packets)",
		ErrPacketTooLarge, n, c.maxPacket)
}

func (c *Conn) readErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readStep bounds how far ahead of the bytes received readAppend grows its
// buffer.
const readStep = 1 << 20

// readAppend appends exactly n bytes read from the connection to b. It grows
// b as the bytes arrive, at most readStep ahead of them, so that a peer that
// announces a large packet and then sends little makes the Conn hold memory
// for what it sent, not for what it announced.
func (c *Conn) readAppend(b []byte, n int) ([]byte, error) {
	for n > 0 {
		start := len(b)
		step := min(n, readStep)
		b = grow(b, start+step)
		if _, err := io.ReadFull(c.br, b[start:]); err != nil {
			return b[:start], c.readErr(err)
		}
		n -= step
	}
	return b, nil
}

// grow returns b resized to n bytes, reusing its storage when large enough.
func grow(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:n]
	}
	nb := make([]byte, n, max(n, 2*cap(b)))
	copy(nb, b)
	return nb
}

// WritePacket writes payload as one logical packet, split into chunks when it
// is MaxChunk bytes or longer, into the write buffer. Call Flush to send it.
// payload may alias a buffer returned by ReadPacket of another Conn (the
// relay case): it is copied before WritePacket returns.
func (c *Conn) WritePacket(payload []byte) error {
	for {
		n := min(len(payload), MaxChunk)
		c.hdr = [4]byte{byte(n), byte(n >> 8), byte(n >> 16), c.seq}
		c.seq++
		if _, err := c.bw.Write(c.hdr[:]); err != nil {
			return err
		}
		if _, err := c.bw.Write(payload[:n]); err != nil {
			return err
		}
		payload = payload[n:]
		if n < MaxChunk {
			return nil
		}
	}
}

// Flush sends the buffered packets.
func (c *Conn) Flush() error { return c.bw.Flush() }

// WritePacketFlush writes one packet and flushes.
func (c *Conn) WritePacketFlush(payload []byte) error {
	if err := c.WritePacket(payload); err != nil {
		return err
	}
	return c.bw.Flush()
}

// Scratch returns an empty slice backed by a buffer the Conn reuses, for
// building a payload with the Append functions of this package without
// allocating. The buffer is shared: build one payload at a time and pass it
// to WritePacket before calling Scratch again. Retain the grown slice with
// KeepScratch to reuse its storage next time.
func (c *Conn) Scratch() []byte { return c.wscratch[:0] }

// KeepScratch stores b (typically the result of appending to Scratch) as the
// scratch buffer, unless it grew beyond the retention limit.
func (c *Conn) KeepScratch(b []byte) {
	if cap(b) <= retainLimit {
		c.wscratch = b[:0]
	}
}

// rawConn returns the underlying connection for a TLS upgrade: bytes already
// read into the buffer (the peer's TLS hello may arrive together with the
// SSLRequest) are read from it first.
func (c *Conn) rawConn() net.Conn {
	n := c.br.Buffered()
	if n == 0 {
		return c.nc
	}
	p, _ := c.br.Peek(n)
	prefix := append([]byte(nil), p...)
	_, _ = c.br.Discard(n)
	return &prefixConn{Conn: c.nc, prefix: prefix}
}

// replaceConn swaps the underlying connection after a TLS upgrade; the
// buffers are reused.
func (c *Conn) replaceConn(nc net.Conn) error {
	if err := c.bw.Flush(); err != nil {
		return err
	}
	c.nc = nc
	c.br.Reset(nc)
	c.bw.Reset(nc)
	return nil
}

// prefixConn reads prefix before reading from Conn.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// Close closes the underlying connection without flushing.
func (c *Conn) Close() error { return c.nc.Close() }

var _ net.Conn = (*prefixConn)(nil)
