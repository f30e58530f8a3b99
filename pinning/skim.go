package pinning

// The skimmer: the fast path for the bulk of a statement.
//
// Once statement has read a statement's leading keywords, the rest of a
// typical SELECT, INSERT, UPDATE or DELETE is identifiers, literals and
// punctuation that can pin nothing. rest reads it with one loop that lexes
// the common tokens inline (keeping the last token in local variables
// instead of building token values and going through advanceAny and scan
// for each) and hands everything rare or subtle to the token path: a byte
// that may start a comment or end an executable comment, '@', ':', ';',
// the end of the input, and the token after LAST_INSERT_ID(. The token
// path lexes that one token, scans it, and the loop carries on after it.
//
// The skimmer must find exactly what the token path finds; it cuts tokens
// with the lexer's own span functions (identEnd, numberEnd, quotedEnd) and
// looks at words and '(' with scan's own functions (word, call). Tests
// compare it with restTokens on the corpus, on generated statements and
// in FuzzClassify.

// Skim classes: what the skimmer does at a byte that starts a token.
const (
	skSlow      uint8 = iota // hand the token to the token path
	skSpace                  // whitespace
	skWord                   // an identifier or keyword
	skDigit                  // a number, or an identifier such as 1abc
	skDot                    // '.': punctuation, or a number such as .5
	skQuote                  // a 'string' or "string"
	skBacktick               // a `quoted identifier`
	skOpen                   // '('
	skClose                  // ')'
	skDash                   // '-': punctuation, or a -- comment
	skSlash                  // '/': punctuation, or a /* comment
	skStar                   // '*': punctuation, or the */ ending an executable comment
	skSemicolon              // ';', the end of the statement
	skPunct                  // other punctuation
)

var skimClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		cl := byteClass[c]
		switch {
		case cl&clSpace != 0:
			t[c] = skSpace
		case cl&clDigit != 0:
			t[c] = skDigit
		case cl&clIdent != 0:
			t[c] = skWord
		default:
			t[c] = skPunct
		}
	}
	t['.'] = skDot
	t['\''], t['"'] = skQuote, skQuote
	t['`'] = skBacktick
	t['('] = skOpen
	t[')'] = skClose
	t['-'] = skDash
	t['/'] = skSlash
	t['*'] = skStar
	t[';'] = skSemicolon
	// '@' starts a variable (or is an account's host separator), ':' may
	// start :=, '#' starts a comment.
	for _, c := range []byte("@:#") {
		t[c] = skSlow
	}
	return t
}()

// backtickEnd returns the end of the `quoted identifier` opening at p, as
// quotedEnd(src, p, '`', false) does.
func backtickEnd(src string, p int) int {
	for p = indexByteFrom(src, p+1, '`'); p < len(src); p = indexByteFrom(src, p+2, '`') {
		if p+1 == len(src) || src[p+1] != '`' {
			return p + 1
		}
		// A doubled backtick stands for one.
	}
	return len(src)
}

// rest reads the statement's remaining tokens, scanning them as
// restTokens does: it stops at the ';' that ends the statement or at the
// end of the input, which becomes the current token.
func (p *parser) rest() {
	if p.noScan || p.c.tokensOnly {
		p.restTokens()
		return
	}
	src := p.lx.src
	backslash := !p.lx.noBackslash
	for {
		// The token after LAST_INSERT_ID( decides between a read of the
		// last id and a pin; scan looks at it.
		for p.lidOpen && !p.atEnd() {
			p.advanceAny()
		}
		if p.atEnd() {
			return
		}
		// The last token read, as scan needs it: the word before '(' is
		// a function's name; the word before SHARE or UPDATE may be FOR.
		lastKind, lastStart, lastEnd, lastExec := p.tok.kind, p.tok.start, p.tok.end, p.tok.exec
		exec := p.lx.inExec // changes only in the token path
		depth := p.depth
		pos := p.lx.pos
	skim:
		for pos < len(src) {
			c := src[pos]
			if skimClass[c] == skSpace {
				// Whitespace, mostly one space between two tokens.
				pos++
				for pos < len(src) && skimClass[src[pos]] == skSpace {
					pos++
				}
				if pos == len(src) {
					break
				}
				c = src[pos]
			}
			start := pos
			kind := tkPunct
			switch skimClass[c] {
			case skWord:
				pos = identEnd(src, pos+1)
				kind = tkWord
				if mayScanWord(src[start:pos]) {
					prev := ""
					if lastKind == tkWord {
						prev = src[lastStart:lastEnd]
					}
					p.word(src[start:pos], prev, token{kind: tkWord, exec: exec, closed: true, start: start, end: pos})
				}
			case skDigit:
				// A number, or an identifier such as 1abc: none of the
				// words word looks for starts with a digit (or a dot).
				pos = numberEnd(src, pos)
				kind = tkNumber
				if pos < len(src) && isIdentByte(src[pos]) {
					pos = identEnd(src, pos)
					kind = tkWord
				}
			case skDot:
				pos++
				if pos < len(src) && isDigit(src[pos]) {
					pos = numberEnd(src, start)
					kind = tkNumber
					if pos < len(src) && isIdentByte(src[pos]) {
						pos = identEnd(src, pos)
						kind = tkWord
					}
				}
			case skQuote:
				// Find the first quote or backslash: if it is the closing
				// quote, the string is plain; otherwise quotedEnd reads it.
				e := indexQuoteFrom(src, pos+1, c)
				if e < len(src) && src[e] == c && (e+1 == len(src) || src[e+1] != c) {
					pos = e + 1
				} else {
					pos, _, _ = quotedEnd(src, pos, c, backslash)
				}
				kind = tkString
			case skBacktick:
				pos = backtickEnd(src, pos)
				kind = tkQuotedIdent
			case skOpen:
				pos++
				depth++
				if lastKind == tkWord {
					p.call(token{kind: tkWord, exec: lastExec, closed: true, start: lastStart, end: lastEnd})
					if p.lidOpen {
						// LAST_INSERT_ID(: the next token goes to scan.
						lastKind, lastStart, lastEnd, lastExec = tkPunct, start, pos, exec
						break skim
					}
				}
			case skClose:
				pos++
				depth--
			case skDash:
				if pos+1 < len(src) && src[pos+1] == '-' && (pos+2 == len(src) || src[pos+2] <= ' ') {
					break skim // a -- comment
				}
				pos++
			case skSlash:
				if pos+1 < len(src) && src[pos+1] == '*' {
					break skim // a comment, maybe executable
				}
				pos++
			case skStar:
				if exec && pos+1 < len(src) && src[pos+1] == '/' {
					break skim // the end of an executable comment
				}
				pos++
			case skPunct:
				pos++
			case skSemicolon:
				// The end of the statement: it becomes the current
				// token, as it would through advanceAny (scan ignores
				// it).
				p.prev = token{kind: lastKind, exec: lastExec, closed: true, start: lastStart, end: lastEnd}
				p.tok = token{kind: tkPunct, exec: exec, closed: true, start: pos, end: pos + 1}
				p.lx.pos = pos + 1
				p.depth = depth
				return
			default: // skSlow
				break skim
			}
			lastKind, lastStart, lastEnd, lastExec = kind, start, pos, exec
		}
		if pos == len(src) && !p.lidOpen {
			// The end of the input, as advanceAny would make it.
			p.prev = token{kind: lastKind, exec: lastExec, closed: true, start: lastStart, end: lastEnd}
			p.tok = token{kind: tkEOF, exec: exec, closed: true, start: pos, end: pos}
			p.lx.pos = pos
			p.depth = depth
			return
		}
		// Hand over to the token path: the current token is the last one
		// read (its escaped and closed flags are not kept: scan does not
		// read them) and the lexer reads on from pos.
		p.tok = token{kind: lastKind, exec: lastExec, closed: true, start: lastStart, end: lastEnd}
		p.lx.pos = pos
		p.depth = depth
		p.advanceAny()
	}
}
