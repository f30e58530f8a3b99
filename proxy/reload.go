package proxy

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/rdsmux/rdsmux/proxy/wire"
)

// ReloadableUsers is a UserLookup whose users can be replaced while the
// Server runs (cmd/rdsmux reloads its credentials file on SIGHUP this
// way). A replacement applies to the next authentication (a new client,
// COM_CHANGE_USER); clients already connected stay connected. Password
// hashes are computed once per Store, not per connection. Use
// NewReloadableUsers.
type ReloadableUsers struct {
	cur atomic.Pointer[reloadableSet]
	mu  sync.Mutex // serializes Store
}

// reloadableSet is one immutable generation of a ReloadableUsers.
type reloadableSet struct {
	passwords StaticUsers
	creds     credentialCache
}

var _ UserLookup = (*ReloadableUsers)(nil)

// UsersChange says what a ReloadableUsers.Store changed, by user name
// (sorted): it carries no passwords, so it can be logged as it is.
type UsersChange struct {
	Added, Removed, Changed []string
}

// Empty reports whether nothing changed.
func (c UsersChange) Empty() bool {
	return len(c.Added)+len(c.Removed)+len(c.Changed) == 0
}

// NewReloadableUsers returns a ReloadableUsers holding users.
func NewReloadableUsers(users StaticUsers) *ReloadableUsers {
	r := &ReloadableUsers{}
	r.Store(users)
	return r
}

// Lookup implements UserLookup.
func (r *ReloadableUsers) Lookup(ctx context.Context, user string) (wire.Credential, error) {
	return r.cur.Load().creds.Lookup(ctx, user)
}

// Store replaces the users with users (which Store copies) and reports
// what changed.
func (r *ReloadableUsers) Store(users StaticUsers) UsersChange {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := &reloadableSet{passwords: make(StaticUsers, len(users)), creds: make(credentialCache, len(users))}
	var ch UsersChange
	old := r.cur.Load()
	for name, pw := range users {
		next.passwords[name] = pw
		if old != nil {
			if oldPW, ok := old.passwords[name]; ok && oldPW == pw {
				next.creds[name] = old.creds[name] // same password: keep the hashes
				continue
			} else if ok {
				ch.Changed = append(ch.Changed, name)
			} else {
				ch.Added = append(ch.Added, name)
			}
		}
		next.creds[name] = wire.CredentialFromPassword(pw)
	}
	if old != nil {
		for name := range old.passwords {
			if _, ok := users[name]; !ok {
				ch.Removed = append(ch.Removed, name)
			}
		}
	}
	slices.Sort(ch.Added)
	slices.Sort(ch.Removed)
	slices.Sort(ch.Changed)
	r.cur.Store(next)
	return ch
}
