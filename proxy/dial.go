package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"

	"github.com/rdsmux/rdsmux/failover"
	"github.com/rdsmux/rdsmux/iamauth"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// BackendCapabilities are the capabilities the listener asks of backend
// servers. Session-state tracking is left out on both sides of the
// listener (see ClientCapabilities) so that OK packets have the same layout
// for clients and backends and are relayed unchanged. LOCAL_FILES lets the
// server ask for a LOAD DATA LOCAL INFILE file: the listener relays the
// request only to a client that enabled it, and refuses for the others.
const BackendCapabilities = wire.DefaultClientCapabilities&^wire.ClientSessionTrack | wire.ClientLocalFiles

// foundRowsSuffix marks a pool partition whose backends are dialed with
// CLIENT_FOUND_ROWS, for clients that asked for it: the flag changes what
// UPDATE reports as affected rows, and it is fixed per connection.
const foundRowsSuffix = "\x00found_rows"

// extMetadataSuffix marks a pool partition whose backends are dialed with
// MariaDB's extended metadata, for clients that asked for it: it changes
// the column definitions the server sends, which are relayed unchanged.
// It follows foundRowsSuffix when both are set.
const extMetadataSuffix = "\x00ext_metadata"

// Target describes the database server behind the listener and how to
// connect to it. Its Dial method is the pool's Config.Dial:
//
//	b := &proxy.Target{Addr: "db:3306", Credentials: proxy.SameCredentials(users)}
//	p, err := pool.New(pool.Config{Dial: b.Dial, MaxConnections: 20})
//
// A Target is read-only once in use.
type Target struct {
	// Addr is the server's "host:port".
	Addr string
	// Credentials returns where the backend credentials for the
	// connections that serve client user come from: a fixed account
	// (iamauth.Static), an IAM token source (iamauth.NewTokenSource, sent
	// as mysql_clear_password over TLS), a Secrets Manager secret... The
	// listener's pool partitions backends by client user, so each client
	// user may map to its own database account. Required.
	Credentials func(user string) (iamauth.Provider, error)
	// TLSConfig makes backend connections use TLS (required for IAM
	// tokens). nil connects without TLS.
	TLSConfig *tls.Config
	// Database is the database backend connections start in; "" none.
	Database string
	// StatementCacheSize bounds the prepared statements cached per backend
	// connection; 0 means DefaultStatementCacheSize.
	StatementCacheSize int
	// DialContext opens the network connection; nil means net.Dialer.
	// Ignored when Failover is set.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Failover, when set, sends backend connections to the cluster's
	// current writer (or a reader: the dialer's Role) instead of Addr: each
	// new connection's role is confirmed on it (Dialer.RoleQuery) and, if
	// wrong, another is tried until the context ends; writer connections
	// are registered with the monitor (Dialer.Track), which closes them
	// when another host becomes the writer, so that a statement stuck on a
	// failed writer fails at once with ErLostBackend (1158) instead of
	// waiting for TCP to give up. Addr then names the cluster in logs; TLS
	// checks each host's own name.
	Failover *failover.Dialer
	// ConnectOptions tune the retries through credential rotation (see
	// iamauth.Connect).
	ConnectOptions []iamauth.ConnectOption
	// MaxPacketSize limits packets read from the server; 0 means
	// wire.DefaultMaxPacketSize.
	MaxPacketSize int

	// info is what the server announced on the newest connection (see
	// ServerInfo); atomic, as connections open concurrently.
	info atomic.Pointer[ServerInfo]
	// readers counts a reader Target's connections per host (reader.go).
	readers readerLoad
}

// SameCredentials maps every client user to the database account with the
// same name and password, as when the listener's users are the database's
// own: a client user missing from users has no backend credentials.
func SameCredentials(users StaticUsers) func(user string) (iamauth.Provider, error) {
	return func(user string) (iamauth.Provider, error) {
		pw, ok := users[user]
		if !ok {
			return nil, fmt.Errorf("proxy: no backend credentials for user %q", user)
		}
		return iamauth.Static{User: user, Password: pw, Source: "static"}, nil
	}
}

// OneAccount maps every client user to the same database account.
func OneAccount(user, password string) func(string) (iamauth.Provider, error) {
	p := iamauth.Static{User: user, Password: password, Source: "static"}
	return func(string) (iamauth.Provider, error) { return p, nil }
}

// Dial opens a backend connection for the connections serving client user
// key (as the pool names the partition). It implements pool.Config.Dial.
func (b *Target) Dial(ctx context.Context, key string) (pool.Conn, error) {
	return b.dial(ctx, key, "")
}

// dial opens a backend connection for partition key: to the server at
// addr when addr is not "" (a control connection to the server a
// statement to KILL runs on, bypassing DialContext and Failover, which go
// wherever the writer is now), else as Dial does. The connection's
// identity is read on it (pool.ReadIdentity), and it can dial its own
// server again (pool.SameServerDialer).
func (b *Target) dial(ctx context.Context, key, addr string) (pool.Conn, error) {
	user, extMetadata := strings.CutSuffix(key, extMetadataSuffix)
	user, foundRows := strings.CutSuffix(user, foundRowsSuffix)
	if b.Credentials == nil {
		return nil, errors.New("proxy: Target.Credentials is not set; say which database account serves each client user")
	}
	prov, err := b.Credentials(user)
	if err != nil {
		return nil, err
	}
	caps := BackendCapabilities
	if foundRows {
		caps |= wire.ClientFoundRows
	}
	if extMetadata {
		caps |= wire.MariaDBClientExtendedMetadata
	}
	var hooks connHooks // of the connection that succeeded
	cc, err := iamauth.Connect(ctx, prov, func(ctx context.Context, cred iamauth.Credential) (*wire.ClientConn, error) {
		cc, h, err := b.connect(ctx, cred, caps, addr)
		if err == nil {
			hooks = h
		}
		return cc, markAccessDenied(err)
	}, b.ConnectOptions...)
	if err != nil {
		return nil, err
	}
	b.noteServer(cc.Handshake())
	be := newBackendConn(cc, b.StatementCacheSize)
	be.untrack, be.reader = hooks.untrack, hooks.reader
	if be.ident, err = pool.ReadIdentity(ctx, be); err != nil {
		_ = be.Close()
		return nil, err
	}
	there := cc.NetConn().RemoteAddr().String()
	be.redial = func(ctx context.Context) (pool.Conn, error) { return b.dial(ctx, key, there) }
	return be, nil
}

// connHooks are what a new connection is tracked by.
type connHooks struct {
	// untrack, when not nil, unregisters the connection from the failover
	// monitor or from its reader's counts (called once, by Close).
	untrack func()
	// reader, when not nil, counts the connection's borrows in its
	// reader's load (reader.go).
	reader *readerSlot
}

// connect dials and authenticates one connection with cred, to addr when
// it is not "" (see dial).
func (b *Target) connect(ctx context.Context, cred iamauth.Credential, caps wire.Capability, addr string) (cc *wire.ClientConn, hooks connHooks, err error) {
	cfg := &wire.ClientConfig{
		User:                   cred.User,
		Password:               cred.Password,
		Database:               b.Database,
		TLSConfig:              b.TLSConfig,
		AllowCleartextPassword: cred.Cleartext,
		Capabilities:           caps,
		MaxPacketSize:          b.MaxPacketSize,
		Attrs:                  []wire.Attr{{Key: "program_name", Value: "rdsmux"}},
	}
	if cred.Cleartext && b.TLSConfig == nil {
		return nil, connHooks{}, fmt.Errorf("proxy: credentials from %s must be sent in clear text (an IAM token); set Target.TLSConfig so they travel over TLS", cred.Source)
	}
	if addr != "" {
		// A control connection to one server: not wherever DialContext
		// or Failover would go now.
		var d net.Dialer
		cc, err := b.handshake(ctx, cfg, d.DialContext, addr)
		return cc, connHooks{}, err
	}
	if b.Failover != nil {
		if b.Failover.Role() == failover.RoleReader {
			return b.connectReader(ctx, cfg) // reader.go
		}
		return b.connectFailover(ctx, cfg)
	}
	if b.DialContext == nil {
		cc, err := wire.Dial(ctx, b.Addr, cfg)
		return cc, connHooks{}, err
	}
	cc, err = b.handshake(ctx, cfg, b.DialContext, b.Addr)
	return cc, connHooks{}, err
}

// handshake dials addr with dial and completes the MySQL handshake; TLS
// checks the name in addr unless the config names a server.
func (b *Target) handshake(ctx context.Context, cfg *wire.ClientConfig, dial func(ctx context.Context, network, addr string) (net.Conn, error), addr string) (*wire.ClientConn, error) {
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("proxy: dialing %s: %w", addr, err)
	}
	return b.handshakeOn(ctx, cfg, nc, addr)
}

// handshakeOn completes the MySQL handshake on nc, a connection to addr.
func (b *Target) handshakeOn(ctx context.Context, cfg *wire.ClientConfig, nc net.Conn, addr string) (*wire.ClientConn, error) {
	if cfg.TLSConfig != nil && cfg.TLSConfig.ServerName == "" && !cfg.TLSConfig.InsecureSkipVerify {
		host, _, _ := net.SplitHostPort(addr)
		c := *cfg
		c.TLSConfig = cfg.TLSConfig.Clone()
		c.TLSConfig.ServerName = host
		cfg = &c
	}
	cc, err := wire.Connect(ctx, nc, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return cc, nil
}

// connectFailover connects to the host b.Failover picks, confirms its role
// and registers a writer connection with the monitor. A host with the
// wrong role (a writer just demoted, a topology not yet refreshed) is
// reported to the monitor by ConfirmRole, and the next pick is tried after
// the dialer's backoff, until ctx ends.
func (b *Target) connectFailover(ctx context.Context, cfg *wire.ClientConfig) (*wire.ClientConn, connHooks, error) {
	d := b.Failover
	for {
		nc, h, err := d.DialHost(ctx)
		if err != nil {
			return nil, connHooks{}, err
		}
		cc, retry, err := b.handshakeConfirmed(ctx, cfg, nc, h)
		if retry {
			continue
		}
		if err != nil {
			return nil, connHooks{}, err
		}
		var untrack func()
		if d.Role() == failover.RoleWriter {
			untrack = d.Track(h, nc)
		}
		return cc, connHooks{untrack: untrack}, nil
	}
}

// handshakeConfirmed logs in on nc, a connection to host h, and confirms
// with the failover dialer that h has the role the dialer wants. A host of
// the wrong role is reported and retry is true once the dialer's backoff
// has passed (the caller picks a host again); other failures are errors.
func (b *Target) handshakeConfirmed(ctx context.Context, cfg *wire.ClientConfig, nc net.Conn, h failover.Host) (cc *wire.ClientConn, retry bool, err error) {
	d := b.Failover
	cc, err = b.handshakeOn(ctx, cfg, nc, h.Addr)
	if err != nil {
		return nil, false, err
	}
	q := d.RoleQuery()
	if q == "" {
		return cc, false, nil
	}
	v, _, err := cc.QueryValue(ctx, q)
	if err == nil {
		err = d.ConfirmRole(h, v != "" && v != "0")
	}
	if err == nil {
		return cc, false, nil
	}
	_ = cc.Close()
	if !errors.Is(err, failover.ErrWrongRole) {
		return nil, false, fmt.Errorf("proxy: checking the role of %s: %w", h.Addr, err)
	}
	if werr := d.Backoff(ctx); werr != nil {
		return nil, false, fmt.Errorf("proxy: waiting for a %s: %w (last tried: %w)", d.Role(), werr, err)
	}
	return nil, true, nil
}

// markAccessDenied wraps a server's refusal of the credential (error 1045)
// with iamauth.ErrAccessDenied, so that iamauth.Connect fetches the
// credential again (a rotated secret, an expired token) before it gives
// up; the *wire.Error stays in the chain for errors.As.
func markAccessDenied(err error) error {
	var e *wire.Error
	if errors.As(err, &e) && e.Code == wire.ErAccessDenied {
		return fmt.Errorf("%w: %w", iamauth.ErrAccessDenied, err)
	}
	return err
}
