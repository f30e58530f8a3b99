package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffyaml"
)

// envPrefix prefixes the environment variable of every flag: -backend-password
// is RDSMUX_BACKEND_PASSWORD, -max-connections RDSMUX_MAX_CONNECTIONS.
const envPrefix = "RDSMUX"

// config is the parsed and validated configuration: flags, then RDSMUX_*
// environment variables, then the -config file, in that priority order.
type config struct {
	listen            string
	target            string
	users             []userEntry // from -user (flags or RDSMUX_USER); the file's come from credFile
	credFile          string
	backendUser       string
	backendPassword   string
	backendSecret     string // Secrets Manager secret id (ARN or name)
	backendTLS        bool
	backendCA         string
	backendIAM        bool
	backendDatabase   string
	maxConnections    int
	maxConnPercent    int
	maxIdlePercent    int
	maxClients        int
	borrowTimeout     time.Duration
	idleClientTimeout time.Duration
	requireTLS        bool
	tlsCert, tlsKey   string
	metrics           string
	pprof             bool
	debug             bool
	filters           string
	sessionMode       bool
	shutdownTimeout   time.Duration
	stmtCache         int
	initQuery         string
	verifyState       bool   // -verify-session-state
	localInfile       bool   // -local-infile: relay LOAD DATA LOCAL INFILE (default)
	readerListen      string // -reader-listen: the reader endpoint's address (needs -failover)
	failover          string // "", "readonly" or "aurora"
	fleet, fleetName  string // -fleet redis URL and -fleet-name
	procsFollowLoad   bool   // -gomaxprocs-follow-load (procs.go)
	probeInterval     time.Duration
	unreadyAfter      time.Duration
	version           bool

	// passwordFlags names the password-carrying flags given on the
	// command line itself (visible to ps), for a warning at start.
	passwordFlags []string
}

// userFlags collects repeated -user name:password flags.
type userFlags []userEntry

func (u *userFlags) String() string {
	if u == nil {
		return ""
	}
	names := make([]string, len(*u))
	for i, e := range *u {
		names[i] = e.Name
	}
	return strings.Join(names, ",")
}

func (u *userFlags) Set(v string) error {
	name, pw, ok := strings.Cut(v, ":")
	if !ok || name == "" {
		return fmt.Errorf("want name:password, got a value without a colon")
	}
	*u = append(*u, userEntry{Name: name, Password: pw})
	return nil
}

// synopsis starts -h.
const synopsis = `rdsmux: a MySQL-protocol listener that multiplexes many client connections
onto a few database connections, borrowed per transaction (a self-hosted
RDS Proxy).

Usage:
  rdsmux -target HOST:PORT -credentials FILE [flags]
  rdsmux -config /etc/rdsmux/rdsmux.yaml
  rdsmux -version

Examples:
  # Clients log in as the users of users.json; each is served by the
  # database account of the same name and password.
  rdsmux -target db.internal:3306 -credentials /etc/rdsmux/users.json \
         -max-connections 20 -metrics 127.0.0.1:9104

  # Every client user served by one database account from Secrets Manager
  # (rotation handled), TLS to the database.
  rdsmux -target mydb.cluster-abc.eu-west-1.rds.amazonaws.com:3306 \
         -credentials /etc/rdsmux/users.json \
         -backend-secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:db -backend-tls

  # The same from the environment (as in a container).
  RDSMUX_TARGET=db:3306 RDSMUX_CREDENTIALS=/run/secrets/users.json rdsmux

Secrets: prefer -credentials FILE (mode 0600; reloaded on SIGHUP),
-backend-secret (Secrets Manager) or -backend-iam, or the environment
(RDSMUX_USER=name:password, RDSMUX_BACKEND_PASSWORD). -user and
-backend-password on the command line are visible to every local user
through ps; rdsmux warns when they are given there.

Every flag can be set as RDSMUX_<FLAG> (upper case, dashes as underscores,
e.g. RDSMUX_MAX_CONNECTIONS=20) or in the YAML file of -config (e.g.
"max-connections: 20"). Flags win over the environment, which wins over
the file.

Signals: SIGTERM/SIGINT drain (no new clients; transactions finish, up to
-shutdown-timeout). SIGHUP reloads -credentials (users added, removed or
with new passwords; connected clients stay).

Endpoints (with -metrics ADDR): /metrics (Prometheus), /healthz (liveness),
/readyz (readiness: 503 while draining or while the database is unreachable);
with -pprof also /debug/pprof/ (CPU, heap, block and mutex profiles).

Flags:
`

// newFlagSet declares the flags into c.
func newFlagSet(c *config, users *userFlags, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("rdsmux", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), synopsis)
		fs.PrintDefaults()
	}
	fs.String("config", "", "YAML `file` of settings, one \"flag-name: value\" per line (RDSMUX_CONFIG)")
	fs.BoolVar(&c.version, "version", false, "print the version and exit")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:3307", "`host:port` to accept MySQL clients on")
	fs.StringVar(&c.target, "target", "", "database `host:port` (required); with -failover readonly, the cluster's instances, comma-separated; with -failover aurora, the cluster endpoint")
	fs.StringVar(&c.failover, "failover", "", "follow the cluster's writer: `readonly` (probe read_only of the -target hosts) or aurora (replica_host_status); needs -backend-user for the probes")
	fs.Var(users, "user", "client user as `name:password` (repeatable; ps shows it: prefer -credentials or RDSMUX_USER)")
	fs.StringVar(&c.credFile, "credentials", "", "JSON `file` of client users and optional per-user backend accounts; reloaded on SIGHUP (preferred)")
	fs.StringVar(&c.backendUser, "backend-user", "", "database account serving every client user (default: each client's own name and password)")
	fs.StringVar(&c.backendPassword, "backend-password", "", "password of -backend-user (ps shows it: prefer RDSMUX_BACKEND_PASSWORD or -backend-secret)")
	fs.StringVar(&c.backendSecret, "backend-secret", "", "Secrets Manager secret `id` (ARN or name) holding the database account serving every client user (username, password); rotation is followed")
	fs.BoolVar(&c.backendTLS, "backend-tls", false, "connect to the database with TLS")
	fs.StringVar(&c.backendCA, "backend-ca", "", "PEM `file` of CAs to verify the database's certificate (implies -backend-tls)")
	fs.BoolVar(&c.backendIAM, "backend-iam", false, "authenticate to the database with IAM tokens (mysql_clear_password over TLS; implies -backend-tls)")
	fs.StringVar(&c.backendDatabase, "backend-database", "", "database backend connections start in")
	fs.IntVar(&c.maxConnections, "max-connections", 0, "cap on backend connections (wins over -max-connections-percent; 0: use the percentage)")
	fs.IntVar(&c.maxConnPercent, "max-connections-percent", 100, "cap on backend connections as a percentage (1-100) of the server's max_connections")
	fs.IntVar(&c.maxIdlePercent, "max-idle-connections-percent", 50, "idle backend connections kept open, percentage (0-100) of the same base")
	fs.IntVar(&c.maxClients, "max-client-connections", 0, "cap on client connections (0: none)")
	fs.DurationVar(&c.borrowTimeout, "borrow-timeout", 120*time.Second, "how long a command waits for a backend connection")
	fs.DurationVar(&c.idleClientTimeout, "idle-client-timeout", 1800*time.Second, "close clients idle this long")
	fs.BoolVar(&c.requireTLS, "require-tls", false, "refuse clients that do not use TLS (needs -tls-cert and -tls-key)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate `file` offered to clients")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key `file` of -tls-cert")
	fs.StringVar(&c.metrics, "metrics", "", "`host:port` serving /metrics, /healthz and /readyz (off when empty)")
	fs.BoolVar(&c.pprof, "pprof", false, "also serve Go's profiles (net/http/pprof) under /debug/pprof/ on -metrics; for profiling, not for an address others can reach")
	fs.DurationVar(&c.probeInterval, "readiness-probe-interval", 5*time.Second, "how often the database is probed (a login) for /readyz")
	fs.DurationVar(&c.unreadyAfter, "readiness-failure-window", 10*time.Second, "/readyz answers 503 once connecting to the database has failed for this long without a success")
	fs.BoolVar(&c.debug, "debug", false, "debug logging, with the reason of every session pin")
	fs.StringVar(&c.filters, "session-pinning-filters", "", "RDS Proxy session pinning filters, e.g. EXCLUDE_VARIABLE_SETS")
	fs.BoolVar(&c.sessionMode, "session-mode", false, "hold a backend per client connection instead of per transaction")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long SIGTERM waits for clients to finish their transactions")
	fs.IntVar(&c.stmtCache, "statement-cache", 0, "prepared statements cached per backend connection (0: 256)")
	fs.StringVar(&c.initQuery, "init-query", "", "statement run on every new backend connection")
	fs.BoolVar(&c.verifyState, "verify-session-state", false, "read every borrowed backend's session state back and fail the command with the variable and both values if it is not the client's (a round trip per borrow: to confirm a suspected leak)")
	fs.StringVar(&c.readerListen, "reader-listen", "", "`address` of a reader endpoint: its clients are served by the cluster's readers (least loaded first; the writer when none is healthy), with a pool of its own (needs -failover)")
	fs.BoolVar(&c.localInfile, "local-infile", true, "relay LOAD DATA LOCAL INFILE to clients that enable it, as a direct connection does (false: refuse it with error 1148)")
	fs.StringVar(&c.fleet, "fleet", "", "share one connection budget with every listener and driver of the same -fleet-name through Redis/Valkey: `redis://host:port/db` (rediss:// for TLS); -max-connections is then the whole fleet's cap")
	fs.StringVar(&c.fleetName, "fleet-name", "", "name of the fleet budget (default: -target)")
	fs.BoolVar(&c.procsFollowLoad, "gomaxprocs-follow-load", true, "run on one P (GOMAXPROCS=1) while at most about one client command is in flight, Go's default as soon as commands overlap: a lone client's commands then skip the runtime's scheduling around an idle P (off when GOMAXPROCS is set in the environment)")
	return fs
}

// parseFlags parses args (without the program name), the environment
// (getenv) and the -config file, and validates the result. -h returns
// flag.ErrHelp after printing the usage to out.
func parseFlags(args []string, out io.Writer) (*config, error) {
	c := &config{}
	var users userFlags
	fs := newFlagSet(c, &users, out)
	err := ff.Parse(fs, args,
		ff.WithEnvVarPrefix(envPrefix),
		ff.WithConfigFileFlag("config"),
		ff.WithConfigFileParser(ffyaml.Parser),
	)
	if err != nil {
		return nil, err
	}
	if c.version {
		return c, nil
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q: every setting is a flag (see rdsmux -h)", fs.Args())
	}
	c.users = users
	c.passwordFlags = commandLinePasswords(args)
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// commandLinePasswords names the password-carrying flags in args.
func commandLinePasswords(args []string) []string {
	var found []string
	for _, a := range args {
		if a == "--" {
			break
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			continue
		}
		switch name {
		case "user", "backend-password":
			found = append(found, "-"+name)
		}
	}
	return found
}

// validate checks the settings together; each error names the setting to
// change.
func (c *config) validate() error {
	if c.target == "" {
		return errors.New("-target is required: the database as host:port, e.g. -target db.internal:3306 (or RDSMUX_TARGET)")
	}
	switch c.failover {
	case "", "readonly", "aurora":
	default:
		return fmt.Errorf("-failover %q: want readonly or aurora", c.failover)
	}
	if c.readerListen != "" && c.failover == "" {
		return errors.New("-reader-listen needs -failover (readonly or aurora) to know the cluster's readers")
	}
	hosts := strings.Split(c.target, ",")
	if c.failover == "" && len(hosts) > 1 {
		return errors.New("-target lists several hosts: add -failover readonly to follow their writer")
	}
	for _, h := range hosts {
		if err := checkHostPort(strings.TrimSpace(h), true); err != nil {
			return fmt.Errorf("-target %q: %w", strings.TrimSpace(h), err)
		}
	}
	if err := checkHostPort(c.listen, false); err != nil {
		return fmt.Errorf("-listen %q: %w", c.listen, err)
	}
	if c.metrics != "" {
		if err := checkHostPort(c.metrics, false); err != nil {
			return fmt.Errorf("-metrics %q: %w", c.metrics, err)
		}
	}
	if c.pprof && c.metrics == "" {
		return errors.New("-pprof serves the profiles on the -metrics address: set -metrics too")
	}
	if len(c.users) == 0 && c.credFile == "" {
		return errors.New("no client users: give -credentials FILE (preferred), RDSMUX_USER=name:password or -user name:password")
	}
	seen := map[string]bool{}
	for _, u := range c.users {
		if seen[u.Name] {
			return fmt.Errorf("-user %q is given twice", u.Name)
		}
		seen[u.Name] = true
	}
	if c.backendPassword != "" && c.backendUser == "" {
		return errors.New("-backend-password needs -backend-user")
	}
	if c.backendSecret != "" && (c.backendUser != "" || c.backendIAM) {
		return errors.New("-backend-secret names the database account itself: drop -backend-user/-backend-password/-backend-iam")
	}
	if c.failover != "" && c.backendUser == "" {
		return errors.New("-failover needs -backend-user (and its password) to probe the cluster's hosts")
	}
	for _, n := range []struct {
		name     string
		v, lo, h int
	}{
		{"-max-connections", c.maxConnections, 0, 1 << 20},
		{"-max-connections-percent", c.maxConnPercent, 1, 100},
		{"-max-idle-connections-percent", c.maxIdlePercent, 0, 100},
		{"-max-client-connections", c.maxClients, 0, 1 << 24},
		{"-statement-cache", c.stmtCache, 0, 1 << 20},
	} {
		if n.v < n.lo || n.v > n.h {
			return fmt.Errorf("%s %d: want %d to %d", n.name, n.v, n.lo, n.h)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"-borrow-timeout", c.borrowTimeout},
		{"-idle-client-timeout", c.idleClientTimeout},
		{"-shutdown-timeout", c.shutdownTimeout},
		{"-readiness-probe-interval", c.probeInterval},
		{"-readiness-failure-window", c.unreadyAfter},
	} {
		if d.v <= 0 {
			return fmt.Errorf("%s %s: want a positive duration, e.g. 30s", d.name, d.v)
		}
	}
	if c.requireTLS && (c.tlsCert == "" || c.tlsKey == "") {
		return errors.New("-require-tls needs -tls-cert and -tls-key")
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return errors.New("give both -tls-cert and -tls-key")
	}
	if c.backendCA != "" || c.backendIAM {
		c.backendTLS = true
	}
	return nil
}

// checkHostPort checks a host:port; the host may be empty (all interfaces)
// unless needHost.
func checkHostPort(addr string, needHost bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port, e.g. db.internal:3306 (%w)", err)
	}
	if needHost && host == "" {
		return errors.New("want host:port: the host is missing")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (needHost && n == 0) {
		return fmt.Errorf("port %q: want a number from 1 to 65535", port)
	}
	return nil
}
