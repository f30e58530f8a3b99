// Package failover tracks a cluster's topology, detects dead hosts quickly and
// dials the current writer (or a reader), so that a pool recovers within about
// a second of a new writer accepting writes.
//
// # Pieces
//
//   - A Provider observes the cluster: NewStatic (one host, no failover),
//     NewReadOnly (asks each host of a list for read_only; the writer is the
//     one host with read_only = 0, two are reported as an
//     *AmbiguousWriterError) and NewAurora (Aurora MySQL's
//     information_schema.replica_host_status, instance addresses from a host
//     pattern). Providers keep one probe connection per host with short,
//     context-bounded timeouts and TCP keepalive; a host that stops answering
//     (even without a reset, as when blackholed) fails its probe after
//     ProbeConfig.Timeout and is not waited for again.
//   - A Monitor runs one goroutine per cluster: a full refresh every
//     RefreshInterval (30s) while a writer is verified, a cheap writer check
//     every WriterCheckInterval (1s), and a refresh every FastInterval
//     (100ms) while no writer is verified. Dialers and pools report failed
//     connections with ReportFailure, which unverifies the writer at once.
//     Subscribers get events (failover started/completed with durations,
//     writer changed); Stats is a snapshot.
//   - A Dialer reaches the verified writer (or a reader), waiting through a
//     failover within the caller's context. DialContext fits
//     go-sql-driver's Config.DialFunc and a listener's backend side;
//     NewConnector builds a database/sql driver.Connector that also confirms
//     the role of every new connection and drops connections to a former
//     writer.
//   - Errors: Classify and ShouldRetry tell whether a statement may run
//     again (a read-only autocommit statement after a lost connection, once;
//     a write never); inside a transaction the error matches
//     ErrTransactionResolutionUnknown.
//
// # Pool integration
//
// A pool dials through a Dialer (or a Connector) and calls
// Monitor.InvalidateOnWriterChange with itself, so that on a writer change
// its idle connections to the old writer close at once and borrowed ones on
// release. Writer connections made by a Connector are also closed by the
// monitor when the writer changes, so statements stuck on an unreachable
// old writer fail at once (as lost connections) instead of at their
// timeouts.
package failover
