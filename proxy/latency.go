package proxy

import "time"

// observeCommand records one relayed command's latencies: start is when
// the listener began serving it (before borrowing a backend), sent when it
// was sent to the backend; the response has just been relayed. It does not
// allocate: two atomic histograms (Stats.QueryResponseLatency and
// Stats.QueryDatabaseResponseLatency).
func (s *Server) observeCommand(start, sent time.Time) {
	now := time.Now()
	s.counts.dbLatency.Observe(now.Sub(sent))
	s.counts.respLatency.Observe(now.Sub(start))
}
