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
	VarSQLNotes
	VarSQLWarnings
	VarSQLBufferResult
	VarSortBufferSize
	VarJoinBufferSize
	VarTmpTableSize
	VarMaxHeapTableSize
	VarMaxSPRecursionDepth
	VarCTEMaxRecursionDepth
	VarMaxRecursiveIterations
	// VarClientCollation is no server variable: it stands for the
	// collation the server keeps with the client character set, which no
	// variable shows (@@character_set_client names the character set
	// only). A handshake and SET NAMES x COLLATE y set it to the
	// collation; SET NAMES x, SET CHARACTER SET x and SET
	// character_set_client = x to x's default. A string parameter of a
	// prepared statement takes it. See Result.ClientCollation.
	VarClientCollation

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
	VarSQLNotes:                     "sql_notes",
	VarSQLWarnings:                  "sql_warnings",
	VarSQLBufferResult:              "sql_buffer_result",
	VarSortBufferSize:               "sort_buffer_size",
	VarJoinBufferSize:               "join_buffer_size",
	VarTmpTableSize:                 "tmp_table_size",
	VarMaxHeapTableSize:             "max_heap_table_size",
	VarMaxSPRecursionDepth:          "max_sp_recursion_depth",
	VarCTEMaxRecursionDepth:         "cte_max_recursion_depth",
	VarMaxRecursiveIterations:       "max_recursive_iterations",
	VarClientCollation:              "(client collation)",
}

// numVars must fit a VarSet (bit v for Var v).
var _ = [64 - numVars]struct{}{}

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
	for v := Var(1); v < VarClientCollation; v++ {
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
// when nothing differs. Names the session never spelled are written in their
// canonical (MySQL 8) spelling; use DiffAs for servers that need another.
//
// A character set and its collation (character_set_connection and
// collation_connection, and the _server and _database pairs) move together
// on the server: assigning the character set also sets the collation to the
// character set's default. Settings that record a character set but no
// collation mean exactly that, and Diff assigns the character set again
// rather than resetting the collation to DEFAULT.
func (s *Settings) Diff(from *Settings) string {
	return s.DiffAs(from, SpellCanonical)
}

// Spelling chooses how Diff spells the transaction characteristics when the
// session set them without naming the variable (SET SESSION TRANSACTION ...).
// Names the session wrote itself are always replayed as written: the server
// accepted them.
type Spelling uint8

const (
	// SpellCanonical writes transaction_isolation and transaction_read_only
	// (MySQL 5.7.20+, MySQL 8, MariaDB 11.1+).
	SpellCanonical Spelling = iota
	// SpellLegacy writes tx_isolation and tx_read_only (MariaDB before 11.1,
	// MySQL before 8.0.3).
	SpellLegacy
)

// SpellingFor returns the Spelling a server of the given version string
// (as in the handshake or SELECT VERSION()) accepts.
func SpellingFor(serverVersion string) Spelling {
	i := strings.Index(serverVersion, "-MariaDB")
	if i < 0 {
		// MySQL: tx_isolation was removed in 8.0.3, transaction_isolation
		// exists since 5.7.20; prefer the canonical spelling.
		return SpellCanonical
	}
	v := serverVersion[:i]
	// A "5.5.5-" prefix is added by MariaDB for old clients.
	v = strings.TrimPrefix(v, "5.5.5-")
	major, rest, _ := strings.Cut(v, ".")
	minor, _, _ := strings.Cut(rest, ".")
	ma, mi := atoiSmall(major), atoiSmall(minor)
	if ma > 11 || (ma == 11 && mi >= 1) {
		return SpellCanonical
	}
	return SpellLegacy
}

func atoiSmall(s string) int {
	n := 0
	for i := 0; i < len(s) && i < 6; i++ {
		if s[i] < '0' || s[i] > '9' {
			break
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// charsetPairs lists each character set variable with the collation that
// follows it.
var charsetPairs = [...][2]Var{
	{VarCharacterSetConnection, VarCollationConnection},
	{VarCharacterSetServer, VarCollationServer},
	{VarCharacterSetDatabase, VarCollationDatabase},
}

// DiffAs is Diff with the given spelling for variables the session did not
// name itself.
func (s *Settings) DiffAs(from *Settings, sp Spelling) string {
	var emit, def uint64 // variables to assign; those among them to DEFAULT
	for m := s.set | from.set; m != 0; m &= m - 1 {
		v := bits.TrailingZeros64(m)
		bit := uint64(1) << v
		switch {
		case s.set&bit == 0:
			emit |= bit
			def |= bit
		case from.set&bit == 0 || from.vals[v] != s.vals[v]:
			emit |= bit
		}
	}
	for _, p := range charsetPairs {
		cs, co := uint64(1)<<p[0], uint64(1)<<p[1]
		switch {
		case s.set&cs != 0 && s.set&co == 0:
			// The collation is the character set's default: assigning
			// the character set restores it.
			if from.set&co != 0 {
				emit |= cs
			}
			emit &^= co
			def &^= co
		case s.set&(cs|co) == 0 && from.set&(cs|co) != 0:
			emit |= co
			def |= co
		case s.set&co != 0 && emit&cs != 0:
			emit |= co // the character set resets the collation
		}
	}
	if emit == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("SET SESSION ")
	first := true
	for m := emit; m != 0; m &= m - 1 {
		v := bits.TrailingZeros64(m)
		if !first {
			b.WriteString(", ")
		}
		first = false
		name := s.names[v]
		if name == "" {
			name = from.names[v]
		}
		if name == "" {
			name = replayName(Var(v), sp)
		}
		b.WriteString(name)
		b.WriteByte('=')
		if def&(1<<v) != 0 {
			b.WriteString("DEFAULT")
		} else {
			b.WriteString(s.vals[v])
		}
	}
	return b.String()
}

// replayName is the name Diff writes for v when no spelling was recorded.
func replayName(v Var, sp Spelling) string {
	if sp == SpellLegacy {
		switch v {
		case VarTransactionIsolation:
			return "tx_isolation"
		case VarTransactionReadOnly:
			return "tx_read_only"
		}
	}
	return varNames[v]
}

// Name returns the spelling recorded for v (as the session wrote it), or
// its canonical name.
func (s *Settings) Name(v Var) string {
	if v == VarInvalid || v >= numVars {
		return ""
	}
	if s.names[v] != "" {
		return s.names[v]
	}
	return varNames[v]
}

// Vars returns the set of variables with a recorded value.
func (s *Settings) Vars() VarSet { return VarSet(s.set) }

// NoBackslashEscapes reports whether the recorded sql_mode contains
// NO_BACKSLASH_ESCAPES, which changes how string literals are lexed; a
// session in that mode should be classified by a Classifier built with
// WithNoBackslashEscapes.
func (s *Settings) NoBackslashEscapes() bool {
	v, ok := s.Get(VarSQLMode)
	return ok && containsFold(v, "NO_BACKSLASH_ESCAPES")
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// VarSet is a set of tracked variables, bit v for Var v.
type VarSet uint64

// Has reports whether v is in the set.
func (m VarSet) Has(v Var) bool { return v < numVars && m&(1<<v) != 0 }

// Add returns the set with v added.
func (m VarSet) Add(v Var) VarSet {
	if v == VarInvalid || v >= numVars {
		return m
	}
	return m | 1<<v
}

// Remove returns the set without v.
func (m VarSet) Remove(v Var) VarSet { return m &^ (1 << (v & 63)) }

// Len is the number of variables in the set.
func (m VarSet) Len() int { return bits.OnesCount64(uint64(m)) }

// Each calls fn for each variable in the set, in Var order.
func (m VarSet) Each(fn func(Var)) {
	for b := uint64(m); b != 0; b &= b - 1 {
		fn(Var(bits.TrailingZeros64(b)))
	}
}

// String lists the variables' names, comma-separated.
func (m VarSet) String() string {
	var b strings.Builder
	m.Each(func(v Var) {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(v.String())
	})
	return b.String()
}
