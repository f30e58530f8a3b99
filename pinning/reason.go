package pinning

import (
	"math/bits"
	"strings"
)

// PinReason is why a statement ties a client session to one backend
// connection: it creates or reads state that lives on that connection and
// that rdsmux cannot carry to another one.
type PinReason uint8

// The pin reasons. PinNone is the zero value and is never reported.
const (
	PinNone PinReason = iota
	// PinLockTables: LOCK TABLE(S), FLUSH TABLES ... WITH READ LOCK or
	// FOR EXPORT. UNLOCK TABLES releases it.
	PinLockTables
	// PinBackupLock: LOCK INSTANCE FOR BACKUP, BACKUP STAGE, BACKUP LOCK.
	PinBackupLock
	// PinGetLock: GET_LOCK, RELEASE_LOCK, IS_USED_LOCK (named locks belong
	// to a connection). RELEASE_ALL_LOCKS() releases it.
	PinGetLock
	// PinUserVariable: a user variable (@x) assigned or read.
	PinUserVariable
	// PinTemporaryTable: CREATE TEMPORARY TABLE (or SEQUENCE).
	PinTemporaryTable
	// PinPrepareText: text-protocol PREPARE, EXECUTE, DEALLOCATE PREPARE.
	PinPrepareText
	// PinFoundRows: SQL_CALC_FOUND_ROWS or FOUND_ROWS().
	PinFoundRows
	// PinRowCount: ROW_COUNT(), which reads the previous statement.
	PinRowCount
	// PinLastInsertIDSet: LAST_INSERT_ID(expr), which sets the value the
	// next LAST_INSERT_ID() returns. LAST_INSERT_ID() without an argument
	// is not a pin reason: see Result.ReadsLastInsertID.
	PinLastInsertIDSet
	// PinHandler: HANDLER ... OPEN/READ/CLOSE.
	PinHandler
	// PinUntrackedVariable: SET of a session variable that is not tracked
	// (or SET ROLE, SET RESOURCE GROUP, a tracked variable whose value
	// cannot be carried).
	PinUntrackedVariable
	// PinSetTransactionNext: the connection's next transaction will not
	// have the session's isolation level or access mode, and no variable
	// shows it: SET TRANSACTION without SESSION or GLOBAL (also SET
	// @@tx_read_only, @@tx_isolation without a scope), which applies to
	// the next transaction only; and, raised by package pool, SET
	// autocommit while a transaction is open: MariaDB ends the
	// transaction on autocommit=1 but keeps its access mode (START
	// TRANSACTION READ ONLY) for the next one. A COMMIT or ROLLBACK
	// returns both to the session's, and unpins.
	PinSetTransactionNext
	// PinSessionTrack: SET of a session_track_* variable other than
	// session_track_schema.
	PinSessionTrack
	// PinSQLLogBin: SET sql_log_bin.
	PinSQLLogBin
	// PinExecutableComment: a pin reason was found inside an executable
	// comment (/*! ... */, /*M! ... */); reported with that reason.
	PinExecutableComment
	// PinStatementTooLong: the statement is longer than the classifier's
	// limit and was not parsed.
	PinStatementTooLong
	// PinDiagnostics: SHOW WARNINGS/ERRORS, GET DIAGNOSTICS,
	// @@warning_count, @@error_count: they read what the previous statement
	// left on the connection.
	PinDiagnostics
	// PinCompoundStatement: a compound statement run directly (MariaDB
	// BEGIN NOT ATOMIC ... END, IF/WHILE/LOOP/REPEAT/CASE/FOR at top
	// level), whose effects cannot be known from its text.
	PinCompoundStatement
	// PinLastInsertID: LAST_INSERT_ID() (or @@last_insert_id) read while
	// the session's value is known only to the connection it last
	// inserted on (an insert's OK packet carries the row's id, which is
	// LAST_INSERT_ID() only if the server generated it). The classifier
	// never reports it; package pool uses it as a look-behind reason.
	PinLastInsertID

	numPinReasons
)

var pinReasonNames = [numPinReasons]string{
	PinNone:               "none",
	PinLockTables:         "lock-tables",
	PinBackupLock:         "backup-lock",
	PinGetLock:            "get-lock",
	PinUserVariable:       "user-variable",
	PinTemporaryTable:     "temporary-table",
	PinPrepareText:        "prepare-text",
	PinFoundRows:          "found-rows",
	PinRowCount:           "row-count",
	PinLastInsertIDSet:    "last-insert-id-set",
	PinHandler:            "handler",
	PinUntrackedVariable:  "untracked-variable",
	PinSetTransactionNext: "set-transaction-next",
	PinSessionTrack:       "session-track",
	PinSQLLogBin:          "sql-log-bin",
	PinExecutableComment:  "executable-comment",
	PinStatementTooLong:   "statement-too-long",
	PinDiagnostics:        "diagnostics",
	PinCompoundStatement:  "compound-statement",
	PinLastInsertID:       "last-insert-id",
}

// NumPinReasons is one more than the largest PinReason, for sizing arrays
// of per-reason counters.
const NumPinReasons = int(numPinReasons)

// String returns the reason's name, e.g. "lock-tables"; these names are
// stable and fit metric labels.
func (p PinReason) String() string {
	if p >= numPinReasons {
		return "unknown"
	}
	return pinReasonNames[p]
}

// ParsePinReason returns the reason with the given name (as String
// returns it).
func ParsePinReason(name string) (PinReason, bool) {
	for p := PinReason(1); p < numPinReasons; p++ {
		if pinReasonNames[p] == name {
			return p, true
		}
	}
	return PinNone, false
}

// PinReasons is a set of pin reasons, bit p for PinReason p.
type PinReasons uint64

// Has reports whether p is in the set.
func (s PinReasons) Has(p PinReason) bool { return p < 64 && s&(1<<p) != 0 }

// Add returns the set with p added.
func (s PinReasons) Add(p PinReason) PinReasons {
	if p == PinNone || p >= numPinReasons {
		return s
	}
	return s | 1<<p
}

// Remove returns the set without p.
func (s PinReasons) Remove(p PinReason) PinReasons { return s &^ (1 << (p & 63)) }

// Len is the number of reasons in the set.
func (s PinReasons) Len() int { return bits.OnesCount64(uint64(s)) }

// Each calls fn for each reason in the set, in order.
func (s PinReasons) Each(fn func(PinReason)) {
	for b := uint64(s); b != 0; b &= b - 1 {
		fn(PinReason(bits.TrailingZeros64(b)))
	}
}

// String lists the reasons' names, comma-separated ("" for none).
func (s PinReasons) String() string {
	var b strings.Builder
	s.Each(func(p PinReason) {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p.String())
	})
	return b.String()
}

// LookBehind is the set of reasons that read state the previous statement
// left on its connection (FOUND_ROWS(), ROW_COUNT(), warnings): they are
// right only if they run on the same backend as the statement before them,
// so a pool that releases backends between statements must keep the last
// one for the session (or pin from the statement before). The other
// reasons create state that later statements need.
const LookBehind = PinReasons(1<<PinFoundRows | 1<<PinRowCount | 1<<PinDiagnostics)

// setReasons are the reasons a SET statement raises about variables; the
// EXCLUDE_VARIABLE_SETS filter drops them.
const setReasons = PinReasons(1<<PinUserVariable | 1<<PinUntrackedVariable |
	1<<PinSetTransactionNext | 1<<PinSessionTrack | 1<<PinSQLLogBin)
