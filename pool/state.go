package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/rdsmux/rdsmux/pinning"
)

// This file is how the pool knows each backend's real session state, the
// ground the rest of the isolation promise stands on:
//
//   - The state a connection is in is read from the server, never inferred
//     from what a client typed: one query (stateQuery) reads the current
//     database and every tracked variable the server has, as the server
//     holds them (a value rounded or clamped by the server, a collation
//     that followed a character set, sql_big_selects after max_join_size).
//   - It is read when a connection is opened (after InitQuery), after a
//     reset, and after every statement that changed settings.
//   - The first connection of a partition gives the partition's baseline:
//     the state a fresh connection starts in (character sets from the
//     handshake, whatever the DSN and InitQuery set). Sessions and backends
//     record their settings as differences from it; a backend that opened
//     in another state (a server with other defaults after a failover)
//     records the difference.
//   - Going back to the baseline assigns its values explicitly
//     (pinning.Settings.DiffFrom), never DEFAULT, which is the server's
//     global value and not what the connection started with.

// serverState is what a partition knows of its server's tracked variables.
// It is written once, by the first connection's setup, and read-only
// afterwards, except names and query, which setup rewrites (under
// partition.stateMu) if a server answers that it lacks a variable.
type serverState struct {
	names pinning.Names    // spelling per variable; "" not read/assigned
	query string           // reads DATABASE() and the named variables
	vars  []pinning.Var    // the variables query reads, in its order
	base  pinning.Settings // the first connection's state, every read variable set
	// baseSchema is the database the first connection started in ("" none).
	baseSchema string
}

// newServerState returns the state to probe a server with: every tracked
// variable by its canonical name, except those that follow the schema.
func newServerState() *serverState {
	st := &serverState{names: pinning.CanonicalNames()}
	for v := pinning.Var(1); int(v) < pinning.NumVars; v++ {
		if pinning.FollowsSchema(v) {
			st.names[v] = ""
		}
	}
	st.build()
	return st
}

// build writes query and vars from names.
func (st *serverState) build() {
	var b strings.Builder
	b.WriteString("SELECT CAST(JSON_ARRAY(DATABASE()")
	st.vars = st.vars[:0]
	for v := pinning.Var(1); int(v) < pinning.NumVars; v++ {
		if st.names[v] == "" {
			continue
		}
		st.vars = append(st.vars, v)
		// CONCAT gives every value as a JSON string (MariaDB writes a
		// boolean variable as a bare ON/OFF otherwise); CAST AS BINARY
		// keeps character_set_results from converting the answer.
		b.WriteString(", CONCAT(@@SESSION.")
		b.WriteString(st.names[v])
		b.WriteString(")")
	}
	// No table is read (which would clear the warnings a statement left
	// for SHOW WARNINGS).
	// LIMIT 1: an explicit limit, which sql_select_limit does not
	// override (under sql_select_limit=0 the query would return no row).
	b.WriteString(") AS BINARY) LIMIT 1")
	st.query = b.String()
}

// dbName is the database a recorded schema stands for: "" is the
// baseline's (itself "" when connections start without one).
func (st *serverState) dbName(schema string) string {
	if schema == "" {
		return st.baseSchema
	}
	return schema
}

// clone returns a copy of st that can be changed.
func (st *serverState) clone() *serverState {
	c := *st
	c.vars = append([]pinning.Var(nil), st.vars...)
	return &c
}

// unknownVariable matches the server's error 1193.
var unknownVariable = regexp.MustCompile(`Unknown system variable '([^']+)'`)

// forget drops (or respells) the variable named in a 1193 error; it reports
// false when err is not such an error or names nothing st reads.
func (st *serverState) forget(err error) bool {
	m := unknownVariable.FindStringSubmatch(err.Error())
	if m == nil {
		return false
	}
	// MariaDB and MySQL name the variable; other servers speaking the
	// protocol (go-mysql-server) quote it as written.
	name := m[1]
	for _, prefix := range []string{"@@session.", "@@SESSION.", "@@"} {
		name = strings.TrimPrefix(name, prefix)
	}
	m[1] = name
	for _, v := range st.vars {
		if !strings.EqualFold(st.names[v], m[1]) {
			continue
		}
		if alias := pinning.Alias(v); alias != "" && !strings.EqualFold(alias, m[1]) {
			st.names[v] = alias
		} else {
			st.names[v] = ""
		}
		st.build()
		return true
	}
	return false
}

// connState is one connection's state as read from the server.
type connState struct {
	schema string // DATABASE(); "" with noDB when none
	noDB   bool
	full   pinning.Settings // every read variable set, and VarClientCollation
}

// relSchema returns cs's database as the pool records it: "" for the
// baseline's, and false when the connection has no database while the
// baseline has one (no other connection can be brought there).
func (cs *connState) relSchema(st *serverState) (string, bool) {
	switch {
	case cs.noDB && st.baseSchema != "":
		return "", false
	case cs.schema == st.baseSchema:
		return "", true
	}
	return cs.schema, true
}

// readState reads c's state with st's query.
func readState(ctx context.Context, c Conn, st *serverState) (connState, error) {
	var cs connState
	raw, err := c.QueryValue(ctx, st.query)
	if err != nil {
		return cs, err
	}
	var vals []*string
	if err := json.Unmarshal([]byte(raw), &vals); err != nil {
		return cs, fmt.Errorf("pool: reading a connection's session state: %w (answer %.80q)", err, raw)
	}
	want := len(st.vars) + 1
	if len(vals) != want {
		return cs, fmt.Errorf("pool: reading a connection's session state: %d values for %d", len(vals), want)
	}
	if vals[0] != nil {
		cs.schema = *vals[0]
	} else {
		cs.noDB = true
	}
	for i, v := range st.vars {
		p := vals[i+1]
		if p == nil {
			cs.full.Set(v, pinning.ServerValue(v, "", true))
			continue
		}
		cs.full.Set(v, pinning.ServerValue(v, *p, false))
	}
	// As a connection is opened (or reset), its client character set has
	// the handshake's collation, which is its collation_connection.
	if co, ok := cs.full.Get(pinning.VarCollationConnection); ok {
		cs.full.Set(pinning.VarClientCollation, co)
	}
	return cs, nil
}

// keepClientCollation sets cs's VarClientCollation after a statement r
// (nil: one that changed no character set) ran on b: the server shows it
// nowhere, so it follows from what r did (pinning.ClientCollationEffect).
func (cs *connState) keepClientCollation(b *PooledConn, st *serverState, r *pinning.Result) {
	effect := pinning.ClientCollationKept
	if r != nil {
		effect = r.ClientCollation
	}
	switch effect {
	case pinning.ClientCollationConnection:
		return // readState set it to collation_connection
	case pinning.ClientCollationDefault:
		cl, _ := cs.full.Get(pinning.VarCharacterSetClient)
		if co, ok := pinning.DefaultCollation(cl); ok {
			cs.full.Set(pinning.VarClientCollation, co)
		}
		return
	}
	if v, ok := b.settings.Get(pinning.VarClientCollation); ok {
		cs.full.Set(pinning.VarClientCollation, v)
	} else if v, ok := st.base.Get(pinning.VarClientCollation); ok {
		cs.full.Set(pinning.VarClientCollation, v)
	}
}

// learnState reads a new connection's state for partition part: the first
// connection of the partition sets its server state and baseline; a server
// that lacks a tracked variable is asked again without it.
func (part *partition) learnState(ctx context.Context, c Conn) (connState, *serverState, error) {
	part.stateMu.Lock()
	st := part.state
	part.stateMu.Unlock()
	probing := st == nil
	if probing {
		st = newServerState()
	}
	for tries := 0; ; tries++ {
		cs, err := readState(ctx, c, st)
		if err == nil {
			part.stateMu.Lock()
			switch {
			case part.state == nil:
				st.base = cs.full
				st.baseSchema = cs.schema
				part.state = st
			case st != part.state:
				// This server lacked a variable the partition's first one
				// had: read with fewer from now on. The baseline stays.
				next := st.clone()
				next.base = part.state.base
				next.baseSchema = part.state.baseSchema
				part.state = next
				st = next
			}
			st = part.state
			part.stateMu.Unlock()
			return cs, st, nil
		}
		if tries >= pinning.NumVars {
			return cs, nil, err
		}
		if !probing {
			st = st.clone()
			probing = true
		}
		if !st.forget(err) {
			return cs, nil, fmt.Errorf("pool: reading a new connection's session state: %w", err)
		}
	}
}

// stateOf returns the partition's server state (nil before its first
// connection).
func (part *partition) stateOf() *serverState {
	part.stateMu.Lock()
	defer part.stateMu.Unlock()
	return part.state
}

// ErrStateMismatch is wrapped by the error Config.VerifyState reports when a
// backend connection's state after a replay is not the session's.
var ErrStateMismatch = errors.New("pool: backend session state differs from the session's")

// StateMismatchError is the error of a failed state verification: what the
// session should have had and what the server said the connection has.
type StateMismatchError struct {
	// Var names the variable, or "database".
	Var string
	// Want is the session's value, Got the connection's.
	Want, Got string
}

func (e *StateMismatchError) Error() string {
	return fmt.Sprintf("pool: session state verification failed: %s is %s on the backend connection, the session has %s; "+
		"this is a bug in rdsmux's state tracking, please report it with the statements the session ran", e.Var, e.Got, e.Want)
}

// Unwrap returns ErrStateMismatch.
func (e *StateMismatchError) Unwrap() error { return ErrStateMismatch }

// verify reads b's state and compares it with what the session expects:
// its schema and settings over the partition's baseline.
func (s *Session) verify(ctx context.Context, b *PooledConn) error {
	st := s.part.stateOf()
	if st == nil {
		return nil
	}
	cs, err := readState(ctx, b.conn, st)
	if err != nil {
		return err
	}
	if wantSchema := st.dbName(s.schema); cs.schema != wantSchema {
		return &StateMismatchError{Var: "database", Want: wantSchema, Got: cs.schema}
	}
	if v, err := b.conn.QueryValue(ctx, "SELECT @@in_transaction LIMIT 1"); err == nil && v != "0" {
		return &StateMismatchError{Var: "in_transaction", Want: "0", Got: v}
	}
	for _, v := range st.vars {
		want, ok := s.settings.Get(v)
		if !ok {
			want, _ = st.base.Get(v)
		}
		got, _ := cs.full.Get(v)
		if want != got {
			return &StateMismatchError{Var: v.String(), Want: want, Got: got}
		}
	}
	return nil
}

// notParsed are the tracked variables the server does not use when it
// prepares a statement, only when it runs one or later: they are left out
// of a prepared statement's state (State), so that sessions differing only
// in them share statements, and a statement prepared in another state
// never switches them (switching autocommit would commit a transaction).
//
// transaction_read_only is not among them: the server refuses to prepare
// a write under it (1792), as a dedicated connection would show.
var notParsed = pinning.VarSet(0).
	Add(pinning.VarAutocommit).
	Add(pinning.VarTransactionIsolation).
	Add(pinning.VarCompletionType)

// State is the part of a session's state the server fixes when it prepares
// a statement: the database unqualified names bind to, and the tracked
// settings (sql_mode and character sets among them) the statement is
// parsed under. A statement prepared by a client runs, like on a dedicated
// connection, in the state it was prepared in, whatever the session did
// since (USE, SET NAMES). The zero State is the partition's baseline.
type State struct {
	schema   string
	settings pinning.Settings
	key      string
}

// Key identifies the state: equal states have equal keys; the baseline's
// (and a nil State's) is "". Caches of prepared statements key on it with
// the text.
func (st *State) Key() string {
	if st == nil {
		return ""
	}
	return st.key
}

// KeyExcept is Key with v left out: two states whose KeyExcept are equal
// differ at most in v.
func (st *State) KeyExcept(v pinning.Var) string {
	if st == nil {
		return ""
	}
	if _, ok := st.settings.Get(v); !ok {
		return st.key
	}
	set := st.settings
	set.Unset(v)
	return tagOf(st.schema, &set)
}

// SameValues reports whether st and o (nil: the baseline) hold the same
// value for each of vs.
func (st *State) SameValues(o *State, vs ...pinning.Var) bool {
	var a, b *pinning.Settings
	if st != nil {
		a = &st.settings
	}
	if o != nil {
		b = &o.settings
	}
	for _, v := range vs {
		var va, vb string
		var oka, okb bool
		if a != nil {
			va, oka = a.Get(v)
		}
		if b != nil {
			vb, okb = b.Get(v)
		}
		if oka != okb || va != vb {
			return false
		}
	}
	return true
}

// stateOf builds the State of schema and settings.
func stateOf(schema string, settings *pinning.Settings) State {
	st := State{schema: schema}
	if !settings.IsZero() {
		st.settings = *settings
		notParsed.Each(st.settings.Unset)
	}
	st.key = tagOf(st.schema, &st.settings)
	return st
}

// State returns the session's current State, for a statement the client
// prepares now; nil for the baseline (whose Key is "").
func (s *Session) State() *State {
	if s.tag == "" {
		return nil
	}
	st := stateOf(s.schema, &s.settings)
	if st.key == "" {
		return nil
	}
	return &st
}

// PrepareKey returns the Key of the State b is in: a statement prepared on
// b now binds to it.
func (b *PooledConn) PrepareKey() string {
	if b.tag == "" {
		return ""
	}
	if b.prepFor != b.tag || b.prep == "" {
		st := stateOf(b.schema, &b.settings)
		b.prep, b.prepFor = st.key, b.tag
	}
	return b.prep
}

// InState runs fn (which prepares a statement) with b, the backend the
// session holds for its statement, in state st, then brings b back to the
// session's state. It is how a statement a client prepared before a USE or
// SET NAMES is prepared on another backend as the client prepared it.
// Variables the server does not use to prepare (autocommit, transaction
// characteristics) are not switched. An error switching is the backend's
// (b may have been closed: the statement fails).
func (s *Session) InState(ctx context.Context, b *PooledConn, st *State, fn func() error) error {
	if b != s.held {
		panic("pool: Session.InState with a backend the session does not hold")
	}
	if b.PrepareKey() == st.Key() {
		return fn()
	}
	if st == nil {
		st = &State{}
	}
	if _, err := s.switchTo(ctx, b, st.schema, &st.settings); err != nil {
		return err
	}
	ferr := fn()
	back := stateOf(s.schema, &s.settings)
	set, err := s.switchTo(ctx, b, back.schema, &back.settings)
	if err != nil {
		return err
	}
	if ferr != nil && set {
		// The SET back ran after fn's error: the connection's
		// diagnostics are the SET's (1287 for a deprecated variable),
		// not the error's the caller will report.
		s.diagnosticsReplaced = true
	}
	return ferr
}

// switchTo brings the held b to schema and the parse-time settings of
// settings (others stay as they are on b); set reports that it ran a SET.
func (s *Session) switchTo(ctx context.Context, b *PooledConn, schema string, settings *pinning.Settings) (set bool, err error) {
	st := s.part.stateOf()
	if b.schema != schema {
		if _, err := s.use(ctx, b, schema); err != nil {
			return false, err // the caller's Done closes b if it broke
		}
		b.tag = tagOf(b.schema, &b.settings)
	}
	want := b.settings
	// Keep b's own values of the variables not switched. tx_read_only
	// changes nothing the server fixes in a statement, only whether a
	// write may be prepared and run: switched, it would make a PREPARE
	// fail (1792) that the client's own, in a read-write transaction,
	// passed, and it would drop a pending characteristic of the next
	// transaction (SET @@tx_read_only with no scope), which lives on the
	// connection only. A statement prepared in another tx_read_only is
	// not served to a client's PREPARE (see the front ends' checked).
	for _, v := range append(st.vars[:len(st.vars):len(st.vars)], pinning.VarClientCollation) {
		if notParsed.Has(v) || v == pinning.VarTransactionReadOnly {
			continue
		}
		if lit, ok := settings.Get(v); ok {
			want.Set(v, lit)
		} else {
			want.Unset(v)
		}
	}
	if stmt := want.DiffFrom(&b.settings, &st.base, &st.names); stmt != "" {
		// The SET may raise warnings of its own (1287 for a deprecated
		// variable), which a later statement that uses no table leaves
		// in place: the connection's diagnostics are no longer the
		// session's.
		s.lookBehindBefore = s.lookBehindBefore.Remove(pinning.PinDiagnostics)
		set = true
		if err := b.conn.Exec(ctx, stmt); err != nil {
			b.tag = tagOf(b.schema, &b.settings)
			return set, err
		}
	}
	b.settings = want
	b.tag = tagOf(b.schema, &b.settings)
	return set, nil
}
