package pinning

import "strings"

// valKind is how a tracked variable's values are normalized.
type valKind uint8

const (
	kindReadBack   valKind = iota // never normalized: always read back
	kindBool                      // 1 / 0
	kindUint                      // unsigned integer
	kindDecimal                   // unsigned decimal (seconds)
	kindCharset                   // 'utf8mb4'
	kindCollation                 // 'utf8mb4_general_ci'
	kindSQLMode                   // 'STRICT_TRANS_TABLES,...' in server order
	kindTimeZone                  // '+00:00', 'SYSTEM', 'Europe/Berlin'
	kindIsolation                 // 'READ-COMMITTED'
	kindQueryCache                // 'OFF' 'ON' 'DEMAND'
	kindCompletion                // 'NO_CHAIN' 'CHAIN' 'RELEASE'
	kindEngine                    // 'InnoDB'
	kindLocale                    // 'en_US'
)

var varKinds = [numVars]valKind{
	VarAutocommit:                   kindBool,
	VarCharacterSetClient:           kindCharset,
	VarCharacterSetConnection:       kindCharset,
	VarCharacterSetResults:          kindCharset,
	VarCharacterSetServer:           kindCharset,
	VarCharacterSetDatabase:         kindCharset,
	VarCollationConnection:          kindCollation,
	VarCollationServer:              kindCollation,
	VarCollationDatabase:            kindCollation,
	VarSQLMode:                      kindSQLMode,
	VarTimeZone:                     kindTimeZone,
	VarTransactionIsolation:         kindIsolation,
	VarTransactionReadOnly:          kindBool,
	VarAutoIncrementIncrement:       kindUint,
	VarAutoIncrementOffset:          kindUint,
	VarInteractiveTimeout:           kindUint,
	VarWaitTimeout:                  kindUint,
	VarNetWriteTimeout:              kindUint,
	VarNetReadTimeout:               kindUint,
	VarQueryCacheType:               kindQueryCache,
	VarSessionTrackSchema:           kindBool,
	VarForeignKeyChecks:             kindBool,
	VarUniqueChecks:                 kindBool,
	VarSQLSafeUpdates:               kindBool,
	VarGroupConcatMaxLen:            kindUint,
	VarMaxExecutionTime:             kindUint,
	VarMaxStatementTime:             kindDecimal,
	VarInnodbLockWaitTimeout:        kindUint,
	VarLockWaitTimeout:              kindUint,
	VarSQLSelectLimit:               kindUint,
	VarSQLAutoIsNull:                kindBool,
	VarSQLQuoteShowCreate:           kindBool,
	VarBigTables:                    kindBool,
	VarSQLBigSelects:                kindBool,
	VarMaxJoinSize:                  kindUint,
	VarDivPrecisionIncrement:        kindUint,
	VarDefaultStorageEngine:         kindEngine,
	VarLCTimeNames:                  kindLocale,
	VarCheckConstraintChecks:        kindBool,
	VarExplicitDefaultsForTimestamp: kindBool,
	VarOptimizerSwitch:              kindReadBack, // assignments accumulate
	VarInnodbStrictMode:             kindBool,
	VarCompletionType:               kindCompletion,
	VarSQLNotes:                     kindBool,
	VarSQLWarnings:                  kindBool,
	VarSQLBufferResult:              kindBool,
	VarSortBufferSize:               kindUint,
	VarJoinBufferSize:               kindUint,
	VarTmpTableSize:                 kindUint,
	VarMaxHeapTableSize:             kindUint,
	VarMaxSPRecursionDepth:          kindUint,
	VarCTEMaxRecursionDepth:         kindUint,
	VarMaxRecursiveIterations:       kindUint,
	VarClientCollation:              kindCollation,
}

// valOp is what an assignment does to a tracked variable.
type valOp uint8

const (
	opReadBack valOp = iota // value unknown: read it back
	opSet                   // the normalized literal is known
	opDefault               // back to the server default
)

// value is the right-hand side of an assignment when it is a single
// literal: one word, string, quoted identifier or number (with an adjacent
// sign).
type value struct {
	kind tokKind // tkWord, tkString, tkQuotedIdent, tkNumber
	// text is the value: a word or number as written, a string's content.
	text string
	// lit is the literal as written (a string with its quotes).
	lit string
	// plain is set for a single-quoted string without escapes, whose lit
	// can be used as a normalized literal.
	plain bool
	neg   bool // a number preceded by '-'
}

var (
	litOne   = "1"
	litZero  = "0"
	litEmpty = "''"
	litNull  = "NULL"
)

var isolationLits = [...]string{"'READ-UNCOMMITTED'", "'READ-COMMITTED'", "'REPEATABLE-READ'", "'SERIALIZABLE'"}
var queryCacheLits = [...]string{"'OFF'", "'ON'", "'DEMAND'"}
var completionLits = [...]string{"'NO_CHAIN'", "'CHAIN'", "'RELEASE'"}

// normalize returns the normalized literal for assigning val to v.
func normalize(v Var, val *value) (string, valOp) {
	if val.kind == tkWord && foldEq(val.text, "DEFAULT") {
		return "", opDefault
	}
	if val.neg && val.kind != tkNumber {
		return "", opReadBack
	}
	switch varKinds[v] {
	case kindBool:
		return normBool(val)
	case kindUint:
		if val.kind != tkNumber || val.neg || !allDigits(val.text) {
			return "", opReadBack
		}
		return trimLeadingZeros(val.text), opSet
	case kindDecimal:
		if val.kind != tkNumber || val.neg {
			return "", opReadBack
		}
		return normDecimal(val.text)
	case kindCharset:
		if val.kind == tkWord && foldEq(val.text, "NULL") {
			return litNull, opSet
		}
		if !nameLike(val) {
			return "", opReadBack
		}
		if lit, ok := lookupLower(charsets, val.text); ok {
			return lit, opSet
		}
		return quoteLower(val), opSet
	case kindCollation:
		if !nameLike(val) {
			return "", opReadBack
		}
		if lit, ok := lookupLower(collations, val.text); ok {
			return lit, opSet
		}
		return quoteLower(val), opSet
	case kindSQLMode:
		return normSQLMode(val)
	case kindTimeZone:
		return normTimeZone(val)
	case kindIsolation:
		return normEnum(val, isolationLits[:], isolationNames[:])
	case kindQueryCache:
		return normEnum(val, queryCacheLits[:], queryCacheNames[:])
	case kindCompletion:
		return normEnum(val, completionLits[:], completionNames[:])
	case kindEngine:
		if !nameLike(val) {
			return "", opReadBack
		}
		if lit, ok := lookupLower(engines, val.text); ok {
			return lit, opSet
		}
		return "", opReadBack
	case kindLocale:
		return normLocale(val)
	}
	return "", opReadBack
}

var isolationNames = [...]string{"READ-UNCOMMITTED", "READ-COMMITTED", "REPEATABLE-READ", "SERIALIZABLE"}
var queryCacheNames = [...]string{"OFF", "ON", "DEMAND"}
var completionNames = [...]string{"NO_CHAIN", "CHAIN", "RELEASE"}

// nameLike reports whether val can name something: a word, a quoted
// identifier or a string, without escapes.
func nameLike(val *value) bool {
	switch val.kind {
	case tkWord, tkQuotedIdent, tkString:
		return val.text != "" && !strings.ContainsAny(val.text, "'\"\\`")
	}
	return false
}

func normBool(val *value) (string, valOp) {
	switch val.kind {
	case tkNumber:
		if val.neg {
			return "", opReadBack
		}
		switch trimLeadingZeros(val.text) {
		case "1":
			return litOne, opSet
		case "0":
			return litZero, opSet
		}
	case tkWord, tkString:
		switch {
		case foldEq(val.text, "ON"), foldEq(val.text, "TRUE"):
			return litOne, opSet
		case foldEq(val.text, "OFF"), foldEq(val.text, "FALSE"):
			return litZero, opSet
		}
	}
	return "", opReadBack
}

// normEnum normalizes a value of an enumerated variable given by name (any
// case) or by number.
func normEnum(val *value, lits, names []string) (string, valOp) {
	switch val.kind {
	case tkNumber:
		if !val.neg && len(val.text) == 1 && val.text[0] >= '0' && int(val.text[0]-'0') < len(lits) {
			return lits[val.text[0]-'0'], opSet
		}
	case tkWord, tkString:
		for i, n := range names {
			if foldEq(val.text, n) {
				return lits[i], opSet
			}
		}
	}
	return "", opReadBack
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func trimLeadingZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

// normDecimal normalizes an unsigned decimal: no leading zeros before the
// point, no trailing zeros after it (1.500000 -> 1.5, 10.0 -> 10).
func normDecimal(s string) (string, valOp) {
	dot := strings.IndexByte(s, '.')
	if dot < 0 {
		if !allDigits(s) {
			return "", opReadBack
		}
		return trimLeadingZeros(s), opSet
	}
	ip, fp := s[:dot], s[dot+1:]
	if ip == "" || !allDigits(ip) || (fp != "" && !allDigits(fp)) {
		return "", opReadBack
	}
	for fp != "" && fp[len(fp)-1] == '0' {
		fp = fp[:len(fp)-1]
	}
	ip = trimLeadingZeros(ip)
	if fp == "" {
		return ip, opSet
	}
	// ip and fp are contiguous in s once the leading zeros are trimmed.
	start := dot - len(ip)
	return s[start : dot+1+len(fp)], opSet
}

// quoteLower builds the quoted lower-case literal for a name, reusing the
// literal as written when it already is one.
func quoteLower(val *value) string {
	if val.plain && !hasUpper(val.text) {
		return val.lit
	}
	return "'" + asciiLower(val.text) + "'"
}

func asciiLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// asciiLower lower-cases ASCII letters only, leaving other bytes as they
// are (strings.ToLower would rewrite invalid UTF-8).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// asciiUpper upper-cases ASCII letters only.
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

func hasLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'a' && s[i] <= 'z' {
			return true
		}
	}
	return false
}

// normSQLMode normalizes a sql_mode value: upper case, known modes only,
// no duplicates, in server order. A value naming a combination mode or an
// unknown mode, or given as a number other than 0, is read back.
func normSQLMode(val *value) (string, valOp) {
	switch val.kind {
	case tkNumber:
		if !val.neg && trimLeadingZeros(val.text) == "0" {
			return litEmpty, opSet
		}
		return "", opReadBack
	case tkString, tkWord, tkQuotedIdent:
	default:
		return "", opReadBack
	}
	s := val.text
	if s == "" {
		return litEmpty, opSet
	}
	var seen uint64
	last, ordered := -1, true
	for rest := s; ; {
		item, tail, more := strings.Cut(rest, ",")
		if item != "" {
			i := sqlModeIndex(item)
			if i < 0 || sqlModeCombos[i] {
				return "", opReadBack
			}
			if i <= last {
				ordered = false
			}
			last = i
			seen |= 1 << i
		}
		if !more {
			break
		}
		rest = tail
	}
	if ordered && val.plain && !hasLower(s) && s[0] != ',' && s[len(s)-1] != ',' && !strings.Contains(s, ",,") {
		return val.lit, opSet
	}
	var b strings.Builder
	b.WriteByte('\'')
	for i := range sqlModes {
		if seen&(1<<i) != 0 {
			if b.Len() > 1 {
				b.WriteByte(',')
			}
			b.WriteString(sqlModes[i])
		}
	}
	b.WriteByte('\'')
	return b.String(), opSet
}

// normTimeZone normalizes a time_zone value: offsets as '+HH:MM', SYSTEM in
// upper case, named zones as written.
func normTimeZone(val *value) (string, valOp) {
	if !nameLike(val) {
		return "", opReadBack
	}
	s := val.text
	if foldEq(s, "SYSTEM") {
		return "'SYSTEM'", opSet
	}
	if s[0] == '+' || s[0] == '-' {
		h, m, ok := strings.Cut(s[1:], ":")
		if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 || !allDigits(h) || !allDigits(m) {
			return "", opReadBack
		}
		sign := s[0]
		if h == "0" || h == "00" {
			if m == "00" {
				sign = '+'
			}
		}
		if val.plain && len(h) == 2 && sign == s[0] {
			return val.lit, opSet
		}
		if len(h) == 1 {
			h = "0" + h
		}
		return "'" + string(sign) + h + ":" + m + "'", opSet
	}
	if val.plain {
		return val.lit, opSet
	}
	return "'" + s + "'", opSet
}

// normLocale normalizes an lc_time_names value to the server's spelling,
// language in lower case and territory in upper case ('en_US').
func normLocale(val *value) (string, valOp) {
	if !nameLike(val) {
		return "", opReadBack
	}
	s := val.text
	lang, terr, ok := strings.Cut(s, "_")
	if !ok || len(lang) < 2 || len(lang) > 3 || len(terr) != 2 || !asciiLetters(lang) || !asciiLetters(terr) {
		return "", opReadBack
	}
	if val.plain && !hasUpper(lang) && !hasLower(terr) {
		return val.lit, opSet
	}
	return "'" + asciiLower(lang) + "_" + asciiUpper(terr) + "'", opSet
}

// ServerValue returns the normalized literal for v given the value the
// server reports for @@SESSION.v (raw, or null for SQL NULL): what a
// session records after reading back a variable in Result.ReadBack.
func ServerValue(v Var, raw string, null bool) string {
	if v == VarInvalid || v >= numVars {
		return ""
	}
	if null {
		return litNull
	}
	switch varKinds[v] {
	case kindBool:
		switch {
		case raw == "1" || foldEq(raw, "ON") || foldEq(raw, "TRUE"):
			return litOne
		case raw == "0" || foldEq(raw, "OFF") || foldEq(raw, "FALSE"):
			return litZero
		}
		return raw
	case kindUint:
		if allDigits(raw) {
			return trimLeadingZeros(raw)
		}
		return raw
	case kindDecimal:
		if s, op := normDecimal(raw); op == opSet {
			return s
		}
		return raw
	case kindCharset, kindCollation:
		return quote(asciiLower(raw))
	case kindIsolation, kindQueryCache, kindCompletion:
		return quote(asciiUpper(raw))
	}
	return quote(raw)
}

// quote returns s as a single-quoted SQL string, doubling single quotes.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
