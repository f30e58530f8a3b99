package isolation

import (
	"database/sql"
	"math/rand/v2"
	"strings"
)

// trackedVar is a tracked session variable (pinning/settings.go) with
// values to set it to: legal ones, ones the server rounds or clamps with a
// warning, and illegal ones. Values that could break a connection (short
// timeouts) or a twin (GLOBAL) are left out, as is completion_type=RELEASE.
type trackedVar struct {
	name string
	vals []string
}

var charsets = []string{"'utf8mb4'", "'latin1'", "utf8mb3", "'cp1257'", "DEFAULT"}
var collations = []string{"'utf8mb4_unicode_ci'", "'latin1_general_ci'", "'cp1257_bin'", "'utf8mb4_general_ci'",
	"'latin1_swedish_ci'", "DEFAULT"}

var trackedVars = []trackedVar{
	{"autocommit", []string{"0", "1", "ON", "OFF", "DEFAULT", "2"}},
	{"character_set_client", append([]string{"'bogus'"}, charsets...)},
	{"character_set_connection", append([]string{"'binary'"}, charsets...)},
	{"character_set_results", append([]string{"NULL", "'binary'"}, charsets...)},
	{"character_set_server", charsets},
	{"character_set_database", charsets},
	{"collation_connection", append([]string{"'nope_ci'"}, collations...)},
	{"collation_server", collations},
	{"collation_database", collations},
	{"sql_mode", []string{"''", "'PIPES_AS_CONCAT'", "'STRICT_ALL_TABLES'", "'ANSI'", "'TRADITIONAL'",
		"'NO_BACKSLASH_ESCAPES'", "'ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES'", "DEFAULT", "'BOGUS'",
		"CONCAT(@@sql_mode, ',PIPES_AS_CONCAT')", "'ERROR_FOR_DIVISION_BY_ZERO'"}},
	{"time_zone", []string{"'+00:00'", "'+05:30'", "'-08:00'", "'SYSTEM'", "DEFAULT", "'Mars/Base'"}},
	{"tx_isolation", []string{"'READ-COMMITTED'", "'REPEATABLE-READ'", "'SERIALIZABLE'", "'READ-UNCOMMITTED'",
		"DEFAULT", "'bogus'"}},
	{"transaction_isolation", []string{"'READ-COMMITTED'"}},
	{"tx_read_only", []string{"0", "1", "DEFAULT", "0"}},
	{"transaction_read_only", []string{"0"}},
	{"auto_increment_increment", []string{"1", "2", "5", "0", "70000", "DEFAULT"}},
	{"auto_increment_offset", []string{"1", "3", "DEFAULT"}},
	{"interactive_timeout", []string{"600", "28800", "DEFAULT"}},
	{"wait_timeout", []string{"600", "28800", "DEFAULT"}},
	{"net_write_timeout", []string{"60", "90", "DEFAULT"}},
	{"net_read_timeout", []string{"30", "60", "DEFAULT"}},
	{"query_cache_type", []string{"0", "OFF", "DEFAULT", "1"}},
	{"session_track_schema", []string{"0", "1", "DEFAULT"}},
	{"foreign_key_checks", []string{"0", "1", "DEFAULT"}},
	{"unique_checks", []string{"0", "1", "DEFAULT"}},
	{"sql_safe_updates", []string{"0", "1", "DEFAULT"}},
	{"group_concat_max_len", []string{"3", "1024", "100000", "DEFAULT"}},
	{"max_execution_time", []string{"1000"}},
	{"max_statement_time", []string{"0", "100", "DEFAULT"}},
	{"innodb_lock_wait_timeout", []string{"3", "5", "DEFAULT", "0"}},
	{"lock_wait_timeout", []string{"60", "31536000", "DEFAULT", "0"}},
	{"sql_select_limit", []string{"2", "DEFAULT", "18446744073709551615", "0"}},
	{"sql_auto_is_null", []string{"0", "1", "DEFAULT"}},
	{"sql_quote_show_create", []string{"0", "1", "DEFAULT"}},
	{"big_tables", []string{"0", "1", "DEFAULT"}},
	{"sql_big_selects", []string{"0", "1", "DEFAULT"}},
	{"max_join_size", []string{"1000", "DEFAULT", "18446744073709551615", "4"}},
	{"div_precision_increment", []string{"0", "4", "30", "31", "DEFAULT"}},
	{"default_storage_engine", []string{"InnoDB", "MyISAM", "'Aria'", "DEFAULT", "bogus"}},
	{"lc_time_names", []string{"'de_DE'", "'fr_FR'", "'en_US'", "DEFAULT", "'xx_YY'"}},
	{"check_constraint_checks", []string{"0", "1", "DEFAULT"}},
	{"explicit_defaults_for_timestamp", []string{"0", "1", "DEFAULT"}},
	{"optimizer_switch", []string{"'index_merge=off'", "'default'", "DEFAULT"}},
	{"innodb_strict_mode", []string{"0", "1", "DEFAULT"}},
	{"completion_type", []string{"0", "1", "'NO_CHAIN'", "'CHAIN'", "DEFAULT"}},
	{"sql_notes", []string{"0", "1", "DEFAULT"}},
	{"sql_warnings", []string{"0", "1", "DEFAULT"}},
	{"sql_buffer_result", []string{"0", "1", "DEFAULT"}},
	{"sort_buffer_size", []string{"1000", "262144", "DEFAULT"}},
	{"join_buffer_size", []string{"1000", "262144", "DEFAULT"}},
	{"tmp_table_size", []string{"1000", "16777216", "DEFAULT"}},
	{"max_heap_table_size", []string{"1000", "16777216", "DEFAULT"}},
	{"max_sp_recursion_depth", []string{"0", "5", "300", "DEFAULT"}},
	{"cte_max_recursion_depth", []string{"10", "1000", "DEFAULT"}},
	{"max_recursive_iterations", []string{"10", "1000", "DEFAULT"}},
}

// readableVars are read back with @@; the MySQL-only names are left out
// (reading them is an error on both sides, which says little).
var readableVars = func() []string {
	var names []string
	for _, v := range trackedVars {
		switch v.name {
		case "transaction_isolation", "transaction_read_only", "max_execution_time":
			continue
		}
		names = append(names, v.name)
	}
	return append(names, "last_insert_id", "in_transaction", "character_set_database", "collation_database")
}()

// strArgs are string arguments: accented, quoted, overlong for s
// VARCHAR(8).
var strArgs = []string{"é", "abc", "o'k", "ñandú", "0123456789", "", "a\\b"}

// stmtTemplate is a statement kept as a long-lived *sql.Stmt.
type stmtTemplate struct {
	sql  string
	exec bool
	args func(r *rand.Rand) []any
}

func intArg(r *rand.Rand) any { return r.IntN(20) }
func strArg(r *rand.Rand) any { return strArgs[r.IntN(len(strArgs))] }

var stmtTemplates = []stmtTemplate{
	{sql: "SELECT ? || 'x', CONCAT(?, 'y')", args: func(r *rand.Rand) []any { return []any{strArg(r), strArg(r)} }},
	{sql: "INSERT INTO {T} (g, s) VALUES (?, ?)", exec: true, args: func(r *rand.Rand) []any { return []any{intArg(r), strArg(r)} }},
	{sql: "SELECT COUNT(*), SUM(g) FROM {T} WHERE g >= ?", args: func(r *rand.Rand) []any { return []any{intArg(r)} }},
	{sql: "SELECT v, HEX(v) FROM ro WHERE id = ?", args: func(r *rand.Rand) []any { return []any{1 + r.IntN(2)} }},
	{sql: "SELECT HEX(?), CHARSET(?), ? = 'é'", args: func(r *rand.Rand) []any { return []any{strArg(r), strArg(r), strArg(r)} }},
	{sql: "SELECT @@sql_mode, DATABASE(), @@character_set_client, 'a' || 'b'", args: func(*rand.Rand) []any { return nil }},
	{sql: "UPDATE {T} SET g = g + 1 WHERE id = ?", exec: true, args: func(r *rand.Rand) []any { return []any{1 + r.IntN(5)} }},
	{sql: "SELECT LAST_INSERT_ID(), ? + 1", args: func(r *rand.Rand) []any { return []any{intArg(r)} }},
}

var stmtSlots = []string{"p0", "p1", "p2"}

// gen generates one session's operations. It keeps a rough model of the
// session (transaction open, API transaction, prepared slots) only to
// generate plausible sequences; results never depend on it.
type gen struct {
	r        *rand.Rand
	inTx     int  // operations since a transaction was (probably) opened; 0 when none
	apiTx    bool // an API transaction is open (exact: the runner follows it too)
	noAuto   bool // autocommit was probably switched off
	slots    map[string]stmtTemplate
	pinOps   int  // pinning operations generated so far
	noPinOps bool // generate no pinning operation (noise sessions)
	multi    bool // the client may send several statements in one query
}

func newGen(seed uint64) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), slots: map[string]stmtTemplate{}}
}

func (g *gen) pick(list []string) string { return list[g.r.IntN(len(list))] }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func ex(sql string, args ...any) step { return step{kind: opExec, sql: sql, args: args} }
func qu(sql string, args ...any) step { return step{kind: opQuery, sql: sql, args: args} }

// spell writes one assignment of name in one of the spellings MariaDB
// accepts for a session variable.
func (g *gen) spell(name, val string) string {
	if g.chance(0.2) {
		name = strings.ToUpper(name)
	}
	eq := "="
	if g.chance(0.1) {
		eq = " := "
	}
	switch g.r.IntN(6) {
	case 0:
		return name + eq + val
	case 1:
		return "@@" + name + eq + val
	case 2:
		return "@@session." + name + eq + val
	case 3:
		return "SESSION " + name + eq + val
	case 4:
		return "LOCAL " + name + eq + val
	default:
		return "@@local." + name + eq + val
	}
}

func (g *gen) assignment() string {
	v := trackedVars[g.r.IntN(len(trackedVars))]
	return g.spell(v.name, g.pick(v.vals))
}

func (g *gen) setNames() string {
	switch g.r.IntN(9) {
	case 0:
		return "SET NAMES " + g.pick([]string{"utf8mb4", "latin1", "utf8mb3", "cp1257", "'utf8mb4'", "binary", "bogus"})
	case 1:
		return "SET NAMES utf8mb4 COLLATE " + g.pick([]string{"utf8mb4_unicode_ci", "utf8mb4_bin", "'utf8mb4_general_ci'", "latin1_bin"})
	case 2:
		return "SET NAMES latin1 COLLATE latin1_general_ci"
	case 3:
		return "SET NAMES cp1257 COLLATE cp1257_bin"
	case 4:
		return "SET NAMES DEFAULT"
	case 5:
		return "SET CHARACTER SET " + g.pick([]string{"latin1", "utf8mb4", "cp1257", "DEFAULT", "utf8mb3"})
	case 6:
		return "SET CHARSET " + g.pick([]string{"latin1", "utf8mb4"})
	case 7:
		return "SET NAMES latin1, " + g.assignment()
	default:
		return "SET " + g.assignment() + ", NAMES utf8mb4"
	}
}

func (g *gen) setTransaction() string {
	switch g.r.IntN(6) {
	case 0, 1:
		return "SET SESSION TRANSACTION ISOLATION LEVEL " +
			g.pick([]string{"READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE", "READ UNCOMMITTED"})
	case 2:
		return "SET SESSION TRANSACTION READ ONLY"
	case 3:
		return "SET SESSION TRANSACTION READ WRITE"
	case 4:
		return "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED, READ WRITE"
	default:
		return "SET @@session.tx_isolation = " + g.pick([]string{"'READ-COMMITTED'", "'SERIALIZABLE'", "DEFAULT"})
	}
}

// next returns the session's next operation.
func (g *gen) next() op {
	o := g.draw()
	if !o.warnings && g.chance(0.15) {
		o.warnings = true
	}
	g.follow(o)
	return o
}

// follow updates the generator's model after o.
func (g *gen) follow(o op) {
	for _, s := range o.steps {
		up := strings.ToUpper(s.sql)
		switch {
		case s.kind == opBegin:
			g.apiTx, g.inTx = true, 1
		case s.kind == opCommit || s.kind == opRollback:
			g.apiTx, g.inTx = false, 0
		case s.kind == opReconnect:
			g.apiTx, g.inTx, g.noAuto, g.slots = false, 0, false, map[string]stmtTemplate{}
		case strings.HasPrefix(up, "BEGIN") || strings.HasPrefix(up, "START TRANSACTION"):
			g.inTx = 1
		case (strings.HasPrefix(up, "COMMIT") || strings.HasPrefix(up, "ROLLBACK")) && !strings.Contains(up, " CHAIN"):
			g.inTx = 0
		case strings.Contains(up, "AUTOCOMMIT"):
			g.noAuto = strings.Contains(up, "AUTOCOMMIT=0") || strings.Contains(up, "AUTOCOMMIT=OFF")
		case g.inTx > 0:
			g.inTx++
		case g.noAuto:
			g.inTx = 1
		}
		switch s.kind {
		case opPrepare:
			for _, t := range stmtTemplates {
				if t.sql == s.sql {
					g.slots[s.slot] = t
				}
			}
		case opStmtClose:
			delete(g.slots, s.slot)
		}
	}
}

func one(s step) op { return op{steps: []step{s}} }

// draw picks an operation by weight.
func (g *gen) draw() op {
	// A transaction open for a while ends, so that backends move.
	if g.inTx > 3 && g.chance(0.5) {
		if g.apiTx {
			if g.chance(0.5) {
				return one(step{kind: opCommit})
			}
			return one(step{kind: opRollback})
		}
		return one(ex(g.pick([]string{"COMMIT", "ROLLBACK", "COMMIT", "COMMIT AND NO CHAIN", "ROLLBACK WORK"})))
	}
	n := g.r.IntN(100)
	switch {
	case n < 20:
		return op{steps: []step{ex("SET " + g.assignment())}, warnings: g.chance(0.5)}
	case n < 24:
		k := 2 + g.r.IntN(2)
		parts := make([]string, k)
		for i := range parts {
			parts[i] = g.assignment()
		}
		return op{steps: []step{ex("SET " + strings.Join(parts, ", "))}, warnings: g.chance(0.5)}
	case n < 29:
		return one(ex(g.setNames()))
	case n < 32:
		return one(ex(g.setTransaction()))
	case n < 37:
		return one(ex("USE " + g.pick([]string{"s_utf8", "s_latin", "s_cp", "test", "s_utf8", "s_latin", "nosuchdb"})))
	case n < 45:
		return g.transaction()
	case n < 56:
		return g.write()
	case n < 74:
		return g.read()
	case n < 83:
		return g.stmt()
	case n < 87:
		if g.noPinOps || g.pinOps > 1 || !g.chance(0.5) {
			return g.read()
		}
		g.pinOps++
		return g.pin()
	case n < 91:
		return g.lookBehind()
	case n < 96:
		return g.warn()
	case n < 97 && !g.noPinOps:
		return one(step{kind: opReconnect})
	case n < 99 && g.multi:
		return g.multiStatement()
	default:
		return one(qu("SELECT @@" + g.pick(readableVars) + ", @@session." + g.pick(readableVars)))
	}
}

func (g *gen) transaction() op {
	if g.apiTx {
		switch g.r.IntN(3) {
		case 0:
			return one(step{kind: opCommit})
		case 1:
			return one(step{kind: opRollback})
		}
		return one(ex(g.pick([]string{"COMMIT", "SAVEPOINT sp1", "ROLLBACK TO SAVEPOINT sp1"})))
	}
	switch g.r.IntN(14) {
	case 0:
		levels := []sql.IsolationLevel{sql.LevelDefault, sql.LevelReadUncommitted, sql.LevelReadCommitted,
			sql.LevelRepeatableRead, sql.LevelSerializable}
		return one(step{kind: opBegin, txOpts: &sql.TxOptions{Isolation: levels[g.r.IntN(len(levels))], ReadOnly: g.chance(0.3)}})
	case 1:
		return one(step{kind: opBegin})
	case 2:
		return one(ex("SET TRANSACTION ISOLATION LEVEL " + g.pick([]string{"READ COMMITTED", "SERIALIZABLE"})))
	}
	return one(ex(g.pick([]string{"BEGIN", "START TRANSACTION", "START TRANSACTION READ ONLY", "START TRANSACTION READ WRITE",
		"START TRANSACTION WITH CONSISTENT SNAPSHOT", "COMMIT", "ROLLBACK", "COMMIT AND CHAIN", "ROLLBACK AND CHAIN",
		"COMMIT AND NO CHAIN", "BEGIN WORK"})))
}

func (g *gen) write() op {
	var s step
	switch g.r.IntN(9) {
	case 0, 1:
		s = ex("INSERT INTO {T} (g, s) VALUES (?, ?)", intArg(g.r), strArg(g.r))
	case 2:
		s = ex("INSERT INTO {T} (g, s) VALUES (" + itoa(g.r.IntN(9)) + ", 'é'), (NULL, 'ñ')")
	case 3:
		s = ex("UPDATE {T} SET g = g + 1 WHERE id = ?", 1+g.r.IntN(6))
	case 4:
		s = ex("UPDATE {T} SET g = g + 1")
	case 5:
		s = ex("DELETE FROM {T} WHERE id > ?", 3+g.r.IntN(6))
	case 6:
		s = ex("REPLACE INTO {T} (id, g) VALUES (1, " + itoa(g.r.IntN(9)) + ")")
	case 7:
		s = ex("INSERT INTO {T} (g) SELECT g FROM {T} ORDER BY id LIMIT 2")
	default:
		s = ex("INSERT INTO {T} (g, s) VALUES ('x1', '0123456789')")
	}
	return op{steps: []step{s}, warnings: g.chance(0.4)}
}

var reads = []string{
	"SELECT id, g, s, HEX(s) FROM {T} ORDER BY id",
	"SELECT COUNT(*), SUM(g) FROM {T}",
	"SELECT DATABASE(), @@character_set_database, @@collation_database",
	"SELECT @@in_transaction, @@autocommit, @@tx_isolation, @@tx_read_only",
	"SELECT CHARSET('x'), COLLATION('x'), HEX('é'), HEX(CONVERT('é' USING utf8mb4))",
	"SELECT DATE_FORMAT('2024-03-05 10:20:30', '%W %M %a %b')",
	"SELECT 1/7, 2/3, 10/4",
	"SELECT 'a' || 'b'",
	"SELECT FROM_UNIXTIME(0), @@time_zone",
	"SELECT LAST_INSERT_ID(), @@last_insert_id",
	"SELECT GROUP_CONCAT(id ORDER BY id) FROM {T}",
	"SELECT COUNT(*) FROM ro a JOIN ro b JOIN ro c", // ro never changes: stable join estimates
	"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r WHERE n < 50) SELECT COUNT(*) FROM r",
	"SELECT id FROM {T} WHERE id IS NULL",
	"SELECT v, HEX(v) FROM ro ORDER BY id",
	"SELECT @@character_set_client, @@character_set_connection, @@character_set_results, @@collation_connection",
	"SELECT @@sql_mode, @@auto_increment_increment, @@sql_select_limit, @@max_join_size, @@sql_big_selects",
}

func (g *gen) read() op {
	switch g.r.IntN(14) {
	case 13:
		// MariaDB's per-statement settings: the session's stay as they
		// were.
		return one(qu("SET STATEMENT " + g.pick([]string{"sql_mode='PIPES_AS_CONCAT'", "time_zone='+05:00'",
			"div_precision_increment=10", "sql_select_limit=1", "character_set_results='latin1'"}) +
			" FOR SELECT 'a' || 'b', FROM_UNIXTIME(0), 1/7, v FROM ro ORDER BY id"))
	case 12:
		return one(qu(g.pick(pinReads)))
	case 0:
		return one(qu("SELECT ? || 'b', CONCAT(?, 'é')", strArg(g.r), strArg(g.r)))
	case 1:
		return one(qu("SELECT HEX(?), CHARSET(?), LENGTH(?)", "é", "é", strArg(g.r)))
	case 2:
		return one(qu("SELECT v FROM ro WHERE id = ?", 1+g.r.IntN(2)))
	case 3:
		return one(qu("SELECT COUNT(*) FROM {T} WHERE g > ?", intArg(g.r)))
	}
	return one(qu(g.pick(reads)))
}

func (g *gen) stmt() op {
	var free, used []string
	for _, s := range stmtSlots {
		if _, ok := g.slots[s]; ok {
			used = append(used, s)
		} else {
			free = append(free, s)
		}
	}
	if len(used) == 0 || (len(free) > 0 && g.chance(0.25)) {
		slot := stmtSlots[g.r.IntN(len(stmtSlots))]
		t := stmtTemplates[g.r.IntN(len(stmtTemplates))]
		return one(step{kind: opPrepare, sql: t.sql, slot: slot})
	}
	slot := used[g.r.IntN(len(used))]
	if g.chance(0.08) {
		return one(step{kind: opStmtClose, slot: slot})
	}
	t := g.slots[slot]
	kind := opStmtQuery
	if t.exec {
		kind = opStmtExec
	}
	return op{steps: []step{{kind: kind, slot: slot, args: t.args(g.r)}}, warnings: g.chance(0.3)}
}

func (g *gen) pin() op {
	switch g.r.IntN(11) {
	case 8:
		// The same temporary table name in every session: a session that
		// borrowed a backend with another's would see its rows.
		return op{steps: []step{ex("CREATE TEMPORARY TABLE IF NOT EXISTS tmp_shared (a INT)"),
			ex("INSERT INTO tmp_shared VALUES (1)"), qu("SELECT COUNT(*) FROM tmp_shared")}}
	case 9:
		return op{steps: []step{ex("LOCK TABLES {T} WRITE"), qu("SELECT COUNT(*) FROM {T}"), qu("SELECT COUNT(*) FROM ro")}}
	case 10:
		return one(ex("UNLOCK TABLES"))
	case 0:
		return one(ex("SET @u = ?", intArg(g.r)))
	case 1:
		return op{steps: []step{ex("SET @u = " + itoa(g.r.IntN(9))), qu("SELECT @u, @u + 1")}}
	case 2:
		return op{steps: []step{ex("CREATE TEMPORARY TABLE IF NOT EXISTS tmp_{T} (a INT)"),
			ex("INSERT INTO tmp_{T} VALUES (1)"), qu("SELECT COUNT(*) FROM tmp_{T}")}}
	case 3:
		return op{steps: []step{qu("SELECT GET_LOCK('{T}', 0)"), qu("SELECT IS_FREE_LOCK('{T}')")}}
	case 4:
		return one(qu("SELECT RELEASE_LOCK('{T}')"))
	case 5:
		return op{steps: []step{ex("PREPARE p1 FROM 'SELECT ? + 1, DATABASE()'"), ex("SET @v = 5"),
			qu("EXECUTE p1 USING @v")}}
	case 6:
		return one(qu("SELECT LAST_INSERT_ID(?)", intArg(g.r)))
	default:
		return one(qu("SELECT @u, @v"))
	}
}

// pinReads are reads of what pinning statements leave on a connection,
// generated at any time: on a session that never pinned, they must find
// nothing another session left.
var pinReads = []string{
	"SELECT @u, @v, @x",
	"SELECT COUNT(*) FROM tmp_shared",
	"SELECT IS_FREE_LOCK('{T}')",
}

func (g *gen) lookBehind() op {
	switch g.r.IntN(4) {
	case 0:
		return op{steps: []step{qu("SELECT SQL_CALC_FOUND_ROWS id FROM ro ORDER BY id LIMIT 1"), qu("SELECT FOUND_ROWS()")}}
	case 1:
		return op{steps: []step{ex("UPDATE {T} SET g = g WHERE id < 3"), qu("SELECT ROW_COUNT()")}}
	case 2:
		return op{steps: []step{ex("INSERT INTO {T} (g) VALUES (7)"), qu("SELECT LAST_INSERT_ID(), @@last_insert_id")}}
	default:
		return op{steps: []step{ex("INSERT INTO {T} (g) VALUES (8), (9)"), qu("SELECT LAST_INSERT_ID()")}, warnings: true}
	}
}

// multiStatement is several statements in one query (for clients with
// go-sql-driver's multiStatements=true): their effects must be tracked
// as the server applies them, in order.
func (g *gen) multiStatement() op {
	q := g.pick([]string{
		"SET sql_mode = 'PIPES_AS_CONCAT'; SELECT 'a' || 'b'",
		"SET NAMES latin1; SELECT @@character_set_client, HEX('é')",
		"USE s_latin; SELECT DATABASE(), @@character_set_database",
		"BEGIN; INSERT INTO {T} (g) VALUES (1); COMMIT",
		"BEGIN; INSERT INTO {T} (g) VALUES (2)",
		"INSERT INTO {T} (g) VALUES (5); SELECT LAST_INSERT_ID()",
		"SET @u = 1; SELECT @u",
		"SELECT 1; SET " + g.assignment(),
		"SET " + g.assignment() + "; SELECT @@in_transaction",
		"COMMIT; SET autocommit = 0; INSERT INTO {T} (g) VALUES (3)",
		"ROLLBACK; SET autocommit = 1",
	})
	return op{steps: []step{qu(q)}, warnings: g.chance(0.3)}
}

func (g *gen) warn() op {
	q := g.pick([]string{
		"SELECT CAST('abc' AS SIGNED)",
		"SELECT 1/0",
		"SELECT 'a' + 1",
		"SELECT CAST('2024-13-45' AS DATE)",
		"SELECT GROUP_CONCAT(REPEAT('x', 10)) FROM ro",
	})
	return op{steps: []step{qu(q)}, warnings: true}
}
