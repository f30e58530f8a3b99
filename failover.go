package rdsmux

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux/failover"
	"github.com/rdsmux/rdsmux/fleet"
)

// Failover modes for Config.Failover (DSN parameter failover).
const (
	// FailoverOff connects to the DSN's address only (default).
	FailoverOff = ""
	// FailoverReadOnly follows the writer of a MySQL/MariaDB primary and its
	// replicas (or an RDS Multi-AZ cluster) by probing read_only on every
	// host of Config.FailoverHosts.
	FailoverReadOnly = "readonly"
	// FailoverAurora follows an Aurora MySQL cluster through
	// information_schema.replica_host_status; the DSN's address is the
	// cluster endpoint.
	FailoverAurora = "aurora"
)

// WithFailover routes backend connections through d: to the current writer
// (or a reader, as d's role says) of the cluster d's monitor follows. When
// the monitor sees a new writer, the pool drops its connections to the old
// one (idle ones at once, borrowed ones when given back) and statements
// queue, within the borrow timeout, until the new writer answers. The
// caller owns d's monitor and closes it after the connector.
func WithFailover(d *failover.Dialer) Option {
	return func(c *Connector) error {
		if d == nil {
			return errors.New("rdsmux: WithFailover(nil)")
		}
		c.dialer = d
		return nil
	}
}

// clusterFor builds the monitor and dialer a DSN's failover parameters ask
// for; the target owns them.
func clusterFor(cfg *Config, backendCfg *mysql.Config, budget *fleet.Member) (*failover.Monitor, *failover.Dialer, error) {
	probe := failover.ProbeConfig{MySQL: backendCfg.Clone()}
	if budget != nil {
		probe.Track = budget.Track // probes count in the fleet's budget
	}
	var prov failover.Provider
	var err error
	switch cfg.Failover {
	case FailoverReadOnly:
		hosts := cfg.FailoverHosts
		if len(hosts) == 0 {
			hosts = []string{backendCfg.Addr}
		}
		prov, err = failover.NewReadOnly(failover.ReadOnlyConfig{Hosts: hosts, Probe: probe})
	case FailoverAurora:
		prov, err = failover.NewAurora(failover.AuroraConfig{ClusterEndpoint: backendCfg.Addr, Probe: probe})
	default:
		return nil, nil, fmt.Errorf("rdsmux: unknown failover mode %q (want %q or %q)", cfg.Failover, FailoverReadOnly, FailoverAurora)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("rdsmux: failover: %w", err)
	}
	m, err := failover.NewMonitor(failover.MonitorConfig{Provider: prov, Logger: cfg.Logger})
	if err != nil {
		prov.Close()
		return nil, nil, fmt.Errorf("rdsmux: failover: %w", err)
	}
	role := failover.RoleWriter
	if cfg.FailoverRole == "reader" {
		role = failover.RoleReader
	}
	return m, failover.NewDialer(m, failover.DialerConfig{Role: role}), nil
}

// failoverKey names the target of a cluster: its failover mode and hosts.
func failoverKey(cfg *Config, backendCfg *mysql.Config) string {
	hosts := cfg.FailoverHosts
	if len(hosts) == 0 {
		hosts = []string{backendCfg.Addr}
	}
	return fmt.Sprintf("%s(%s)/%s", cfg.Failover, strings.Join(hosts, ","), cfg.FailoverRole)
}

// failoverConnectTimeout bounds how long one backend dial waits through a
// failover when the borrow has no deadline of its own.
const failoverConnectTimeout = 30 * time.Second
