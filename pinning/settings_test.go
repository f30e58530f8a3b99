package pinning

import "testing"

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
		if !ok || v != tc.v || replay != tc.replay {
			t.Errorf("LookupVar(%q) = %v, %q, %v", tc.name, v, replay, ok)
		}
	}
	for _, name := range []string{"", "profiling", "sql_log_bin", "autocommitx"} {
		if _, _, ok := LookupVar(name); ok {
			t.Errorf("LookupVar(%q) found", name)
		}
	}
	for v := Var(1); int(v) < NumVars; v++ {
		if v == VarClientCollation {
			if _, _, ok := LookupVar(v.String()); ok {
				t.Errorf("%v is no server variable but looks up", v)
			}
			continue
		}
		if got, _, ok := LookupVar(v.String()); !ok || got != v {
			t.Errorf("%v does not look up to itself", v)
		}
		if varKinds[v] == kindReadBack && v != VarOptimizerSwitch {
			t.Errorf("%v has no value kind", v)
		}
	}
}

func TestSettingsBasics(t *testing.T) {
	var s, o Settings
	s.Set(VarWaitTimeout, "60")
	s.SetAs(VarTransactionIsolation, "tx_isolation", "'SERIALIZABLE'")
	if s.Len() != 2 || s.IsZero() {
		t.Fatalf("Len = %d", s.Len())
	}
	if v, ok := s.Get(VarWaitTimeout); !ok || v != "60" {
		t.Errorf("Get = %q, %v", v, ok)
	}
	if s.Name(VarTransactionIsolation) != "tx_isolation" || s.Name(VarWaitTimeout) != "wait_timeout" {
		t.Errorf("names %q %q", s.Name(VarTransactionIsolation), s.Name(VarWaitTimeout))
	}
	o.Set(VarTransactionIsolation, "'SERIALIZABLE'")
	o.Set(VarWaitTimeout, "60")
	if !s.Equal(&o) || s.Key() != o.Key() {
		t.Errorf("not equal: %q %q", s.Key(), o.Key())
	}
	s.Set(VarWaitTimeout, "DEFAULT")
	if _, ok := s.Get(VarWaitTimeout); ok {
		t.Error("DEFAULT did not unset")
	}
	if s.Vars() != VarSet(0).Add(VarTransactionIsolation) {
		t.Errorf("Vars = %v", s.Vars())
	}
	s.Reset()
	if !s.IsZero() || s.Key() != "" {
		t.Error("Reset")
	}
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
		if got := settings(tc.to).Diff(settings(tc.from)); got != tc.want {
			t.Errorf("%q -> %q:\n got %q\nwant %q", tc.from, tc.to, got, tc.want)
		}
	}
	s := settings("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED, READ ONLY")
	if got := s.DiffAs(&Settings{}, SpellLegacy); got != "SET SESSION tx_isolation='READ-COMMITTED', tx_read_only=1" {
		t.Errorf("legacy spelling: %q", got)
	}
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
		if got := SpellingFor(tc.version); got != tc.want {
			t.Errorf("SpellingFor(%q) = %v, want %v", tc.version, got, tc.want)
		}
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
		if got := ServerValue(tc.v, tc.raw, tc.null); got != tc.want {
			t.Errorf("ServerValue(%v, %q) = %q, want %q", tc.v, tc.raw, got, tc.want)
		}
	}
}

func TestReasonsAndFlags(t *testing.T) {
	seen := map[string]bool{}
	for p := PinReason(1); int(p) < NumPinReasons; p++ {
		name := p.String()
		if name == "" || seen[name] {
			t.Errorf("reason %d: name %q", p, name)
		}
		seen[name] = true
		if q, ok := ParsePinReason(name); !ok || q != p {
			t.Errorf("ParsePinReason(%q) = %v, %v", name, q, ok)
		}
	}
	if PinReason(200).String() != "unknown" {
		t.Error("out of range reason")
	}
	var s PinReasons
	s = s.Add(PinUserVariable).Add(PinGetLock).Add(PinNone)
	if s.Len() != 2 || !s.Has(PinGetLock) || s.String() != "get-lock,user-variable" {
		t.Errorf("PinReasons %v", s)
	}
	if s.Remove(PinGetLock).String() != "user-variable" {
		t.Error("Remove")
	}
	if f := TxBegin | TxCommit | TxSetAutocommit; f.String() != "begin,commit,set-autocommit" || !f.Has(TxBegin|TxCommit) || f.Has(TxRollback) {
		t.Errorf("TxFlags %v", f)
	}
	if m := VarSet(0).Add(VarSQLMode).Add(VarAutocommit).Add(VarInvalid); m.String() != "autocommit,sql_mode" || m.Len() != 2 {
		t.Errorf("VarSet %v", m)
	}
}
