package rdsmux

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux/pinning"
)

// PoolingMode says how long a logical connection keeps a backend connection.
type PoolingMode int

const (
	// TransactionPooling borrows a backend for one statement (autocommit) or
	// one transaction and gives it back afterwards. It is the default, as in
	// RDS Proxy.
	TransactionPooling PoolingMode = iota
	// SessionPooling keeps the backend for the life of the logical
	// connection; connections are still reused across logical connections.
	SessionPooling
)

// String returns "transaction" or "session", the DSN spelling.
func (m PoolingMode) String() string {
	if m == SessionPooling {
		return "session"
	}
	return "transaction"
}

// Defaults, named and valued as RDS Proxy's target group settings where one
// exists.
const (
	DefaultMaxConnectionsPercent     = 100
	DefaultMaxIdleConnectionsPercent = 50
	DefaultConnectionBorrowTimeout   = 120 * time.Second
	DefaultStatementCacheSize        = 256
	DefaultMaxLifetime               = time.Hour
	DefaultIdleTimeout               = 30 * time.Minute
	DefaultHealthCheckIdle           = 10 * time.Second
)

// Config is a parsed rdsmux DSN: the backend connection settings of
// go-sql-driver plus the pool's. Build it with ParseDSN or NewConfig, change
// it before handing it to NewConnector, and treat it as immutable afterwards
// (NewConnector keeps a clone).
type Config struct {
	// MySQL holds the backend connection settings (address, user, TLS,
	// timeouts, ...) exactly as go-sql-driver understands them.
	MySQL *mysql.Config

	// MaxConnections caps the backend connections of the target; 0 means
	// derive the cap from MaxConnectionsPercent of the server's
	// max_connections.
	MaxConnections int
	// MaxConnectionsPercent is the share of the server's max_connections the
	// pool may use when MaxConnections is 0 (1-100, default 100).
	MaxConnectionsPercent int
	// MaxIdleConnectionsPercent is the share of the cap that may sit idle
	// (0-100, default 50).
	MaxIdleConnectionsPercent int
	// ConnectionBorrowTimeout bounds the wait for a backend connection when
	// all are busy (default 120s). A negative value means wait only as long
	// as the caller's context allows.
	ConnectionBorrowTimeout time.Duration
	// InitQuery runs on each new backend connection, e.g.
	// "SET SESSION sql_mode='ANSI'".
	InitQuery string
	// SessionPinningFilters lists RDS Proxy pinning filters; the one known is
	// "EXCLUDE_VARIABLE_SETS" (a SET never pins; the statement still runs).
	SessionPinningFilters []string
	// PoolingMode is TransactionPooling (default) or SessionPooling.
	PoolingMode PoolingMode
	// MaxLifetime closes backend connections older than this (with jitter).
	MaxLifetime time.Duration
	// IdleTimeout closes backend connections idle longer than this.
	IdleTimeout time.Duration
	// HealthCheckIdle pings a backend connection idle longer than this
	// before handing it out.
	HealthCheckIdle time.Duration
	// StatementCacheSize bounds the prepared statements cached per backend
	// connection (LRU); 0 means the default, a negative value disables
	// caching (statements are prepared and closed per use).
	StatementCacheSize int
	// VerifySessionState reads each borrowed backend's session state
	// (database, tracked variables, open transaction) back from the
	// server and fails the statement with a pool.StateMismatchError naming
	// the variable and both values if it is not the session's (see
	// pool.Config.VerifyState). A round trip per borrow: for tests, or to
	// confirm a suspected leak.
	VerifySessionState bool

	// Failover is "" (connect to the DSN's address), "readonly" (follow the
	// writer of FailoverHosts by probing read_only) or "aurora" (follow an
	// Aurora cluster whose endpoint is the DSN's address).
	Failover string
	// FailoverHosts lists the cluster's instances for "readonly" failover
	// (default: the DSN's address).
	FailoverHosts []string
	// FailoverRole is "writer" (default) or "reader": which instance the
	// backends connect to.
	FailoverRole string

	// Fleet, when set, shares one connection budget with every process
	// that uses the same FleetName, through Redis or Valkey
	// (redis://[user:password@]host:port/db, rediss:// for TLS; URL-escape
	// it in a DSN). MaxConnections, or MaxConnectionsPercent of the
	// server's max_connections, is then the cap for the whole fleet. See
	// package fleet.
	Fleet string
	// FleetName names the shared budget (default: the target's host:port).
	FleetName string

	// Logger receives pool events and, at debug level, pin reasons. Set it
	// with WithLogger; nil means slog.Default().
	Logger *slog.Logger
}

// NewConfig returns a Config with the defaults and a fresh go-sql-driver
// config.
func NewConfig() *Config {
	return &Config{
		MySQL:                     mysql.NewConfig(),
		MaxConnectionsPercent:     DefaultMaxConnectionsPercent,
		MaxIdleConnectionsPercent: DefaultMaxIdleConnectionsPercent,
		ConnectionBorrowTimeout:   DefaultConnectionBorrowTimeout,
		MaxLifetime:               DefaultMaxLifetime,
		IdleTimeout:               DefaultIdleTimeout,
		HealthCheckIdle:           DefaultHealthCheckIdle,
		StatementCacheSize:        DefaultStatementCacheSize,
	}
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	cc := *c
	if c.MySQL != nil {
		cc.MySQL = c.MySQL.Clone()
	}
	cc.SessionPinningFilters = append([]string(nil), c.SessionPinningFilters...)
	cc.FailoverHosts = append([]string(nil), c.FailoverHosts...)
	return &cc
}

// The DSN parameters rdsmux owns; everything else goes to go-sql-driver.
const (
	paramMaxConnections            = "maxConnections"
	paramMaxConnectionsPercent     = "maxConnectionsPercent"
	paramMaxIdleConnectionsPercent = "maxIdleConnectionsPercent"
	paramConnectionBorrowTimeout   = "connectionBorrowTimeout"
	paramInitQuery                 = "initQuery"
	paramSessionPinningFilters     = "sessionPinningFilters"
	paramPoolingMode               = "poolingMode"
	paramMaxLifetime               = "maxLifetime"
	paramIdleTimeout               = "idleTimeout"
	paramHealthCheckIdle           = "healthCheckIdle"
	paramStatementCacheSize        = "statementCacheSize"
	paramVerifySessionState        = "verifySessionState"
	paramFailover                  = "failover"
	paramFailoverHosts             = "failoverHosts"
	paramFailoverRole              = "failoverRole"
	paramFleet                     = "fleet"
	paramFleetName                 = "fleetName"
)

// ParseDSN parses a go-sql-driver DSN with rdsmux parameters, for example
//
//	app:secret@tcp(db.internal:3306)/shop?parseTime=true&maxConnections=20&poolingMode=transaction
//
// rdsmux's parameters are removed before the rest is parsed by
// go-sql-driver's mysql.ParseDSN.
func ParseDSN(dsn string) (*Config, error) {
	cfg := NewConfig()
	base, query := splitDSN(dsn)
	var rest []string
	if query != "" {
		for _, kv := range strings.Split(query, "&") {
			if kv == "" {
				continue
			}
			key, raw, _ := strings.Cut(kv, "=")
			value, err := url.QueryUnescape(raw)
			if err != nil {
				return nil, fmt.Errorf("rdsmux: invalid DSN parameter %s: %w", key, err)
			}
			ok, err := cfg.setParam(key, value)
			if err != nil {
				return nil, fmt.Errorf("rdsmux: invalid DSN parameter %s=%q: %w", key, value, err)
			}
			if !ok {
				rest = append(rest, kv)
			}
		}
	}
	mdsn := base
	if len(rest) > 0 {
		mdsn += "?" + strings.Join(rest, "&")
	}
	mc, err := mysql.ParseDSN(mdsn)
	if err != nil {
		return nil, fmt.Errorf("rdsmux: %w", err)
	}
	cfg.MySQL = mc
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// splitDSN splits at the '?' that follows the last '/', as go-sql-driver
// does, so a password may contain '?'.
func splitDSN(dsn string) (base, query string) {
	slash := strings.LastIndexByte(dsn, '/')
	if slash < 0 {
		return dsn, ""
	}
	if q := strings.IndexByte(dsn[slash:], '?'); q >= 0 {
		return dsn[:slash+q], dsn[slash+q+1:]
	}
	return dsn, ""
}

// setParam applies one rdsmux parameter; it reports false for a parameter
// that is not rdsmux's.
func (c *Config) setParam(key, value string) (bool, error) {
	var err error
	switch key {
	case paramMaxConnections:
		c.MaxConnections, err = strconv.Atoi(value)
	case paramMaxConnectionsPercent:
		c.MaxConnectionsPercent, err = strconv.Atoi(value)
	case paramMaxIdleConnectionsPercent:
		c.MaxIdleConnectionsPercent, err = strconv.Atoi(value)
	case paramConnectionBorrowTimeout:
		c.ConnectionBorrowTimeout, err = time.ParseDuration(value)
	case paramInitQuery:
		c.InitQuery = value
	case paramSessionPinningFilters:
		c.SessionPinningFilters = nil
		for _, f := range strings.Split(value, ",") {
			if f = strings.TrimSpace(f); f != "" {
				c.SessionPinningFilters = append(c.SessionPinningFilters, strings.ToUpper(f))
			}
		}
	case paramPoolingMode:
		switch strings.ToLower(value) {
		case "transaction":
			c.PoolingMode = TransactionPooling
		case "session":
			c.PoolingMode = SessionPooling
		default:
			err = errors.New(`want "transaction" or "session"`)
		}
	case paramMaxLifetime:
		c.MaxLifetime, err = time.ParseDuration(value)
	case paramIdleTimeout:
		c.IdleTimeout, err = time.ParseDuration(value)
	case paramHealthCheckIdle:
		c.HealthCheckIdle, err = time.ParseDuration(value)
	case paramStatementCacheSize:
		c.StatementCacheSize, err = strconv.Atoi(value)
	case paramVerifySessionState:
		c.VerifySessionState, err = strconv.ParseBool(value)
	case paramFailover:
		c.Failover = strings.ToLower(value)
	case paramFailoverHosts:
		c.FailoverHosts = nil
		for _, h := range strings.Split(value, ",") {
			if h = strings.TrimSpace(h); h != "" {
				c.FailoverHosts = append(c.FailoverHosts, h)
			}
		}
	case paramFailoverRole:
		c.FailoverRole = strings.ToLower(value)
	case paramFleet:
		c.Fleet = value
	case paramFleetName:
		c.FleetName = value
	default:
		return false, nil
	}
	return true, err
}

func (c *Config) validate() error {
	switch {
	case c.MySQL == nil:
		return errors.New("rdsmux: Config.MySQL is nil; start from NewConfig or ParseDSN")
	case c.MaxConnections < 0:
		return fmt.Errorf("rdsmux: maxConnections=%d: must be 0 (use maxConnectionsPercent) or positive", c.MaxConnections)
	case c.MaxConnectionsPercent < 1 || c.MaxConnectionsPercent > 100:
		return fmt.Errorf("rdsmux: maxConnectionsPercent=%d: must be between 1 and 100", c.MaxConnectionsPercent)
	case c.MaxIdleConnectionsPercent < 0 || c.MaxIdleConnectionsPercent > 100:
		return fmt.Errorf("rdsmux: maxIdleConnectionsPercent=%d: must be between 0 and 100", c.MaxIdleConnectionsPercent)
	}
	switch c.Failover {
	case FailoverOff, FailoverReadOnly, FailoverAurora:
	default:
		return fmt.Errorf("rdsmux: failover=%q: want readonly or aurora", c.Failover)
	}
	switch c.FailoverRole {
	case "", "writer", "reader":
	default:
		return fmt.Errorf("rdsmux: failoverRole=%q: want writer or reader", c.FailoverRole)
	}
	_, err := c.filters()
	return err
}

// filters parses SessionPinningFilters with package pinning, which owns the
// list of known filters.
func (c *Config) filters() (pinning.Filters, error) {
	f, err := pinning.ParseFilters(strings.Join(c.SessionPinningFilters, ","))
	if err != nil {
		return 0, fmt.Errorf("rdsmux: %w", err)
	}
	return f, nil
}

// FormatDSN returns a DSN that ParseDSN turns back into an equal Config.
// Parameters at their defaults are left out.
func (c *Config) FormatDSN() string {
	dsn := c.MySQL.FormatDSN()
	def := NewConfig()
	var params []string
	add := func(key, value string) { params = append(params, key+"="+url.QueryEscape(value)) }
	if c.MaxConnections != def.MaxConnections {
		add(paramMaxConnections, strconv.Itoa(c.MaxConnections))
	}
	if c.MaxConnectionsPercent != def.MaxConnectionsPercent {
		add(paramMaxConnectionsPercent, strconv.Itoa(c.MaxConnectionsPercent))
	}
	if c.MaxIdleConnectionsPercent != def.MaxIdleConnectionsPercent {
		add(paramMaxIdleConnectionsPercent, strconv.Itoa(c.MaxIdleConnectionsPercent))
	}
	if c.ConnectionBorrowTimeout != def.ConnectionBorrowTimeout {
		add(paramConnectionBorrowTimeout, c.ConnectionBorrowTimeout.String())
	}
	if c.InitQuery != "" {
		add(paramInitQuery, c.InitQuery)
	}
	if len(c.SessionPinningFilters) > 0 {
		add(paramSessionPinningFilters, strings.Join(c.SessionPinningFilters, ","))
	}
	if c.PoolingMode != def.PoolingMode {
		add(paramPoolingMode, c.PoolingMode.String())
	}
	if c.MaxLifetime != def.MaxLifetime {
		add(paramMaxLifetime, c.MaxLifetime.String())
	}
	if c.IdleTimeout != def.IdleTimeout {
		add(paramIdleTimeout, c.IdleTimeout.String())
	}
	if c.HealthCheckIdle != def.HealthCheckIdle {
		add(paramHealthCheckIdle, c.HealthCheckIdle.String())
	}
	if c.StatementCacheSize != def.StatementCacheSize {
		add(paramStatementCacheSize, strconv.Itoa(c.StatementCacheSize))
	}
	if c.VerifySessionState {
		add(paramVerifySessionState, "true")
	}
	if c.Failover != "" {
		add(paramFailover, c.Failover)
	}
	if len(c.FailoverHosts) > 0 {
		add(paramFailoverHosts, strings.Join(c.FailoverHosts, ","))
	}
	if c.FailoverRole != "" {
		add(paramFailoverRole, c.FailoverRole)
	}
	if c.Fleet != "" {
		add(paramFleet, c.Fleet)
	}
	if c.FleetName != "" {
		add(paramFleetName, c.FleetName)
	}
	if len(params) == 0 {
		return dsn
	}
	sep := "?"
	if _, q := splitDSN(dsn); q != "" || strings.HasSuffix(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + strings.Join(params, "&")
}
