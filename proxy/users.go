package proxy

import (
	"context"

	"github.com/rdsmux/rdsmux/proxy/wire"
)

// UserLookup tells the listener how to authenticate client users.
type UserLookup interface {
	// Lookup returns what the listener knows of user's password; an
	// error wrapping wire.ErrUnknownUser for a user it does not know
	// (the client is then denied exactly as for a wrong password). It is
	// called for every client connection and COM_CHANGE_USER, and must be
	// safe for concurrent use.
	Lookup(ctx context.Context, user string) (wire.Credential, error)
}

// StaticUsers is a fixed list of client users and their passwords. Clients
// may authenticate with mysql_native_password or caching_sha2_password.
type StaticUsers map[string]string

var _ UserLookup = StaticUsers(nil)

// Lookup implements UserLookup.
func (u StaticUsers) Lookup(_ context.Context, user string) (wire.Credential, error) {
	pw, ok := u[user]
	if !ok {
		return wire.Credential{}, wire.ErrUnknownUser
	}
	return wire.CredentialFromPassword(pw), nil
}

// credentialCache precomputes the credentials of a StaticUsers list: the
// password hashes are computed once, not per connection.
type credentialCache map[string]wire.Credential

func (c credentialCache) Lookup(_ context.Context, user string) (wire.Credential, error) {
	cred, ok := c[user]
	if !ok {
		return wire.Credential{}, wire.ErrUnknownUser
	}
	return cred, nil
}

// precompute returns a lookup with hashes precomputed for static users.
func precompute(u UserLookup) UserLookup {
	su, ok := u.(StaticUsers)
	if !ok {
		return u
	}
	c := make(credentialCache, len(su))
	for name, pw := range su {
		c[name] = wire.CredentialFromPassword(pw)
	}
	return c
}
