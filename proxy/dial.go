package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/rdsmux/rdsmux/iamauth"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// BackendCapabilities are the capabilities the listener asks of backend
// servers. Session-state tracking is left out on both sides of the
// listener (see ClientCapabilities) so that OK packets have the same layout
// for clients and backends and are relayed unchanged.
const BackendCapabilities = wire.DefaultClientCapabilities &^ wire.ClientSessionTrack

// foundRowsSuffix marks a pool partition whose backends are dialed with
// CLIENT_FOUND_ROWS, for clients that asked for it: the flag changes what
// UPDATE reports as affected rows, and it is fixed per connection.
const foundRowsSuffix = "\x00found_rows"

// Backend describes the database server behind the listener and how to
// connect to it. Its Dial method is the pool's Config.Dial:
//
//	b := &proxy.Backend{Addr: "db:3306", Credentials: proxy.SameCredentials(users)}
//	p, err := pool.New(pool.Config{Dial: b.Dial, MaxConnections: 20})
//
// A Backend is read-only once in use.
type Backend struct {
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
	// DialContext opens the network connection (a failover-aware dialer,
	// for example); nil means net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// ConnectOptions tune the retries through credential rotation (see
	// iamauth.Connect).
	ConnectOptions []iamauth.ConnectOption
	// MaxPacketSize limits packets read from the server; 0 means
	// wire.DefaultMaxPacketSize.
	MaxPacketSize int
}

// SameCredentials maps every client user to the database account with the
// same name and password, as when the listener's users are the database's
// own: a client user missing from users has no backend credentials.
func SameCredentials(users StaticUsers) func(user string) (iamauth.Provider, error) {
	return func(user string) (iamauth.Provider, error) {
		pw, ok := users[user]
		if !ok {
			return nil, fmt.Errorf("rdsmux/proxy: no backend credentials for user %q", user)
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
func (b *Backend) Dial(ctx context.Context, key string) (pool.Conn, error) {
	user, foundRows := strings.CutSuffix(key, foundRowsSuffix)
	if b.Credentials == nil {
		return nil, errors.New("rdsmux/proxy: Backend.Credentials is not set; say which database account serves each client user")
	}
	prov, err := b.Credentials(user)
	if err != nil {
		return nil, err
	}
	caps := BackendCapabilities
	if foundRows {
		caps |= wire.ClientFoundRows
	}
	cc, err := iamauth.Connect(ctx, prov, func(ctx context.Context, cred iamauth.Credential) (*wire.ClientConn, error) {
		cc, err := b.connect(ctx, cred, caps)
		return cc, markAccessDenied(err)
	}, b.ConnectOptions...)
	if err != nil {
		return nil, err
	}
	return newBackendConn(cc, b.StatementCacheSize), nil
}

// connect dials and authenticates one connection with cred.
func (b *Backend) connect(ctx context.Context, cred iamauth.Credential, caps wire.Capability) (*wire.ClientConn, error) {
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
		return nil, fmt.Errorf("rdsmux/proxy: credentials from %s must be sent in clear text (an IAM token); set Backend.TLSConfig so they travel over TLS", cred.Source)
	}
	addr, dial := b.Addr, b.DialContext
	if a, ok := ctx.Value(exactAddrKey{}).(string); ok {
		// A control connection to one server: not wherever DialContext
		// (a failover dialer) would go now.
		var d net.Dialer
		addr, dial = a, d.DialContext
	}
	if dial == nil {
		return wire.Dial(ctx, addr, cfg)
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rdsmux/proxy: dialing %s: %w", addr, err)
	}
	if cfg.TLSConfig != nil && cfg.TLSConfig.ServerName == "" && !cfg.TLSConfig.InsecureSkipVerify {
		host, _, _ := net.SplitHostPort(b.Addr)
		cfg.TLSConfig = cfg.TLSConfig.Clone()
		cfg.TLSConfig.ServerName = host
	}
	cc, err := wire.Connect(ctx, nc, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return cc, nil
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

// exactAddrKey is the context key under which the Server asks Backend.Dial
// (through pool.DialControl) for a connection to one server address, the
// one a statement to KILL runs on, bypassing Backend.DialContext.
type exactAddrKey struct{}
