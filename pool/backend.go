package pool

import (
	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool/internal/core"
)

// Backend is a borrowed backend connection. It belongs to the session that
// borrowed it until the session gives it back (Session.Done, ResetState or
// Close); do not keep it past that.
type Backend struct {
	conn Conn
	pool *Pool
	user string

	// Written by the holding session only; the pool's lock orders the
	// accesses of successive holders.
	res      *core.Resource[*Backend]
	settings pinning.Settings // tracked settings in effect on conn
	schema   string           // current database; "" is the user's default
	tag      string           // tagOf(schema, settings), as the core matches it
	used     bool             // a session ran a statement on conn since it was opened or reset
}

// Conn returns the backend connection; type-assert it to the concrete type
// the Dial function returned.
func (b *Backend) Conn() Conn { return b.conn }

// User returns the user the connection is authenticated as.
func (b *Backend) User() string { return b.user }

// tagOf is the core's tag for a state: "" for the clean state (default
// database, no tracked settings).
func tagOf(schema string, s *pinning.Settings) string {
	if schema == "" && s.IsZero() {
		return ""
	}
	return schema + "\x00" + s.Key()
}
