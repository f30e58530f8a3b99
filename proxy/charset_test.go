package proxy

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/pinning"
)

// TestHandshakeCollationsMatchServer checks the generated collation table
// against the server the tests run: every id below 256 the server knows has
// the server's name and character set.
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
