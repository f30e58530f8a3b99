package wire

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// DefaultClientCapabilities are the capabilities a ClientConn asks for unless
// configured otherwise; only those the server also offers are used.
const DefaultClientCapabilities = ClientLongPassword | ClientLongFlag | ClientConnectWithDB |
	ClientProtocol41 | ClientTransactions | ClientSecureConnection | ClientMultiStatements |
	ClientMultiResults | ClientPSMultiResults | ClientPluginAuth | ClientConnectAttrs |
	ClientPluginAuthLenencClientData | ClientSessionTrack | ClientDeprecateEOF

// ClientConfig configures the client side of the handshake (towards a
// backend server). It is read-only once in use.
type ClientConfig struct {
	User     string
	Password string // a password, or an IAM auth token with AllowCleartextPassword
	Database string // default schema; none when empty
	// TLSConfig makes the connection switch to TLS, and fail if the
	// server does not support it. Dial fills in ServerName from the
	// address when empty.
	TLSConfig *tls.Config
	// AllowCleartextPassword lets the server ask for mysql_clear_password
	// (IAM auth tokens). The password is sent only over TLS; without TLS
	// the request is refused.
	AllowCleartextPassword bool
	// ServerPublicKey encrypts the password for caching_sha2_password
	// full authentication without TLS.
	ServerPublicKey *rsa.PublicKey
	// AllowPublicKeyRetrieval lets the client ask the server for its RSA
	// key when full authentication happens without TLS and no
	// ServerPublicKey is set. A man in the middle could substitute the
	// key: prefer TLS or ServerPublicKey.
	AllowPublicKeyRetrieval bool
	// Capabilities to ask for; DefaultClientCapabilities when zero.
	// Compression is never asked for.
	Capabilities Capability
	// Attrs are sent as connection attributes.
	Attrs []Attr
	// MaxPacketSize limits packets read from the server (see
	// Conn.SetMaxPacketSize) and is announced to it.
	MaxPacketSize int
	// Charset is the connection's collation id; utf8mb4_general_ci when
	// zero.
	Charset byte
}

// Dial connects to a server at addr ("host:port", TCP) and runs the
// handshake. ctx bounds the dial and the handshake.
func Dial(ctx context.Context, addr string, cfg *ClientConfig) (*ClientConn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("wire: dialing %s: %w", addr, err)
	}
	if cfg.TLSConfig != nil && cfg.TLSConfig.ServerName == "" && !cfg.TLSConfig.InsecureSkipVerify {
		host, _, _ := net.SplitHostPort(addr)
		c := *cfg
		c.TLSConfig = cfg.TLSConfig.Clone()
		c.TLSConfig.ServerName = host
		cfg = &c
	}
	cc, err := Connect(ctx, nc, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return cc, nil
}

// Connect runs the client side of the handshake on an established
// connection: it reads the server's handshake, switches to TLS if
// configured, authenticates and returns the connection ready for commands.
// On error the caller closes nc. A server error (such as access denied or
// too many connections) is returned as an *Error.
func Connect(ctx context.Context, nc net.Conn, cfg *ClientConfig) (*ClientConn, error) {
	c := &ClientConn{Conn: NewConn(nc)}
	c.SetMaxPacketSize(cfg.MaxPacketSize)
	w := watchContext(ctx, nc)
	err := c.handshake(ctx, cfg)
	if err = w.done(err); err != nil {
		return nil, err
	}
	c.ResetSeq()
	return c, nil
}

func (c *ClientConn) handshake(ctx context.Context, cfg *ClientConfig) error {
	p, err := c.ReadPacket()
	if err != nil {
		return fmt.Errorf("wire: reading the server handshake: %w", err)
	}
	hs, err := ParseHandshake(p)
	if err != nil {
		return err
	}
	c.hs = hs
	if !hs.Capabilities.Has(ClientProtocol41 | ClientSecureConnection) {
		return fmt.Errorf("wire: server %q does not support protocol 4.1 with secure authentication", hs.ServerVersion)
	}
	want := cfg.Capabilities
	if want == 0 {
		want = DefaultClientCapabilities
	}
	want &^= unsupportedCaps | ClientSSL
	want |= ClientProtocol41 | ClientSecureConnection | ClientLongPassword
	if cfg.Database == "" {
		want &^= ClientConnectWithDB
	}
	if cfg.TLSConfig != nil {
		if hs.Capabilities&ClientSSL == 0 {
			return fmt.Errorf("wire: server %q does not support TLS; connect without a TLSConfig or enable TLS on the server", hs.ServerVersion)
		}
		want |= ClientSSL
	}
	caps := want & (hs.Capabilities | ClientLongPassword)
	if caps&mariaDBCaps != 0 {
		// MariaDB's extended capabilities are read only from a client
		// that does not set CLIENT_MYSQL.
		caps &^= ClientLongPassword
	}
	c.caps = caps
	c.status = hs.Status
	charset := cfg.Charset
	if charset == 0 {
		charset = CharsetUTF8MB4GeneralCI
	}
	maxPacket := uint32(c.MaxPacketSize())
	if cfg.TLSConfig != nil {
		if err := c.WritePacketFlush(AppendSSLRequest(c.Scratch(), caps, maxPacket, charset)); err != nil {
			return fmt.Errorf("wire: sending the SSL request: %w", err)
		}
		tc := tls.Client(c.rawConn(), cfg.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("wire: TLS handshake with the server: %w", err)
		}
		if err := c.replaceConn(tc); err != nil {
			return err
		}
		c.tls = true
	}
	plugin := hs.AuthPlugin
	if plugin != AuthCachingSHA2Password && plugin != AuthNativePassword {
		// Start with native password; the server switches us if it
		// wants another plugin (mysql_clear_password among them).
		plugin = AuthNativePassword
	}
	authResp, err := c.authResponse(cfg, plugin, hs.AuthData)
	if err != nil {
		return err
	}
	resp := &HandshakeResponse{
		Capabilities:  caps,
		MaxPacketSize: maxPacket,
		Charset:       charset,
		User:          cfg.User,
		AuthResponse:  authResp,
		Database:      cfg.Database,
		AuthPlugin:    plugin,
		Attrs:         cfg.Attrs,
	}
	if err := c.WritePacketFlush(AppendHandshakeResponse(c.Scratch(), resp)); err != nil {
		return fmt.Errorf("wire: sending the handshake response: %w", err)
	}
	return c.authLoop(cfg, plugin, hs.AuthData)
}

// authResponse computes the auth data for plugin and nonce.
func (c *ClientConn) authResponse(cfg *ClientConfig, plugin string, nonce []byte) ([]byte, error) {
	switch plugin {
	case AuthNativePassword:
		return ScrambleNativePassword(nonce, cfg.Password), nil
	case AuthCachingSHA2Password:
		return ScrambleSHA2Password(nonce, cfg.Password), nil
	case AuthClearPassword:
		if !cfg.AllowCleartextPassword {
			return nil, errors.New("wire: server asks for mysql_clear_password, which is not allowed: set ClientConfig.AllowCleartextPassword (it is used over TLS only)")
		}
		if !c.tls {
			return nil, errors.New("wire: server asks for mysql_clear_password over a connection without TLS; refusing to send the password in clear: set ClientConfig.TLSConfig")
		}
		return append([]byte(cfg.Password), 0), nil
	}
	return nil, fmt.Errorf("wire: server asks for unsupported auth plugin %q", plugin)
}

// authLoop reads the server's answers until OK or ERR, following auth
// switches and caching_sha2_password's exchange.
func (c *ClientConn) authLoop(cfg *ClientConfig, plugin string, nonce []byte) error {
	awaitingKey := false
	for {
		p, err := c.ReadPacket()
		if err != nil {
			return fmt.Errorf("wire: reading the authentication result: %w", err)
		}
		if len(p) == 0 {
			return malformed("empty packet during authentication")
		}
		switch p[0] {
		case headerOK:
			var ok OK
			if err := ParseOK(p, c.caps, &ok); err != nil {
				return err
			}
			c.status = ok.Status
			return nil
		case headerERR:
			e, err := ParseERR(p)
			if err != nil {
				return err
			}
			return e
		case authSwitchRequest:
			sw, err := ParseAuthSwitch(p)
			if err != nil {
				return err
			}
			plugin, nonce, awaitingKey = sw.Plugin, sw.Data, false
			resp, err := c.authResponse(cfg, plugin, nonce)
			if err != nil {
				return err
			}
			if err := c.WritePacketFlush(resp); err != nil {
				return fmt.Errorf("wire: answering the auth switch: %w", err)
			}
		case authMoreData:
			if plugin != AuthCachingSHA2Password {
				return fmt.Errorf("wire: unexpected auth data from the server for plugin %s", plugin)
			}
			data := p[1:]
			var reply []byte
			switch {
			case awaitingKey:
				pub, err := ParsePublicKeyPEM(data)
				if err != nil {
					return err
				}
				if reply, err = EncryptPasswordRSA(cfg.Password, nonce, pub); err != nil {
					return err
				}
				awaitingKey = false
			case len(data) == 1 && data[0] == sha2FastAuthSuccess:
				continue // the OK follows
			case len(data) == 1 && data[0] == sha2PerformFullAuth:
				switch {
				case c.tls:
					reply = append([]byte(cfg.Password), 0)
				case cfg.ServerPublicKey != nil:
					if reply, err = EncryptPasswordRSA(cfg.Password, nonce, cfg.ServerPublicKey); err != nil {
						return err
					}
				case cfg.AllowPublicKeyRetrieval:
					reply, awaitingKey = []byte{sha2RequestPublicKey}, true
				default:
					return errors.New("wire: caching_sha2_password full authentication needs TLS or the server's RSA public key: set ClientConfig.TLSConfig, ServerPublicKey or AllowPublicKeyRetrieval")
				}
			default:
				return malformed("unexpected caching_sha2_password data from the server")
			}
			if err := c.WritePacketFlush(reply); err != nil {
				return fmt.Errorf("wire: sending authentication data: %w", err)
			}
		default:
			return malformed("unexpected packet during authentication")
		}
	}
}
