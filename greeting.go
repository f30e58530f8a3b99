package rdsmux

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync/atomic"
	"syscall"

	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux/proxy/wire"
)

// Backends are dialed without MariaDB's metadata cache
// (MARIADB_CLIENT_CACHE_METADATA). With it, the server sends a prepared
// statement's column definitions at execute only when they changed since
// it last sent them on that connection, and go-sql-driver reports the
// ones it last received: a backend statement shared by sessions would
// report what the other sessions' executions left. Without it every
// execute carries the definitions; the connection keeps a copy of those
// of the response it is asked to watch (go-sql-driver does not report
// lengths), and the driver decides with package metacache what a client
// of a dedicated connection would hold (heldcols.go).

// cacheMetadataBit is MARIADB_CLIENT_CACHE_METADATA in the server's
// extended capabilities (the greeting's last four reserved bytes).
const cacheMetadataBit = 1 << 4

// dialWithoutMetadataCache returns cfg's dial function wrapped so that the
// server's greeting does not offer the metadata cache (offered records
// that a server did); nil when cfg dials through a function registered
// with mysql.RegisterDialContext, which rdsmux cannot wrap (such backends
// keep the capability, and the driver reports what they receive).
func dialWithoutMetadataCache(cfg *mysql.Config, offered *atomic.Bool) func(ctx context.Context, network, addr string) (net.Conn, error) {
	dial := cfg.DialFunc
	if dial == nil {
		switch cfg.Net {
		case "tcp", "tcp4", "tcp6", "unix", "":
		default:
			return nil
		}
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return withoutMetadataCache(ctx, nc, offered), nil
	}
}

// greetingKey is the context key under which target.dial asks for the
// greetingConn of the connection it opens (a **greetingConn).
type greetingKey struct{}

// withoutMetadataCache wraps a new connection to a server so that the
// client reading it sees a greeting without the metadata cache; offered
// is set when the server offered it. The connection is also stored where
// ctx's greetingKey says, for the backend that will use it.
func withoutMetadataCache(ctx context.Context, nc net.Conn, offered *atomic.Bool) net.Conn {
	gc := &greetingConn{Conn: nc, offered: offered}
	if p, ok := ctx.Value(greetingKey{}).(**greetingConn); ok {
		*p = gc
	}
	return gc
}

// greetingConn edits the first packet read from the server, and copies
// the column definitions of a response when asked (watch). It is read, and
// watched, by the goroutine running the backend's statement, so its fields
// need no lock.
type greetingConn struct {
	net.Conn
	offered *atomic.Bool // set when a greeting offers the metadata cache
	read    bool         // the greeting was read from the server
	pending []byte       // the edited greeting, not yet returned by Read
	wrote   bool         // the client's handshake response was written
	tls     bool         // the client asked for TLS: the bytes are sealed
	watch   defsWatch    // the response whose definitions are copied
}

// Write notes whether the client's first packet (its handshake response,
// or the SSLRequest before it) asks for TLS, after which the bytes this
// connection sees are encrypted and no definitions can be copied.
func (c *greetingConn) Write(p []byte) (int, error) {
	if !c.wrote && len(p) >= 6 {
		c.wrote = true
		c.tls = p[5]&(clientSSL>>8) != 0
	}
	return c.Conn.Write(p)
}

// clientSSL is the CLIENT_SSL capability bit (in the second byte of the
// capability flags, after the 4-byte packet header).
const clientSSL = 0x0800

// Read returns the edited greeting first, then what the server sends.
func (c *greetingConn) Read(p []byte) (int, error) {
	if !c.read {
		c.read = true
		var hdr [4]byte
		if _, err := io.ReadFull(c.Conn, hdr[:]); err != nil {
			return 0, err
		}
		n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
		pkt := make([]byte, 4+n)
		copy(pkt, hdr[:])
		if _, err := io.ReadFull(c.Conn, pkt[4:]); err != nil {
			return 0, err
		}
		if clearCacheMetadata(pkt[4:]) {
			c.offered.Store(true)
		}
		c.pending = pkt
	}
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	n, err := c.Conn.Read(p)
	if c.watch.on {
		c.watch.feed(p[:n])
	}
	return n, err
}

// SyscallConn lets go-sql-driver check the connection's liveness as it
// does on a plain TCP connection.
func (c *greetingConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, syscall.EINVAL
}

// clearCacheMetadata clears MARIADB_CLIENT_CACHE_METADATA in a HandshakeV10
// payload: protocol version, NUL-terminated server version, connection id
// (4), scramble (8), filler (1), capabilities (2), character set (1),
// status (2), upper capabilities (2), scramble length (1), reserved (6),
// then a MariaDB server's extended capabilities (4) when CLIENT_MYSQL (the
// first capability bit) is clear. Other payloads are left as they are. It
// reports whether the bit was set.
func clearCacheMetadata(p []byte) bool {
	if len(p) == 0 || p[0] != 10 {
		return false
	}
	nul := 1
	for nul < len(p) && p[nul] != 0 {
		nul++
	}
	caps := nul + 1 + 4 + 8 + 1
	ext := caps + 2 + 1 + 2 + 2 + 1 + 6
	if ext+4 > len(p) || p[caps]&1 != 0 || p[ext]&cacheMetadataBit == 0 {
		return false
	}
	p[ext] &^= cacheMetadataBit
	return true
}

// defsWatch copies the column definitions of one response as its bytes
// pass: a result set's (after its column count) or a COM_STMT_PREPARE_OK's
// (after its parameters' definitions). EOF packets between are skipped.
type defsWatch struct {
	on      bool
	prepare bool     // the response to COM_STMT_PREPARE
	first   bool     // the next packet is the response's first
	hdr     [4]byte  // the packet header being read
	hdrN    int      // bytes of hdr read
	pkt     []byte   // the packet payload being read
	need    int      // payload bytes still to read
	params  int      // parameter definitions still to come
	cols    int      // column definitions still to come
	defs    [][]byte // copied definitions
}

// watching reports whether the definitions of the connection's responses
// can be copied (not over TLS).
func (c *greetingConn) watching() bool { return c != nil && !c.tls }

// start watches the response to the command about to be sent.
func (w *defsWatch) start(prepare bool) {
	*w = defsWatch{on: true, prepare: prepare, first: true, defs: w.defs[:0]}
}

// take stops watching and returns the definitions copied (nil when the
// response had none or was not complete).
func (w *defsWatch) take() [][]byte {
	complete := !w.on
	w.on = false
	if !complete || len(w.defs) == 0 {
		return nil
	}
	out := w.defs
	w.defs = nil
	return out
}

// feed passes the bytes read from the server through the watch.
func (w *defsWatch) feed(b []byte) {
	for len(b) > 0 && w.on {
		if w.hdrN < 4 {
			n := copy(w.hdr[w.hdrN:], b)
			w.hdrN += n
			b = b[n:]
			if w.hdrN < 4 {
				return
			}
			w.need = int(w.hdr[0]) | int(w.hdr[1])<<8 | int(w.hdr[2])<<16
			w.pkt = w.pkt[:0]
		}
		n := min(w.need, len(b))
		w.pkt = append(w.pkt, b[:n]...)
		w.need -= n
		b = b[n:]
		if w.need == 0 {
			w.hdrN = 0
			w.packet(w.pkt)
		}
	}
}

// packet handles one whole packet of the response.
func (w *defsWatch) packet(p []byte) {
	if w.first {
		w.first = false
		switch {
		case len(p) == 0 || p[0] == 0xff || p[0] == 0xfb:
			w.on = false // an error or LOAD DATA LOCAL: no definitions
		case w.prepare && p[0] == 0 && len(p) >= 9:
			w.cols = int(p[5]) | int(p[6])<<8
			w.params = int(p[7]) | int(p[8])<<8
		case !w.prepare && p[0] != 0 && p[0] != 0xfe:
			n, _, _, err := wire.ReadLenEncInt(p)
			if err != nil {
				w.on = false
				return
			}
			w.cols = int(n)
		default:
			w.on = false // an OK: no result set
		}
		if w.cols == 0 && w.params == 0 {
			w.on = false
		}
		return
	}
	if wire.IsEOF(p) {
		return
	}
	if w.params > 0 {
		w.params--
		return
	}
	w.defs = append(w.defs, bytes.Clone(p))
	if w.cols--; w.cols == 0 {
		w.on = false
	}
}
