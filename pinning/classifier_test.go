package pinning

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func classify(c *Classifier, sql string) *Result {
	var r Result
	c.Classify(sql, &r)
	return &r
}

func TestFilterExcludeVariableSets(t *testing.T) {
	f, err := ParseFilters("exclude_variable_sets")
	require.NoError(t, err, "ParseFilters = %v, %v", f, err)
	require.Equal(t, ExcludeVariableSets, f, "ParseFilters = %v, %v", f, err)
	c := NewClassifier(WithFilters(f))
	for _, tc := range []struct{ sql, want string }{
		{"SET @x = 1", "n=1"},
		{"SET profiling = 1, sql_log_bin = 0, session_track_gtids = OWN_GTID", "n=1"},
		{"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", "n=1"},
		{"SET sql_mode = @m", "n=1 readback[sql_mode]"},
		{"SET @x = GET_LOCK('a', 1)", "n=1 pins=get-lock"},
		{"SELECT @x", "n=1 pins=user-variable ro"},
		{"SET STATEMENT max_statement_time = 1 FOR SELECT @x", "n=1 pins=user-variable ro"},
		{"/*!40101 SET @OLD = @@sql_mode */", "n=1"},
		{"SET autocommit = 0", "n=1 tx=set-autocommit set[autocommit=0]"},
	} {
		got := classify(c, tc.sql).String()
		assert.Equal(t, tc.want, got, "%s: got %s, want %s", tc.sql, got, tc.want)
	}
}

func TestParseFilters(t *testing.T) {
	for _, s := range []string{"", " ", "EXCLUDE_VARIABLE_SETS", "EXCLUDE_VARIABLE_SETS, exclude_variable_sets"} {
		f, err := ParseFilters(s)
		assert.NoError(t, err, "ParseFilters(%q): %v", s, err)
		assert.Equal(t, (f == ExcludeVariableSets), (s != "" && s != " "), "ParseFilters(%q) = %v", s, f)
	}
	_, err := ParseFilters("EXCLUDE_VARIABLE_SETS,NOPE")
	assert.ErrorContains(t, err, "NOPE", "unknown filter: err = %v", err)
	s := ExcludeVariableSets.String()
	assert.Equal(t, "EXCLUDE_VARIABLE_SETS", s, "String = %q", s)
	c := NewClassifier(WithFilters(ExcludeVariableSets))
	assert.Equal(t, ExcludeVariableSets, c.Filters(), "Filters = %v", c.Filters())
}

func TestMaxStatementLen(t *testing.T) {
	long := "SELECT '" + strings.Repeat("x", DefaultMaxStatementLen) + "'"
	got := classify(NewClassifier(), long).String()
	assert.Equal(t, "n=1 pins=statement-too-long", got, "default limit: %s", got)
	got = classify(NewClassifier(WithMaxStatementLen(-1)), long).String()
	assert.Equal(t, "n=1 ro", got, "no limit: %s", got)
	got = classify(NewClassifier(WithMaxStatementLen(11)), "SELECT 12345").String()
	assert.Equal(t, "n=1 pins=statement-too-long", got, "limit 11: %s", got)
	got = classify(NewClassifier(WithMaxStatementLen(12)), "SELECT 12345").String()
	assert.Equal(t, "n=1 ro", got, "limit 11: %s", got)
}

func TestNoBackslashEscapes(t *testing.T) {
	sql := `SELECT 'a\', @x, '' FROM t`
	got := classify(NewClassifier(), sql).String()
	assert.Equal(t, "n=1 ro", got, "backslash escapes: %s", got)
	got = classify(NewClassifier(WithNoBackslashEscapes()), sql).String()
	assert.Equal(t, "n=1 pins=user-variable ro", got, "NO_BACKSLASH_ESCAPES: %s", got)
	var s Settings
	r := classify(NewClassifier(), "SET sql_mode = 'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES'")
	r.Apply(&s)
	assert.True(t, s.NoBackslashEscapes(), "Settings.NoBackslashEscapes = false")
}

func TestMultiLine(t *testing.T) {
	c := NewClassifier()
	for _, tc := range []struct{ sql, want string }{
		{"SELECT a -- @x\n, @y FROM t", "n=1 pins=user-variable ro"},
		{"SELECT a # @x\r\nFROM t", "n=1 ro"},
		{"SELECT 1;\n-- comment\nSET @a = 1;\n", "n=2 pins=user-variable"},
		{"/* multi\nline @x */\nBEGIN", "n=1 tx=begin unpins=lock-tables"},
		{"SET NAMES utf8mb4\n  COLLATE\n  utf8mb4_bin", "n=1 set[character_set_client='utf8mb4' character_set_connection='utf8mb4' character_set_results='utf8mb4' collation_connection='utf8mb4_bin']"},
		{"CREATE PROCEDURE p()\nBEGIN\n  SET @x = 1;\n  SELECT 1;\nEND;\nSELECT 2", "n=2 tx=implicit-commit"},
	} {
		got := classify(c, tc.sql).String()
		assert.Equal(t, tc.want, got, "%q: got %s, want %s", tc.sql, got, tc.want)
	}
}

func TestResultReuse(t *testing.T) {
	c := NewClassifier()
	var r Result
	c.Classify("SET @@session.tx_isolation = @x, NAMES latin1; USE db; DROP DATABASE db; BEGIN", &r)
	require.NotEqual(t, "n=0", r.String(), "nothing classified")
	c.Classify("SELECT 1", &r)
	got := r.String()
	assert.Equal(t, "n=1 ro", got, "reused Result: %s", got)
	assert.Equal(t, "transaction_isolation", r.ReadBackName(VarTransactionIsolation), "stale read-back name %q", r.ReadBackName(VarTransactionIsolation))
}

func TestReadBack(t *testing.T) {
	c := NewClassifier()
	r := classify(c, "SET @@session.tx_isolation = @x, sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES'), character set utf8mb4")
	want := "SELECT @@SESSION.character_set_connection, @@SESSION.collation_connection, @@SESSION.sql_mode, @@SESSION.tx_isolation"
	got := r.ReadBackQuery(SpellCanonical)
	assert.Equal(t, want, got, "ReadBackQuery = %q, want %q", got, want)
	r = classify(c, "SET autocommit = 1")
	got = r.ReadBackQuery(SpellLegacy)
	assert.Equal(t, "", got, "nothing to read back: %q", got)
	// A later literal assignment in the same statement wins over a read-back.
	r = classify(c, "SET sql_mode = @m, sql_mode = ''")
	got = r.String()
	assert.Equal(t, "n=1 pins=user-variable set[sql_mode='']", got, "later literal: %s", got)
	r = classify(c, "SET sql_mode = '', sql_mode = DEFAULT; SET wait_timeout = DEFAULT; SET wait_timeout = 5")
	got = r.String()
	assert.Equal(t, "n=3 set[wait_timeout=5] default[sql_mode]", got, "later assignments: %s", got)
}

func TestSchemaAfter(t *testing.T) {
	c := NewClassifier()
	for _, tc := range []struct{ sql, cur, want string }{
		{"SELECT 1", "a", "a"},
		{"USE b", "a", "b"},
		{"DROP DATABASE a", "a", ""},
		{"DROP DATABASE x", "a", "a"},
		{"USE b; DROP DATABASE b", "a", ""},
		{"DROP DATABASE b; USE b", "a", "b"},
		{"USE b; DROP DATABASE a", "a", "b"},
		{"DROP DATABASE a; USE b", "a", "b"},
		{"USE `x``y`", "", "x`y"},
	} {
		got := classify(c, tc.sql).SchemaAfter(tc.cur)
		assert.Equal(t, tc.want, got, "%s from %q: %q, want %q", tc.sql, tc.cur, got, tc.want)
	}
}

func TestLastInsertID(t *testing.T) {
	c := NewClassifier()
	for _, tc := range []struct {
		sql       string
		reads     bool
		pinnedSet bool
	}{
		{"SELECT LAST_INSERT_ID()", true, false},
		{"SELECT LAST_INSERT_ID ( ) + 1", true, false},
		{"SELECT LAST_INSERT_ID(7)", false, true},
		{"SELECT last_insert_id", false, false},
		{"SELECT 'LAST_INSERT_ID()'", false, false},
		{"SELECT `LAST_INSERT_ID`()", false, false},
		{"SELECT LAST_INSERT_ID(", false, true},
		{"SELECT @@IDENTITY, @@session.last_insert_id", true, false},
	} {
		r := classify(c, tc.sql)
		assert.False(t, r.ReadsLastInsertID != tc.reads || r.Pins.Has(PinLastInsertIDSet) != tc.pinnedSet, "%s: %s", tc.sql, r.String())
	}
}

func TestExecutableComment(t *testing.T) {
	c := NewClassifier()
	for _, tc := range []struct{ sql, want string }{
		{"/*!50000 LOCK TABLES t WRITE */", "n=1 tx=implicit-commit pins=lock-tables,executable-comment"},
		{"SELECT 1 /*!50000 , GET_LOCK('a', 1) */", "n=1 pins=get-lock,executable-comment"},
		{"SELECT 1 /*M!100000 , FOUND_ROWS() */", "n=1 pins=found-rows,executable-comment ro"},
		{"SELECT 1 /* , FOUND_ROWS() */", "n=1 ro"},
		{"SELECT 1 /*!, 2 */ + @x", "n=1 pins=user-variable ro"},
		{"/*!40101 SET NAMES latin1 */", "n=1 set[character_set_client='latin1' character_set_connection='latin1' character_set_results='latin1'] default[collation_connection]"},
	} {
		got := classify(c, tc.sql).String()
		assert.Equal(t, tc.want, got, "%s: got %s, want %s", tc.sql, got, tc.want)
	}
}

// TestNoAllocs checks that the common statements (reads, writes,
// transaction control, tracked SETs with literal values) classify without
// allocating.
func TestNoAllocs(t *testing.T) {
	c := NewClassifier()
	var r Result
	for _, sql := range []string{
		"SELECT `users`.* FROM `users` WHERE `users`.`id` = 1 LIMIT 1",
		"INSERT INTO t (a, b) VALUES (1, 'x')",
		"UPDATE t SET a = a + 1 WHERE id = 2",
		"BEGIN", "COMMIT", "ROLLBACK", "START TRANSACTION READ ONLY",
		"SET NAMES utf8mb4", "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci", "SET NAMES 'utf8mb4' COLLATE 'utf8mb4_general_ci'",
		"SET autocommit=0", "SET autocommit = ON",
		"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
		"set session sql_mode='ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
		"SET time_zone = '+00:00'", "SET time_zone = 'SYSTEM'", "SET tx_isolation = 'READ-COMMITTED'",
		"SET wait_timeout = 28800, net_write_timeout = 600", "SET FOREIGN_KEY_CHECKS = 0",
		"SET max_statement_time = 1.5", "SET default_storage_engine = InnoDB",
		"SET @@SESSION.sql_mode = CONCAT(@@sql_mode, ',STRICT_ALL_TABLES'), @@SESSION.sql_auto_is_null = 0",
		"USE app", "SELECT LAST_INSERT_ID()",
	} {
		n := testing.AllocsPerRun(20, func() { c.Classify(sql, &r) })
		assert.Equal(t, float64(0), n, "%s: %v allocations", sql, n)
	}
}

// TestCorpusRoundTrip replays every corpus statement's settings: the SET
// statement Diff writes must classify to the same settings.
func TestCorpusRoundTrip(t *testing.T) {
	_, entries := readCorpus(t)
	c := NewClassifier()
	n := 0
	for _, e := range entries {
		r := classify(c, e.sql)
		if r.Settings.IsZero() {
			continue
		}
		n++
		var s Settings
		r.Apply(&s)
		for _, sp := range []Spelling{SpellCanonical, SpellLegacy} {
			diff := s.DiffAs(&Settings{}, sp)
			r2 := classify(c, diff)
			assert.False(t, r2.Pinned() || r2.ReadBack != 0, "%s: replay %q: %s", e.sql, diff, r2.String())
			var s2 Settings
			r2.Apply(&s2)
			assert.True(t, s2.Equal(&s), "%s: replay %q recorded %q, want %q", e.sql, diff, s2.Key(), s.Key())
			again := s2.DiffAs(&s, sp)
			assert.Equal(t, "", again, "%s: diff after replay: %q", e.sql, again)
		}
	}
	assert.GreaterOrEqual(t, n, 100, "only %d corpus statements change settings", n)
}

// TestBareTransactionVariableSetsNextTransaction: @@tx_read_only = 1 with no
// scope sets the next transaction only (the session's value stays 0 on
// MariaDB and MySQL), leaving state no variable shows: it pins, as SET
// TRANSACTION does. With a scope it is the session's setting.
func TestBareTransactionVariableSetsNextTransaction(t *testing.T) {
	c := NewClassifier()
	var r Result
	for sql, pin := range map[string]bool{
		"SET @@tx_read_only = 1":                         true,
		"SET @@transaction_isolation = 'READ-COMMITTED'": true,
		"SET join_buffer_size=262144, @@tx_read_only=1":  true,
		"SET @@session.tx_read_only = 1":                 false,
		"SET SESSION tx_isolation = 'READ-COMMITTED'":    false,
		"SET tx_isolation = 'READ-COMMITTED'":            false,
		"SET @@local.transaction_read_only = 1":          false,
		"SET @@time_zone = '+00:00'":                     false,
	} {
		c.Classify(sql, &r)
		got := r.Pins.Has(PinSetTransactionNext)
		assert.Equal(t, pin, got, "%s: pins set-transaction-next = %v, want %v", sql, got, pin)
	}
}

// TestCommitEndsNextTransactionCharacteristics: a COMMIT or ROLLBACK
// returns the next transaction's characteristics to the session's (checked
// against MariaDB: SET TRANSACTION READ ONLY; COMMIT; INSERT succeeds), so
// it releases set-transaction-next; ROLLBACK TO SAVEPOINT does not. In a
// batch the later statement wins.
func TestCommitEndsNextTransactionCharacteristics(t *testing.T) {
	c := NewClassifier()
	var r Result
	for _, tc := range []struct {
		sql        string
		pin, unpin bool
	}{
		{"COMMIT", false, true},
		{"ROLLBACK WORK", false, true},
		{"COMMIT AND NO CHAIN", false, true},
		{"ROLLBACK TO SAVEPOINT a", false, false},
		{"SET TRANSACTION READ ONLY; COMMIT", false, true},
		{"COMMIT; SET TRANSACTION READ ONLY", true, false},
		{"SET @@tx_read_only = 1; ROLLBACK", false, true},
	} {
		c.Classify(tc.sql, &r)
		assert.Equal(t, tc.pin, r.Pins.Has(PinSetTransactionNext), "%s: pins", tc.sql)
		assert.Equal(t, tc.unpin, r.Unpins.Has(PinSetTransactionNext), "%s: unpins", tc.sql)
	}
}
