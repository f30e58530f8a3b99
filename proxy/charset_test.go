package proxy

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/pinning"
)

// TestHandshakeCollationsMatchServer checks the generated collation table
// against the server the tests run: every id below 256 the server knows has
// the server's name and character set.
func TestHandshakeCollationsMatchServer(t *testing.T) {
	db := mariadbtest.Start(t).DB(t)
	rows, err := db.Query("SELECT ID, COLLATION_NAME, CHARACTER_SET_NAME FROM information_schema.COLLATIONS WHERE ID < 256")
	require.NoError(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int
		var name, cs string
		require.NoError(t, rows.Scan(&id, &name, &cs))
		require.Equal(t, name, handshakeCollations[id].name, "collation %d", id)
		require.Equal(t, cs, handshakeCollations[id].charset, "collation %d", id)
		n++
	}
	require.NoError(t, rows.Err())
	require.Greater(t, n, 100)
}

func TestCollationSettings(t *testing.T) {
	s := collationSettings(48) // latin1_general_ci
	for v, want := range map[pinning.Var]string{
		pinning.VarCharacterSetClient:     "'latin1'",
		pinning.VarCharacterSetConnection: "'latin1'",
		pinning.VarCharacterSetResults:    "'latin1'",
		pinning.VarCollationConnection:    "'latin1_general_ci'",
	} {
		got, ok := s.Get(v)
		require.True(t, ok, v.String())
		require.Equal(t, want, got, v.String())
	}
	require.True(t, func() bool { s := collationSettings(0); return s.IsZero() }(), "unknown id")
	require.True(t, func() bool { s := collationSettings(35); return s.IsZero() }(), "ucs2 cannot be a client character set")
}
