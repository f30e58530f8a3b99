package main

import (
	"encoding/json"
	"os"
)

// phaseJSON is one phase's outcome as -json writes it, for tools such as
// bench/report that would otherwise scrape the table.
type phaseJSON struct {
	Phase           string `json:"phase"`
	Requests        int64  `json:"requests"`
	Errors          int64  `json:"errors"`
	P50Nanos        int64  `json:"p50_ns"`
	P99Nanos        int64  `json:"p99_ns"`
	PeakDB          int    `json:"peak_db_connections"`
	Opened          int64  `json:"db_connections_opened"`
	ServerPeak      int    `json:"server_peak_connections"`
	PeakClientConns int    `json:"peak_client_connections"`
}

// writeJSON writes the phases' outcomes to path.
func writeJSON(path string, results []result) error {
	out := make([]phaseJSON, 0, len(results))
	for _, r := range results {
		out = append(out, phaseJSON{Phase: r.phase, Requests: r.requests, Errors: r.errors,
			P50Nanos: int64(r.p50), P99Nanos: int64(r.p99), PeakDB: r.peakDB, Opened: r.opened,
			ServerPeak: r.serverPeak, PeakClientConns: r.peakClient})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
