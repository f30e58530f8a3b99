package mariadbtest

import (
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// StartReplicaPair starts a primary and a read-only replica that replicates
// from it with GTID-based binlog replication, and waits until replication
// runs.
func StartReplicaPair(t testing.TB, opts ...Option) (primary, replica *Server) {
	t.Helper()
	primary = Start(t, append(append([]Option{}, opts...), WithBinlog(1))...)
	replica = Start(t, append(append([]Option{}, opts...), WithBinlog(2), withReadOnly())...)
	replica.ReplicateFrom(t, primary)
	return primary, replica
}

// ReplicateFrom makes s a replica of primary (root user, GTID positions) and
// starts replication.
func (s *Server) ReplicateFrom(t testing.TB, primary *Server) {
	t.Helper()
	s.Exec(t, fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='root', "+
		"MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1", primary.Host(), primary.Port()))
	s.Exec(t, "START SLAVE")
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		io, sqlRunning := s.replicaThreads(t)
		if io == "Yes" && sqlRunning == "Yes" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("mariadbtest: replication from %s did not start", primary.Addr())
}

func (s *Server) replicaStatus(t testing.TB) map[string]sql.RawBytes {
	t.Helper()
	rows, err := s.DB(t).Query("SHOW SLAVE STATUS")
	if err != nil {
		t.Fatalf("mariadbtest: SHOW SLAVE STATUS: %v", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	out := map[string]sql.RawBytes{}
	if !rows.Next() {
		return out
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatalf("mariadbtest: SHOW SLAVE STATUS: %v", err)
	}
	for i, c := range cols {
		out[c] = append(sql.RawBytes(nil), vals[i]...)
	}
	return out
}

func (s *Server) replicaThreads(t testing.TB) (io, sqlThread string) {
	st := s.replicaStatus(t)
	return string(st["Slave_IO_Running"]), string(st["Slave_SQL_Running"])
}

// WaitReplicaCaughtUp waits until s has applied everything its primary had
// written when the call started.
func (s *Server) WaitReplicaCaughtUp(t testing.TB, primary *Server) {
	t.Helper()
	var pos string
	if err := primary.DB(t).QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		t.Fatalf("mariadbtest: reading the primary's GTID position: %v", err)
	}
	var res sql.NullInt64
	if err := s.DB(t).QueryRow("SELECT MASTER_GTID_WAIT(?, 20)", pos).Scan(&res); err != nil {
		t.Fatalf("mariadbtest: waiting for the replica: %v", err)
	}
	if !res.Valid || res.Int64 != 0 {
		t.Fatalf("mariadbtest: replica did not reach GTID %s within 20s", pos)
	}
}

// Promote turns a replica into a writable primary: replication stops and is
// forgotten, and read_only is switched off.
func (s *Server) Promote(t testing.TB) {
	t.Helper()
	s.Exec(t, "STOP SLAVE")
	s.Exec(t, "RESET SLAVE ALL")
	s.Exec(t, "SET GLOBAL read_only = 0")
}
