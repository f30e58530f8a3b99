package proxy

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/proxy/wire"
)

func TestReloadableUsers(t *testing.T) {
	ctx := context.Background()
	r := NewReloadableUsers(StaticUsers{"app": "pw1", "old": "x", "same": "s"})
	before, err := r.Lookup(ctx, "same")
	require.NoError(t, err)
	ch := r.Store(StaticUsers{"app": "pw2", "new": "n", "same": "s"})
	assert.Equal(t, UsersChange{Added: []string{"new"}, Removed: []string{"old"}, Changed: []string{"app"}}, ch)
	_, err = r.Lookup(ctx, "old")
	assert.ErrorIs(t, err, wire.ErrUnknownUser)
	got, err := r.Lookup(ctx, "app")
	require.NoError(t, err)
	assert.Equal(t, wire.CredentialFromPassword("pw2"), got)
	after, err := r.Lookup(ctx, "same")
	require.NoError(t, err)
	assert.Equal(t, before, after)
	assert.True(t, r.Store(StaticUsers{"app": "pw2", "new": "n", "same": "s"}).Empty())
}
