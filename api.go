package rdsmux

import (
	"context"
	"database/sql"
	"errors"

	"github.com/rdsmux/rdsmux/pinning"
)

// DB is a database/sql handle on rdsmux together with its shared pool: use
// it as a *sql.DB, and for what database/sql cannot say — the pool's
// statistics and explicit sessions. Open one per process (for example in a
// Lambda handler's init) and keep it across invocations: the pool and its
// backend connections survive as long as the process does.
type DB struct {
	*sql.DB
	connector *Connector
}

// Open parses dsn (a go-sql-driver DSN plus rdsmux parameters) and returns a
// DB. No connection is made until the first statement.
func Open(dsn string, opts ...Option) (*DB, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return OpenConfig(cfg, opts...)
}

// OpenConfig is Open with a Config.
func OpenConfig(cfg *Config, opts ...Option) (*DB, error) {
	c, err := NewConnector(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return &DB{DB: sql.OpenDB(c), connector: c}, nil
}

// PoolStats returns a snapshot of the shared pool's statistics, named as RDS
// Proxy's metrics (see pool.Stats, embedded in Stats), and of the
// per-statement latency histograms QueryDatabaseResponseLatency and
// QueryResponseLatency, shared by every handle to the same target.
func (db *DB) PoolStats() Stats { return db.connector.Stats() }

// Connector returns the Connector behind db.
func (db *DB) Connector() *Connector { return db.connector }

// Session is one logical connection held explicitly: statements on it see
// each other's session state (settings, user variables, temporary tables,
// transactions), while its backend connection is still shared whenever
// nothing pins it. Close ends the session for good: its state is dropped
// and a pinned backend is reset or closed (unlike sql.Conn.Close, which
// hands the connection, state and all, to the next caller).
type Session struct {
	*sql.Conn
}

// Close ends the session and returns its backend, if it held one, clean.
func (s *Session) Close() error {
	_ = s.Conn.Raw(func(dc any) error {
		if c, ok := dc.(*conn); ok {
			c.discard = true // database/sql closes it instead of keeping it idle
		}
		return nil
	})
	return s.Conn.Close()
}

// Session returns a new logical connection.
func (db *DB) Session(ctx context.Context) (*Session, error) {
	c, err := db.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return &Session{Conn: c}, nil
}

// SessionInfo describes a session's multiplexing state.
type SessionInfo struct {
	// Pinned is true when the session keeps its backend connection until it
	// ends; PinReasons says why.
	Pinned     bool
	PinReasons pinning.PinReasons
	// InTransaction is true while a transaction is open.
	InTransaction bool
	// Holding is true while the session holds a backend connection.
	Holding bool
	// Settings are the tracked session settings rdsmux replays on whichever
	// backend the session borrows; Schema is its current database.
	Settings pinning.Settings
	Schema   string
}

var errNotRdsmux = errors.New("rdsmux: the connection is not an rdsmux connection")

// Info reports the session's multiplexing state.
func (s *Session) Info() (SessionInfo, error) {
	var info SessionInfo
	err := s.Conn.Raw(func(dc any) error {
		c, ok := dc.(*conn)
		if !ok {
			return errNotRdsmux
		}
		info = SessionInfo{
			Pinned:        c.s.Pinned(),
			PinReasons:    c.s.PinReasons(),
			InTransaction: c.txOpen,
			Holding:       c.s.Held() != nil,
			Settings:      c.s.Settings(),
			Schema:        c.s.Schema(),
		}
		return nil
	})
	return info, err
}

// AllStats returns the statistics of every pool in the process (with its
// target's latency histograms), keyed by target ("tcp(host:port)"), for
// code that opened handles with sql.Open and holds no Connector.
func AllStats() map[string]Stats {
	targetsMu.Lock()
	ts := make([]*target, 0, len(targets))
	for _, t := range targets {
		ts = append(ts, t)
	}
	targetsMu.Unlock()
	out := make(map[string]Stats, len(ts))
	for _, t := range ts {
		out[t.key] = t.stats()
	}
	return out
}
