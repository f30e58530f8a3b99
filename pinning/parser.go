package pinning

// parser walks the tokens of one Classify call. Every token it reads
// passes through scan, which finds what pins wherever it appears (user
// variables, GET_LOCK(), FOUND_ROWS(), ...); the statement functions read
// the leading keywords to find the statement's kind.
type parser struct {
	lx  lexer
	r   *Result
	c   *Classifier
	tok token // the current token

	prev    token // the token before tok
	lidOpen bool  // prev is the '(' of LAST_INSERT_ID(
	inSet   bool  // in a SET statement (for ExcludeVariableSets)
	noScan  bool  // reading text that does not run (a routine body)
	writes  bool  // the statement writes or locks although it reads
	depth   int   // parenthesis depth in the statement
}

func (p *parser) text(t token) string { return p.lx.src[t.start:t.end] }

// atEnd reports whether the current token ends the statement.
func (p *parser) atEnd() bool {
	return p.tok.kind == tkEOF || p.tok.kind == tkPunct && p.lx.src[p.tok.start] == ';'
}

// advance moves to the next token of the statement; at the statement's end
// it stays put.
func (p *parser) advance() {
	if !p.atEnd() {
		p.advanceAny()
	}
}

// advanceAny moves to the next token, past a ';' too.
func (p *parser) advanceAny() {
	t := p.lx.next()
	p.prev = p.tok
	p.tok = t
	if p.noScan {
		return
	}
	// Only some tokens can matter to scan; strings, numbers, identifiers
	// in quotes and most words cannot.
	switch t.kind {
	case tkString, tkNumber, tkQuotedIdent:
		if !p.lidOpen {
			return
		}
	case tkWord:
		if !p.lidOpen && !mayScanWord(p.lx.src[t.start:t.end]) {
			return
		}
	}
	p.scan(t)
}

// peek returns the token after the current one without moving.
func (p *parser) peek() token {
	l := p.lx
	return l.next()
}

// restTokens reads the statement's remaining tokens one by one through
// advanceAny. rest (skim.go) does the same faster; restTokens is what it
// falls back to and what it is tested against.
func (p *parser) restTokens() {
	for !p.atEnd() {
		p.advanceAny()
	}
}

// is reports whether the current token is the keyword kw (upper case).
func (p *parser) is(kw string) bool {
	return p.tok.kind == tkWord && foldEq(p.lx.src[p.tok.start:p.tok.end], kw)
}

func (p *parser) isPunct(c byte) bool {
	return p.tok.kind == tkPunct && p.lx.src[p.tok.start] == c
}

func (p *parser) tokIs(t token, kw string) bool {
	return t.kind == tkWord && foldEq(p.lx.src[t.start:t.end], kw)
}

// pin records reason, raised by token t.
func (p *parser) pin(reason PinReason, t token) {
	if p.inSet && p.c.filters&ExcludeVariableSets != 0 && setReasons.Has(reason) {
		return
	}
	p.r.pin(reason)
	if t.exec {
		p.r.pin(PinExecutableComment)
	}
}

// scan looks at every token that runs for what pins wherever it appears.
func (p *parser) scan(t token) {
	if p.lidOpen {
		p.lidOpen = false
		if t.kind == tkPunct && p.lx.src[t.start] == ')' {
			p.r.ReadsLastInsertID = true
		} else {
			p.pin(PinLastInsertIDSet, t)
		}
	}
	switch t.kind {
	case tkUserVar:
		p.pin(PinUserVariable, t)
	case tkSysVar:
		p.sysVar(t)
	case tkPunct:
		switch p.lx.src[t.start] {
		case '(':
			p.depth++
			if p.prev.kind == tkWord {
				p.call(p.prev)
			}
		case ')':
			p.depth--
		}
	case tkWord:
		p.word(p.lx.src[t.start:t.end], p.wordText(p.prev), t)
	}
}

// wordText returns the text of t if it is a word, else "".
func (p *parser) wordText(t token) string {
	if t.kind != tkWord {
		return ""
	}
	return p.lx.src[t.start:t.end]
}

// scanWordFirst holds, for each word length up to 31, the first letters
// (bit c-'a') of the words of that length that word looks for: INTO,
// SHARE, VALUE, UPDATE, SQL_CALC_FOUND_ROWS.
var scanWordFirst = func() (t [32]uint32) {
	for _, w := range []string{"INTO", "SHARE", "VALUE", "UPDATE", "SQL_CALC_FOUND_ROWS"} {
		t[len(w)] |= 1 << (w[0] - 'A')
	}
	return t
}()

// mayScanWord reports whether word may do something with the word s: a
// test of its length and first letter that rejects most words at once.
func mayScanWord(s string) bool {
	n := uint(len(s))
	m := scanWordFirst[n%uint(len(scanWordFirst))]
	// A letter's index, 0-25; any other byte gives an index whose bit is
	// never set (26-31) or is shifted out (>= 32).
	i := uint(s[0]|0x20) - 'a'
	return n < uint(len(scanWordFirst)) && m>>i&1 != 0
}

// word handles the word s (the text of token t) that runs, after prev (the
// text of the token before it if that is a word, else ""). The words it
// looks for are listed again in scanWordFirst, which lets the callers skip
// the others (mayScanWord); TestScanWordFilters checks the two agree.
func (p *parser) word(s, prev string, t token) {
	switch len(s) {
	case 4:
		if foldEq(s, "INTO") {
			p.writes = true // INTO @var, OUTFILE, DUMPFILE
		}
	case 5:
		// FOR SHARE, LOCK IN SHARE MODE, NEXT VALUE FOR
		if foldEq(s, "SHARE") && (foldEq(prev, "FOR") || foldEq(prev, "IN")) ||
			foldEq(s, "VALUE") && foldEq(prev, "NEXT") {
			p.writes = true
		}
	case 6:
		if foldEq(s, "UPDATE") && foldEq(prev, "FOR") {
			p.writes = true
		}
	case 19:
		if foldEq(s, "SQL_CALC_FOUND_ROWS") {
			p.pin(PinFoundRows, t)
		}
	}
}

// sysVar handles a read of @@name.
func (p *parser) sysVar(t token) {
	name := p.lx.src[t.start+2 : t.end]
	for _, scope := range [...]string{"SESSION.", "LOCAL.", "GLOBAL."} {
		if hasPrefixFold(name, scope) {
			name = name[len(scope):]
			break
		}
	}
	switch {
	case foldEq(name, "WARNING_COUNT"), foldEq(name, "ERROR_COUNT"):
		p.pin(PinDiagnostics, t)
	case foldEq(name, "LAST_INSERT_ID"), foldEq(name, "IDENTITY"):
		p.r.ReadsLastInsertID = true
	}
}

// call handles a call of the function named by token name (a word
// followed by '(').
func (p *parser) call(name token) {
	s := p.lx.src[name.start:name.end]
	switch len(s) {
	case 6:
		if foldEq(s, "SETVAL") {
			p.writes = true
		}
	case 7:
		if foldEq(s, "NEXTVAL") || foldEq(s, "LASTVAL") {
			p.writes = true
		}
	case 8:
		if foldEq(s, "GET_LOCK") {
			p.pin(PinGetLock, name)
			p.writes = true // named locks are taken on the writer
		}
	case 9:
		if foldEq(s, "ROW_COUNT") {
			p.pin(PinRowCount, name)
		}
	case 10:
		if foldEq(s, "FOUND_ROWS") {
			p.pin(PinFoundRows, name)
		}
	case 12:
		if foldEq(s, "RELEASE_LOCK") || foldEq(s, "IS_USED_LOCK") {
			p.pin(PinGetLock, name)
			p.writes = true
		}
	case 14:
		if foldEq(s, "LAST_INSERT_ID") {
			p.lidOpen = true
		}
	case 17:
		if foldEq(s, "RELEASE_ALL_LOCKS") {
			p.r.unpin(PinGetLock)
			p.writes = true
		}
	}
}

// statement classifies the statement starting at the current token and
// reports whether it is a read. It may leave tokens unread.
func (p *parser) statement() bool {
	t := p.tok
	r := p.r
	if t.kind == tkPunct && p.lx.src[t.start] == '(' {
		return true // (SELECT ...) [UNION ...]
	}
	if t.kind != tkWord {
		return false
	}
	s := p.text(t)
	if len(s) < 2 {
		return false
	}
	switch s[0] | 0x20 { // lower-case first letter
	case 'a':
		switch {
		case foldEq(s, "ALTER"):
			r.Tx |= TxImplicitCommit
		case foldEq(s, "ANALYZE"):
			return p.analyze()
		}
	case 'b':
		switch {
		case foldEq(s, "BEGIN"):
			p.begin()
		case foldEq(s, "BACKUP"):
			p.advance()
			if p.is("STAGE") || p.is("LOCK") {
				p.pin(PinBackupLock, t)
			}
		}
	case 'c':
		switch {
		case foldEq(s, "COMMIT"):
			r.Tx |= TxCommit
			// The server returns the next transaction's characteristics
			// to the session's (SET TRANSACTION without a scope, and what
			// SET autocommit=1 left: see PinSetTransactionNext).
			p.r.unpin(PinSetTransactionNext)
			p.advance()
			p.chainRelease()
		case foldEq(s, "CREATE"):
			p.create()
		case foldEq(s, "CALL"):
			r.Inserts = true // a procedure may insert
		case foldEq(s, "CASE"):
			p.compound(t)
		case foldEq(s, "CHECK"), foldEq(s, "CACHE"), foldEq(s, "CHANGE"):
			r.Tx |= TxImplicitCommit
		}
	case 'd':
		switch {
		case foldEq(s, "DELETE"):
		case foldEq(s, "DO"):
			return true
		case foldEq(s, "DROP"):
			p.drop()
		case foldEq(s, "DESC"), foldEq(s, "DESCRIBE"):
			return p.explain()
		case foldEq(s, "DEALLOCATE"):
			p.pin(PinPrepareText, t)
		}
	case 'e':
		switch {
		case foldEq(s, "EXPLAIN"):
			return p.explain()
		case foldEq(s, "EXECUTE"):
			p.pin(PinPrepareText, t)
		}
	case 'f':
		switch {
		case foldEq(s, "FLUSH"):
			p.flush()
		case foldEq(s, "FOR"):
			p.compound(t)
		}
	case 'g':
		switch {
		case foldEq(s, "GET"):
			p.advance()
			if p.is("CURRENT") || p.is("STACKED") {
				p.advance()
			}
			if p.is("DIAGNOSTICS") {
				p.pin(PinDiagnostics, t)
			}
		case foldEq(s, "GRANT"):
			r.Tx |= TxImplicitCommit
		}
	case 'h':
		switch {
		case foldEq(s, "HANDLER"):
			p.pin(PinHandler, t)
		case foldEq(s, "HELP"):
			return true
		}
	case 'i':
		switch {
		case foldEq(s, "INSERT"):
			r.Inserts = true
		case foldEq(s, "INSTALL"):
			r.Tx |= TxImplicitCommit
		case foldEq(s, "IF"):
			p.compound(t)
		}
	case 'l':
		switch {
		case foldEq(s, "LOCK"):
			p.advance()
			switch {
			case p.is("TABLE"), p.is("TABLES"):
				r.Tx |= TxImplicitCommit
				p.pin(PinLockTables, t)
			case p.is("INSTANCE"):
				p.pin(PinBackupLock, t)
			}
		case foldEq(s, "LOAD"):
			p.advance()
			if p.is("INDEX") {
				r.Tx |= TxImplicitCommit
			} else {
				r.Inserts = true // LOAD DATA, LOAD XML
			}
		case foldEq(s, "LOOP"):
			p.compound(t)
		}
	case 'o':
		if foldEq(s, "OPTIMIZE") {
			r.Tx |= TxImplicitCommit
		}
	case 'p':
		if foldEq(s, "PREPARE") {
			p.pin(PinPrepareText, t)
		}
	case 'r':
		switch {
		case foldEq(s, "ROLLBACK"):
			p.rollback()
		case foldEq(s, "RELEASE"):
			p.advance()
			if p.is("SAVEPOINT") {
				r.Tx |= TxReleaseSavepoint
			}
		case foldEq(s, "REPLACE"):
			r.Inserts = true
		case foldEq(s, "RENAME"), foldEq(s, "REVOKE"), foldEq(s, "REPAIR"), foldEq(s, "RESET"):
			r.Tx |= TxImplicitCommit
		case foldEq(s, "REPEAT"):
			p.compound(t)
		}
	case 's':
		switch {
		case foldEq(s, "SELECT"):
			return true
		case foldEq(s, "SET"):
			return p.set()
		case foldEq(s, "SHOW"):
			p.show(t)
			return true
		case foldEq(s, "START"):
			p.start()
		case foldEq(s, "SAVEPOINT"):
			r.Tx |= TxSavepoint
		case foldEq(s, "STOP"):
			r.Tx |= TxImplicitCommit
		}
	case 't':
		switch {
		case foldEq(s, "TABLE"):
			return true
		case foldEq(s, "TRUNCATE"):
			r.Tx |= TxImplicitCommit
		}
	case 'u':
		switch {
		case foldEq(s, "UPDATE"):
		case foldEq(s, "USE"):
			p.use()
		case foldEq(s, "UNLOCK"):
			p.advance()
			if p.is("TABLE") || p.is("TABLES") {
				r.Tx |= TxImplicitCommit
				r.unpin(PinLockTables)
			}
		case foldEq(s, "UNINSTALL"):
			r.Tx |= TxImplicitCommit
		}
	case 'v':
		if foldEq(s, "VALUES") {
			return true
		}
	case 'w':
		switch {
		case foldEq(s, "WITH"):
			return p.with()
		case foldEq(s, "WHILE"):
			p.compound(t)
		}
	case 'x':
		if foldEq(s, "XA") {
			p.xa()
		}
	}
	if p.tok.start == t.start && p.nextIsColon() {
		// label: BEGIN NOT ATOMIC ... END (or a label on a loop)
		p.compound(t)
	}
	return false
}

// nextIsColon reports whether the token after the current one is ':'. It
// looks at the next byte after whitespace first: unless that is ':' or may
// start a comment, the token is not ':' and need not be lexed.
func (p *parser) nextIsColon() bool {
	src, pos := p.lx.src, p.lx.pos
	for pos < len(src) && byteClass[src[pos]]&clSpace != 0 {
		pos++
	}
	if pos == len(src) || src[pos] != ':' && byteClass[src[pos]]&clSpecial == 0 {
		return false
	}
	n := p.peek()
	return n.kind == tkPunct && src[n.start] == ':'
}

// compound handles a compound statement run directly: its effects cannot
// be known, and its ;-separated body is part of it, so everything to the
// end of the input is.
func (p *parser) compound(t token) {
	p.pin(PinCompoundStatement, t)
	p.noScan = true
	for p.tok.kind != tkEOF {
		p.advanceAny()
	}
	p.noScan = false
}

// skipBody reads the body of a routine definition or a BEGIN ... END block
// up to the ';' that ends it, without scanning it: the text does not run
// now (a definition) or its effects are reported as a whole (a block).
// depth is the number of BEGIN/CASE blocks already open.
func (p *parser) skipBody(depth int) {
	p.noScan = true
	for {
		if p.tok.kind == tkEOF {
			break
		}
		if p.isPunct(';') && depth <= 0 {
			break
		}
		p.advanceAny()
		switch {
		case p.is("BEGIN"), p.is("CASE"):
			depth++
		case p.is("END"):
			n := p.peek()
			switch {
			case p.tokIs(n, "IF"), p.tokIs(n, "LOOP"), p.tokIs(n, "WHILE"),
				p.tokIs(n, "REPEAT"), p.tokIs(n, "FOR"):
				p.advanceAny() // closes a block not counted
			case p.tokIs(n, "CASE"):
				p.advanceAny()
				depth--
			default:
				depth--
			}
		}
	}
	p.noScan = false
}

func (p *parser) begin() {
	p.advance()
	switch {
	case p.is("NOT"):
		p.pin(PinCompoundStatement, p.prev)
		p.skipBody(1)
	default: // BEGIN, BEGIN WORK
		p.r.Tx |= TxBegin
		// Beginning a transaction releases the table locks of LOCK
		// TABLES (without the commit UNLOCK TABLES would make).
		p.r.unpin(PinLockTables)
	}
}

func (p *parser) start() {
	p.advance()
	if !p.is("TRANSACTION") {
		p.r.Tx |= TxImplicitCommit // START SLAVE / REPLICA / GROUP_REPLICATION
		return
	}
	p.r.Tx |= TxBegin
	p.r.unpin(PinLockTables) // as BEGIN: the table locks are released
	for p.advance(); !p.atEnd(); p.advance() {
		switch {
		case p.is("ONLY") && p.tokIs(p.prev, "READ"):
			p.r.Tx |= TxBeginReadOnly
		case p.is("SNAPSHOT") && p.tokIs(p.prev, "CONSISTENT"):
			p.r.Tx |= TxConsistentSnapshot
		}
	}
}

// chainRelease reads [WORK] [AND [NO] CHAIN] [[NO] RELEASE] after COMMIT or
// ROLLBACK.
func (p *parser) chainRelease() {
	for ; !p.atEnd(); p.advance() {
		switch {
		case p.is("CHAIN") && p.tokIs(p.prev, "NO"):
			p.r.Tx |= TxNoChain
		case p.is("CHAIN"):
			p.r.Tx |= TxChain
		case p.is("RELEASE") && p.tokIs(p.prev, "NO"):
			p.r.Tx |= TxNoRelease
		case p.is("RELEASE"):
			p.r.Tx |= TxRelease
		}
	}
}

func (p *parser) rollback() {
	p.advance()
	if p.is("WORK") {
		p.advance()
	}
	if p.is("TO") {
		p.r.Tx |= TxRollbackToSavepoint
		return
	}
	p.r.Tx |= TxRollback
	p.r.unpin(PinSetTransactionNext) // as COMMIT
	p.chainRelease()
}

func (p *parser) xa() {
	p.advance()
	switch {
	case p.is("START"), p.is("BEGIN"):
		p.r.Tx |= TxXAStart
	case p.is("END"):
		p.r.Tx |= TxXAEnd
	case p.is("PREPARE"):
		p.r.Tx |= TxXAPrepare
	case p.is("COMMIT"):
		p.r.Tx |= TxXACommit
	case p.is("ROLLBACK"):
		p.r.Tx |= TxXARollback
	case p.is("RECOVER"):
		p.r.Tx |= TxXARecover
	}
}

func (p *parser) show(t token) {
	p.advance()
	if p.is("COUNT") {
		// SHOW COUNT(*) WARNINGS
		for i := 0; i < 4 && !p.atEnd(); i++ {
			p.advance()
		}
	}
	if p.is("WARNINGS") || p.is("ERRORS") {
		p.pin(PinDiagnostics, t)
	}
}

// explain handles EXPLAIN/DESCRIBE: a read, unless it is EXPLAIN ANALYZE,
// which runs the statement.
func (p *parser) explain() bool {
	p.advance()
	if p.is("ANALYZE") {
		p.writes = true
	}
	return true
}

// analyze handles ANALYZE TABLE (maintenance) and MariaDB's ANALYZE
// <statement>, which runs the statement.
func (p *parser) analyze() bool {
	p.advance()
	switch {
	case p.is("TABLE"), p.is("TABLES"), p.is("NO_WRITE_TO_BINLOG"), p.is("LOCAL"):
		p.r.Tx |= TxImplicitCommit
		return false
	case p.is("FORMAT"):
		p.advance() // =
		p.advance() // JSON
		p.advance()
	}
	if p.atEnd() {
		return false
	}
	return p.statement()
}

// with handles WITH [RECURSIVE] cte AS (...) [, ...] <statement>: the
// statement is the first keyword outside the CTEs' parentheses.
func (p *parser) with() bool {
	for p.advance(); !p.atEnd(); p.advance() {
		if p.depth != 0 || p.tok.kind != tkWord {
			continue
		}
		switch {
		case p.is("SELECT"), p.is("TABLE"), p.is("VALUES"):
			return true
		case p.is("INSERT"), p.is("REPLACE"):
			p.r.Inserts = true
			return false
		case p.is("UPDATE"), p.is("DELETE"):
			return false
		}
	}
	return false
}

func (p *parser) flush() {
	p.r.Tx |= TxImplicitCommit
	for p.advance(); !p.atEnd(); p.advance() {
		// FLUSH TABLES [t, ...] WITH READ LOCK / FOR EXPORT
		if p.is("LOCK") && p.tokIs(p.prev, "READ") || p.is("EXPORT") && p.tokIs(p.prev, "FOR") {
			p.pin(PinLockTables, p.tok)
		}
	}
}

func (p *parser) use() {
	p.advance()
	switch p.tok.kind {
	case tkWord:
		p.r.Schema = p.text(p.tok)
	case tkQuotedIdent:
		p.r.Schema = unquoteIdent(p.text(p.tok), p.tok)
	default:
		return
	}
	p.r.dropAfterUse = false
}

// unquoteIdent returns the name in a `quoted` identifier.
func unquoteIdent(s string, t token) string {
	if len(s) >= 1 && s[0] == '`' {
		s = s[1:]
	}
	if t.closed && len(s) >= 1 {
		s = s[:len(s)-1]
	}
	if !t.escaped {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		b = append(b, s[i])
		if s[i] == '`' && i+1 < len(s) && s[i+1] == '`' {
			i++
		}
	}
	return string(b)
}

func (p *parser) drop() {
	t := p.tok
	p.advance()
	switch {
	case p.is("TEMPORARY"):
		return // no implicit commit; other temporary tables may remain
	case p.is("PREPARE"):
		p.pin(PinPrepareText, t)
		return
	case p.is("DATABASE"), p.is("SCHEMA"):
		p.r.Tx |= TxImplicitCommit
		p.advance()
		if p.is("IF") {
			p.advance() // EXISTS
			p.advance()
		}
		switch p.tok.kind {
		case tkWord:
			p.r.DroppedSchema = p.text(p.tok)
		case tkQuotedIdent:
			p.r.DroppedSchema = unquoteIdent(p.text(p.tok), p.tok)
		default:
			return
		}
		p.r.dropAfterUse = true
		return
	}
	p.r.Tx |= TxImplicitCommit
}

// create handles CREATE: TEMPORARY tables pin; routine definitions
// (PROCEDURE, FUNCTION, TRIGGER, EVENT, PACKAGE) have bodies that do not
// run now; everything else commits implicitly.
func (p *parser) create() {
	t := p.tok
	p.advance()
	if p.is("OR") {
		p.advance() // REPLACE
		p.advance()
	}
	if p.is("TEMPORARY") {
		p.pin(PinTemporaryTable, t)
		return
	}
	p.r.Tx |= TxImplicitCommit
	// Skip the clauses before the object's kind (DEFINER = user@host,
	// ALGORITHM = ..., SQL SECURITY ..., AGGREGATE) without scanning them.
	p.noScan = true
	for i := 0; i < 16 && !p.atEnd(); i++ {
		switch {
		case p.is("PROCEDURE"), p.is("FUNCTION"), p.is("TRIGGER"), p.is("EVENT"), p.is("PACKAGE"):
			p.noScan = false
			p.skipBody(0)
			return
		case p.is("DEFINER"), p.is("ALGORITHM"), p.is("SQL"), p.is("SECURITY"),
			p.is("AGGREGATE"), p.is("INVOKER"), p.is("MERGE"), p.is("TEMPTABLE"),
			p.is("UNDEFINED"), p.is("CURRENT_USER"), p.tok.kind != tkWord:
			p.advance()
		default:
			if p.prev.kind == tkPunct && p.lx.src[p.prev.start] == '=' ||
				p.prev.kind == tkPunct && p.lx.src[p.prev.start] == '@' {
				p.advance() // the user or value after DEFINER= / @
				continue
			}
			p.noScan = false
			return
		}
	}
	p.noScan = false
}
