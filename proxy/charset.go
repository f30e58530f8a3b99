package proxy

// charsetStatement returns the SET NAMES statement that gives a session the
// character set a client asked for in its handshake (by collation id), or
// "" when the backends' own (utf8mb4_general_ci) serves it. Backend
// connections all start with utf8mb4_general_ci; a client that asked for
// another character set starts with it as a tracked setting, replayed on
// whichever backend it borrows.
func charsetStatement(collation byte) string {
	switch collation {
	case 0, 45, 255: // utf8mb4_general_ci; MySQL 8's utf8mb4_0900_ai_ci
		return ""
	case 8:
		return "SET NAMES latin1"
	case 47:
		return "SET NAMES latin1 COLLATE latin1_bin"
	case 33:
		return "SET NAMES utf8mb3"
	case 83:
		return "SET NAMES utf8mb3 COLLATE utf8mb3_bin"
	case 192:
		return "SET NAMES utf8mb3 COLLATE utf8mb3_unicode_ci"
	case 46:
		return "SET NAMES utf8mb4 COLLATE utf8mb4_bin"
	case 224:
		return "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci"
	case 63:
		return "SET NAMES binary"
	case 11:
		return "SET NAMES ascii"
	case 28:
		return "SET NAMES gbk"
	case 24:
		return "SET NAMES gb2312"
	case 1:
		return "SET NAMES big5"
	case 95:
		return "SET NAMES cp932"
	case 13:
		return "SET NAMES sjis"
	case 12:
		return "SET NAMES ujis"
	case 19:
		return "SET NAMES euckr"
	case 51:
		return "SET NAMES cp1251"
	case 57:
		return "SET NAMES cp1256"
	case 54:
		return "SET NAMES utf16"
	case 60:
		return "SET NAMES utf32"
	}
	return ""
}
