package pinning

// charsetMaxLen is the most bytes a character takes in each of MariaDB
// 10.11's character sets (information_schema.CHARACTER_SETS.MAXLEN;
// TestCharsetMaxLenMatchesServer checks it against the server the tests
// run).
var charsetMaxLen = map[string]uint32{
	"armscii8": 1, "ascii": 1, "big5": 2, "binary": 1, "cp1250": 1, "cp1251": 1,
	"cp1256": 1, "cp1257": 1, "cp850": 1, "cp852": 1, "cp866": 1, "cp932": 2,
	"dec8": 1, "eucjpms": 3, "euckr": 2, "gb2312": 2, "gbk": 2, "geostd8": 1,
	"greek": 1, "hebrew": 1, "hp8": 1, "keybcs2": 1, "koi8r": 1, "koi8u": 1,
	"latin1": 1, "latin2": 1, "latin5": 1, "latin7": 1, "macce": 1, "macroman": 1,
	"sjis": 2, "swe7": 1, "tis620": 1, "ucs2": 2, "ujis": 3, "utf16": 4,
	"utf16le": 4, "utf32": 4, "utf8mb3": 3, "utf8mb4": 4,
}

// CharsetMaxLen returns the most bytes a character of the character set cs
// (a name such as "utf8mb4") takes; false for a set it does not know.
// MariaDB scales a result column's length to character_set_results by it,
// so lengths produced under different results character sets compare in
// characters.
func CharsetMaxLen(cs string) (uint32, bool) {
	n, ok := charsetMaxLen[cs]
	return n, ok
}
