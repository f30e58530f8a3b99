package isolation

import (
	"database/sql"
	"net"
	"os/exec"
	"strings"
	"testing"
)

// Each test here reproduces one known way a session saw another's state,
// through the driver and through the listener, comparing every step with
// the same step on dedicated direct connections. They failed on the pool
// of 2026-12-04 (before the state-tracking rewrite).

// TestLeakStatementCacheKey: a prepared statement cached per backend by
// its SQL text alone. A statement prepared under one session's schema or
// sql_mode must not run for another session under another.
func TestLeakStatementCacheKey(t *testing.T) {
	db := server(t)
	bothWays(t, 1, func(t *testing.T, open func(*testing.T, string) *sql.DB) {
		t.Run("schema", func(t *testing.T) {
			createSchemas(t, "r1sa", "r1sb", "r1da", "r1db")
			sc := newScript(t, "INSERT INTO t prepared in another schema")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, map[string][2]string{"{S}": {"r1sa", "r1da"}})
			sc.session(1, subj, twin, map[string][2]string{"{S}": {"r1sb", "r1db"}})
			sc.exec(0, "USE {S}")
			sc.exec(1, "USE {S}")
			sc.exec(0, "INSERT INTO t (g) VALUES (?)", 1)
			sc.exec(1, "INSERT INTO t (g) VALUES (?)", 2)
			sc.exec(0, "INSERT INTO t (g) VALUES (?)", 3)
			sc.query(0, "SELECT id, g FROM t ORDER BY id")
			sc.query(1, "SELECT id, g FROM t ORDER BY id")
			sc.query(1, "SELECT g FROM t WHERE g = ?", 2)
		})
		t.Run("sql_mode", func(t *testing.T) {
			sc := newScript(t, "SELECT 'a' || ? prepared under PIPES_AS_CONCAT")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, nil)
			sc.session(1, subj, twin, nil)
			sc.exec(0, "SET sql_mode = 'PIPES_AS_CONCAT'")
			sc.query(0, "SELECT 'a' || ?", "b")
			sc.queryW(1, "SELECT 'a' || ?", "b")
			sc.query(0, "SELECT 'a' || ?", "b")
			sc.fresh(1)
			sc.queryW(1, "SELECT 'a' || ?", "b")
		})
	})
}

// TestLeakCharsetDefault: a backend left with another session's character
// set must be brought back to this session's own, not to the server's
// global default (SET ... = DEFAULT): the client's handshake character set
// and a round trip of 'é' must be as on a direct connection.
func TestLeakCharsetDefault(t *testing.T) {
	db := server(t)
	t.Run("listener", func(t *testing.T) {
		l := startListener(t, db, 1)
		tables := ownTables(t, "r2l", 2)
		sc := newScript(t, "a latin1 client, then a utf8mb4 client")
		sc.session(0, l.open(t, "charset=latin1"), openDirect(t, db, "charset=latin1"), tables[0])
		sc.session(1, l.open(t, ""), openDirect(t, db, ""), tables[1])
		sc.query(0, "SELECT @@character_set_client, HEX('é')")
		sc.query(1, "SELECT @@character_set_client, @@character_set_connection, @@character_set_results, @@collation_connection")
		sc.exec(1, "USE s_utf8")
		sc.exec(1, "INSERT INTO {T} (s) VALUES ('é')")
		sc.query(1, "SELECT s, HEX(s) FROM {T}")
		sc.query(0, "SELECT HEX('é')")
		sc.query(1, "SELECT HEX('é'), @@character_set_client")
	})
	t.Run("driver", func(t *testing.T) {
		h := openDriver(t, db, "", 1).DB
		twin := openDirect(t, db, "")
		sc := newScript(t, "SET NAMES utf8mb3, then a fresh session")
		sc.session(0, h, twin, nil)
		sc.exec(0, "SET NAMES utf8mb3")
		sc.query(0, "SELECT HEX('é'), @@character_set_client")
		sc.end(0)
		sc.session(1, h, twin, nil)
		sc.query(1, "SELECT HEX('é'), @@character_set_client, @@character_set_connection, @@character_set_results, @@collation_connection")
	})
}

// TestLeakHandshakeCollation: the listener must give each client the
// collation its handshake asked for, on every backend it borrows.
func TestLeakHandshakeCollation(t *testing.T) {
	db := server(t)
	l := startListener(t, db, 2)
	collations := []string{"latin1_general_ci", "cp1257_bin", "utf8mb4_unicode_ci", "utf8mb4_general_ci"}
	sc := newScript(t, "handshake collation")
	for i, c := range collations {
		sc.session(i, l.open(t, "collation="+c), openDirect(t, db, "collation="+c), nil)
	}
	noise := len(collations)
	sc.session(noise, l.open(t, ""), openDirect(t, db, ""), nil)
	for round := range 3 {
		for i := range collations {
			sc.query(i, "SELECT @@collation_connection, @@character_set_client, @@character_set_connection, @@character_set_results")
			sc.exec(noise, []string{"SET NAMES latin1", "SET NAMES cp1257", "SET NAMES utf8mb4 COLLATE utf8mb4_bin"}[(round+i)%3])
		}
	}
	// Errors are the server's own: an unknown collation or character set
	// is 1273 or 1115 whatever the session's handshake collation.
	for i := range collations {
		sc.exec(i, "SET SESSION collation_connection = 'nope_ci', div_precision_increment = DEFAULT")
		sc.exec(i, "SET NAMES bogus")
		sc.query(i, "SELECT @@collation_connection, @@div_precision_increment")
	}
}

// TestLeakSetSessionTransaction: SET SESSION TRANSACTION must be replayed
// in a spelling the server knows (MariaDB 10.11: tx_isolation,
// tx_read_only), and stay the session's own.
func TestLeakSetSessionTransaction(t *testing.T) {
	db := server(t)
	bothWays(t, 1, func(t *testing.T, open func(*testing.T, string) *sql.DB) {
		sc := newScript(t, "SET SESSION TRANSACTION")
		subj, twin := open(t, ""), openDirect(t, db, "")
		for i := range 3 {
			sc.session(i, subj, twin, nil)
		}
		sc.exec(0, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
		sc.query(0, "SELECT @@tx_isolation")
		sc.query(1, "SELECT @@tx_isolation, 1")
		sc.query(0, "SELECT @@tx_isolation, @@tx_read_only")
		sc.exec(1, "SET SESSION TRANSACTION READ ONLY")
		sc.query(1, "SELECT @@tx_read_only")
		sc.query(2, "SELECT @@tx_isolation, @@tx_read_only")
		sc.query(0, "SELECT @@tx_isolation, @@tx_read_only")
		sc.query(1, "SELECT @@tx_isolation, @@tx_read_only")
		sc.fresh(0)
		sc.query(0, "SELECT @@tx_isolation, @@tx_read_only")
	})
}

// TestLeakTransactions: transaction boundaries as the server sees them:
// completion_type=CHAIN keeps a transaction open after COMMIT; a READ ONLY
// transaction never carries over to another session; SET autocommit=0
// inside a transaction keeps the next statements in one.
func TestLeakTransactions(t *testing.T) {
	db := server(t)
	// Two backends: when rdsmux rightly keeps a session's backend, the
	// other session gets the second one instead of waiting.
	bothWays(t, 2, func(t *testing.T, open func(*testing.T, string) *sql.DB) {
		t.Run("completion_type", func(t *testing.T) {
			tables := ownTables(t, "r5c", 2)
			sc := newScript(t, "completion_type=CHAIN")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, tables[0])
			sc.session(1, subj, twin, tables[1])
			sc.exec(0, "SET completion_type = CHAIN")
			sc.exec(0, "BEGIN")
			sc.exec(0, "INSERT INTO {T} (g) VALUES (1)")
			sc.exec(0, "COMMIT")
			sc.query(0, "SELECT @@in_transaction")
			sc.exec(1, "INSERT INTO {T} (g) VALUES (2)")
			sc.query(1, "SELECT @@in_transaction, COUNT(*) FROM {T}")
			sc.exec(0, "INSERT INTO {T} (g) VALUES (3)")
			sc.exec(0, "ROLLBACK")
			sc.query(0, "SELECT @@in_transaction, COUNT(*), GROUP_CONCAT(g) FROM {T}")
			sc.exec(0, "SET completion_type = 1")
			sc.exec(0, "COMMIT")
			sc.query(0, "SELECT @@in_transaction")
			sc.exec(0, "SET completion_type = 0")
			sc.exec(0, "COMMIT")
		})
		t.Run("chain_releases_table_locks", func(t *testing.T) {
			// Seed 1796541684756159250 (driver): the transaction AND
			// CHAIN begins releases LOCK TABLES' locks, after which
			// UNLOCK TABLES commits nothing; rdsmux took it for the
			// commit and gave the backend back inside the transaction,
			// where the next session's statements committed its rows.
			for _, end := range []string{"ROLLBACK AND CHAIN", "COMMIT AND CHAIN"} {
				tables := ownTables(t, "r5l"+end[:1], 2)
				sc := newScript(t, "LOCK TABLES, then "+end+", then UNLOCK TABLES")
				subj, twin := open(t, ""), openDirect(t, db, "")
				sc.session(0, subj, twin, tables[0])
				sc.exec(0, "LOCK TABLES {T} WRITE")
				sc.exec(0, end)
				sc.exec(0, "INSERT INTO {T} (g) VALUES (1), (2)")
				sc.exec(0, "UNLOCK TABLES")
				sc.query(0, "SELECT @@in_transaction")
				sc.end(0)
				for range 2 {
					sc.session(1, subj, twin, tables[0])
					sc.exec(1, "COMMIT")
					sc.query(1, "SELECT COUNT(*) FROM {T}")
					sc.end(1)
				}
			}
		})
		t.Run("end_in_chain", func(t *testing.T) {
			tables := ownTables(t, "r5e", 3)
			sc := newScript(t, "a session ends in a chained READ ONLY transaction")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, tables[0])
			sc.exec(0, "SET completion_type = CHAIN")
			sc.exec(0, "START TRANSACTION READ ONLY")
			sc.exec(0, "COMMIT")
			sc.query(0, "SELECT @@in_transaction")
			sc.end(0)
			sc.session(1, subj, twin, tables[1])
			sc.query(1, "SELECT @@in_transaction, @@completion_type")
			sc.exec(1, "INSERT INTO {T} (g) VALUES (1)")
			sc.session(2, subj, twin, tables[2])
			sc.exec(2, "INSERT INTO {T} (g) VALUES (1)")
			sc.query(2, "SELECT @@in_transaction")
		})
		t.Run("read_only", func(t *testing.T) {
			tables := ownTables(t, "r5r", 2)
			sc := newScript(t, "START TRANSACTION READ ONLY")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, tables[0])
			sc.session(1, subj, twin, tables[1])
			sc.exec(0, "START TRANSACTION READ ONLY")
			sc.query(0, "SELECT COUNT(*) FROM {T}")
			sc.exec(0, "COMMIT")
			sc.exec(1, "INSERT INTO {T} (g) VALUES (1)")
			sc.exec(0, "SET completion_type = CHAIN")
			sc.exec(0, "START TRANSACTION READ ONLY")
			sc.exec(0, "COMMIT")
			sc.exec(1, "INSERT INTO {T} (g) VALUES (2)")
			sc.query(1, "SELECT @@in_transaction, COUNT(*) FROM {T}")
			sc.exec(0, "INSERT INTO {T} (g) VALUES (3)")
			sc.query(0, "SELECT @@in_transaction")
			sc.exec(0, "ROLLBACK")
			sc.exec(0, "SET completion_type = 0")
			sc.exec(0, "ROLLBACK")
			sc.exec(1, "INSERT INTO {T} (g) VALUES (4)")
			sc.query(1, "SELECT COUNT(*) FROM {T}")
		})
		t.Run("autocommit", func(t *testing.T) {
			tables := ownTables(t, "r5a", 2)
			sc := newScript(t, "SET autocommit=0 inside a transaction")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, tables[0])
			sc.session(1, subj, twin, tables[1])
			sc.exec(0, "BEGIN")
			sc.exec(0, "INSERT INTO {T} (g) VALUES (1)")
			sc.exec(0, "SET autocommit = 0")
			sc.exec(0, "COMMIT")
			sc.exec(0, "INSERT INTO {T} (g) VALUES (2)")
			sc.exec(1, "INSERT INTO {T} (g) VALUES (10)")
			sc.query(1, "SELECT COUNT(*) FROM {T}")
			sc.exec(0, "ROLLBACK")
			sc.query(0, "SELECT @@in_transaction, @@autocommit, COUNT(*), GROUP_CONCAT(g) FROM {T}")
			sc.exec(0, "BEGIN")
			sc.exec(0, "INSERT INTO {T} (g) VALUES (3)")
			sc.exec(0, "SET autocommit = 1")
			sc.exec(0, "INSERT INTO {T} (g) VALUES (4)")
			sc.exec(1, "INSERT INTO {T} (g) VALUES (11)")
			sc.exec(0, "ROLLBACK")
			sc.query(0, "SELECT @@in_transaction, @@autocommit, COUNT(*), GROUP_CONCAT(g) FROM {T}")
		})
	})
}

// TestLeakAutocommitEndsTransaction: MariaDB ends a transaction on SET
// autocommit=1 (with autocommit off before) but keeps its access mode as
// the next transaction's, which no variable shows (@@tx_read_only and
// @@in_transaction both say 0): after START TRANSACTION READ ONLY the
// connection refuses writes (1792) until a COMMIT, a ROLLBACK or a
// statement on a table resets it. That state must stay with the session
// that made it, as on a dedicated connection, and never reach another
// session's first write (the soak's seed 1796440960574040430: sessions
// refused an INSERT, an UPDATE's PREPARE and a CREATE TEMPORARY TABLE).
func TestLeakAutocommitEndsTransaction(t *testing.T) {
	db := server(t)
	bothWays(t, 2, func(t *testing.T, open func(*testing.T, string) *sql.DB) {
		for _, tc := range []struct{ name, session, begin string }{
			{"read_only", "", "START TRANSACTION READ ONLY"},
			{"read_write_in_a_read_only_session", "SET SESSION TRANSACTION READ ONLY", "START TRANSACTION READ WRITE"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tables := ownTables(t, "r5h", 3)
				sc := newScript(t, tc.begin+", then SET autocommit=1")
				subj, twin := open(t, ""), openDirect(t, db, "")
				for i := range 3 {
					sc.session(i, subj, twin, tables[i])
				}
				if tc.session != "" {
					sc.exec(0, tc.session)
					sc.exec(1, tc.session)
				}
				sc.exec(0, "SET autocommit = 0")
				sc.exec(0, tc.begin)
				sc.exec(0, "SET autocommit = 1")
				sc.query(0, "SELECT @@in_transaction, @@tx_read_only, @@autocommit")
				sc.exec(1, "INSERT INTO {T} (g) VALUES (1)")
				sc.exec(2, "CREATE TEMPORARY TABLE IF NOT EXISTS r5h_tmp (a INT)")
				sc.exec(0, "INSERT INTO {T} (g) VALUES (2)")
				sc.exec(0, "INSERT INTO {T} (g) VALUES (3)")
				sc.exec(0, "ROLLBACK")
				sc.exec(0, "INSERT INTO {T} (g) VALUES (4)")
				sc.exec(1, "INSERT INTO {T} (g) VALUES (5)")
				sc.query(0, "SELECT COUNT(*) FROM {T}")
				sc.query(1, "SELECT COUNT(*) FROM {T}")
				// The same with the state left by a session that ends.
				sc.exec(0, "SET autocommit = 0")
				sc.exec(0, tc.begin)
				sc.exec(0, "SET autocommit = 1")
				sc.end(0)
				sc.exec(1, "INSERT INTO {T} (g) VALUES (6)")
				sc.exec(2, "INSERT INTO {T} (g) VALUES (7)")
				sc.query(2, "SELECT COUNT(*) FROM {T}")
			})
		}
	})
}

// TestNextTransactionUnpinsAtCommit: the state of the two tests above
// lasts until a COMMIT or ROLLBACK, and so does the pin: on one backend,
// the second session gets it right after.
func TestNextTransactionUnpinsAtCommit(t *testing.T) {
	db := server(t)
	bothWays(t, 1, func(t *testing.T, open func(*testing.T, string) *sql.DB) {
		tables := ownTables(t, "r5u", 2)
		sc := newScript(t, "SET TRANSACTION READ ONLY, then COMMIT")
		subj, twin := open(t, ""), openDirect(t, db, "")
		sc.session(0, subj, twin, tables[0])
		sc.session(1, subj, twin, tables[1])
		sc.exec(0, "SET TRANSACTION READ ONLY")
		sc.exec(0, "SELECT 1")
		sc.exec(0, "COMMIT")
		sc.exec(1, "INSERT INTO {T} (g) VALUES (1)")
		sc.exec(0, "INSERT INTO {T} (g) VALUES (2)")
		sc.exec(0, "SET autocommit = 0")
		sc.exec(0, "START TRANSACTION READ ONLY")
		sc.exec(0, "SET autocommit = 1")
		sc.exec(0, "ROLLBACK")
		sc.exec(1, "INSERT INTO {T} (g) VALUES (3)")
		sc.exec(0, "INSERT INTO {T} (g) VALUES (4)")
		sc.query(0, "SELECT COUNT(*) FROM {T}")
		sc.query(1, "SELECT COUNT(*) FROM {T}")
	})
}

// TestLeakRoundedValue: a value the server rounded or clamped (with a
// warning, under a non-strict sql_mode) must be replayed on another
// backend without error after the session turned strict mode on: in
// separate statements, in a transaction, or in one SET.
func TestLeakRoundedValue(t *testing.T) {
	db := server(t)
	for _, variant := range []string{"autocommit", "transaction", "one_statement"} {
		t.Run(variant, func(t *testing.T) {
			bothWays(t, 2, func(t *testing.T, open func(*testing.T, string) *sql.DB) {
				sc := newScript(t, "SET join_buffer_size=1000, then strict mode ("+variant+")")
				subj, twin := open(t, ""), openDirect(t, db, "")
				for i := range 3 {
					sc.session(i, subj, twin, nil)
				}
				if variant == "transaction" {
					sc.exec(0, "BEGIN")
				}
				if variant == "one_statement" {
					sc.execW(0, "SET sql_mode = '', join_buffer_size = 1000, max_heap_table_size = 1000, "+
						"div_precision_increment = 31, sql_mode = 'STRICT_ALL_TABLES'")
				} else {
					sc.exec(0, "SET sql_mode = ''")
					sc.exec(0, "SET join_buffer_size = 1000")
					sc.exec(0, "SET max_heap_table_size = 1000, div_precision_increment = 31")
					sc.exec(0, "SET sql_mode = 'STRICT_ALL_TABLES'")
				}
				was := sc.connID(0)
				if variant == "transaction" {
					sc.exec(0, "COMMIT")
				}
				// Sessions 1 and 2 take both backends; the one on session
				// 0's gives it back last, so that session 0 runs on the
				// other one, where its settings are replayed.
				sc.exec(1, "BEGIN")
				sc.exec(2, "BEGIN")
				first, second := 1, 2
				if sc.connID(1) == was {
					first, second = 2, 1
				} else if sc.connID(2) != was {
					t.Fatalf("neither session 1 nor 2 is on session 0's backend %d", was)
				}
				sc.exec(first, "COMMIT")
				sc.query(0, "SELECT @@join_buffer_size, @@max_heap_table_size, @@div_precision_increment, @@sql_mode")
				if now := sc.connID(0); now == was {
					t.Fatalf("session 0 did not move off backend %d: the test proves nothing", was)
				}
				sc.exec(second, "COMMIT")
				sc.query(1, "SELECT @@join_buffer_size, @@sql_mode")
			})
		})
	}
}

// TestLeakLastInsertID: LAST_INSERT_ID() and @@last_insert_id are a
// session's own, also on a fresh or pinned session on a backend where
// another session inserted; and what the server derives from a setting
// (sql_big_selects from max_join_size) is as on a direct connection.
func TestLeakLastInsertID(t *testing.T) {
	db := server(t)
	bothWays(t, 1, func(t *testing.T, open func(*testing.T, string) *sql.DB) {
		t.Run("last_insert_id", func(t *testing.T) {
			tables := ownTables(t, "r7", 4)
			sc := newScript(t, "LAST_INSERT_ID on a fresh session")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, tables[0])
			sc.exec(0, "INSERT INTO {T} (g) VALUES (1), (2)")
			sc.exec(0, "INSERT INTO {T} (g) VALUES (3)")
			sc.query(0, "SELECT LAST_INSERT_ID()")
			sc.session(1, subj, twin, tables[1])
			sc.query(1, "SELECT LAST_INSERT_ID(), @@last_insert_id")
			sc.end(1)
			sc.session(2, subj, twin, tables[2])
			sc.exec(2, "SET @x = 1")
			sc.query(2, "SELECT LAST_INSERT_ID(), @@last_insert_id, @x")
			sc.end(2)
			sc.query(0, "SELECT LAST_INSERT_ID(), @@last_insert_id")
			sc.end(0)
			sc.session(3, subj, twin, tables[3])
			sc.query(3, "SELECT @@last_insert_id")
			sc.query(3, "SELECT @@last_insert_id, LAST_INSERT_ID()")
			sc.exec(3, "BEGIN")
			sc.exec(3, "INSERT INTO {T} (g) VALUES (?)", 5)
			sc.exec(3, "COMMIT")
			sc.end(3)
			sc.session(1, subj, twin, tables[1])
			sc.query(1, "SELECT @@last_insert_id")
			sc.exec(1, "SET @y = 2")
			sc.query(1, "SELECT @@last_insert_id")
			sc.query(1, "SELECT LAST_INSERT_ID()")
			sc.end(1)
			// The same through a prepared statement (binary protocol), on
			// a session pinned by RELEASE_LOCK after another inserted.
			sc.session(0, subj, twin, tables[0])
			sc.exec(0, "INSERT INTO {T} (g) VALUES (6)")
			sc.end(0)
			sc.session(1, subj, twin, tables[1])
			sc.step(1, step{kind: opPrepare, slot: "p", sql: "SELECT LAST_INSERT_ID(), @@session.last_insert_id, ? + 1"})
			sc.step(1, step{kind: opStmtQuery, slot: "p", args: []any{1}})
			sc.query(1, "SELECT RELEASE_LOCK('r7')")
			sc.step(1, step{kind: opStmtQuery, slot: "p", args: []any{2}})
			sc.query(1, "SELECT @@session.last_insert_id")
		})
		t.Run("explicit_id", func(t *testing.T) {
			// An INSERT with an explicit id reports that id in its OK
			// packet, but LAST_INSERT_ID() does not change.
			tables := ownTables(t, "r7e", 2)
			sc := newScript(t, "LAST_INSERT_ID after an explicit id")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, tables[0])
			sc.session(1, subj, twin, tables[1])
			sc.exec(1, "INSERT INTO {T} (g) VALUES (1), (2)")
			sc.exec(0, "REPLACE INTO {T} (id, g) VALUES (1, 3)")
			sc.query(0, "SELECT LAST_INSERT_ID(), @@last_insert_id")
			sc.exec(0, "INSERT INTO {T} (id, g) VALUES (7, 3)")
			sc.query(0, "SELECT LAST_INSERT_ID()")
			sc.exec(0, "INSERT INTO {T} (g) VALUES (4)")
			sc.exec(0, "INSERT INTO {T} (id, g) VALUES (20, 3)")
			sc.query(0, "SELECT LAST_INSERT_ID()")
		})
		t.Run("left_unread", func(t *testing.T) {
			// Seed 1796541315499550994 (listener), shrunk: a session
			// gives its backend back with its value unread; another
			// reads it for it and runs an insert from its own value;
			// the first takes the backend back, pins it (GET_LOCK,
			// which may write an insert id) and inserts in a read-only
			// transaction, which fails.
			tables := ownTables(t, "r7u", 2)
			sc := newScript(t, "LAST_INSERT_ID left unread on a released backend")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, tables[0])
			sc.exec(0, "INSERT INTO {T} (g, s) VALUES (?, ?)", 11, "é")
			sc.session(1, subj, twin, tables[1])
			sc.exec(1, "INSERT INTO {T} (g) SELECT g FROM {T} ORDER BY id LIMIT 2")
			sc.end(1)
			sc.query(0, "SELECT GET_LOCK('{T}', 0)")
			sc.query(0, "SELECT IS_FREE_LOCK('{T}')")
			sc.exec(0, "START TRANSACTION READ ONLY")
			sc.run(0, op{steps: []step{ex("INSERT INTO {T} (g) VALUES (7)"), qu("SELECT LAST_INSERT_ID(), @@last_insert_id")}})
			sc.exec(0, "ROLLBACK")
			sc.query(0, "SELECT RELEASE_LOCK('{T}')")
			sc.exec(0, "INSERT INTO {T} (g) VALUES (8)")
			sc.query(0, "SELECT LAST_INSERT_ID()")
			sc.end(0)
		})
		t.Run("sql_big_selects", func(t *testing.T) {
			sc := newScript(t, "SET max_join_size=1000")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, nil)
			sc.session(1, subj, twin, nil)
			sc.exec(0, "SET max_join_size = 1000")
			sc.query(0, "SELECT @@sql_big_selects, @@max_join_size")
			sc.query(1, "SELECT @@sql_big_selects, @@max_join_size")
			sc.query(0, "SELECT @@sql_big_selects, @@max_join_size")
			sc.exec(0, "SET max_join_size = DEFAULT")
			sc.query(0, "SELECT @@sql_big_selects, @@max_join_size")
			sc.query(1, "SELECT @@sql_big_selects")
			sc.exec(1, "SET sql_big_selects = 0")
			sc.exec(1, "SET max_join_size = 1000000")
			sc.query(1, "SELECT @@sql_big_selects")
			sc.query(0, "SELECT @@sql_big_selects")
			sc.fresh(1)
			sc.query(1, "SELECT @@sql_big_selects, @@max_join_size")
		})
	})
}

// TestLeakPreparedState: a prepared statement is prepared where and as
// the session is: in its transaction (a READ ONLY one refuses to prepare
// an UPDATE), in its handshake collation (a literal compared with an
// argument), with its character_set_results (the column types).
func TestLeakPreparedState(t *testing.T) {
	db := server(t)
	// Two backends: a session that rdsmux pins must not make the next one
	// wait.
	bothWays(t, 2, func(t *testing.T, open func(*testing.T, string) *sql.DB) {
		t.Run("read_only_transaction", func(t *testing.T) {
			tables := ownTables(t, "r8", 1)
			sc := newScript(t, "prepare in a READ ONLY transaction")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, tables[0])
			sc.step(0, step{kind: opBegin, txOpts: &sql.TxOptions{Isolation: sql.LevelSerializable, ReadOnly: true}})
			sc.step(0, step{kind: opPrepare, slot: "u", sql: "UPDATE {T} SET g = g + 1 WHERE id = ?"})
			sc.step(0, step{kind: opRollback})
			sc.exec(0, "START TRANSACTION READ ONLY")
			sc.step(0, step{kind: opPrepare, slot: "u", sql: "INSERT INTO {T} (g) VALUES (?)"})
			sc.step(0, step{kind: opStmtExec, slot: "u", args: []any{1}})
			sc.exec(0, "ROLLBACK")
		})
		t.Run("read_only_session", func(t *testing.T) {
			// Shrunk by the suite (seed 1796396937925687710): a read-only
			// session, outside any transaction, after another session's
			// transaction on the backend.
			for k, set := range []string{"SET @@local.innodb_lock_wait_timeout=5, @@tx_read_only=1", "SET SESSION tx_read_only = 1"} {
				tables := ownTables(t, "r8s"+itoa(k), 2)
				sc := newScript(t, "prepare in a read-only session ("+set+")")
				subj, twin := open(t, ""), openDirect(t, db, "")
				sc.session(0, subj, twin, tables[0])
				sc.execW(0, set)
				sc.session(1, subj, twin, tables[1])
				sc.exec(1, "START TRANSACTION WITH CONSISTENT SNAPSHOT")
				sc.end(1)
				sc.step(0, step{kind: opPrepare, slot: "v", sql: "INSERT INTO {T} (g, s) VALUES (?, ?)"})
				sc.step(0, step{kind: opStmtExec, slot: "v", args: []any{1, "x"}})
				sc.end(0)
			}
		})
		t.Run("set_names_collate", func(t *testing.T) {
			// Shrunk by the suite on main 86dd946 (seed 1796397786069286861):
			// 1253 (collation not valid for the character set).
			const params = "time_zone=%27%2B02%3A00%27&div_precision_increment=6&interpolateParams=true"
			sc := newScript(t, "a statement prepared before SET NAMES ... COLLATE")
			subj, twin := open(t, params), openDirect(t, db, params)
			sc.session(0, subj, twin, nil)
			sc.step(0, step{kind: opPrepare, slot: "p", sql: "SELECT HEX(?), CHARSET(?), ? = 'é'"})
			// Another session pins its backend and ends: the backend is
			// reset.
			sc.session(1, subj, twin, map[string][2]string{"{L}": {"r10s", "r10d"}})
			sc.query(1, "SELECT GET_LOCK('{L}', 0)")
			sc.end(1)
			sc.exec(0, "SET NAMES latin1 COLLATE latin1_general_ci")
			sc.step(0, step{kind: opStmtQuery, slot: "p", args: []any{"o'k", "é", "0123456789"}})
			sc.exec(0, "SET NAMES cp1257 COLLATE cp1257_bin")
			sc.step(0, step{kind: opStmtQuery, slot: "p", args: []any{"é", "é", "é"}})
			sc.query(0, "SELECT @@collation_connection, ? = 'é'", "é")
		})
		t.Run("results_charset", func(t *testing.T) {
			// Shrunk by the suite on main 62636a5 (seed
			// 1796398143244887381): the column names of a statement
			// prepared under character_set_results=latin1 and run after
			// SET NAMES utf8mb4 are in latin1 directly.
			sc := newScript(t, "a statement prepared under another character_set_results")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, nil)
			sc.exec(0, "SET character_set_results = 'latin1'")
			sc.step(0, step{kind: opPrepare, slot: "p", sql: "SELECT HEX(?), CHARSET(?), ? = 'é'"})
			sc.exec(0, "SET NAMES utf8mb4")
			sc.step(0, step{kind: opStmtQuery, slot: "p", args: []any{"", "é", "a"}})
		})
		t.Run("cached_then_read_only", func(t *testing.T) {
			// Shrunk by the soak (seed 1796404348954292884): a statement
			// the backend cached for a parameterized INSERT must not hide
			// the 1792 a PREPARE of it gets in a READ ONLY transaction.
			tables := ownTables(t, "r8c", 1)
			sc := newScript(t, "prepare in a READ ONLY transaction after the statement was cached")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, tables[0])
			sc.exec(0, "INSERT INTO {T} (g, s) VALUES (?, ?)", 1, "0123456789")
			sc.exec(0, "START TRANSACTION READ ONLY")
			sc.step(0, step{kind: opPrepare, slot: "p", sql: "INSERT INTO {T} (g, s) VALUES (?, ?)"})
			sc.exec(0, "ROLLBACK")
			sc.step(0, step{kind: opPrepare, slot: "p", sql: "INSERT INTO {T} (g, s) VALUES (?, ?)"})
			sc.step(0, step{kind: opStmtExec, slot: "p", args: []any{2, "x"}})
			sc.end(0)
		})
		t.Run("next_transaction_read_write", func(t *testing.T) {
			// Shrunk by the soak (seed 1796404897138510346): SET
			// @@tx_read_only without a scope is for the next transaction
			// only; running a statement prepared before must not lose it.
			tables := ownTables(t, "r8n", 1)
			sc := newScript(t, "a prepared statement between SET @@tx_read_only=0 and the next transaction")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, tables[0])
			sc.run(0, op{steps: []step{{kind: opPrepare, slot: "p", sql: "SELECT @@sql_mode, DATABASE(), @@character_set_client, 'a' || 'b'"}}, warnings: true})
			sc.session(1, subj, twin, nil)
			sc.query(1, "SELECT @u, @v, @x")
			sc.end(1)
			sc.exec(0, "SET SESSION TRANSACTION READ ONLY")
			sc.execW(0, "SET @@TX_READ_ONLY=0")
			sc.run(0, op{steps: []step{{kind: opStmtQuery, slot: "p"}}, warnings: true})
			sc.run(0, op{steps: []step{ex("UPDATE {T} SET g = g + 1 WHERE id = ?", 2)}, warnings: true})
			sc.exec(0, "UPDATE {T} SET g = g + 1 WHERE id = ?", 2)
			sc.end(0)
		})
		t.Run("results_charset_lengths", func(t *testing.T) {
			// Shrunk by the soak (seeds 1796405149497291902, listener, and
			// 1796405040171664689, driver): a column's length follows the
			// parameters' values, so MariaDB sends definitions again when
			// they change, also after SET character_set_results.
			sc := newScript(t, "parameters of other lengths after SET character_set_results")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, nil)
			sc.step(0, step{kind: opPrepare, slot: "p", sql: "SELECT ? || 'x', CONCAT(?, 'y')"})
			sc.exec(0, "SET character_set_results='binary'")
			sc.step(0, step{kind: opStmtQuery, slot: "p", args: []any{"a\\b", "0123456789"}})
			sc.exec(0, "SET NAMES utf8mb4")
			sc.step(0, step{kind: opStmtQuery, slot: "p", args: []any{"ñandú", "a\\b"}})
			sc.exec(0, "SET character_set_results='binary'")
			sc.step(0, step{kind: opStmtQuery, slot: "p", args: []any{"ñandú", ""}})
			sc.step(0, step{kind: opStmtQuery, slot: "p", args: []any{"ñandú", "é"}})
		})
		t.Run("connection_collation_and_results", func(t *testing.T) {
			// Shrunk by the soak (seed 1796406021631995698): HEX(v) takes
			// collation_connection, which the definitions converted to
			// binary results no longer show; MariaDB sends them again.
			sc := newScript(t, "SET collation_connection, then character_set_results")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, nil)
			sc.step(0, step{kind: opPrepare, slot: "p", sql: "SELECT v, HEX(v) FROM ro WHERE id = ?"})
			sc.execW(0, "SET @@local.collation_connection='utf8mb4_unicode_ci'")
			sc.exec(0, "SET @@character_set_results='binary'")
			sc.step(0, step{kind: opStmtQuery, slot: "p", args: []any{1}})
			sc.step(0, step{kind: opStmtQuery, slot: "p", args: []any{2}})
		})
		t.Run("connection_change_executed_then_results", func(t *testing.T) {
			// Shrunk by the driver soak (seed 1796461451209506779): the
			// execute after the collation_connection change made MariaDB
			// send HEX(v)'s definitions again, byte for byte the same
			// under the same results character set; they are its
			// reference from then on, so a later change of
			// character_set_results alone sends nothing.
			sc := newScript(t, "SET character_set_connection, execute, then character_set_results")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, nil)
			sc.step(0, step{kind: opPrepare, slot: "p", sql: "SELECT v, HEX(v) FROM ro WHERE id = ?"})
			sc.execW(0, "SET @@local.character_set_connection=DEFAULT, LOCAL INNODB_STRICT_MODE=0")
			sc.step(0, step{kind: opStmtQuery, slot: "p", args: []any{1}})
			sc.execW(0, "SET @@session.CHARACTER_SET_RESULTS := 'binary'")
			sc.step(0, step{kind: opStmtQuery, slot: "p", args: []any{2}})
		})
		t.Run("warnings_of_the_switch", func(t *testing.T) {
			// Found by the soak (seed 1796406451297287380): running a
			// statement in its prepare state SETs big_tables, which
			// raises 1287; COMMIT (no table) leaves it for SHOW WARNINGS,
			// which must not show it as the session's.
			sc := newScript(t, "a prepared statement run in its state, then a statement without a table")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, nil)
			sc.step(0, step{kind: opPrepare, slot: "p", sql: "SELECT HEX(?), CHARSET(?), ? = 'é'"})
			sc.session(1, subj, twin, map[string][2]string{"{L}": {"r8ws", "r8wd"}})
			sc.query(1, "SELECT GET_LOCK('{L}', 0)")
			sc.end(1)
			sc.exec(0, "SET big_tables=1")
			sc.query(0, "SELECT COUNT(*) FROM ro")
			sc.step(0, step{kind: opStmtQuery, slot: "p", args: []any{"a", "b", "c"}})
			sc.execW(0, "COMMIT AND CHAIN")
			sc.exec(0, "COMMIT")
		})
		t.Run("system_charset_columns", func(t *testing.T) {
			// Shrunk by the soak (seed 1796406572530387520): system
			// variables and DATABASE() keep the system character set
			// when collation_connection changes: MariaDB keeps the
			// definitions held from binary results.
			sc := newScript(t, "system-charset columns across results and connection changes")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, nil)
			sc.execW(0, "SET LOCAL character_set_results='binary'")
			sc.step(0, step{kind: opPrepare, slot: "p", sql: "SELECT @@sql_mode, DATABASE(), @@character_set_client, 'a' || 'b'"})
			sc.execW(0, "SET @@local.character_set_results=NULL")
			sc.exec(0, "SET collation_connection='utf8mb4_unicode_ci'")
			sc.step(0, step{kind: opStmtQuery, slot: "p"})
		})
		t.Run("connection_binary_and_results", func(t *testing.T) {
			// Found by the soak (seed 1796408022430348498): CONCAT(?, 'y')
			// keeps the collation fixed at PREPARE when the connection's
			// changes (unlike HEX(v)): MariaDB keeps the definitions.
			sc := newScript(t, "CONCAT of parameters across results and connection changes")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, nil)
			sc.step(0, step{kind: opPrepare, slot: "p", sql: "SELECT ? || 'x', CONCAT(?, 'y')"})
			sc.exec(0, "SET LOCAL character_set_results='binary'")
			sc.exec(0, "SET @@local.character_set_connection='binary'")
			sc.step(0, step{kind: opStmtQuery, slot: "p", args: []any{"", ""}})
			sc.step(0, step{kind: opStmtQuery, slot: "p", args: []any{"a", "b"}})
		})
		t.Run("error_then_switch_back", func(t *testing.T) {
			// Found by the listener soak (seed 1796409767759161717): a
			// statement prepared again in its state failed (1792); the
			// SET back to the session's state (big_tables: 1287) then
			// replaced the error in the diagnostics, which SHOW WARNINGS
			// showed as the session's.
			tables := ownTables(t, "r8e", 1)
			sc := newScript(t, "an execute's error, then the switch back")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, tables[0])
			sc.step(0, step{kind: opPrepare, slot: "p", sql: "INSERT INTO {T} (g, s) VALUES (?, ?)"})
			sc.exec(0, "SET @@local.big_tables=1")
			sc.exec(0, "SET SESSION TRANSACTION READ ONLY")
			sc.session(1, subj, twin, map[string][2]string{"{L}": {"r8es", "r8ed"}})
			sc.query(1, "SELECT GET_LOCK('{L}', 0)")
			sc.end(1)
			sc.step(0, step{kind: opStmtExec, slot: "p", args: []any{4, ""}})
			sc.query(0, "SELECT 1/7")
			sc.queryW(0, "SELECT @@foreign_key_checks")
		})
		t.Run("results_charset_after_reset", func(t *testing.T) {
			// The driver's shrink of seed 1796405040171664689: another
			// session's pin resets the backend between the executions.
			sc := newScript(t, "parameters of other lengths after SET character_set_results and a reset")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, nil)
			sc.step(0, step{kind: opPrepare, slot: "p", sql: "SELECT ? || 'x', CONCAT(?, 'y')"})
			sc.step(0, step{kind: opStmtQuery, slot: "p", args: []any{"ñandú", "a\\b"}})
			sc.execW(0, "SET @@session.CHARACTER_SET_RESULTS := 'binary'")
			sc.session(1, subj, twin, nil)
			sc.execW(1, "SET @@character_set_database='cp1257'")
			sc.end(1)
			sc.step(0, step{kind: opStmtQuery, slot: "p", args: []any{"ñandú", ""}})
		})
		t.Run("cached_in_a_transaction", func(t *testing.T) {
			// Shrunk by the soak (seed 1796407339322961442, listener): a
			// statement prepared inside a read-write transaction of a
			// read-only session must not serve a PREPARE made after the
			// COMMIT, which the server refuses (1792).
			tables := ownTables(t, "r8t", 1)
			sc := newScript(t, "prepared in a transaction, prepared again after it")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, tables[0])
			sc.exec(0, "BEGIN")
			sc.exec(0, "SET SESSION TRANSACTION READ ONLY")
			sc.exec(0, "UPDATE {T} SET g = g + 1 WHERE id = ?", 1)
			sc.step(0, step{kind: opPrepare, slot: "p", sql: "UPDATE {T} SET g = g + 2 WHERE id = ?"})
			sc.exec(0, "COMMIT")
			sc.step(0, step{kind: opPrepare, slot: "q", sql: "UPDATE {T} SET g = g + 1 WHERE id = ?"})
			sc.step(0, step{kind: opPrepare, slot: "p", sql: "UPDATE {T} SET g = g + 2 WHERE id = ?"})
			sc.exec(0, "SET SESSION TRANSACTION READ WRITE")
			sc.step(0, step{kind: opPrepare, slot: "q", sql: "UPDATE {T} SET g = g + 1 WHERE id = ?"})
			sc.step(0, step{kind: opStmtExec, slot: "q", args: []any{1}})
			sc.end(0)
		})
		t.Run("prepared_in_a_read_only_session", func(t *testing.T) {
			// Found by the soak (seed 1796407682141418433, driver): a
			// statement prepared inside a read-write transaction of a
			// read-only session, run after the session became read-write
			// on a backend that had to prepare it again: preparing it in
			// its own (read-only) state failed with 1792.
			tables := ownTables(t, "r8o", 2)
			sc := newScript(t, "a statement of a read-only session prepared again elsewhere")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, tables[0])
			sc.exec(0, "ROLLBACK AND CHAIN")
			sc.exec(0, "SET SESSION TRANSACTION READ ONLY")
			sc.step(0, step{kind: opPrepare, slot: "p", sql: "INSERT INTO {T} (g, s) VALUES (?, ?)"})
			sc.step(0, step{kind: opStmtExec, slot: "p", args: []any{1, "a"}})
			sc.exec(0, "COMMIT")
			sc.exec(0, "SET SESSION TRANSACTION READ WRITE")
			// Another session pins the backend and ends: it is reset, and
			// the statement must be prepared again.
			sc.session(1, subj, twin, map[string][2]string{"{L}": {"r8os", "r8od"}})
			sc.query(1, "SELECT GET_LOCK('{L}', 0)")
			sc.end(1)
			sc.step(0, step{kind: opStmtExec, slot: "p", args: []any{2, "b"}})
			sc.step(0, step{kind: opPrepare, slot: "q", sql: "INSERT INTO {T} (g, s) VALUES (?, ?)"})
			sc.exec(0, "SET SESSION TRANSACTION READ ONLY")
			sc.step(0, step{kind: opPrepare, slot: "q", sql: "INSERT INTO {T} (g, s) VALUES (?, ?)"})
			sc.step(0, step{kind: opStmtExec, slot: "p", args: []any{3, "c"}})
			sc.end(0)
		})
		t.Run("lock_tables", func(t *testing.T) {
			// Found by the soak (driver and listener): under LOCK TABLES
			// the server refuses at PREPARE a statement naming a table
			// that is not locked (1100); a statement the backend had
			// cached from before the lock must not hide that.
			tables := ownTables(t, "r8l", 2)
			sc := newScript(t, "prepare under LOCK TABLES after the statement was cached")
			subj, twin := open(t, ""), openDirect(t, db, "")
			sc.session(0, subj, twin, tables[0])
			sc.step(0, step{kind: opPrepare, slot: "p", sql: "SELECT COUNT(*) FROM {T}"})
			sc.step(0, step{kind: opStmtQuery, slot: "p"})
			sc.query(0, "SELECT g FROM {T} WHERE id = ?", 1)
			sc.session(1, subj, twin, tables[1])
			sc.exec(0, "LOCK TABLES {T} AS x READ")
			sc.step(0, step{kind: opPrepare, slot: "q", sql: "SELECT COUNT(*) FROM {T}"})
			sc.query(0, "SELECT g FROM {T} WHERE id = ?", 1)
			sc.step(0, step{kind: opStmtQuery, slot: "p"})
			sc.exec(0, "UNLOCK TABLES")
			sc.step(0, step{kind: opPrepare, slot: "q", sql: "SELECT COUNT(*) FROM {T}"})
			sc.step(0, step{kind: opStmtQuery, slot: "q"})
			sc.end(0)
			sc.end(1)
		})
		for _, c := range []string{"utf8mb4_unicode_ci", "latin1_swedish_ci"} {
			t.Run(c, func(t *testing.T) {
				sc := newScript(t, "prepare under collation "+c)
				subj, twin := open(t, "collation="+c), openDirect(t, db, "collation="+c)
				other, otherTwin := open(t, ""), openDirect(t, db, "")
				sc.session(0, subj, twin, nil)
				sc.session(1, other, otherTwin, nil)
				sc.step(0, step{kind: opPrepare, slot: "p", sql: "SELECT HEX(?), CHARSET(?), ? = 'é'"})
				sc.step(0, step{kind: opStmtQuery, slot: "p", args: []any{"o'k", "é", "ñandú"}})
				sc.exec(1, "SET NAMES utf8mb4 COLLATE utf8mb4_bin, character_set_results = NULL")
				sc.query(1, "SELECT @@character_set_results")
				sc.step(0, step{kind: opStmtQuery, slot: "p", args: []any{"é", "é", "é"}})
				sc.step(0, step{kind: opPrepare, slot: "q", sql: "SELECT @@sql_mode, DATABASE(), @@character_set_client"})
				sc.step(0, step{kind: opStmtQuery, slot: "q"})
				sc.query(0, "SELECT @@collation_connection, @@character_set_results, 'é' = ?", "é")
			})
		}
	})
}

// TestLeakFailedBatchTransaction: a multi-statement batch whose BEGIN ran
// and whose next statement failed leaves the session in a transaction;
// the driver (which cannot see status flags) must not give that backend
// to another session, whose autocommitted rows the transaction's rollback
// would then take away. Found by the soak with the pool's state verifier
// and the server's general log (seed 1796404605488575080).
func TestLeakFailedBatchTransaction(t *testing.T) {
	db := server(t)
	bothWays(t, 2, func(t *testing.T, open func(*testing.T, string) *sql.DB) {
		tables := ownTables(t, "r14", 2)
		sc := newScript(t, "BEGIN; a failing INSERT, then another session inserts")
		subj, twin := open(t, "multiStatements=true"), openDirect(t, db, "multiStatements=true")
		sc.session(0, subj, twin, tables[0])
		sc.session(1, subj, twin, tables[1])
		sc.exec(0, "BEGIN; INSERT INTO {T} (g) VALUES ('x1')")
		sc.exec(1, "INSERT INTO {T} (g) VALUES (4)")
		sc.query(0, "SELECT @@in_transaction")
		sc.exec(0, "INSERT INTO {T} (g) VALUES (1)")
		sc.exec(0, "ROLLBACK")
		sc.exec(0, "SET autocommit = 0; INSERT INTO {T} (g) VALUES ('x1')")
		sc.query(0, "SELECT @@autocommit, @@in_transaction")
		sc.exec(0, "INSERT INTO {T} (g) VALUES (2)")
		sc.exec(0, "COMMIT; INSERT INTO {T} (g) VALUES ('x1')")
		sc.query(0, "SELECT @@in_transaction")
		sc.exec(0, "SET autocommit = 1")
		sc.query(0, "SELECT g FROM {T} ORDER BY id")
		sc.end(0)
		sc.exec(1, "INSERT INTO {T} (g) VALUES (3)")
		sc.query(1, "SELECT g FROM {T} ORDER BY id")
		sc.end(1)
	})
}

// TestLeakBeginReleasesTableLocks: START TRANSACTION releases the table
// locks of LOCK TABLES, so a later UNLOCK TABLES commits nothing and the
// transaction stays open; the driver (which tracks transactions from the
// text) released the backend there. Found by the soak with the general
// log (seed 1796406404421617474).
func TestLeakBeginReleasesTableLocks(t *testing.T) {
	db := server(t)
	bothWays(t, 2, func(t *testing.T, open func(*testing.T, string) *sql.DB) {
		tables := ownTables(t, "r15", 2)
		sc := newScript(t, "LOCK TABLES, START TRANSACTION, UNLOCK TABLES")
		subj, twin := open(t, ""), openDirect(t, db, "")
		sc.session(0, subj, twin, tables[0])
		sc.session(1, subj, twin, tables[1])
		sc.exec(0, "LOCK TABLES {T} WRITE")
		sc.exec(0, "START TRANSACTION")
		sc.exec(0, "INSERT INTO {T} (g) VALUES (1)")
		sc.exec(0, "UNLOCK TABLES")
		sc.exec(1, "INSERT INTO {T} (g) VALUES (2)")
		sc.query(0, "SELECT @@in_transaction")
		sc.exec(0, "ROLLBACK")
		sc.query(0, "SELECT g FROM {T} ORDER BY id")
		sc.end(0)
		sc.query(1, "SELECT @@in_transaction")
		sc.query(1, "SELECT g FROM {T} ORDER BY id")
		sc.end(1)
	})
}

// TestLeakAutoIsNull: under sql_auto_is_null=1, WHERE id IS NULL finds the
// last inserted row once after an insert; whether that was used up lives
// on the connection. Another session's insert must not make it find the
// session's row again (found by the listener soak, seed
// 1796408907102157954).
func TestLeakAutoIsNull(t *testing.T) {
	db := server(t)
	bothWays(t, 2, func(t *testing.T, open func(*testing.T, string) *sql.DB) {
		tables := ownTables(t, "r16", 2)
		sc := newScript(t, "WHERE id IS NULL after another session's insert")
		subj, twin := open(t, ""), openDirect(t, db, "")
		sc.session(0, subj, twin, tables[0])
		sc.session(1, subj, twin, tables[1])
		sc.exec(0, "INSERT INTO {T} (g) VALUES (7)")
		sc.exec(0, "SET SESSION sql_auto_is_null = 1")
		sc.query(0, "SELECT id FROM {T} WHERE id IS NULL")
		sc.exec(1, "INSERT INTO {T} (g) VALUES (8)")
		sc.query(0, "SELECT id FROM {T} WHERE id IS NULL")
		sc.exec(0, "INSERT INTO {T} (g) VALUES (9)")
		sc.query(0, "SELECT id FROM {T} WHERE id IS NULL")
		sc.query(0, "SELECT id FROM {T} WHERE id IS NULL")
		sc.end(0)
		sc.end(1)
	})
	bothWays(t, 1, func(t *testing.T, open func(*testing.T, string) *sql.DB) {
		// Shrunk by the listener soak (seed 1796409994549465843): the
		// pin, taken inside an API transaction of a pinned session.
		sc := newScript(t, "SET sql_auto_is_null=1 in a transaction of a pinned session")
		subj, twin := open(t, "interpolateParams=true"), openDirect(t, db, "interpolateParams=true")
		tables := ownTables(t, "r16b", 2)
		sc.session(1, subj, twin, tables[1])
		sc.exec(1, "INSERT INTO {T} (g, s) VALUES (7, 'é'), (NULL, 'ñ')")
		sc.end(1)
		sc.session(0, subj, twin, tables[0])
		sc.exec(0, "PREPARE p1 FROM 'SELECT ? + 1, DATABASE()'")
		sc.exec(0, "SET @v = 5")
		sc.query(0, "EXECUTE p1 USING @v")
		sc.step(0, step{kind: opBegin})
		sc.execW(0, "SET NAMES latin1, @@SQL_AUTO_IS_NULL=1")
		sc.step(0, step{kind: opRollback})
		sc.query(0, "SELECT @@sql_auto_is_null, @v")
		sc.end(0)
	})
}

// TestLeakSchemaCharset: @@character_set_database follows the session's
// current database (test is utf8mb4 on a latin1 server), from the first
// statement of a fresh session on.
func TestLeakSchemaCharset(t *testing.T) {
	db := server(t)
	bothWays(t, 1, func(t *testing.T, open func(*testing.T, string) *sql.DB) {
		sc := newScript(t, "character_set_database of the current database")
		subj, twin := open(t, ""), openDirect(t, db, "")
		sc.session(0, subj, twin, nil)
		sc.query(0, "SELECT DATABASE(), @@character_set_database, @@collation_database")
		sc.exec(0, "USE s_cp")
		sc.query(0, "SELECT DATABASE(), @@character_set_database, @@collation_database")
		sc.session(1, subj, twin, nil)
		sc.query(1, "SELECT DATABASE(), @@character_set_database, @@collation_database")
		sc.exec(0, "USE test")
		sc.query(0, "SELECT DATABASE(), @@character_set_database, @@collation_database")
		sc.end(0)
		sc.end(1)
		sc.session(2, subj, twin, nil)
		sc.query(2, "SELECT DATABASE(), @@character_set_database, @@collation_database")
		// A session pinned by a temporary table ends: its backend is
		// reset (MariaDB keeps the current database across
		// COM_RESET_CONNECTION, not its character set).
		sc.exec(2, "CREATE TEMPORARY TABLE r9 (a INT)")
		sc.end(2)
		sc.session(3, subj, twin, nil)
		sc.query(3, "SELECT DATABASE(), @@character_set_database, @@collation_database")
	})
}

// TestLeakMultiStatementSettings: SET NAMES inside a multi-statement
// query (go-sql-driver multiStatements=true) is the session's setting
// for what follows, prepared statements included.
func TestLeakMultiStatementSettings(t *testing.T) {
	db := server(t)
	bothWays(t, 1, func(t *testing.T, open func(*testing.T, string) *sql.DB) {
		sc := newScript(t, "SET NAMES in a multi-statement query")
		subj, twin := open(t, "multiStatements=true"), openDirect(t, db, "multiStatements=true")
		sc.session(0, subj, twin, nil)
		sc.session(1, subj, twin, nil)
		sc.query(0, "SET NAMES latin1; SELECT @@character_set_client, HEX('é')")
		sc.query(0, "SELECT ? || 'b', CONCAT(?, 'é'), @@character_set_results", "a", "é")
		sc.query(1, "SELECT @@character_set_client")
		sc.query(0, "SELECT CONCAT(?, 'é'), @@character_set_client", "é")
		sc.query(0, "SET sql_mode = 'PIPES_AS_CONCAT'; SELECT 'a' || 'b'")
		sc.query(1, "SELECT 'a' || ?", "b")
		sc.query(0, "SELECT 'a' || ?, @@sql_mode", "b")
	})
}

// TestLeakMultiStatementTransaction: autocommit switched off inside a
// multi-statement query opens a transaction with the statements after
// it; the session keeps it, and no other session's statements join it.
// The suite saw such a transaction lost on main 62636a5 (seed
// 1796397998545667299: @@in_transaction 0 instead of 1, and another
// session's REPLACE rolled back); this script does not reproduce that
// alone yet, and guards the plain case.
func TestLeakMultiStatementTransaction(t *testing.T) {
	db := server(t)
	bothWays(t, 2, func(t *testing.T, open func(*testing.T, string) *sql.DB) {
		tables := ownTables(t, "r11", 2)
		sc := newScript(t, "COMMIT; SET autocommit = 0; INSERT in one query")
		subj, twin := open(t, "multiStatements=true"), openDirect(t, db, "multiStatements=true")
		sc.session(0, subj, twin, tables[0])
		sc.session(1, subj, twin, tables[1])
		sc.step(0, step{kind: opPrepare, slot: "p", sql: "SELECT @@sql_mode, DATABASE(), @@character_set_client, 'a' || 'b'"})
		sc.query(0, "COMMIT; SET autocommit = 0; INSERT INTO {T} (g) VALUES (3)")
		sc.step(0, step{kind: opStmtQuery, slot: "p"})
		sc.exec(0, "SET @@session.tx_isolation = 'SERIALIZABLE'")
		sc.query(0, "SELECT @@in_transaction, @@autocommit")
		sc.exec(1, "INSERT INTO {T} (g) VALUES (1)")
		sc.exec(1, "REPLACE INTO {T} (id, g) VALUES (1, 5)")
		sc.query(1, "SELECT @@in_transaction, @@autocommit, COUNT(*), SUM(g) FROM {T}")
		sc.exec(0, "ROLLBACK")
		sc.query(0, "SELECT @@in_transaction, COUNT(*) FROM {T}")
		sc.query(0, "ROLLBACK; SET autocommit = 1")
		sc.end(0)
		sc.end(1)
		sc.session(2, subj, twin, tables[1])
		sc.query(2, "SELECT @@in_transaction, @@autocommit, COUNT(*), SUM(g) FROM {T}")
		// Shrunk by the suite on main 4f64a85 (seed 1796398961004368813):
		// SET SESSION TRANSACTION READ ONLY inside the transaction the
		// multi-statement query opened applies to the next transaction,
		// not to this one.
		sc.session(3, subj, twin, tables[0])
		sc.query(2, "COMMIT; SET autocommit = 0; INSERT INTO {T} (g) VALUES (3)")
		// Another session takes a backend: if session 2's were given
		// back, it would be this one.
		sc.exec(3, "BEGIN")
		sc.query(3, "SELECT COUNT(*) FROM {T}")
		sc.exec(2, "SET SESSION TRANSACTION READ ONLY")
		sc.exec(2, "REPLACE INTO {T} (id, g) VALUES (1, 2)")
		sc.query(2, "SELECT @@in_transaction, @@tx_read_only, COUNT(*) FROM {T}")
		sc.exec(3, "COMMIT")
		sc.exec(2, "COMMIT")
		sc.exec(2, "INSERT INTO {T} (g) VALUES (4)")
		sc.query(2, "ROLLBACK; SET autocommit = 1; SET SESSION TRANSACTION READ WRITE")
	})
}

// TestLeakCharsetCLI: the mariadb command-line client, which announces
// its --default-character-set in the handshake, sees through the listener
// what it sees directly, before and after clients in other character sets
// used the backend.
func TestLeakCharsetCLI(t *testing.T) {
	db := server(t)
	l := startListener(t, db, 1)
	const q = "SELECT @@character_set_client, @@character_set_connection, @@character_set_results, @@collation_connection, HEX('é')"
	cli := func(addr, charset string) string {
		t.Helper()
		out, err := mariadbCLI(t, addr, "--default-character-set="+charset, "-e", q)
		if err != nil {
			return "error: " + err.Error() + ": " + out
		}
		return out
	}
	check := func(charset string) {
		t.Helper()
		if got, want := cli(l.addr, charset), cli(db.Addr(), charset); got != want {
			t.Errorf("mariadb --default-character-set=%s through the listener:\n    %s\ndirect:\n    %s", charset, got, want)
		}
	}
	check("latin1")
	sc := newScript(t, "a go client after the CLI")
	sc.session(0, l.open(t, ""), openDirect(t, db, ""), nil)
	sc.query(0, q)
	check("utf8mb4")
	sc.exec(0, "SET NAMES cp1257")
	check("latin1")
	check("utf8mb3")
	sc.query(0, q)
}

// mariadbCLI runs the mariadb command-line client as the app account
// against addr and returns its output.
func mariadbCLI(t *testing.T, addr string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("mariadb")
	if err != nil {
		t.Fatalf("the mariadb client is missing (%v); install mariadb-client (scripts/install-deps.sh does)", err)
	}
	host, port, _ := net.SplitHostPort(addr)
	full := append([]string{"--no-defaults", "-h", host, "-P", port, "-u", appUser, "-p" + appPass, "-D", "test",
		"--batch", "--skip-column-names", "--connect-timeout=10"}, args...)
	out, err := exec.Command(bin, full...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
