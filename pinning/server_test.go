package pinning_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/pinning"
)

// serverSetStatements are SET statements with tracked variables only, each
// valid on MariaDB 10.11. TestServerValues runs each on a fresh session.
var serverSetStatements = []string{
	"SET NAMES utf8mb4",
	"SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci",
	"SET NAMES utf8 COLLATE utf8_general_ci",
	"SET NAMES latin1 COLLATE latin1_german2_ci",
	"SET NAMES binary",
	"SET NAMES DEFAULT",
	"set names 'utf8mb4' collate 'utf8mb4_unicode_ci'",
	"SET NAMES utf8mb4", // same character set, its default collation again
	"SET NAMES 'UTF8MB4' COLLATE 'UTF8MB4_BIN'",
	"SET CHARACTER SET utf8mb4",
	"SET CHARSET cp1251",
	"SET CHARACTER SET DEFAULT",
	"SET character_set_client = latin1",
	"SET character_set_connection = latin1",
	"SET character_set_results = NULL",
	"SET character_set_results = binary",
	"SET collation_connection = 'utf8mb4_unicode_ci'",
	"SET collation_connection = utf8mb4_swedish_ci",
	"SET collation_connection = DEFAULT",
	"SET character_set_server = utf8mb4",
	"SET collation_server = utf8mb4_bin",
	"SET character_set_server = utf8mb4",
	"SET character_set_database = latin2",
	"SET collation_database = latin2_general_ci",
	"SET autocommit = 0",
	"SET autocommit = true",
	"SET @@session.autocommit = OFF",
	"SET sql_mode = ''",
	"SET sql_mode = 0",
	"SET sql_mode = 'STRICT_TRANS_TABLES'",
	"SET sql_mode = 'ansi_quotes,strict_trans_tables'",
	"SET sql_mode = 'NO_ENGINE_SUBSTITUTION,STRICT_TRANS_TABLES'",
	"set session sql_mode='ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
	"SET sql_mode = 'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES'",
	"SET sql_mode = 'TRADITIONAL'",
	"SET sql_mode = 'ANSI'",
	"SET sql_mode = NO_ENGINE_SUBSTITUTION",
	"SET @@SESSION.sql_mode = CONCAT(@@SESSION.sql_mode, ',STRICT_TRANS_TABLES')",
	"SET time_zone = '+0:00'",
	"SET time_zone = '-05:00'",
	"SET time_zone = '+5:30'",
	"SET time_zone = '-00:00'",
	"SET time_zone = 'SYSTEM'",
	"SET time_zone = 'system'",
	"SET time_zone = _utf8mb4'+02:00'",
	"SET tx_isolation = 'read-committed'",
	"SET @@session.tx_isolation = 1",
	"SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE",
	"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED, READ ONLY",
	"SET SESSION TRANSACTION READ WRITE",
	"SET tx_read_only = ON",
	"SET auto_increment_increment = 2, auto_increment_offset = 1",
	"SET interactive_timeout = 600, wait_timeout = 00600",
	"SET net_write_timeout = 120, net_read_timeout = 90",
	"SET query_cache_type = DEMAND",
	"SET query_cache_type = 0",
	"SET session_track_schema = OFF",
	"SET foreign_key_checks = 0, unique_checks = OFF, sql_safe_updates = ON",
	"SET group_concat_max_len = 1000000",
	"SET max_statement_time = 1.50",
	"SET max_statement_time = 10.000",
	"SET max_statement_time = 0.5",
	"SET innodb_lock_wait_timeout = 50, lock_wait_timeout = 3600",
	"SET sql_select_limit = 100",
	"SET sql_select_limit = DEFAULT",
	"SET sql_auto_is_null = 0, sql_quote_show_create = 0, big_tables = 0, sql_big_selects = 1",
	"SET max_join_size = 1000000",
	"SET div_precision_increment = 8",
	"SET default_storage_engine = 'myisam'",
	"SET default_storage_engine = Aria",
	"SET default_storage_engine = memory",
	"SET lc_time_names = 'de_DE'",
	"SET lc_time_names = EN_us",
	"SET check_constraint_checks = 0, explicit_defaults_for_timestamp = OFF",
	"SET optimizer_switch = 'index_merge=off'",
	"SET innodb_strict_mode = OFF",
	"SET completion_type = 1",
	"SET completion_type = 'no_chain'",
	"SET sql_notes = 0, sql_warnings = 1, sql_buffer_result = 1",
	"SET sort_buffer_size = 1048576, join_buffer_size = 262144, tmp_table_size = 16777216, max_heap_table_size = 16777216",
	"SET max_sp_recursion_depth = 10, max_recursive_iterations = 1000",
	"SET wait_timeout = DEFAULT",
	"SET @@session.wait_timeout = @@global.wait_timeout + 1",
	"SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci,  @@SESSION.sql_mode = CONCAT(CONCAT(@@sql_mode, ',STRICT_ALL_TABLES'), ',NO_AUTO_VALUE_ON_ZERO'),  @@SESSION.sql_auto_is_null = 0, @@SESSION.wait_timeout = 2147483",
	"SET @@SESSION.sql_mode = CONCAT(REPLACE(REPLACE(REPLACE(@@sql_mode, 'STRICT_TRANS_TABLES', ''), 'STRICT_ALL_TABLES', ''), 'TRADITIONAL', ''), ',NO_AUTO_VALUE_ON_ZERO'), @@SESSION.sql_auto_is_null = 0, @@SESSION.wait_timeout = 2147483",
	"set autocommit=1, session_track_schema=1, sql_mode = concat(@@sql_mode,',STRICT_TRANS_TABLES')",
	"/*!40101 SET NAMES utf8mb4 */",
	"/*!40103 SET TIME_ZONE='+00:00' */",
	"SET NAMES utf8mb4, time_zone = '+00:00', autocommit = 0",
	"SET NAMES latin1; SET character_set_results = utf8mb4; SET collation_connection = latin1_bin",
}

// session is one server connection of the test.
type session struct {
	t    *testing.T
	conn *sql.Conn
}

func newSession(t *testing.T, db *sql.DB) *session {
	t.Helper()
	conn, err := db.Conn(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return &session{t: t, conn: conn}
}

func (s *session) exec(query string) {
	s.t.Helper()
	if query == "" {
		return
	}
	_, err := s.conn.ExecContext(context.Background(), query)
	require.NoError(s.t, err, "%s: %v", query, err)
}

// value reads one variable; ok is false if the server does not know it.
func (s *session) value(expr string) (val string, null, ok bool) {
	var v sql.NullString
	if err := s.conn.QueryRowContext(context.Background(), "SELECT "+expr).Scan(&v); err != nil {
		if strings.Contains(err.Error(), "Unknown system variable") {
			return "", false, false
		}
		s.t.Fatalf("SELECT %s: %v", expr, err)
	}
	return v.String, !v.Valid, true
}

// readName is how the test reads v on MariaDB 10.11.
func readName(v pinning.Var) string {
	switch v {
	case pinning.VarTransactionIsolation:
		return "tx_isolation"
	case pinning.VarTransactionReadOnly:
		return "tx_read_only"
	}
	return v.String()
}

// state is every tracked variable the server knows, as it reports them.
func (s *session) state(known []pinning.Var) map[pinning.Var]string {
	m := make(map[pinning.Var]string, len(known))
	for _, v := range known {
		val, null, _ := s.value("@@SESSION." + readName(v))
		if null {
			val = "NULL"
		}
		m[v] = val
	}
	return m
}

// mariaAlias maps the utf8 spellings a MariaDB >= 10.6 reports as utf8mb3.
func mariaAlias(lit string) string {
	if lit == "'utf8'" {
		return "'utf8mb3'"
	}
	if strings.HasPrefix(lit, "'utf8_") {
		return "'utf8mb3_" + lit[len("'utf8_"):]
	}
	return lit
}

// charset and collation pairs: a collation in Defaults next to its
// character set means "the character set's default collation".
var pairs = map[pinning.Var]pinning.Var{
	pinning.VarCollationConnection: pinning.VarCharacterSetConnection,
	pinning.VarCollationServer:     pinning.VarCharacterSetServer,
	pinning.VarCollationDatabase:   pinning.VarCharacterSetDatabase,
}

// TestServerValues runs tracked SET statements on a real MariaDB and checks
// that the classifier's normalized values are what @@SESSION reports, that
// DEFAULT means the global value (or, for a collation, the default of its
// character set), and that replaying the recorded settings on a fresh
// session (Diff, DiffAs with the spelling MariaDB 10.11 needs) reproduces
// the session exactly, as does moving a session from one statement's
// settings to the next one's.
func TestServerValues(t *testing.T) {
	srv := mariadbtest.Start(t, mariadbtest.WithFlags("--query-cache-type=1"))
	db, err := sql.Open("mysql", srv.DSN("timeout=5s&multiStatements=true"))
	require.NoError(t, err)
	defer db.Close()
	db.SetMaxIdleConns(0) // every session starts clean

	var version string
	err = db.QueryRow("SELECT VERSION()").Scan(&version)
	require.NoError(t, err)
	sp := pinning.SpellingFor(version)

	probe := newSession(t, db)
	var known []pinning.Var
	for v := pinning.Var(1); v < pinning.VarClientCollation; v++ {
		if _, _, ok := probe.value("@@SESSION." + readName(v)); ok {
			known = append(known, v)
		}
	}
	probe.conn.Close()
	require.GreaterOrEqual(t, len(known), 40, "the server knows only %d tracked variables: %v", len(known), known)

	c := pinning.NewClassifier()
	var prev pinning.Settings
	for _, stmt := range serverSetStatements {
		var r pinning.Result
		c.Classify(stmt, &r)
		if !assert.False(t, r.Pinned(), "%s: pinned: %v", stmt, r.Pins) {
			continue
		}
		if !assert.True(t, r.ChangesSettings(), "%s: changes no settings: %s", stmt, r.String()) {
			continue
		}
		s := newSession(t, db)
		s.exec(stmt)

		var recorded pinning.Settings
		r.Apply(&recorded)
		r.Settings.Each(func(v pinning.Var, lit string) {
			raw, null, ok := s.value("@@SESSION." + readName(v))
			if !assert.True(t, ok, "%s: the server does not know %v", stmt, v) {
				return
			}
			got := pinning.ServerValue(v, raw, null)
			assert.Equal(t, mariaAlias(lit), got, "%s: %v normalized to %s, server reports %s (%q)", stmt, v, lit, got, raw)
		})
		r.Defaults.Each(func(v pinning.Var) {
			sess, _, _ := s.value("@@SESSION." + readName(v))
			if cs, ok := pairs[v]; ok && (r.Settings.Vars() | r.Defaults | r.ReadBack).Has(cs) {
				csName, _, _ := s.value("@@SESSION." + cs.String())
				var def string
				err := s.conn.QueryRowContext(context.Background(),
					"SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE CHARACTER_SET_NAME = ? AND IS_DEFAULT = 'Yes'",
					csName).Scan(&def)
				require.NoError(t, err, "%s: default collation of %s: %v", stmt, csName, err)
				assert.Equal(t, def, sess, "%s: %v is %s, want %s, the default of %s", stmt, v, sess, def, csName)
				return
			}
			glob, _, _ := s.value("@@GLOBAL." + readName(v))
			assert.Equal(t, glob, sess, "%s: %v set to DEFAULT is %s, global is %s", stmt, v, sess, glob)
		})
		if q := r.ReadBackQuery(sp); q != "" {
			cols := make([]sql.NullString, r.ReadBack.Len())
			dest := make([]any, len(cols))
			for i := range cols {
				dest[i] = &cols[i]
			}
			err := s.conn.QueryRowContext(context.Background(), q).Scan(dest...)
			require.NoError(t, err, "%s: %s: %v", stmt, q, err)
			i := 0
			r.ReadBack.Each(func(v pinning.Var) {
				recorded.SetAs(v, r.ReadBackName(v), pinning.ServerValue(v, cols[i].String, !cols[i].Valid))
				i++
			})
		}

		// Replay on a fresh session: every tracked variable must match.
		want := s.state(known)
		replay := newSession(t, db)
		replay.exec(recorded.DiffAs(&pinning.Settings{}, sp))
		got := replay.state(known)
		assert.True(t, equalState(got, want), "%s: replaying %q:\n%s", stmt, recorded.DiffAs(&pinning.Settings{}, sp), stateDiff(got, want))

		// Move a session from the previous statement's settings to these.
		moved := newSession(t, db)
		moved.exec(prev.DiffAs(&pinning.Settings{}, sp))
		moved.exec(recorded.DiffAs(&prev, sp))
		got = moved.state(known)
		assert.True(t, equalState(got, want), "%s: moving from %q with %q:\n%s", stmt, prev.Key(), recorded.DiffAs(&prev, sp), stateDiff(got, want))
		prev = recorded
		s.conn.Close()
		replay.conn.Close()
		moved.conn.Close()
	}
}

func equalState(a, b map[pinning.Var]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func stateDiff(got, want map[pinning.Var]string) string {
	var b strings.Builder
	for k, w := range want {
		if g := got[k]; g != w {
			b.WriteString("  " + k.String() + ": got " + g + ", want " + w + "\n")
		}
	}
	return b.String()
}

// TestDefaultCollationsMatchServer checks the generated table of default
// collations against the server the tests run.
func TestDefaultCollationsMatchServer(t *testing.T) {
	db := mariadbtest.Start(t).DB(t)
	rows, err := db.Query("SELECT CHARACTER_SET_NAME, DEFAULT_COLLATE_NAME FROM information_schema.CHARACTER_SETS")
	require.NoError(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var cs, co string
		err := rows.Scan(&cs, &co)
		require.NoError(t, err)
		got, ok := pinning.DefaultCollation("'" + cs + "'")
		assert.False(t, !ok || got != "'"+co+"'", "DefaultCollation(%q) = %q, %v; the server says %q", cs, got, ok, co)
		n++
	}
	err = rows.Err()
	require.NoError(t, err, "%d character sets, err %v", n, err)
	require.GreaterOrEqual(t, n, 30, "%d character sets, err %v", n, err)
}

// TestCharsetMaxLenMatchesServer checks CharsetMaxLen against
// information_schema.CHARACTER_SETS of the server the tests run.
func TestCharsetMaxLenMatchesServer(t *testing.T) {
	db := mariadbtest.Start(t).DB(t)
	rows, err := db.Query("SELECT CHARACTER_SET_NAME, MAXLEN FROM information_schema.CHARACTER_SETS")
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var cs string
		var maxLen uint32
		err := rows.Scan(&cs, &maxLen)
		require.NoError(t, err)
		got, ok := pinning.CharsetMaxLen(cs)
		assert.False(t, !ok || got != maxLen, "CharsetMaxLen(%q) = %d, %v; the server says %d", cs, got, ok, maxLen)
	}
	err = rows.Err()
	require.NoError(t, err)
}

// TestCollationsMatchServer checks CollationByID against
// information_schema.COLLATIONS of the server the tests run.
func TestCollationsMatchServer(t *testing.T) {
	db := mariadbtest.Start(t).DB(t)
	rows, err := db.Query("SELECT ID, COLLATION_NAME, CHARACTER_SET_NAME FROM information_schema.COLLATIONS WHERE ID < 256")
	require.NoError(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id uint16
		var name, cs string
		err := rows.Scan(&id, &name, &cs)
		require.NoError(t, err)
		gotName, gotCS, ok := pinning.CollationByID(id)
		assert.False(t, !ok || gotName != name || gotCS != cs, "CollationByID(%d) = %q, %q, %v; the server says %q, %q", id, gotName, gotCS, ok, name, cs)
		n++
	}
	err = rows.Err()
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 100, "only %d collations", n)
}
