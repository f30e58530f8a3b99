package pinning

// DefaultMaxStatementLen is the longest statement a Classifier parses by
// default (RDS Proxy's limit); longer ones pin with PinStatementTooLong.
const DefaultMaxStatementLen = 16 << 10

// Classifier classifies statements. It is configured once by NewClassifier,
// is immutable afterwards, and is safe for concurrent use.
type Classifier struct {
	maxLen      int // 0: no limit
	filters     Filters
	noBackslash bool
	// tokensOnly makes rest read token by token (restTokens) instead of
	// skimming; tests set it to check the skimmer against the token path.
	tokensOnly bool
}

// Option configures a Classifier.
type Option func(*Classifier)

// WithFilters applies session pinning filters (see ParseFilters).
func WithFilters(f Filters) Option {
	return func(c *Classifier) { c.filters |= f }
}

// WithMaxStatementLen sets the length in bytes above which a statement is
// not parsed and pins with PinStatementTooLong; n <= 0 means no limit.
func WithMaxStatementLen(n int) Option {
	return func(c *Classifier) {
		if n < 0 {
			n = 0
		}
		c.maxLen = n
	}
}

// WithNoBackslashEscapes lexes strings as the server does when sql_mode
// contains NO_BACKSLASH_ESCAPES: a backslash is an ordinary character.
// Sessions in that mode (see Settings.NoBackslashEscapes) need a
// Classifier built with this option.
func WithNoBackslashEscapes() Option {
	return func(c *Classifier) { c.noBackslash = true }
}

// NewClassifier returns a Classifier configured by opts.
func NewClassifier(opts ...Option) *Classifier {
	c := &Classifier{maxLen: DefaultMaxStatementLen}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Filters returns the session pinning filters in effect.
func (c *Classifier) Filters() Filters { return c.filters }

// Classify classifies sql, a statement or a ;-separated batch, into r,
// which it resets first. It allocates nothing unless a setting's value has
// to be rewritten to be normalized (an unusual spelling of a name) or a
// quoted identifier with escapes names the schema.
func (c *Classifier) Classify(sql string, r *Result) {
	r.Reset()
	if c.maxLen > 0 && len(sql) > c.maxLen {
		r.Pins = r.Pins.Add(PinStatementTooLong)
		r.Statements = 1
		return
	}
	p := parser{lx: lexer{src: sql, noBackslash: c.noBackslash}, r: r, c: c}
	readOnly := true
	p.advanceAny()
	for p.tok.kind != tkEOF {
		if p.isPunct(';') {
			p.advanceAny()
			continue
		}
		r.Statements++
		p.writes, p.depth, p.inSet = false, 0, false
		read := p.statement()
		p.rest()
		if !read || p.writes {
			readOnly = false
		}
		if p.tok.kind == tkEOF {
			break
		}
		p.advanceAny() // past the ';'
	}
	r.ReadOnly = readOnly && r.Statements > 0
}
