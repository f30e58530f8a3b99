// Package failover tracks a cluster's topology, detects dead hosts quickly
// and dials the current writer (or a reader), so that a pool recovers
// within about a second of a new writer accepting writes.
//
// A Provider observes the cluster (NewStatic, NewReadOnly for a list of
// hosts asked for read_only, NewAurora for Aurora MySQL); a Monitor
// refreshes it on one goroutine, slowly while a writer is verified and
// fast while none is; a Dialer reaches the verified writer or a reader:
//
//	prov, err := failover.NewReadOnly(failover.ReadOnlyConfig{Hosts: hosts, Probe: failover.ProbeConfig{MySQL: probeCfg}})
//	m, err := failover.NewMonitor(failover.MonitorConfig{Provider: prov})
//	defer m.Close()
//	d := failover.NewDialer(m, failover.DialerConfig{})
//	connector, err := failover.NewConnector(d, failover.ConnectorConfig{MySQL: mysqlCfg})
//	db := sql.OpenDB(connector)         // role confirmed on every new connection
//	defer m.InvalidateOnWriterChange(p)() // a pool drops the old writer's connections
//
// Classify and ShouldRetry tell whether a failed statement may run again.
// The driver (DSN failover=) and the listener (Backend.Failover) wire this
// up themselves. How the pieces work together is in docs/design.md
// ("Failover"); the intervals are MonitorConfig's.
package failover
