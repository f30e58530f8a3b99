package proxy

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rdsmux/rdsmux/failover"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// ServerInfo is what a database server announced in its handshake: the
// listener announces the same to its clients (see Server.Target).
type ServerInfo struct {
	// Version is the server's version string, such as
	// "5.5.5-10.11.6-MariaDB" or "8.0.mysql_aurora.3.05.2".
	Version string
	// Capabilities are the capability flags the server offers, MariaDB's
	// extended ones in the upper 32 bits.
	Capabilities wire.Capability
	// MariaDBCapabilities are MariaDB's extended capabilities the server
	// offers (0 for MySQL); they are in Capabilities' upper bits too.
	MariaDBCapabilities uint32
	// Charset is the server's default collation id.
	Charset byte
}

// VersionSuffix is appended to the backend's version string in the
// listener's handshake, so that a client (and SELECT VERSION() users, who
// get the server's own) can tell the listener is there.
const VersionSuffix = "-rdsmux"

// backendDependentCaps are the capabilities the listener offers a client
// only when the backend server has them: their effect is the server's.
const backendDependentCaps = wire.ClientMultiStatements | wire.ClientMultiResults | wire.ClientPSMultiResults |
	wire.ClientFoundRows | wire.ClientTransactions | wire.ClientLocalFiles

// extendedCaps are MariaDB's extended capabilities the listener offers
// clients when the backend's server has them. Extended metadata changes
// column definitions only: the client's backends are dialed with it (their
// own pool partition, see partitionKey) and the definitions are relayed
// unchanged. The metadata cache is emulated by the listener (metacache.go):
// backends are dialed without it and always send definitions.
const extendedCaps = wire.MariaDBClientExtendedMetadata | wire.MariaDBClientCacheMetadata

func serverInfoOf(hs *wire.Handshake) *ServerInfo {
	return &ServerInfo{Version: hs.ServerVersion, Capabilities: hs.Capabilities,
		MariaDBCapabilities: hs.MariaDBCapabilities, Charset: hs.Charset}
}

// ServerInfo returns what the server behind b announced on the newest
// connection b opened (or ReadServerInfo read), or nil when b has not
// reached it yet. Behind a failover.Dialer it follows the writer (or
// reader) each new connection reaches.
func (b *Target) ServerInfo() *ServerInfo { return b.infoHolder().Load() }

// noteServer records the handshake of a new connection.
func (b *Target) noteServer(hs *wire.Handshake) {
	if hs == nil {
		return
	}
	h := b.infoHolder()
	if cur := h.Load(); cur != nil && cur.Version == hs.ServerVersion && cur.Capabilities == hs.Capabilities &&
		cur.MariaDBCapabilities == hs.MariaDBCapabilities && cur.Charset == hs.Charset {
		return
	}
	h.Store(serverInfoOf(hs))
}

// ReadServerInfo connects to the server the next backend connection would
// reach, reads its handshake and hangs up without authenticating (no
// credentials are needed), and records what it announced (ServerInfo).
func (b *Target) ReadServerInfo(ctx context.Context) (*ServerInfo, error) {
	var nc net.Conn
	var err error
	addr := b.Addr
	switch {
	case b.Failover != nil:
		var h failover.Host
		nc, h, err = b.Failover.DialHost(ctx)
		if err == nil {
			addr = h.Addr
		}
	case b.DialContext != nil:
		nc, err = b.DialContext(ctx, "tcp", b.Addr)
	default:
		var d net.Dialer
		nc, err = d.DialContext(ctx, "tcp", b.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("proxy: reading the database's handshake: dialing %s: %w", addr, err)
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	c := wire.NewConn(nc)
	c.SetMaxPacketSize(wire.MaxHandshakePacketSize)
	p, err := c.ReadPacket()
	if err != nil {
		return nil, fmt.Errorf("proxy: reading the handshake of %s: %w", addr, err)
	}
	hs, err := wire.ParseHandshake(p)
	if err != nil {
		return nil, fmt.Errorf("proxy: the handshake of %s: %w", addr, err)
	}
	b.noteServer(hs)
	return b.ServerInfo(), nil
}

// identity is what the listener announces for the backend's info: the
// server's version with VersionSuffix (unless Server.ServerVersion names
// one), the listener's capabilities less those the server lacks, the
// server's default collation.
func (s *Server) identity() *wire.ServerIdentity {
	info := s.Target.ServerInfo()
	if info == nil {
		return nil
	}
	if c := s.ident.Load(); c != nil && c.from == info {
		return c.id
	}
	id := &wire.ServerIdentity{
		Version:      s.ServerVersion,
		Capabilities: s.clientCaps() &^ (backendDependentCaps &^ info.Capabilities),
		Charset:      info.Charset,
	}
	if info.Capabilities&wire.ClientLongPassword == 0 {
		// A MariaDB server: announced as one (no CLIENT_MYSQL), with the
		// extended capabilities the listener relays (extendedCaps).
		id.Capabilities &^= wire.ClientLongPassword
		id.Capabilities |= info.Capabilities & extendedCaps
	}
	if id.Version == "" {
		id.Version = strings.TrimSuffix(info.Version, VersionSuffix) + VersionSuffix
	}
	s.ident.Store(&identCache{from: info, id: id})
	return id
}

// identCache is the identity computed from one ServerInfo.
type identCache struct {
	from *ServerInfo
	id   *wire.ServerIdentity
}

// clientCaps are the capabilities the listener offers clients before the
// backend's are taken into account.
func (s *Server) clientCaps() wire.Capability {
	if s.DisableLocalInfile {
		return ClientCapabilities &^ wire.ClientLocalFiles
	}
	return ClientCapabilities
}

// serverInfoTimeout bounds Serve's first read of the backend's handshake.
const serverInfoTimeout = 5 * time.Second

// readServerInfo reads the backend's handshake once, when Serve starts and
// no backend connection has told it yet. A failure is logged; the listener
// then announces wire.DefaultServerVersion until a backend connection opens.
func (s *Server) readServerInfo() {
	if s.Target == nil || s.Target.ServerInfo() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, serverInfoTimeout)
	defer cancel()
	info, err := s.Target.ReadServerInfo(ctx)
	if err != nil {
		s.log.Warn("proxy: could not read the database's version; announcing the default until a backend connection opens", "err", err)
		return
	}
	s.log.Info("proxy: announcing the database's version", "version", info.Version)
}

// infoHolder returns b's ServerInfo holder.
func (b *Target) infoHolder() *atomic.Pointer[ServerInfo] { return &b.info }
