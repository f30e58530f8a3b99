package pinning

import "strings"

// scope is the scope of a SET assignment.
type scope uint8

const (
	scopeSession scope = iota // SESSION, LOCAL, or none
	scopeGlobal               // GLOBAL, PERSIST, PERSIST_ONLY: not the session's
)

// set handles SET statements. It reports whether the statement is a read
// (only SET STATEMENT ... FOR SELECT is).
func (p *parser) set() bool {
	p.inSet = true
	t := p.tok
	p.advance()
	switch {
	case p.is("STATEMENT"):
		return p.setStatement()
	case p.is("TRANSACTION"):
		// Applies to the next transaction on this connection only.
		p.pin(PinSetTransactionNext, t)
		return false
	case p.is("PASSWORD"):
		p.r.Tx |= TxImplicitCommit
		return false
	case p.is("ROLE"), p.is("RESOURCE"):
		// SET ROLE changes the session's privileges; SET RESOURCE GROUP
		// its thread's resource group.
		p.pin(PinUntrackedVariable, t)
		return false
	case p.is("DEFAULT"):
		if n := p.peek(); p.tokIs(n, "ROLE") {
			return false // stored for the user, not the session
		}
	}
	sc := scopeSession
	for !p.atEnd() {
		switch {
		case p.is("GLOBAL"), p.is("PERSIST"), p.is("PERSIST_ONLY"):
			sc = scopeGlobal
			p.advance()
		case p.is("SESSION"), p.is("LOCAL"):
			sc = scopeSession
			p.advance()
		}
		switch {
		case p.is("TRANSACTION"):
			if sc == scopeSession {
				p.setTransaction()
			}
			return false
		case p.is("NAMES"):
			p.setNames()
		case p.is("CHARSET"):
			p.setCharset()
		case p.is("CHARACTER") && p.tokIs(p.peek(), "SET"):
			p.advance()
			p.setCharset()
		default:
			if !p.assign(sc) {
				return false
			}
		}
		if !p.isPunct(',') {
			break
		}
		p.advance()
	}
	return false
}

// setStatement handles MariaDB's SET STATEMENT a=1, ... FOR <statement>:
// the assignments last for the one statement, so only the statement
// counts (and what the values read).
func (p *parser) setStatement() bool {
	for p.advance(); !p.atEnd(); p.advance() {
		if p.depth == 0 && p.is("FOR") {
			p.advance()
			p.inSet = false
			if p.atEnd() {
				return false
			}
			return p.statement()
		}
	}
	return false
}

// setTransaction handles SET SESSION TRANSACTION characteristics, which
// change transaction_isolation and transaction_read_only.
func (p *parser) setTransaction() {
	for p.advance(); !p.atEnd(); p.advance() {
		switch {
		case p.is("LEVEL"):
			p.advance()
			lit := ""
			switch {
			case p.is("SERIALIZABLE"):
				lit = isolationLits[3]
			case p.is("REPEATABLE"):
				lit = isolationLits[2]
			case p.is("READ"):
				p.advance()
				switch {
				case p.is("COMMITTED"):
					lit = isolationLits[1]
				case p.is("UNCOMMITTED"):
					lit = isolationLits[0]
				}
			}
			if lit != "" {
				p.r.setVar(VarTransactionIsolation, "", lit)
			}
		case p.is("ONLY") && p.tokIs(p.prev, "READ"):
			p.r.setVar(VarTransactionReadOnly, "", litOne)
		case p.is("WRITE") && p.tokIs(p.prev, "READ"):
			p.r.setVar(VarTransactionReadOnly, "", litZero)
		}
	}
}

// setNames handles NAMES {charset [COLLATE collation] | DEFAULT}, which
// sets character_set_client, _connection and _results, and
// collation_connection (to the collation given or the character set's
// default).
func (p *parser) setNames() {
	p.advance()
	if p.is("DEFAULT") {
		p.advance()
		for _, v := range [...]Var{VarCharacterSetClient, VarCharacterSetConnection, VarCharacterSetResults, VarCollationConnection} {
			p.r.defaultVar(v)
		}
		p.r.ClientCollation = ClientCollationDefault
		return
	}
	cs, single := p.readValue(true)
	var coll value
	hasColl, collSingle := false, false
	if p.is("COLLATE") {
		p.advance()
		hasColl = true
		coll, collSingle = p.readValue(true)
	}
	lit, op := "", opReadBack
	if single {
		lit, op = normalize(VarCharacterSetClient, &cs)
	}
	for _, v := range [...]Var{VarCharacterSetClient, VarCharacterSetConnection, VarCharacterSetResults} {
		p.apply(v, "", lit, op)
	}
	p.r.ClientCollation = ClientCollationConnection
	switch {
	case !hasColl:
		p.r.ClientCollation = ClientCollationDefault
		p.r.defaultVar(VarCollationConnection)
	case collSingle:
		lit, op := normalize(VarCollationConnection, &coll)
		if op == opDefault {
			op = opReadBack // COLLATE DEFAULT: the character set's default
		}
		p.r.applyOp(VarCollationConnection, "", lit, op)
	default:
		p.r.readBackVar(VarCollationConnection, "")
	}
}

// setCharset handles CHARACTER SET / CHARSET {charset | DEFAULT}: it sets
// character_set_client and _results, and sets character_set_connection
// and collation_connection from the current database's, which only the
// server knows.
func (p *parser) setCharset() {
	p.advance()
	cs, single := p.readValue(true)
	lit, op := "", opReadBack
	if single {
		lit, op = normalize(VarCharacterSetClient, &cs)
	}
	p.r.applyOp(VarCharacterSetClient, "", lit, op)
	p.r.ClientCollation = ClientCollationDefault
	p.r.applyOp(VarCharacterSetResults, "", lit, op)
	p.r.readBackVar(VarCharacterSetConnection, "")
	p.r.readBackVar(VarCollationConnection, "")
}

// assign handles one `name = value` of a SET. It reports false when the
// statement is malformed.
func (p *parser) assign(sc scope) bool {
	t := p.tok
	var name string
	switch t.kind {
	case tkUserVar:
		// Pinned by scan; the value may still pin (GET_LOCK()).
		p.advance()
		if p.tok.kind != tkAssign && !p.isPunct('=') {
			return false
		}
		p.advance()
		p.readValue(false)
		return true
	case tkSysVar:
		name = p.text(t)[2:]
		sc = scopeSession                        // @@x is the session's unless it says otherwise
		bare := strings.IndexByte(name, '.') < 0 // @@x with no scope
		defer func() {
			// @@tx_isolation = ... and @@tx_read_only = ... (and their
			// transaction_ names) with no scope set the next transaction
			// only, as SET TRANSACTION does: the session's value stays,
			// and the connection keeps a pending characteristic no
			// variable shows.
			if v, _, ok := LookupVar(name); bare && ok && (v == VarTransactionIsolation || v == VarTransactionReadOnly) {
				p.pin(PinSetTransactionNext, t)
			}
		}()
		switch {
		case hasPrefixFold(name, "SESSION."):
			name = name[len("SESSION."):]
		case hasPrefixFold(name, "LOCAL."):
			name = name[len("LOCAL."):]
		case hasPrefixFold(name, "GLOBAL."):
			name, sc = name[len("GLOBAL."):], scopeGlobal
		case hasPrefixFold(name, "PERSIST."):
			name, sc = name[len("PERSIST."):], scopeGlobal
		case hasPrefixFold(name, "PERSIST_ONLY."):
			name, sc = name[len("PERSIST_ONLY."):], scopeGlobal
		}
		if len(name) >= 2 && name[0] == '`' && name[len(name)-1] == '`' {
			name = name[1 : len(name)-1]
		}
	case tkWord:
		name = p.text(t)
		if n := p.peek(); n.kind == tkPunct && p.lx.src[n.start] == '.' {
			// A structured variable (keycache.key_buffer_size): global.
			p.advance()
			p.advance()
			sc = scopeGlobal
		}
	case tkQuotedIdent:
		name = unquoteIdent(p.text(t), t)
	default:
		return false
	}
	p.advance()
	if p.tok.kind != tkAssign && !p.isPunct('=') {
		return false
	}
	p.advance()
	val, single := p.readValue(false)
	if sc != scopeSession {
		return true
	}
	v, spelled, ok := LookupVar(name)
	switch {
	case ok:
		if v == VarAutocommit {
			p.r.Tx |= TxSetAutocommit
		}
		if v == VarCharacterSetClient {
			p.r.ClientCollation = ClientCollationDefault
		}
		lit, op := "", opReadBack
		if single {
			lit, op = normalize(v, &val)
		}
		p.apply(v, spelled, lit, op)
		if v == VarSQLAutoIsNull && op != opDefault && !(op == opSet && lit == "0") {
			// With it on, WHERE id IS NULL finds the last inserted row
			// once after an insert: whether that was used up lives on
			// the connection, where no variable shows it.
			p.pin(PinUntrackedVariable, t)
		}
	case hasPrefixFold(name, "SESSION_TRACK_"):
		p.pin(PinSessionTrack, t)
	case foldEq(name, "SQL_LOG_BIN"):
		p.pin(PinSQLLogBin, t)
	default:
		p.pin(PinUntrackedVariable, t)
	}
	return true
}

// apply records an assignment to v and what it does to the variables
// tied to v: assigning a character set sets its collation to the
// default; assigning a collation sets its character set.
func (p *parser) apply(v Var, name, lit string, op valOp) {
	r := p.r
	r.applyOp(v, name, lit, op)
	for _, pair := range charsetPairs {
		switch v {
		case pair[0]:
			r.defaultVar(pair[1])
		case pair[1]:
			switch op {
			case opSet:
				if cs, ok := collationCharset(lit); ok {
					r.setVar(pair[0], "", cs)
				} else {
					r.readBackVar(pair[0], "")
				}
			case opDefault:
				r.defaultVar(pair[0])
			default:
				r.readBackVar(pair[0], "")
			}
		}
	}
}

// collationCharset returns the quoted literal of the character set of the
// collation whose quoted literal is lit: the name's prefix up to the first
// '_' (or binary).
func collationCharset(lit string) (string, bool) {
	if len(lit) < 3 {
		return "", false
	}
	name := lit[1 : len(lit)-1]
	if name == "binary" {
		return charsets["binary"], true
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '_' {
			cs, ok := charsets[name[:i]]
			return cs, ok
		}
	}
	return "", false
}

// applyOp records one assignment's effect on v alone.
func (r *Result) applyOp(v Var, name, lit string, op valOp) {
	switch op {
	case opSet:
		r.setVar(v, name, lit)
	case opDefault:
		r.defaultVar(v)
	default:
		r.readBackVar(v, name)
	}
}

// readValue reads an assignment's value up to the ',' or end that ends
// it, leaving the current token there. It reports the value and whether
// it is a single literal. A name (after NAMES, CHARACTER SET, COLLATE)
// ends at a word too.
func (p *parser) readValue(name bool) (value, bool) {
	var val value
	src := p.lx.src
	n := 0
	first := p.tok
	if first.kind == tkPunct && (src[first.start] == '-' || src[first.start] == '+') {
		// A signed number: the sign must touch the number.
		p.advance()
		if p.tok.kind == tkNumber && p.tok.start == first.end {
			val.neg = src[first.start] == '-'
			first = p.tok
		} else {
			n++ // an expression
		}
	} else if first.kind == tkWord && isIntroducer(src[first.start:first.end]) {
		// A character set introducer (_utf8mb4'x') or N'x'.
		if nx := p.peek(); nx.kind == tkString && nx.start == first.end {
			p.advance()
			first = p.tok
		}
	}
	depth := p.depth
	for !p.atEnd() {
		if p.depth == depth && p.isPunct(',') {
			break
		}
		if name && n > 0 && p.tok.kind == tkWord && p.depth == depth {
			break // NAMES x COLLATE y
		}
		n++
		p.advance()
	}
	if n != 1 || !first.closed {
		return val, false
	}
	val.kind = first.kind
	s := src[first.start:first.end]
	switch first.kind {
	case tkWord, tkNumber:
		val.text, val.lit = s, s
	case tkString:
		val.lit = s
		inner := s[1:]
		if first.closed && len(inner) > 0 {
			inner = inner[:len(inner)-1]
		}
		val.text = inner
		val.plain = s[0] == '\'' && !first.escaped && first.closed
	case tkQuotedIdent:
		if first.escaped {
			return val, false
		}
		val.lit = s
		val.text = unquoteIdent(s, first)
	default:
		return val, false
	}
	return val, true
}

// isIntroducer reports whether s is a character set introducer (_utf8mb4)
// or the N of N'national string'.
func isIntroducer(s string) bool {
	return len(s) > 1 && s[0] == '_' || len(s) == 1 && s[0]|0x20 == 'n'
}
