package iamauth

import (
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/go-sql-driver/mysql"
)

// BeforeConnect returns a go-sql-driver option that, for every new
// connection, asks p for a credential and sets its user and password on the
// connection's private copy of the config. For a Cleartext credential (an IAM
// token) it also enables allowCleartextPasswords, and refuses with
// ErrTLSRequired, before dialing, unless the config has verified TLS without
// plaintext fallback.
//
// The hook alone cannot retry when the server rejects the credential: for
// rotation tolerance use NewConnector, which wraps the same hook in Connect.
func BeforeConnect(p Provider) mysql.Option {
	return mysql.BeforeConnect(func(ctx context.Context, cfg *mysql.Config) error {
		slot, _ := ctx.Value(slotKey{}).(*credSlot)
		var cred Credential
		if slot != nil {
			cred = slot.cred
			slot.cfg = cfg
		} else {
			c, err := p.Credentials(ctx)
			if err != nil {
				return fmt.Errorf("iamauth: getting database credentials: %w", err)
			}
			cred = c
		}
		return applyCredential(cfg, cred)
	})
}

// applyCredential sets c on cfg, a per-connection clone.
func applyCredential(cfg *mysql.Config, c Credential) error {
	if c.Cleartext {
		if err := checkTLS(cfg); err != nil {
			return err
		}
		cfg.AllowCleartextPasswords = true
	}
	if c.User != "" {
		cfg.User = c.User
	}
	cfg.Passwd = c.Password
	return nil
}

// checkTLS refuses configs that could send a cleartext password unencrypted
// or to an unverified peer.
func checkTLS(cfg *mysql.Config) error {
	switch {
	case cfg.TLS == nil:
		return fmt.Errorf("%w: the connection to %s has no TLS; register a tls.Config that trusts the server (mysql.RegisterTLSConfig) and add tls=<name> to the DSN, or set Config.TLS", ErrTLSRequired, cfg.Addr)
	case cfg.AllowFallbackToPlaintext:
		return fmt.Errorf("%w: the connection to %s allows fallback to plaintext (tls=preferred); require TLS instead", ErrTLSRequired, cfg.Addr)
	case cfg.TLS.InsecureSkipVerify && cfg.TLS.VerifyPeerCertificate == nil && cfg.TLS.VerifyConnection == nil:
		return fmt.Errorf("%w: the connection to %s does not verify the server certificate (tls=skip-verify), so the token could be handed to an impostor; use a tls.Config with the server's CA", ErrTLSRequired, cfg.Addr)
	}
	return nil
}

// credSlot carries the credential Connect chose into the BeforeConnect hook,
// and the per-connection config back out so its password can be dropped once
// the handshake is over. Owned by one Connector.Connect call.
type credSlot struct {
	cred Credential
	cfg  *mysql.Config
}

type slotKey struct{}

// Connector is a database/sql driver.Connector for go-sql-driver/mysql that
// takes credentials from a Provider and rides out rotation with Connect: a
// new connection rejected with error 1045 makes it invalidate the credential,
// fetch again and retry, for a bounded window, instead of failing the query.
// The password is dropped from the connection's config once the handshake is
// done.
type Connector struct {
	base driver.Connector
	p    Provider
	opts connectOptions
}

var _ driver.Connector = (*Connector)(nil)

// NewConnector returns a Connector for cfg (which is cloned; its User and
// Passwd are ignored in favour of p's) and p.
func NewConnector(cfg *mysql.Config, p Provider, opts ...ConnectOption) (*Connector, error) {
	c := cfg.Clone()
	c.Passwd = ""
	if err := c.Apply(BeforeConnect(p)); err != nil {
		return nil, fmt.Errorf("iamauth: %w", err)
	}
	base, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("iamauth: invalid MySQL config: %w", err)
	}
	return &Connector{base: base, p: p, opts: newConnectOptions(opts)}, nil
}

// Connect implements driver.Connector.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	return connect(ctx, c.p, c.dial, c.opts)
}

func (c *Connector) dial(ctx context.Context, cred Credential) (driver.Conn, error) {
	return c.dialSlot(ctx, &credSlot{cred: cred})
}

func (c *Connector) dialSlot(ctx context.Context, slot *credSlot) (driver.Conn, error) {
	conn, err := c.base.Connect(context.WithValue(ctx, slotKey{}, slot))
	if slot.cfg != nil {
		// The handshake is over: go-sql-driver reads Passwd only while
		// authenticating.
		slot.cfg.Passwd = ""
	}
	return conn, err
}

// Driver implements driver.Connector.
func (c *Connector) Driver() driver.Driver { return c.base.Driver() }
