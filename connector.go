package rdsmux

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux/failover"
	"github.com/rdsmux/rdsmux/iamauth"
	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool"
)

// DriverName is the name the driver registers with database/sql.
const DriverName = "rdsmux"

func init() {
	sql.Register(DriverName, &Driver{})
}

// Driver is the rdsmux database/sql driver. Use it through
// sql.Open("rdsmux", dsn) or build a Connector with NewConnector.
type Driver struct{}

var (
	_ driver.Driver        = (*Driver)(nil)
	_ driver.DriverContext = (*Driver)(nil)
	_ driver.Connector     = (*Connector)(nil)
	_ io.Closer            = (*Connector)(nil)
)

// Open opens a logical connection for dsn. database/sql prefers
// OpenConnector; Open is here for callers that use the driver directly.
func (d *Driver) Open(dsn string) (driver.Conn, error) {
	c, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

// OpenConnector parses dsn once and returns a Connector for it.
func (d *Driver) OpenConnector(dsn string) (driver.Connector, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return NewConnector(cfg)
}

// Option configures a Connector beyond what a DSN can say.
type Option func(*Connector) error

// WithLogger sets the logger for pool events and, at debug level, pin
// reasons.
func WithLogger(l *slog.Logger) Option {
	return func(c *Connector) error { c.cfg.Logger = l; return nil }
}

// WithBackendOptions applies go-sql-driver options (for example
// mysql.BeforeConnect for IAM tokens, or a custom dial function) to the
// backend connections.
func WithBackendOptions(opts ...mysql.Option) Option {
	return func(c *Connector) error { return c.cfg.MySQL.Apply(opts...) }
}

// WithCredentials makes every new backend connection ask p for its user
// and password: an IAM auth token source (which requires TLS; the token is
// never sent without it) or a Secrets Manager secret, from package
// iamauth. A password the server rejects (error 1045) is fetched again and
// retried through a rotation window, so rotation fails no client request.
func WithCredentials(p iamauth.Provider) Option {
	return func(c *Connector) error {
		if p == nil {
			return errors.New("rdsmux: WithCredentials(nil)")
		}
		c.creds = p
		return nil
	}
}

// Connector opens logical connections that share one pool of backend
// connections per target. It is safe for concurrent use.
type Connector struct {
	cfg        *Config // immutable after NewConnector
	backendCfg *mysql.Config
	classifier *pinning.Classifier
	target     *target
	user       string // the pool partition of this connector's sessions
	creds      iamauth.Provider
	dialer     *failover.Dialer // from WithFailover; nil otherwise

	closeOnce sync.Once
}

// NewConnector returns a Connector for cfg (which it clones). Connectors for
// the same target (network address) share one pool and one connection cap;
// the first connector's pool settings win, later ones with other settings
// are refused with an error.
func NewConnector(cfg *Config, opts ...Option) (*Connector, error) {
	c := &Connector{cfg: cfg.Clone()}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, fmt.Errorf("rdsmux: applying option: %w", err)
		}
	}
	if err := c.cfg.validate(); err != nil {
		return nil, err
	}
	if c.cfg.Logger == nil {
		c.cfg.Logger = slog.Default()
	}
	if c.cfg.StatementCacheSize == 0 {
		c.cfg.StatementCacheSize = DefaultStatementCacheSize
	}
	filters, err := c.cfg.filters()
	if err != nil {
		return nil, err
	}
	c.classifier = pinning.NewClassifier(pinning.WithFilters(filters))

	// Backends are dialed without a default schema: the schema is session
	// state that the pool applies, so one backend can serve every database
	// of the same user.
	c.backendCfg = c.cfg.MySQL.Clone()
	c.backendCfg.DBName = ""
	c.user = partitionKey(c.backendCfg)
	if c.creds != nil {
		// Backends of different credential sources never share a partition.
		c.user += fmt.Sprintf("+creds%p", c.creds)
	}

	t, err := acquireTarget(c.cfg, c.backendCfg, c.dialer)
	if err != nil {
		return nil, err
	}
	c.target = t
	var dial driver.Connector
	switch {
	case t.dialer != nil:
		mc := c.backendCfg
		if c.creds != nil {
			mc = mc.Clone()
			if err = mc.Apply(iamauth.BeforeConnect(c.creds)); err != nil {
				break
			}
		}
		wrap := func(ctx context.Context, nc net.Conn) net.Conn {
			return withoutMetadataCache(ctx, nc, &t.cacheMetadata)
		}
		dial, err = failover.NewConnector(t.dialer, failover.ConnectorConfig{MySQL: mc, WaitTimeout: failoverConnectTimeout, WrapConn: wrap})
	default:
		dc := c.backendCfg.Clone()
		if f := dialWithoutMetadataCache(dc, &t.cacheMetadata); f != nil {
			dc.DialFunc = f
		}
		if c.creds != nil {
			dial, err = iamauth.NewConnector(dc, c.creds)
		} else {
			dial, err = mysql.NewConnector(dc)
		}
	}
	if err != nil {
		releaseTarget(t)
		return nil, fmt.Errorf("rdsmux: %w", err)
	}
	t.register(c.user, dial)
	return c, nil
}

// partitionKey identifies the backends a connector may use: the same user
// and the same go-sql-driver settings (which decide how rows are decoded).
// It contains no secret in clear.
func partitionKey(cfg *mysql.Config) string {
	c := cfg.Clone()
	c.Passwd = "" // a rotated password keeps the partition; new dials use it
	h := sha256.Sum256([]byte(c.FormatDSN()))
	return cfg.User + "#" + hex.EncodeToString(h[:6])
}

// Connect returns a new logical connection. It is cheap: it borrows no
// backend until the first statement.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return newConn(c), nil
}

// Driver returns the rdsmux Driver.
func (c *Connector) Driver() driver.Driver { return &Driver{} }

// Close releases this connector's share of the target's pool; the pool
// closes when its last connector closes. database/sql calls it from
// DB.Close.
func (c *Connector) Close() error {
	c.closeOnce.Do(func() {
		releaseTarget(c.target)
	})
	return nil
}

// Stats returns a snapshot of the shared pool's statistics and of the
// target's per-statement latency histograms (see Stats).
func (c *Connector) Stats() Stats { return c.target.stats() }

// Config returns a copy of the connector's configuration.
func (c *Connector) Config() *Config { return c.cfg.Clone() }

// target is one database endpoint and its shared pool.
type target struct {
	key  string
	pool *pool.Pool
	opts string // the pool settings, to refuse a second connector that disagrees

	dialer  *failover.Dialer  // reaches the cluster's writer or a reader; nil without failover
	monitor *failover.Monitor // owned: closed with the target (nil when the caller owns it)
	stopInv func()            // ends pool invalidation on writer changes

	mu     sync.Mutex                  // guards users and killer
	users  map[string]driver.Connector // partition key -> how to dial its backends
	killer *pool.Killer                // stops cancelled statements (KILL QUERY); set once the pool exists
	refs   int                         // guarded by targetsMu, not mu

	latency latency // per-statement histograms (latency.go); lock-free

	// cacheMetadata is set once a backend's server offered MariaDB's
	// metadata cache, which the driver then emulates (greeting.go).
	cacheMetadata atomic.Bool
}

var (
	targetsMu sync.Mutex // guards targets and every target's refs
	targets   = map[string]*target{}
)

func targetKey(cfg *mysql.Config) string { return cfg.Net + "(" + cfg.Addr + ")" }

func poolSettings(cfg *Config) string {
	return fmt.Sprintf("maxConnections=%d maxConnectionsPercent=%d maxIdleConnectionsPercent=%d "+
		"connectionBorrowTimeout=%s initQuery=%q maxLifetime=%s idleTimeout=%s healthCheckIdle=%s fleet=%q fleetName=%q",
		cfg.MaxConnections, cfg.MaxConnectionsPercent, cfg.MaxIdleConnectionsPercent,
		cfg.ConnectionBorrowTimeout, cfg.InitQuery, cfg.MaxLifetime, cfg.IdleTimeout, cfg.HealthCheckIdle,
		redactURL(cfg.Fleet), cfg.FleetName)
}

func acquireTarget(cfg *Config, backendCfg *mysql.Config, dialer *failover.Dialer) (*target, error) {
	key := targetKey(backendCfg)
	switch {
	case dialer != nil:
		key = fmt.Sprintf("dialer(%p)", dialer)
	case cfg.Failover != FailoverOff:
		key = failoverKey(cfg, backendCfg)
	}
	opts := poolSettings(cfg)
	targetsMu.Lock()
	defer targetsMu.Unlock()
	if t, ok := targets[key]; ok {
		if t.opts != opts {
			return nil, fmt.Errorf("rdsmux: a pool for %s already exists with other settings (%s); "+
				"open every handle to one target with the same pool settings (got %s)", key, t.opts, opts)
		}
		t.refs++
		return t, nil
	}
	t := &target{key: key, opts: opts, users: map[string]driver.Connector{}, refs: 1}
	borrowTimeout := cfg.ConnectionBorrowTimeout
	budget, err := fleetBudget(cfg, backendCfg)
	if err != nil {
		return nil, err
	}
	pcfg := pool.Config{
		Dial:                      t.dial(cfg.StatementCacheSize),
		MaxConnections:            cfg.MaxConnections,
		MaxConnectionsPercent:     cfg.MaxConnectionsPercent,
		MaxIdleConnectionsPercent: cfg.MaxIdleConnectionsPercent,
		ConnectionBorrowTimeout:   borrowTimeout,
		InitQuery:                 cfg.InitQuery,
		VerifyState:               cfg.VerifySessionState,
		MaxLifetime:               cfg.MaxLifetime,
		IdleTimeout:               cfg.IdleTimeout,
		HealthCheckIdle:           cfg.HealthCheckIdle,
		Logger:                    cfg.Logger,
		IsBroken:                  isBroken,
	}
	if budget != nil {
		pcfg.Budget = budget
	}
	p, err := pool.New(pcfg)
	if err != nil {
		if budget != nil {
			budget.Detach()
		}
		return nil, fmt.Errorf("rdsmux: creating the pool for %s: %w", key, err)
	}
	t.pool = p
	t.mu.Lock()
	t.killer = pool.NewKiller(p, pool.KillerConfig{ErrorNumber: mysqlErrorNumber})
	t.mu.Unlock()
	t.dialer = dialer
	if dialer == nil && cfg.Failover != FailoverOff {
		if t.monitor, t.dialer, err = clusterFor(cfg, backendCfg, budget); err != nil {
			t.killer.Close()
			p.Close()
			return nil, err
		}
	}
	if t.dialer != nil {
		t.stopInv = t.dialer.Monitor().InvalidateOnWriterChange(p)
	}
	targets[key] = t
	return t, nil
}

// isBroken is the pool's test for a connection-level failure: the pool's
// default plus go-sql-driver's ErrInvalidConn (a connection that broke
// mid-packet, for example during the handshake).
func isBroken(err error) bool {
	return pool.DefaultIsBroken(err) || errors.Is(err, mysql.ErrInvalidConn)
}

// mysqlErrorNumber is the killer's KillerConfig.ErrorNumber: the number
// of a server error as go-sql-driver reports it.
func mysqlErrorNumber(err error) (uint16, bool) {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number, true
	}
	return 0, false
}

func releaseTarget(t *target) {
	targetsMu.Lock()
	t.refs--
	last := t.refs == 0
	if last {
		delete(targets, t.key)
	}
	targetsMu.Unlock()
	if last {
		if t.stopInv != nil {
			t.stopInv()
		}
		t.pool.Close()
		t.killer.Close()
		if t.monitor != nil {
			t.monitor.Close()
		}
	}
}

// register records how to dial backends for a partition; the newest
// registration wins, so a rotated password takes effect for new backends
// (and for the killer's control connections, which the pool dials).
func (t *target) register(user string, dial driver.Connector) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.users[user] = dial
}

// dial returns the pool's dial function: a go-sql-driver connection for the
// partition's config, wrapped as a backend.
func (t *target) dial(cacheSize int) func(ctx context.Context, user string) (pool.Conn, error) {
	return func(ctx context.Context, user string) (pool.Conn, error) {
		t.mu.Lock()
		mc, k := t.users[user], t.killer
		t.mu.Unlock()
		if mc == nil {
			return nil, fmt.Errorf("rdsmux: no connector registered for partition %s", user)
		}
		var gc *greetingConn // set by the dial (greeting.go)
		dc, err := mc.Connect(context.WithValue(ctx, greetingKey{}, &gc))
		if err != nil {
			return nil, err
		}
		b, err := newBackend(ctx, dc, user, cacheSize, k)
		if b != nil {
			b.wire = gc
		}
		return b, err
	}
}
