package pinning

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLookupVar(t *testing.T) {
	for _, tc := range []struct {
		name   string
		v      Var
		replay string
	}{
		{"autocommit", VarAutocommit, "autocommit"},
		{"AUTOCOMMIT", VarAutocommit, "autocommit"},
		{"TX_ISOLATION", VarTransactionIsolation, "tx_isolation"},
		{"transaction_isolation", VarTransactionIsolation, "transaction_isolation"},
		{"tx_read_only", VarTransactionReadOnly, "tx_read_only"},
		{"Max_Statement_Time", VarMaxStatementTime, "max_statement_time"},
		{"max_recursive_iterations", VarMaxRecursiveIterations, "max_recursive_iterations"},
	} {
		v, replay, ok := LookupVar(tc.name)
		assert.False(t, !ok || v != tc.v || replay != tc.replay, "LookupVar(%q) = %v, %q, %v", tc.name, v, replay, ok)
	}
	for _, name := range []string{"", "profiling", "sql_log_bin", "autocommitx"} {
		_, _, ok := LookupVar(name)
		assert.False(t, ok, "LookupVar(%q) found", name)
	}
	for v := Var(1); int(v) < NumVars; v++ {
		if v == VarClientCollation {
			_, _, ok := LookupVar(v.String())
			assert.False(t, ok, "%v is no server variable but looks up", v)
			continue
		}
		got, _, ok := LookupVar(v.String())
		assert.False(t, !ok || got != v, "%v does not look up to itself", v)
		assert.False(t, varKinds[v] == kindReadBack && v != VarOptimizerSwitch, "%v has no value kind", v)
	}
}

func TestSettingsBasics(t *testing.T) {
	var s, o Settings
	s.Set(VarWaitTimeout, "60")
	s.SetAs(VarTransactionIsolation, "tx_isolation", "'SERIALIZABLE'")
	require.Equal(t, 2, s.Len(), "Len = %d", s.Len())
	require.False(t, s.IsZero(), "Len = %d", s.Len())
	v, ok := s.Get(VarWaitTimeout)
	assert.False(t, !ok || v != "60", "Get = %q, %v", v, ok)
	assert.False(t, s.Name(VarTransactionIsolation) != "tx_isolation" || s.Name(VarWaitTimeout) != "wait_timeout", "names %q %q", s.Name(VarTransactionIsolation), s.Name(VarWaitTimeout))
	o.Set(VarTransactionIsolation, "'SERIALIZABLE'")
	o.Set(VarWaitTimeout, "60")
	assert.False(t, !s.Equal(&o) || s.Key() != o.Key(), "not equal: %q %q", s.Key(), o.Key())
	s.Set(VarWaitTimeout, "DEFAULT")
	_, ok = s.Get(VarWaitTimeout)
	assert.False(t, ok, "DEFAULT did not unset")
	assert.Equal(t, VarSet(0).Add(VarTransactionIsolation), s.Vars(), "Vars = %v", s.Vars())
	s.Reset()
	assert.False(t, !s.IsZero() || s.Key() != "", "Reset")
}

func TestDiff(t *testing.T) {
	c := NewClassifier()
	settings := func(sql string) *Settings {
		var s Settings
		classify(c, sql).Apply(&s)
		return &s
	}
	for _, tc := range []struct{ from, to, want string }{
		{"", "", ""},
		{"SET wait_timeout = 5", "SET wait_timeout = 5", ""},
		{"SET wait_timeout = 5", "", "SET SESSION wait_timeout=DEFAULT"},
		{"", "SET autocommit = 0, wait_timeout = 5", "SET SESSION autocommit=0, wait_timeout=5"},
		// The collation implied by a character set: assign the set again.
		{"SET NAMES utf8mb4 COLLATE utf8mb4_bin", "SET NAMES utf8mb4",
			"SET SESSION character_set_connection='utf8mb4'"},
		{"SET NAMES utf8mb4", "SET NAMES utf8mb4 COLLATE utf8mb4_bin",
			"SET SESSION collation_connection='utf8mb4_bin'"},
		{"SET NAMES latin1 COLLATE latin1_bin", "SET NAMES utf8mb4 COLLATE utf8mb4_bin",
			"SET SESSION character_set_client='utf8mb4', character_set_connection='utf8mb4', character_set_results='utf8mb4', collation_connection='utf8mb4_bin'"},
		{"SET NAMES latin1 COLLATE latin1_bin", "",
			"SET SESSION character_set_client=DEFAULT, character_set_connection=DEFAULT, character_set_results=DEFAULT, collation_connection=DEFAULT"},
		{"SET NAMES latin1", "",
			"SET SESSION character_set_client=DEFAULT, character_set_connection=DEFAULT, character_set_results=DEFAULT, collation_connection=DEFAULT"},
		{"SET collation_server = utf8mb4_bin", "SET character_set_server = utf8mb4",
			"SET SESSION character_set_server='utf8mb4'"},
		// Names as the session wrote them; others in the chosen spelling.
		{"", "SET tx_isolation = 'READ-COMMITTED'", "SET SESSION tx_isolation='READ-COMMITTED'"},
		{"", "SET SESSION TRANSACTION READ ONLY", "SET SESSION transaction_read_only=1"},
	} {
		got := settings(tc.to).Diff(settings(tc.from))
		assert.Equal(t, tc.want, got, "%q -> %q:\n got %q\nwant %q", tc.from, tc.to, got, tc.want)
	}
	s := settings("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED, READ ONLY")
	got := s.DiffAs(&Settings{}, SpellLegacy)
	assert.Equal(t, "SET SESSION tx_isolation='READ-COMMITTED', tx_read_only=1", got, "legacy spelling: %q", got)
}

func TestSpellingFor(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    Spelling
	}{
		{"10.11.19-MariaDB-0+deb12u1", SpellLegacy},
		{"5.5.5-10.6.12-MariaDB-log", SpellLegacy},
		{"11.0.2-MariaDB", SpellLegacy},
		{"11.1.1-MariaDB", SpellCanonical},
		{"11.4.2-MariaDB-ubu2404", SpellCanonical},
		{"12.0.1-MariaDB", SpellCanonical},
		{"8.0.36", SpellCanonical},
		{"8.0.mysql_aurora.3.05.2", SpellCanonical},
		{"5.7.44-log", SpellCanonical},
	} {
		got := SpellingFor(tc.version)
		assert.Equal(t, tc.want, got, "SpellingFor(%q) = %v, want %v", tc.version, got, tc.want)
	}
}

func TestServerValue(t *testing.T) {
	for _, tc := range []struct {
		v    Var
		raw  string
		null bool
		want string
	}{
		{VarAutocommit, "1", false, "1"},
		{VarAutocommit, "OFF", false, "0"},
		{VarWaitTimeout, "0028800", false, "28800"},
		{VarMaxStatementTime, "1.500000", false, "1.5"},
		{VarMaxStatementTime, "10.000000", false, "10"},
		{VarMaxStatementTime, "0.000000", false, "0"},
		{VarCharacterSetResults, "", true, "NULL"},
		{VarCharacterSetClient, "UTF8MB4", false, "'utf8mb4'"},
		{VarTransactionIsolation, "read-committed", false, "'READ-COMMITTED'"},
		{VarSQLMode, "STRICT_TRANS_TABLES,TRADITIONAL", false, "'STRICT_TRANS_TABLES,TRADITIONAL'"},
		{VarTimeZone, "it's", false, "'it''s'"},
		{VarInvalid, "x", false, ""},
	} {
		got := ServerValue(tc.v, tc.raw, tc.null)
		assert.Equal(t, tc.want, got, "ServerValue(%v, %q) = %q, want %q", tc.v, tc.raw, got, tc.want)
	}
}

func TestReasonsAndFlags(t *testing.T) {
	seen := map[string]bool{}
	for p := PinReason(1); int(p) < NumPinReasons; p++ {
		name := p.String()
		assert.False(t, name == "" || seen[name], "reason %d: name %q", p, name)
		seen[name] = true
		q, ok := ParsePinReason(name)
		assert.False(t, !ok || q != p, "ParsePinReason(%q) = %v, %v", name, q, ok)
	}
	assert.Equal(t, "unknown", PinReason(200).String(), "out of range reason")
	var s PinReasons
	s = s.Add(PinUserVariable).Add(PinGetLock).Add(PinNone)
	assert.False(t, s.Len() != 2 || !s.Has(PinGetLock) || s.String() != "get-lock,user-variable", "PinReasons %v", s)
	assert.Equal(t, "user-variable", s.Remove(PinGetLock).String(), "Remove")
	f := TxBegin | TxCommit | TxSetAutocommit
	assert.False(t, f.String() != "begin,commit,set-autocommit" || !f.Has(TxBegin|TxCommit) || f.Has(TxRollback), "TxFlags %v", f)
	m := VarSet(0).Add(VarSQLMode).Add(VarAutocommit).Add(VarInvalid)
	assert.False(t, m.String() != "autocommit,sql_mode" || m.Len() != 2, "VarSet %v", m)
}
