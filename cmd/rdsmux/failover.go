package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux/failover"
	"github.com/rdsmux/rdsmux/proxy"
)

// cluster is the failover machinery of -failover: a monitor following the
// writer and a dialer the backend side connects through.
type cluster struct {
	monitor *failover.Monitor
	dialer  *failover.Dialer
}

// newCluster builds the monitor and dialer for -failover and points the
// backend's dials at the current writer.
func newCluster(cfg *config, b *proxy.Target, log *slog.Logger, track func(open bool)) (*cluster, error) {
	if cfg.failover == "" {
		return nil, nil
	}
	if cfg.backendUser == "" {
		return nil, errors.New("-failover needs -backend-user (and its password) to probe the cluster's hosts")
	}
	probe := mysql.NewConfig()
	probe.User, probe.Passwd = cfg.backendUser, cfg.backendPassword
	hosts := strings.Split(cfg.target, ",")
	for i := range hosts {
		hosts[i] = strings.TrimSpace(hosts[i])
	}
	var prov failover.Provider
	var err error
	switch cfg.failover {
	case "readonly":
		prov, err = failover.NewReadOnly(failover.ReadOnlyConfig{Hosts: hosts, Probe: failover.ProbeConfig{MySQL: probe, Track: track}})
	case "aurora":
		prov, err = failover.NewAurora(failover.AuroraConfig{ClusterEndpoint: hosts[0], Probe: failover.ProbeConfig{MySQL: probe, Track: track}})
	}
	if err != nil {
		return nil, fmt.Errorf("-failover: %w", err)
	}
	m, err := failover.NewMonitor(failover.MonitorConfig{Provider: prov, Logger: log})
	if err != nil {
		prov.Close()
		return nil, fmt.Errorf("-failover: %w", err)
	}
	c := &cluster{monitor: m, dialer: failover.NewDialer(m, failover.DialerConfig{})}
	b.Addr = hosts[0] // for logs; the dialer decides where to go, and TLS checks each host's name
	b.Failover = c.dialer
	m.Subscribe(func(ev failover.Event) {
		log.Info("rdsmux: failover event", "event", ev.Kind.String(), "from", ev.From.Addr, "to", ev.To.Addr, "duration", ev.Duration)
	})
	return c, nil
}
