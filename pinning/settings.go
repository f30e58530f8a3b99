package pinning

import (
	"math/bits"
	"strings"
)

// Var is a tracked session variable: one whose value rdsmux records on the
// client session and replays on whichever backend the session borrows, instead
// of pinning the backend. The order of the constants is the order in which
// Diff applies them (a character set before the collation that follows it).
type Var uint8

// The tracked session variables. VarInvalid is the zero value and tracks
// nothing.
const (
	VarInvalid Var = iota
	VarAutocommit
	VarCharacterSetClient
	VarCharacterSetConnection
	VarCharacterSetResults
	VarCharacterSetServer
	VarCharacterSetDatabase
	VarCollationConnection
	VarCollationServer
	VarCollationDatabase
	VarSQLMode
	VarTimeZone
	VarTransactionIsolation
	VarTransactionReadOnly
	VarAutoIncrementIncrement
	VarAutoIncrementOffset
	VarInteractiveTimeout
	VarWaitTimeout
	VarNetWriteTimeout
	VarNetReadTimeout
	VarQueryCacheType
	VarSessionTrackSchema
	VarForeignKeyChecks
	VarUniqueChecks
	VarSQLSafeUpdates
	VarGroupConcatMaxLen
	VarMaxExecutionTime
	VarMaxStatementTime
	VarInnodbLockWaitTimeout
	VarLockWaitTimeout
	VarSQLSelectLimit
	VarSQLAutoIsNull
	VarSQLQuoteShowCreate
	VarBigTables
	VarSQLBigSelects
	VarMaxJoinSize
	VarDivPrecisionIncrement
	VarDefaultStorageEngine
	VarLCTimeNames
	VarCheckConstraintChecks
	VarExplicitDefaultsForTimestamp
	VarOptimizerSwitch
	VarInnodbStrictMode
	VarCompletionType

	numVars // must stay last and at most 64
)

// NumVars is the number of tracked variables, VarInvalid included; valid
// Vars are 1 <= v < NumVars.
const NumVars = int(numVars)

var varNames = [numVars]string{
	VarInvalid:                      "",
	VarAutocommit:                   "autocommit",
	VarCharacterSetClient:           "character_set_client",
	VarCharacterSetConnection:       "character_set_connection",
	VarCharacterSetResults:          "character_set_results",
	VarCharacterSetServer:           "character_set_server",
	VarCharacterSetDatabase:         "character_set_database",
	VarCollationConnection:          "collation_connection",
	VarCollationServer:              "collation_server",
	VarCollationDatabase:            "collation_database",
	VarSQLMode:                      "sql_mode",
	VarTimeZone:                     "time_zone",
	VarTransactionIsolation:         "transaction_isolation",
	VarTransactionReadOnly:          "transaction_read_only",
	VarAutoIncrementIncrement:       "auto_increment_increment",
	VarAutoIncrementOffset:          "auto_increment_offset",
	VarInteractiveTimeout:           "interactive_timeout",
	VarWaitTimeout:                  "wait_timeout",
	VarNetWriteTimeout:              "net_write_timeout",
	VarNetReadTimeout:               "net_read_timeout",
	VarQueryCacheType:               "query_cache_type",
	VarSessionTrackSchema:           "session_track_schema",
	VarForeignKeyChecks:             "foreign_key_checks",
	VarUniqueChecks:                 "unique_checks",
	VarSQLSafeUpdates:               "sql_safe_updates",
	VarGroupConcatMaxLen:            "group_concat_max_len",
	VarMaxExecutionTime:             "max_execution_time",
	VarMaxStatementTime:             "max_statement_time",
	VarInnodbLockWaitTimeout:        "innodb_lock_wait_timeout",
	VarLockWaitTimeout:              "lock_wait_timeout",
	VarSQLSelectLimit:               "sql_select_limit",
	VarSQLAutoIsNull:                "sql_auto_is_null",
	VarSQLQuoteShowCreate:           "sql_quote_show_create",
	VarBigTables:                    "big_tables",
	VarSQLBigSelects:                "sql_big_selects",
	VarMaxJoinSize:                  "max_join_size",
	VarDivPrecisionIncrement:        "div_precision_increment",
	VarDefaultStorageEngine:         "default_storage_engine",
	VarLCTimeNames:                  "lc_time_names",
	VarCheckConstraintChecks:        "check_constraint_checks",
	VarExplicitDefaultsForTimestamp: "explicit_defaults_for_timestamp",
	VarOptimizerSwitch:              "optimizer_switch",
	VarInnodbStrictMode:             "innodb_strict_mode",
	VarCompletionType:               "completion_type",
}

// String returns the variable's canonical (lower-case) name.
func (v Var) String() string {
	if v >= numVars {
		return ""
	}
	return varNames[v]
}

// LookupVar returns the tracked variable with the given name, ignoring case.
// Aliases (tx_isolation, tx_read_only) resolve to their canonical Var. The
// second result is the spelling to use when the setting is replayed: the
// alias as given, since a server that knows only the alias (MariaDB 10.x
// has no transaction_isolation before 11.1) must still accept the replay.
func LookupVar(name string) (Var, string, bool) {
	switch len(name) {
	case 12:
		if strings.EqualFold(name, "tx_isolation") {
			return VarTransactionIsolation, "tx_isolation", true
		}
		if strings.EqualFold(name, "tx_read_only") {
			return VarTransactionReadOnly, "tx_read_only", true
		}
	}
	for v := Var(1); v < numVars; v++ {
		if len(varNames[v]) == len(name) && strings.EqualFold(varNames[v], name) {
			return v, varNames[v], true
		}
	}
	return VarInvalid, "", false
}

// Settings is the set of tracked session variables a session has changed
// from the server's defaults, with their values. The zero value is a clean
// session (every variable at its server default). Settings is a value type:
// copy it to snapshot it; it holds no pointers to mutable state.
//
// Values are SQL literals ready to be replayed (`1`, `'utf8mb4'`,
// `'+00:00'`), normalized so that equal settings compare equal: keywords
// upper-case, ON/TRUE as 1 and OFF/FALSE as 0, strings single-quoted.
type Settings struct {
	set   uint64          // bit v set when vals[v] holds a value
	vals  [numVars]string // normalized SQL literal per Var
	names [numVars]string // spelling to replay with; "" means the canonical name
}

// Set records value (a normalized SQL literal) for v. Setting a variable to
// DEFAULT is Unset.
func (s *Settings) Set(v Var, value string) {
	s.SetAs(v, "", value)
}

// SetAs is Set with the spelling of the variable's name to use on replay
// (e.g. "tx_isolation"); "" means the canonical name.
func (s *Settings) SetAs(v Var, name, value string) {
	if v == VarInvalid || v >= numVars {
		return
	}
	if strings.EqualFold(value, "DEFAULT") {
		s.Unset(v)
		return
	}
	if name == varNames[v] {
		name = ""
	}
	s.set |= 1 << v
	s.vals[v] = value
	s.names[v] = name
}

// Unset returns v to the server default.
func (s *Settings) Unset(v Var) {
	if v == VarInvalid || v >= numVars {
		return
	}
	s.set &^= 1 << v
	s.vals[v] = ""
	s.names[v] = ""
}

// Get returns the recorded value of v and whether one is recorded.
func (s *Settings) Get(v Var) (string, bool) {
	if v == VarInvalid || v >= numVars || s.set&(1<<v) == 0 {
		return "", false
	}
	return s.vals[v], true
}

// Len is the number of variables with a recorded value.
func (s *Settings) Len() int { return bits.OnesCount64(s.set) }

// IsZero reports whether no variable has a recorded value.
func (s *Settings) IsZero() bool { return s.set == 0 }

// Reset clears every recorded value.
func (s *Settings) Reset() { *s = Settings{} }

// Equal reports whether s and o record the same values (the spelling of
// names does not matter).
func (s *Settings) Equal(o *Settings) bool {
	if s.set != o.set {
		return false
	}
	for m := s.set; m != 0; m &= m - 1 {
		v := bits.TrailingZeros64(m)
		if s.vals[v] != o.vals[v] {
			return false
		}
	}
	return true
}

// Merge records every value recorded in o, as if o's assignments ran after
// s's.
func (s *Settings) Merge(o *Settings) {
	for m := o.set; m != 0; m &= m - 1 {
		v := bits.TrailingZeros64(m)
		s.set |= 1 << v
		s.vals[v] = o.vals[v]
		s.names[v] = o.names[v]
	}
}

// Each calls fn for each recorded variable in Var order.
func (s *Settings) Each(fn func(v Var, value string)) {
	for m := s.set; m != 0; m &= m - 1 {
		v := bits.TrailingZeros64(m)
		fn(Var(v), s.vals[v])
	}
}

// Key returns a canonical string that is equal for equal Settings; "" for a
// clean session. Pools use it to bucket backends by their settings.
func (s *Settings) Key() string {
	if s.set == 0 {
		return ""
	}
	var b strings.Builder
	for m := s.set; m != 0; m &= m - 1 {
		v := bits.TrailingZeros64(m)
		b.WriteString(varNames[v])
		b.WriteByte('=')
		b.WriteString(s.vals[v])
		b.WriteByte(';')
	}
	return b.String()
}

// Diff returns one SET statement that takes a session whose tracked state is
// from to the state s: variables that differ are assigned, variables that s
// leaves at the default but from does not are set to DEFAULT. It returns ""
// when nothing differs.
func (s *Settings) Diff(from *Settings) string {
	var b strings.Builder
	for m := s.set | from.set; m != 0; m &= m - 1 {
		v := bits.TrailingZeros64(m)
		bit := uint64(1) << v
		var value string
		switch {
		case s.set&bit == 0:
			value = "DEFAULT"
		case from.set&bit != 0 && from.vals[v] == s.vals[v]:
			continue
		default:
			value = s.vals[v]
		}
		if b.Len() == 0 {
			b.WriteString("SET SESSION ")
		} else {
			b.WriteString(", ")
		}
		name := s.names[v]
		if name == "" {
			name = from.names[v]
		}
		if name == "" {
			name = varNames[v]
		}
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(value)
	}
	return b.String()
}
