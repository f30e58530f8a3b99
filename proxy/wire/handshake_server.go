package wire

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// DefaultServerVersion is the version string a ServerConn announces unless
// configured otherwise. The "5.5.5-" prefix is MariaDB's convention, which
// clients recognize.
const DefaultServerVersion = "5.5.5-10.11.0-MariaDB-rdsmux"

// DefaultServerCapabilities are the capabilities a ServerConn offers unless
// configured otherwise. ClientSSL is added when a TLS configuration is given;
// compression is never offered.
const DefaultServerCapabilities = ClientLongPassword | ClientFoundRows | ClientLongFlag |
	ClientConnectWithDB | ClientNoSchema | ClientODBC | ClientLocalFiles | ClientIgnoreSpace |
	ClientProtocol41 | ClientInteractive | ClientIgnoreSIGPIPE | ClientTransactions |
	ClientSecureConnection | ClientMultiStatements | ClientMultiResults | ClientPSMultiResults |
	ClientPluginAuth | ClientConnectAttrs | ClientPluginAuthLenencClientData |
	ClientCanHandleExpiredPasswords | ClientSessionTrack | ClientDeprecateEOF

// MaxHandshakePacketSize limits the packets a client sends before it is
// authenticated (the handshake response, auth-switch and full-auth
// answers), whatever ServerConfig.MaxPacketSize says: real ones are a few
// hundred bytes, and clients cap connection attributes at 64 KiB.
const MaxHandshakePacketSize = 128 << 10

// ServerConfig configures the server side of the handshake. It is read-only
// once in use and may be shared by many connections.
type ServerConfig struct {
	// ServerVersion is announced in the handshake; DefaultServerVersion
	// when empty.
	ServerVersion string
	// Capabilities offered to clients; DefaultServerCapabilities when
	// zero. ClientSSL is managed by TLSConfig; compression is removed.
	// Offering MariaDBClientCacheMetadata (with ClientLongPassword
	// unset) obliges the caller to write column counts with
	// AppendColumnCount to the clients that take it.
	Capabilities Capability
	// TLSConfig enables TLS (clients that send an SSLRequest); nil offers
	// no TLS.
	TLSConfig *tls.Config
	// RequireTLS rejects clients that do not switch to TLS.
	RequireTLS bool
	// DefaultAuthPlugin is announced in the handshake: AuthNativePassword
	// (when empty) or AuthCachingSHA2Password. Clients that answer with
	// another plugin the credential can verify keep theirs; otherwise
	// they are asked to switch.
	DefaultAuthPlugin string
	// Lookup returns the credential of a user; ErrUnknownUser (wrapped or
	// not) for a user it does not know. Any other error ends the handshake
	// with an error packet that does not reveal it. Required.
	Lookup func(ctx context.Context, user string) (Credential, error)
	// Authorize, if set, is called after the password was verified and
	// before the final OK, e.g. to check the requested database. An
	// *Error it returns is sent to the client as is; another error is
	// sent as access denied.
	Authorize func(ctx context.Context, r *HandshakeResponse) error
	// RSAKey enables caching_sha2_password full authentication over
	// connections without TLS (the client encrypts the password with its
	// public key). Without it, full auth needs TLS.
	RSAKey *rsa.PrivateKey
	// AllowClearPassword lets clients authenticate with
	// mysql_clear_password, over TLS only.
	AllowClearPassword bool
	// MaxPacketSize limits the packets read from clients once they are
	// authenticated; see Conn.SetMaxPacketSize. Before, the limit is
	// MaxHandshakePacketSize (or MaxPacketSize when smaller).
	MaxPacketSize int
	// Charset is the server's default collation id announced in the
	// handshake; utf8mb4_general_ci when zero.
	Charset byte
	// Identity, if set, is asked at each handshake what to announce: its
	// non-zero fields replace ServerVersion, Capabilities and Charset (a
	// proxy announces the server behind it, which may change). It must be
	// safe for concurrent use; nil means the fields above.
	Identity func() *ServerIdentity
}

// ServerIdentity is what a ServerConn announces about the server in the
// handshake; see ServerConfig.Identity.
type ServerIdentity struct {
	Version string // server version string
	// Capabilities offered (as ServerConfig.Capabilities), MariaDB's
	// extended ones included: they are offered when ClientLongPassword
	// is not.
	Capabilities Capability
	Charset      byte // default collation id
}

// ServerConn is the server side of a client connection that has completed
// the handshake: the listener reads commands from it and writes responses.
type ServerConn struct {
	*Conn
	caps     Capability
	resp     *HandshakeResponse
	plugin   string
	tls      bool
	connID   uint32
	remoteIP string
	nonce    []byte // the handshake's auth nonce, reused by COM_CHANGE_USER
}

// Capabilities returns the capabilities in effect: those both sides set.
func (s *ServerConn) Capabilities() Capability { return s.caps }

// Response returns the client's handshake response (user, database,
// attributes, requested capabilities).
func (s *ServerConn) Response() *HandshakeResponse { return s.resp }

// User returns the authenticated user name.
func (s *ServerConn) User() string { return s.resp.User }

// Database returns the database the client asked for at connect time, or "".
func (s *ServerConn) Database() string { return s.resp.Database }

// AuthPlugin returns the plugin the client authenticated with.
func (s *ServerConn) AuthPlugin() string { return s.plugin }

// TLS reports whether the connection was upgraded to TLS.
func (s *ServerConn) TLS() bool { return s.tls }

// ConnectionID returns the connection id announced in the handshake.
func (s *ServerConn) ConnectionID() uint32 { return s.connID }

// DeprecateEOF reports whether the client uses CLIENT_DEPRECATE_EOF.
func (s *ServerConn) DeprecateEOF() bool { return s.caps&ClientDeprecateEOF != 0 }

// Accept runs the server side of the handshake on nc: it sends Handshake v10,
// upgrades to TLS on an SSLRequest, reads the HandshakeResponse41,
// authenticates the user (switching auth plugins when needed) and sends the
// final OK. On failure it sends the client an error packet where possible
// and returns an error; the caller then closes nc. ctx bounds the whole
// handshake. connID is announced as the connection (thread) id.
func Accept(ctx context.Context, nc net.Conn, cfg *ServerConfig, connID uint32) (*ServerConn, error) {
	if cfg.Lookup == nil {
		return nil, errors.New("wire: ServerConfig.Lookup is required")
	}
	c := NewConn(nc)
	// Until the client is authenticated, its packets are held to the
	// handshake limit: a stranger must not make the server wait for, and
	// make room for, a large packet.
	c.SetMaxPacketSize(cfg.MaxPacketSize)
	c.SetMaxPacketSize(min(c.MaxPacketSize(), MaxHandshakePacketSize))
	s := &ServerConn{Conn: c, connID: connID}
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		s.remoteIP = a.IP.String()
	} else {
		s.remoteIP = "localhost"
	}
	w := watchContext(ctx, nc)
	err := s.handshake(ctx, cfg)
	if err = w.done(err); err != nil {
		return nil, err
	}
	s.SetMaxPacketSize(cfg.MaxPacketSize)
	s.ResetSeq()
	return s, nil
}

// offeredCaps returns the capabilities the server offers under cfg when it
// would offer caps (cfg.Capabilities, or an Identity's).
func (cfg *ServerConfig) offeredCaps(caps Capability) Capability {
	if caps == 0 {
		caps = DefaultServerCapabilities
	}
	caps &^= unsupportedCaps&^serverOnlyCaps | ClientSSL
	caps |= ClientProtocol41 | ClientSecureConnection | ClientPluginAuth
	if cfg.TLSConfig != nil {
		caps |= ClientSSL
	}
	return caps
}

func (s *ServerConn) handshake(ctx context.Context, cfg *ServerConfig) error {
	nonce := newNonce()
	s.nonce = nonce
	version, caps, charset := cfg.ServerVersion, cfg.Capabilities, cfg.Charset
	if cfg.Identity != nil {
		if id := cfg.Identity(); id != nil {
			if id.Version != "" {
				version = id.Version
			}
			if id.Capabilities != 0 {
				caps = id.Capabilities
			}
			if id.Charset != 0 {
				charset = id.Charset
			}
		}
	}
	offered := cfg.offeredCaps(caps)
	plugin := cfg.DefaultAuthPlugin
	if plugin == "" {
		plugin = AuthNativePassword
	}
	if version == "" {
		version = DefaultServerVersion
	}
	if charset == 0 {
		charset = CharsetUTF8MB4GeneralCI
	}
	hs := &Handshake{
		ProtocolVersion: ProtocolVersion,
		ServerVersion:   version,
		ConnectionID:    s.connID,
		AuthData:        nonce,
		Capabilities:    offered,
		Charset:         charset,
		Status:          StatusAutocommit,
		AuthPlugin:      plugin,
	}
	if err := s.WritePacketFlush(AppendHandshake(s.Scratch(), hs)); err != nil {
		return fmt.Errorf("wire: sending the handshake: %w", err)
	}
	p, err := s.ReadPacket()
	if err != nil {
		if errors.Is(err, ErrPacketTooLarge) {
			s.sendErr(offered, NewError(ErNetPacketTooLarge, StateCommLink,
				"Got a packet bigger than %d bytes during the handshake", s.MaxPacketSize()))
		}
		return fmt.Errorf("wire: reading the handshake response: %w", err)
	}
	if IsSSLRequest(p) {
		if cfg.TLSConfig == nil {
			return errors.New("wire: client sent an SSL request but TLS was not offered")
		}
		tc := tls.Server(s.rawConn(), cfg.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("wire: TLS handshake with the client: %w", err)
		}
		if err := s.replaceConn(tc); err != nil {
			return err
		}
		s.tls = true
		if p, err = s.ReadPacket(); err != nil {
			return fmt.Errorf("wire: reading the handshake response over TLS: %w", err)
		}
	}
	resp, err := ParseHandshakeResponse(p)
	if err != nil {
		s.sendErr(offered, NewError(ErHandshakeError, StateCommLink, "Bad handshake"))
		return err
	}
	s.resp = resp
	s.caps = resp.Capabilities & offered
	if cfg.RequireTLS && !s.tls {
		e := NewError(ErSecureTransportNeeded, StateGeneral,
			"Connections using insecure transport are prohibited: connect with TLS (for example --ssl)")
		s.sendErr(s.caps, e)
		return e
	}
	if err := s.authenticate(ctx, cfg, nonce); err != nil {
		return err
	}
	if cfg.Authorize != nil {
		if err := cfg.Authorize(ctx, resp); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				e = s.accessDenied(true)
			}
			s.sendErr(s.caps, e)
			return err
		}
	}
	ok := &OK{Status: StatusAutocommit}
	if err := s.WritePacketFlush(AppendOK(s.Scratch(), s.caps, ok)); err != nil {
		return fmt.Errorf("wire: sending the final OK: %w", err)
	}
	return nil
}

// sendErr writes an error packet on a best-effort basis: the handshake fails
// anyway.
func (s *ServerConn) sendErr(caps Capability, e *Error) {
	_ = s.WritePacketFlush(AppendERR(s.Scratch(), caps|ClientProtocol41, e))
}

func (s *ServerConn) accessDenied(usingPassword bool) *Error {
	using := "NO"
	if usingPassword {
		using = "YES"
	}
	user := ""
	if s.resp != nil {
		user = s.resp.User
	}
	return NewError(ErAccessDenied, StateAccessDenied, "Access denied for user '%s'@'%s' (using password: %s)",
		user, s.remoteIP, using)
}

// newNonce returns a 20-byte random nonce of printable-range bytes without
// NUL or '$', as MySQL servers generate them.
func newNonce() []byte {
	b := make([]byte, nonceLen)
	if _, err := rand.Read(b); err != nil {
		panic("wire: crypto/rand failed: " + err.Error())
	}
	for i := range b {
		b[i] &= 0x7f
		if b[i] == 0 || b[i] == '$' {
			b[i]++
		}
	}
	return b
}
