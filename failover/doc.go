// Package failover tracks a cluster's topology, detects dead hosts quickly and
// dials the current writer (or a reader), so that a pool recovers within about
// a second of a new writer accepting writes.
package failover
