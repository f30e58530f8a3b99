package fleet

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults.
const (
	DefaultLeaseTTL = 5 * time.Second
	DefaultBlock    = 2
	// DefaultMinRequestInterval spaces the requests a process makes for
	// more slots between heartbeats.
	DefaultMinRequestInterval = 20 * time.Millisecond
)

// Environment variables read for credentials the URL does not carry.
const (
	EnvUsername = "RDSMUX_FLEET_USERNAME"
	EnvPassword = "RDSMUX_FLEET_PASSWORD"
)

// Config configures a Member. Name and either URL or Client are required.
type Config struct {
	// URL is the Redis or Valkey server: redis://[user:password@]host:port/db,
	// or rediss:// for TLS. For Redis Cluster, add cluster=true (and more
	// seed nodes with addr=host:port): redis://host:port?cluster=true.
	// Credentials missing from it are taken from RDSMUX_FLEET_USERNAME and
	// RDSMUX_FLEET_PASSWORD. The query parameters lease_ttl, heartbeat,
	// block and fallback_cap set the fields of the same meaning when they
	// are zero (redis://host:6379/0?lease_ttl=8s&fallback_cap=2).
	URL string
	// Client, instead of URL, is a client the caller made (for example a
	// *redis.ClusterClient: the budget's keys share one hash tag). The
	// Member does not close it.
	Client redis.UniversalClient
	// Name names the budget; processes with the same Name share it. The
	// listener and the driver default it to the target's host:port.
	Name string
	// LeaseTTL is how long a process keeps its slots without renewing
	// them: a process that dies loses them this long after its last
	// renewal. 0 means DefaultLeaseTTL.
	LeaseTTL time.Duration
	// Heartbeat is how often the lease is renewed (and slots moved). 0
	// means LeaseTTL/5. Each renewal waits at most one Heartbeat.
	Heartbeat time.Duration
	// Block is how many slots a process asks for beyond its need when it
	// grows, so that most new connections need no round trip to Redis. 0
	// means DefaultBlock.
	Block int
	// FallbackCap is the process's own cap once its lease lapsed because
	// Redis could not be reached. 0 means the smaller of its last fair
	// share of the budget (total / processes) and the slots it held, but
	// at least 1 (also when it never reached Redis).
	FallbackCap int
	// MinRequestInterval spaces requests for more slots made between
	// heartbeats when borrows wait. 0 means DefaultMinRequestInterval.
	MinRequestInterval time.Duration
	// Logger receives fallback and rejoin (Warn, Info) and renewal
	// failures (Debug). nil discards.
	Logger *slog.Logger
}

// urlSettings are the Config fields a fleet URL may carry as query
// parameters, so that the DSN's fleet= and the listener's -fleet can set
// them: lease_ttl and heartbeat (durations), block and fallback_cap.
var urlSettings = []string{"lease_ttl", "heartbeat", "block", "fallback_cap"}

// fromURL moves the urlSettings found in c.URL into c (a field already set
// wins) and removes them from the URL, which go-redis then parses.
func (c Config) fromURL() (Config, error) {
	if c.URL == "" {
		return c, nil
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return c, fmt.Errorf("fleet: fleet URL: %w; use redis://[user:password@]host:port/db", err)
	}
	q := u.Query()
	for _, k := range urlSettings {
		v := q.Get(k)
		if !q.Has(k) {
			continue
		}
		q.Del(k)
		var err error
		switch k {
		case "lease_ttl":
			var d time.Duration
			if d, err = time.ParseDuration(v); err == nil && c.LeaseTTL == 0 {
				c.LeaseTTL = d
			}
		case "heartbeat":
			var d time.Duration
			if d, err = time.ParseDuration(v); err == nil && c.Heartbeat == 0 {
				c.Heartbeat = d
			}
		case "block":
			var n int
			if n, err = strconv.Atoi(v); err == nil && c.Block == 0 {
				c.Block = n
			}
		case "fallback_cap":
			var n int
			if n, err = strconv.Atoi(v); err == nil && c.FallbackCap == 0 {
				c.FallbackCap = n
			}
		}
		if err != nil {
			return c, fmt.Errorf("fleet: fleet URL parameter %s=%q: %w", k, v, err)
		}
	}
	u.RawQuery = q.Encode()
	c.URL = u.String()
	return c, nil
}

// normalize validates c and fills in defaults.
func (c Config) normalize() (Config, error) {
	c, err := c.fromURL()
	if err != nil {
		return c, err
	}
	if c.Name == "" {
		return c, errors.New("fleet: Config.Name is required (the budget's name, for example the database's host:port)")
	}
	if c.URL == "" && c.Client == nil {
		return c, errors.New("fleet: Config.URL (redis://host:port/db) or Config.Client is required")
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.LeaseTTL < 100*time.Millisecond {
		return c, fmt.Errorf("fleet: LeaseTTL %v is too short; use at least 100ms", c.LeaseTTL)
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = c.LeaseTTL / 5
	}
	if c.Heartbeat > c.LeaseTTL/2 {
		return c, fmt.Errorf("fleet: Heartbeat %v must be at most half of LeaseTTL %v", c.Heartbeat, c.LeaseTTL)
	}
	if c.Block <= 0 {
		c.Block = DefaultBlock
	}
	if c.FallbackCap < 0 {
		return c, fmt.Errorf("fleet: FallbackCap is %d; use 0 for the fair share or a positive cap", c.FallbackCap)
	}
	if c.MinRequestInterval <= 0 {
		c.MinRequestInterval = DefaultMinRequestInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// client returns the Redis client for c and whether the Member owns it.
func (c Config) client() (redis.UniversalClient, bool, error) {
	if c.Client != nil {
		return c.Client, false, nil
	}
	if u, err := url.Parse(c.URL); err == nil && (u.Query().Has("addr") || u.Query().Get("cluster") == "true") {
		return c.clusterClient(u)
	}
	opt, err := redis.ParseURL(c.URL)
	if err != nil {
		return nil, false, fmt.Errorf("fleet: fleet URL: %w; use redis://[user:password@]host:port/db or rediss://", err)
	}
	if opt.Username == "" {
		opt.Username = os.Getenv(EnvUsername)
	}
	if opt.Password == "" {
		opt.Password = os.Getenv(EnvPassword)
	}
	// A renewal must never wait longer than a heartbeat, nor retry behind
	// the Member's back: it retries at the next heartbeat.
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries = -1
	opt.DialTimeout = c.Heartbeat
	opt.ReadTimeout = c.Heartbeat
	opt.WriteTimeout = c.Heartbeat
	opt.PoolSize = 2
	opt.DisableIdentity = true
	return redis.NewClient(opt), true, nil
}

// clusterClient is client for a Redis Cluster URL: cluster=true, or
// more nodes given with addr=host:port.
func (c Config) clusterClient(u *url.URL) (redis.UniversalClient, bool, error) {
	q := u.Query()
	q.Del("cluster")
	u.RawQuery = q.Encode()
	opt, err := redis.ParseClusterURL(u.String())
	if err != nil {
		return nil, false, fmt.Errorf("fleet: fleet URL: %w; for Redis Cluster use redis://[user:password@]host:port?cluster=true[&addr=host2:port...]", err)
	}
	if opt.Username == "" {
		opt.Username = os.Getenv(EnvUsername)
	}
	if opt.Password == "" {
		opt.Password = os.Getenv(EnvPassword)
	}
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries = -1
	opt.DialTimeout = c.Heartbeat
	opt.ReadTimeout = c.Heartbeat
	opt.WriteTimeout = c.Heartbeat
	opt.PoolSize = 2
	opt.DisableIdentity = true
	return redis.NewClusterClient(opt), true, nil
}

// keys are the budget's Redis keys; the {name} hash tag keeps them on one
// Redis Cluster slot.
func keys(name string) []string {
	p := "rdsmux:{" + name + "}:"
	return []string{p + "members", p + "held", p + "want", p + "total", p + "settle"}
}

// RedactURL returns a Redis URL with its password replaced by "xxxxx",
// for logs and errors.
func RedactURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	return u.Redacted(), nil
}
