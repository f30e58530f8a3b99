package pinning

// Static tables of names whose normalized literals are interned, so that
// normalizing them allocates nothing.

// charsets maps each character set name (lower case) to its quoted literal.
var charsets = internQuoted(
	"armscii8", "ascii", "big5", "binary", "cp1250", "cp1251", "cp1256",
	"cp1257", "cp850", "cp852", "cp866", "cp932", "dec8", "eucjpms", "euckr",
	"gb18030", "gb2312", "gbk", "geostd8", "greek", "hebrew", "hp8", "keybcs2",
	"koi8r", "koi8u", "latin1", "latin2", "latin5", "latin7", "macce",
	"macroman", "sjis", "swe7", "tis620", "ucs2", "ujis", "utf16", "utf16le",
	"utf32", "utf8", "utf8mb3", "utf8mb4",
)

// collations maps common collation names (lower case) to quoted literals;
// others are normalized by building the literal.
var collations = internQuoted(
	"binary",
	"utf8mb4_general_ci", "utf8mb4_bin", "utf8mb4_unicode_ci",
	"utf8mb4_unicode_520_ci", "utf8mb4_0900_ai_ci", "utf8mb4_0900_as_ci",
	"utf8mb4_0900_as_cs", "utf8mb4_0900_bin", "utf8mb4_uca1400_ai_ci",
	"utf8mb4_uca1400_as_cs", "utf8mb4_general_nopad_ci", "utf8mb4_nopad_bin",
	"utf8mb4_unicode_nopad_ci", "utf8mb4_unicode_520_nopad_ci",
	"utf8mb4_german2_ci", "utf8mb4_swedish_ci", "utf8mb4_spanish_ci",
	"utf8mb4_turkish_ci", "utf8mb4_polish_ci", "utf8mb4_danish_ci",
	"utf8mb4_czech_ci", "utf8mb4_ja_0900_as_cs",
	"utf8mb3_general_ci", "utf8mb3_bin", "utf8mb3_unicode_ci",
	"utf8mb3_unicode_520_ci", "utf8_general_ci", "utf8_bin",
	"utf8_unicode_ci", "utf8_unicode_520_ci",
	"latin1_swedish_ci", "latin1_bin", "latin1_general_ci", "latin1_general_cs",
	"latin1_german1_ci", "latin1_german2_ci", "latin1_spanish_ci",
	"latin2_general_ci", "ascii_general_ci", "ascii_bin", "ucs2_general_ci",
	"utf16_general_ci", "utf16le_general_ci", "utf32_general_ci",
	"cp1250_general_ci", "cp1251_general_ci", "cp1256_general_ci",
	"cp1257_general_ci", "cp850_general_ci", "cp852_general_ci",
	"cp866_general_ci", "cp932_japanese_ci", "sjis_japanese_ci",
	"ujis_japanese_ci", "eucjpms_japanese_ci", "euckr_korean_ci",
	"gbk_chinese_ci", "gb2312_chinese_ci", "gb18030_chinese_ci",
	"big5_chinese_ci", "greek_general_ci", "hebrew_general_ci",
	"tis620_thai_ci", "koi8r_general_ci", "koi8u_general_ci",
	"latin5_turkish_ci", "latin7_general_ci", "macce_general_ci",
	"macroman_general_ci", "armscii8_general_ci", "geostd8_general_ci",
	"keybcs2_general_ci", "swe7_swedish_ci", "dec8_swedish_ci",
	"hp8_english_ci",
)

// engines maps storage engine names (lower case) to the quoted literal of
// the name the server reports.
var engines = map[string]string{
	"innodb":             "'InnoDB'",
	"myisam":             "'MyISAM'",
	"memory":             "'MEMORY'",
	"heap":               "'MEMORY'",
	"aria":               "'Aria'",
	"csv":                "'CSV'",
	"archive":            "'ARCHIVE'",
	"blackhole":          "'BLACKHOLE'",
	"mrg_myisam":         "'MRG_MyISAM'",
	"merge":              "'MRG_MyISAM'",
	"sequence":           "'SEQUENCE'",
	"rocksdb":            "'ROCKSDB'",
	"spider":             "'SPIDER'",
	"connect":            "'CONNECT'",
	"s3":                 "'S3'",
	"federated":          "'FEDERATED'",
	"columnstore":        "'Columnstore'",
	"performance_schema": "'PERFORMANCE_SCHEMA'",
}

func internQuoted(names ...string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = "'" + n + "'"
	}
	return m
}

// sqlModes lists the sql_mode names in the order servers print them (the
// order of their bits; MariaDB's list, with MySQL's
// TIME_TRUNCATE_FRACTIONAL where MySQL puts it). Combination modes (ANSI,
// TRADITIONAL, ...) expand differently on each server, so a value that
// names one is read back rather than normalized.
var sqlModes = [...]string{
	"REAL_AS_FLOAT", "PIPES_AS_CONCAT", "ANSI_QUOTES", "IGNORE_SPACE",
	"IGNORE_BAD_TABLE_OPTIONS", "ONLY_FULL_GROUP_BY", "NO_UNSIGNED_SUBTRACTION",
	"NO_DIR_IN_CREATE", "POSTGRESQL", "ORACLE", "MSSQL", "DB2", "MAXDB",
	"NO_KEY_OPTIONS", "NO_TABLE_OPTIONS", "NO_FIELD_OPTIONS", "MYSQL323",
	"MYSQL40", "ANSI", "NO_AUTO_VALUE_ON_ZERO", "NO_BACKSLASH_ESCAPES",
	"STRICT_TRANS_TABLES", "STRICT_ALL_TABLES", "NO_ZERO_IN_DATE",
	"NO_ZERO_DATE", "ALLOW_INVALID_DATES", "ERROR_FOR_DIVISION_BY_ZERO",
	"TRADITIONAL", "NO_AUTO_CREATE_USER", "HIGH_NOT_PRECEDENCE",
	"NO_ENGINE_SUBSTITUTION", "PAD_CHAR_TO_FULL_LENGTH",
	"TIME_TRUNCATE_FRACTIONAL", "EMPTY_STRING_IS_NULL",
	"SIMULTANEOUS_ASSIGNMENT", "TIME_ROUND_FRACTIONAL",
}

// sqlModeCombos marks the combination modes in sqlModes.
var sqlModeCombos = func() (m [len(sqlModes)]bool) {
	for i, n := range sqlModes {
		switch n {
		case "POSTGRESQL", "ORACLE", "MSSQL", "DB2", "MAXDB", "MYSQL323",
			"MYSQL40", "ANSI", "TRADITIONAL":
			m[i] = true
		}
	}
	return m
}()

// sqlModeIndex returns the position of the mode named s (any case) in
// sqlModes, or -1.
func sqlModeIndex(s string) int {
	for i, n := range sqlModes {
		if len(n) == len(s) && foldEq(s, n) {
			return i
		}
	}
	return -1
}

// lookupLower finds s, lower-cased, in m without allocating.
func lookupLower(m map[string]string, s string) (string, bool) {
	var buf [64]byte
	if len(s) > len(buf) {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	v, ok := m[string(buf[:len(s)])]
	return v, ok
}

// foldEq reports whether s equals upper, an upper-case ASCII keyword,
// ignoring the case of s.
func foldEq(s, upper string) bool {
	if len(s) != len(upper) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != upper[i] {
			return false
		}
	}
	return true
}

// hasPrefixFold reports whether s starts with upper (an upper-case ASCII
// prefix), ignoring the case of s.
func hasPrefixFold(s, upper string) bool {
	return len(s) >= len(upper) && foldEq(s[:len(upper)], upper)
}
