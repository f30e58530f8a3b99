package pinning

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tkEOF         tokKind = iota
	tkWord                // unquoted identifier or keyword
	tkQuotedIdent         // `identifier`
	tkString              // 'string' or "string"
	tkNumber              // 12, 1.5, .5, 1e3
	tkUserVar             // @name, @'name', @`name`
	tkSysVar              // @@name, @@session.name
	tkPunct               // one byte of punctuation; := is tkAssign
	tkAssign              // :=
)

// token is a lexical token: a span of the statement text. Tokens never
// copy text, so lexing allocates nothing.
type token struct {
	kind tokKind
	// exec is set when the token sits inside an executable comment
	// (/*! ... */ or /*M! ... */).
	exec bool
	// escaped is set on strings and quoted identifiers that contain an
	// escape (a backslash or a doubled quote), so their text is not their
	// value.
	escaped bool
	// closed is false for a string or quoted identifier that runs to the
	// end of the input without its closing quote.
	closed bool
	start  int
	end    int
}

// lexer splits MySQL/MariaDB statement text into tokens. It skips
// whitespace and comments (--, #, /* */), treats the content of executable
// comments (/*!NNNNN ... */, /*M!NNNNNN ... */) as code, and understands
// strings with backslash escapes (unless noBackslash) and doubled quotes.
// It never fails: malformed input lexes to something, and the end of the
// input ends any open string or comment.
type lexer struct {
	src         string
	pos         int
	inExec      bool // inside an executable comment
	noBackslash bool // NO_BACKSLASH_ESCAPES: backslash is an ordinary byte
}

// Byte classes for the lexer's loops.
const (
	clSpace uint8 = 1 << iota
	clIdent       // may appear in an unquoted identifier (digits included)
	clDigit
	clSpecial // may start a comment or end an executable comment: # - / *
)

var byteClass = func() (t [256]uint8) {
	for _, c := range []byte(" \t\n\r\f\v") {
		t[c] |= clSpace
	}
	for c := 0; c < 256; c++ {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '$' || c >= 0x80 {
			t[c] |= clIdent
		}
		if c >= '0' && c <= '9' {
			t[c] |= clDigit
		}
	}
	for _, c := range []byte("#-/*") {
		t[c] |= clSpecial
	}
	return t
}()

func isIdentByte(c byte) bool { return byteClass[c]&clIdent != 0 }
func isDigit(c byte) bool     { return byteClass[c]&clDigit != 0 }

// skip moves past whitespace and comments, entering and leaving executable
// comments.
func (l *lexer) skip() {
	src := l.src
	for l.pos < len(src) {
		c := src[l.pos]
		cl := byteClass[c]
		if cl&(clSpace|clSpecial) == 0 {
			return
		}
		switch {
		case cl&clSpace != 0:
			p := l.pos + 1
			for p < len(src) && byteClass[src[p]]&clSpace != 0 {
				p++
			}
			l.pos = p
		case c == '#':
			l.skipLine()
		case c == '-' && l.pos+1 < len(src) && src[l.pos+1] == '-' &&
			(l.pos+2 == len(src) || src[l.pos+2] <= ' '):
			l.skipLine()
		case c == '/' && l.pos+1 < len(src) && src[l.pos+1] == '*':
			p := l.pos + 2
			if p < len(src) && src[p] == '!' {
				l.enterExec(p + 1)
			} else if p+1 < len(src) && (src[p] == 'M' || src[p] == 'm') && src[p+1] == '!' {
				l.enterExec(p + 2)
			} else {
				l.skipBlockComment(p)
			}
		case c == '*' && l.inExec && l.pos+1 < len(src) && src[l.pos+1] == '/':
			l.inExec = false
			l.pos += 2
		default:
			return
		}
	}
}

func (l *lexer) skipLine() {
	for l.pos < len(l.src) && l.src[l.pos] != '\n' {
		l.pos++
	}
}

// skipBlockComment skips a comment whose text starts at p.
func (l *lexer) skipBlockComment(p int) {
	for ; p+1 < len(l.src); p++ {
		if l.src[p] == '*' && l.src[p+1] == '/' {
			l.pos = p + 2
			return
		}
	}
	l.pos = len(l.src)
}

// enterExec starts an executable comment whose version digits (if any)
// start at p. An executable comment inside another is read as code too.
func (l *lexer) enterExec(p int) {
	for n := 0; n < 6 && p < len(l.src) && isDigit(l.src[p]); n++ {
		p++
	}
	l.pos = p
	l.inExec = true
}

// next returns the next token; at the end of the input, a tkEOF token.
func (l *lexer) next() token {
	src := l.src
	pos := l.pos
	// Fast path over plain whitespace; comments take the slow path.
	for pos < len(src) && byteClass[src[pos]]&clSpace != 0 {
		pos++
	}
	if pos < len(src) && byteClass[src[pos]]&clSpecial != 0 {
		l.pos = pos
		l.skip()
		pos = l.pos
	}
	if pos >= len(src) {
		l.pos = pos
		return token{kind: tkEOF, exec: l.inExec, closed: true, start: pos, end: pos}
	}
	start := pos
	c := src[pos]
	cl := byteClass[c]
	if cl&clIdent != 0 && cl&clDigit == 0 {
		// The common case: an identifier or keyword.
		pos++
		for pos < len(src) && byteClass[src[pos]]&clIdent != 0 {
			pos++
		}
		l.pos = pos
		return token{kind: tkWord, exec: l.inExec, closed: true, start: start, end: pos}
	}
	l.pos = pos
	t := token{exec: l.inExec, start: start, closed: true}
	switch {
	case cl&clDigit != 0 || c == '.' && pos+1 < len(src) && isDigit(src[pos+1]):
		l.number()
		t.kind = tkNumber
		// MySQL identifiers may start with digits (1abc, 0x1F, 0b01).
		if l.pos < len(src) && isIdentByte(src[l.pos]) {
			l.ident()
			t.kind = tkWord
		}
	case c == '\'' || c == '"':
		t.kind = tkString
		t.escaped, t.closed = l.quoted(c, !l.noBackslash)
	case c == '`':
		t.kind = tkQuotedIdent
		t.escaped, t.closed = l.quoted('`', false)
	case c == '@':
		t.kind = l.variable()
	case c == ':' && pos+1 < len(src) && src[pos+1] == '=':
		t.kind = tkAssign
		l.pos = pos + 2
	default:
		t.kind = tkPunct
		l.pos = pos + 1
	}
	t.end = l.pos
	return t
}

func (l *lexer) ident()  { l.pos = identEnd(l.src, l.pos) }
func (l *lexer) number() { l.pos = numberEnd(l.src, l.pos) }

// quoted consumes a quoted span opening with q at l.pos. It reports whether
// the span holds an escape and whether it was closed.
func (l *lexer) quoted(q byte, backslash bool) (escaped, closed bool) {
	l.pos, escaped, closed = quotedEnd(l.src, l.pos, q, backslash)
	return escaped, closed
}

// The span functions below are shared by the lexer and the skimmer (see
// skim.go), so that both cut the text into the same tokens.

// identEnd returns the end of the run of identifier bytes starting at p.
func identEnd(src string, p int) int {
	for p < len(src) && byteClass[src[p]]&clIdent != 0 {
		p++
	}
	return p
}

// numberEnd returns the end of the number starting at p: digits, then an
// optional fraction, then an optional exponent (1, 1.5, .5, 1., 1e3,
// 2.5E-3). A number followed by identifier bytes is an identifier; the
// caller checks.
func numberEnd(src string, p int) int {
	for p < len(src) && isDigit(src[p]) {
		p++
	}
	if p < len(src) && src[p] == '.' {
		p++
		for p < len(src) && isDigit(src[p]) {
			p++
		}
	}
	if p+1 < len(src) && (src[p] == 'e' || src[p] == 'E') {
		e := p + 1
		if src[e] == '+' || src[e] == '-' {
			e++
		}
		if e < len(src) && isDigit(src[e]) {
			p = e
			for p < len(src) && isDigit(src[p]) {
				p++
			}
		}
	}
	return p
}

// quotedEnd returns the end of the quoted span opening with q at p, whether
// the span holds an escape (a doubled quote, or a backslash if backslash
// is set) and whether it was closed; an unclosed span runs to the end of
// src.
func quotedEnd(src string, p int, q byte, backslash bool) (end int, escaped, closed bool) {
	// Jump from one quote or backslash to the next.
	for p = indexQuoteFrom(src, p+1, q); p < len(src); p = indexQuoteFrom(src, p, q) {
		switch {
		case src[p] == '\\':
			if backslash {
				escaped = true
				p += 2 // the backslash and the byte it escapes
			} else {
				p++ // an ordinary byte
			}
		case p+1 < len(src) && src[p+1] == q:
			escaped = true
			p += 2 // a doubled quote stands for one
		default:
			return p + 1, escaped, true
		}
	}
	return len(src), escaped, false
}

// variable consumes a user variable (@x, @'x', @`x`) or a system variable
// (@@x, @@session.x) starting at l.pos. An @ right after a quoted name
// ('user'@'host', `u`@`h`) is an account's host separator: punctuation.
func (l *lexer) variable() tokKind {
	src := l.src
	if l.pos > 0 {
		if p := src[l.pos-1]; p == '\'' || p == '"' || p == '`' {
			l.pos++
			return tkPunct
		}
	}
	p := l.pos + 1
	if p < len(src) && src[p] == '@' {
		p++
		for p < len(src) {
			c := src[p]
			switch {
			case isIdentByte(c) || c == '.':
				p++
			case c == '`':
				l.pos = p
				l.quoted('`', false)
				p = l.pos
			default:
				l.pos = p
				return tkSysVar
			}
		}
		l.pos = p
		return tkSysVar
	}
	if p < len(src) && (src[p] == '\'' || src[p] == '"' || src[p] == '`') {
		l.pos = p
		l.quoted(src[p], src[p] != '`' && !l.noBackslash)
		return tkUserVar
	}
	for p < len(src) && (isIdentByte(src[p]) || src[p] == '.') {
		p++
	}
	l.pos = p
	return tkUserVar
}
