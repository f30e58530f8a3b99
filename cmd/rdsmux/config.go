package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// userEntry is one client user: what clients authenticate with, and
// optionally the database account that serves them.
type userEntry struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	// BackendUser/BackendPassword: the database account for this client
	// user. Empty: -backend-user/-backend-password if given, else the
	// client's own name and password.
	BackendUser     string `json:"backend_user,omitempty"`
	BackendPassword string `json:"backend_password,omitempty"`
}

// credentialsFile is the -credentials file format:
//
//	{"users": [
//	  {"name": "app", "password": "secret"},
//	  {"name": "report", "password": "s2", "backend_user": "ro", "backend_password": "db-pw"}
//	]}
type credentialsFile struct {
	Users []userEntry `json:"users"`
}

// userFlags collects repeated -user name:password flags.
type userFlags []userEntry

func (u *userFlags) String() string {
	names := make([]string, len(*u))
	for i, e := range *u {
		names[i] = e.Name
	}
	return strings.Join(names, ",")
}

func (u *userFlags) Set(v string) error {
	name, pw, ok := strings.Cut(v, ":")
	if !ok || name == "" {
		return fmt.Errorf("want name:password, got %q", v)
	}
	*u = append(*u, userEntry{Name: name, Password: pw})
	return nil
}

// config is the parsed command line.
type config struct {
	listen            string
	target            string
	users             []userEntry
	backendUser       string
	backendPassword   string
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
	debug             bool
	filters           string
	sessionMode       bool
	shutdownTimeout   time.Duration
	stmtCache         int
	initQuery         string
	localInfile       bool   // -local-infile: relay LOAD DATA LOCAL INFILE (default)
	readerListen      string // -reader-listen: the reader endpoint's address (needs -failover)
	failover          string // "", "readonly" or "aurora"
}

// parseFlags parses args (without the program name).
func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("rdsmux", flag.ContinueOnError)
	var users userFlags
	var credFile string
	fs.StringVar(&c.listen, "listen", "127.0.0.1:3307", "address to accept MySQL clients on")
	fs.StringVar(&c.target, "target", "", "database `host:port` (required); with -failover readonly, the cluster's instances, comma-separated; with -failover aurora, the cluster endpoint")
	fs.StringVar(&c.failover, "failover", "", "follow the cluster's writer: `readonly` (probe read_only of the -target hosts) or aurora (replica_host_status); needs -backend-user for the probes")
	fs.Var(&users, "user", "client user as `name:password` (repeatable)")
	fs.StringVar(&credFile, "credentials", "", "JSON `file` of client users (and optional per-user backend accounts)")
	fs.StringVar(&c.backendUser, "backend-user", "", "database account serving every client user (default: each client's own name and password)")
	fs.StringVar(&c.backendPassword, "backend-password", "", "password of -backend-user (or set RDSMUX_BACKEND_PASSWORD)")
	fs.BoolVar(&c.backendTLS, "backend-tls", false, "connect to the database with TLS")
	fs.StringVar(&c.backendCA, "backend-ca", "", "PEM `file` of CAs to verify the database's certificate (implies -backend-tls)")
	fs.BoolVar(&c.backendIAM, "backend-iam", false, "authenticate to the database with IAM tokens (mysql_clear_password over TLS; implies -backend-tls)")
	fs.StringVar(&c.backendDatabase, "backend-database", "", "database backend connections start in")
	fs.IntVar(&c.maxConnections, "max-connections", 0, "cap on backend connections (wins over -max-connections-percent)")
	fs.IntVar(&c.maxConnPercent, "max-connections-percent", 100, "cap on backend connections as a percentage of the server's max_connections")
	fs.IntVar(&c.maxIdlePercent, "max-idle-connections-percent", 50, "idle backend connections kept open, percentage of the same base")
	fs.IntVar(&c.maxClients, "max-client-connections", 0, "cap on client connections (0: none)")
	fs.DurationVar(&c.borrowTimeout, "borrow-timeout", 120*time.Second, "how long a command waits for a backend connection")
	fs.DurationVar(&c.idleClientTimeout, "idle-client-timeout", 1800*time.Second, "close clients idle this long")
	fs.BoolVar(&c.requireTLS, "require-tls", false, "refuse clients that do not use TLS (needs -tls-cert and -tls-key)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate `file` offered to clients")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key `file` of -tls-cert")
	fs.StringVar(&c.metrics, "metrics", "", "`address` serving Prometheus /metrics and /healthz (off when empty)")
	fs.BoolVar(&c.debug, "debug", false, "debug logging, with the reason of every session pin")
	fs.StringVar(&c.filters, "session-pinning-filters", "", "RDS Proxy session pinning filters, e.g. EXCLUDE_VARIABLE_SETS")
	fs.BoolVar(&c.sessionMode, "session-mode", false, "hold a backend per client connection instead of per transaction")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long SIGTERM waits for clients to finish their transactions")
	fs.IntVar(&c.stmtCache, "statement-cache", 0, "prepared statements cached per backend connection (0: 256)")
	fs.StringVar(&c.initQuery, "init-query", "", "statement run on every new backend connection")
	fs.StringVar(&c.readerListen, "reader-listen", "", "`address` of a reader endpoint: its clients are served by the cluster's readers (least loaded first; the writer when none is healthy), with a pool of its own (needs -failover)")
	fs.BoolVar(&c.localInfile, "local-infile", true, "relay LOAD DATA LOCAL INFILE to clients that enable it, as a direct connection does (false: refuse it with error 1148)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.target == "" {
		return nil, errors.New("-target host:port is required")
	}
	switch c.failover {
	case "", "readonly", "aurora":
	default:
		return nil, fmt.Errorf("-failover %q: want readonly or aurora", c.failover)
	}
	if c.readerListen != "" && c.failover == "" {
		return nil, errors.New("-reader-listen needs -failover (readonly or aurora) to know the cluster's readers")
	}
	if c.failover == "" && strings.Contains(c.target, ",") {
		return nil, errors.New("-target lists several hosts: add -failover readonly to follow their writer")
	}
	c.users = users
	if credFile != "" {
		fileUsers, err := readCredentials(credFile)
		if err != nil {
			return nil, err
		}
		c.users = append(c.users, fileUsers...)
	}
	if len(c.users) == 0 {
		return nil, errors.New("no client users: give -user name:password or -credentials FILE")
	}
	seen := map[string]bool{}
	for _, u := range c.users {
		if seen[u.Name] {
			return nil, fmt.Errorf("user %q is configured twice", u.Name)
		}
		seen[u.Name] = true
	}
	if c.backendPassword == "" {
		c.backendPassword = os.Getenv("RDSMUX_BACKEND_PASSWORD")
	}
	if c.requireTLS && (c.tlsCert == "" || c.tlsKey == "") {
		return nil, errors.New("-require-tls needs -tls-cert and -tls-key")
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return nil, errors.New("give both -tls-cert and -tls-key")
	}
	if c.backendCA != "" || c.backendIAM {
		c.backendTLS = true
	}
	return c, nil
}

// readCredentials reads a -credentials file.
func readCredentials(path string) ([]userEntry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading -credentials: %w", err)
	}
	var f credentialsFile
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parsing -credentials %s: %w (want {\"users\": [{\"name\": ..., \"password\": ...}]})", path, err)
	}
	for i, u := range f.Users {
		if u.Name == "" {
			return nil, fmt.Errorf("-credentials %s: user %d has no name", path, i+1)
		}
		if (u.BackendUser == "") != (u.BackendPassword == "") && u.BackendPassword != "" {
			return nil, fmt.Errorf("-credentials %s: user %q has backend_password without backend_user", path, u.Name)
		}
	}
	return f.Users, nil
}
