package mariadbtest

import (
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// StartReplicaPair starts a primary and a read-only replica that replicates
// from it with GTID-based binlog replication, and waits until replication
// runs. With WithSemiSync among opts, the primary runs semi-synchronous
// replication and the call returns once the replica acknowledges.
func StartReplicaPair(t testing.TB, opts ...Option) (primary, replica *Server) {
	t.Helper()
	primary = Start(t, append(append([]Option{}, opts...), WithBinlog(1))...)
	replica = Start(t, append(append([]Option{}, opts...), WithBinlog(2), withReadOnly())...)
	if primary.semiSync {
		primary.Exec(t, "SET GLOBAL rpl_semi_sync_master_enabled = ON")
	}
	replica.ReplicateFrom(t, primary)
	return primary, replica
}

// ReplicateFrom makes s a replica of primary (root user, GTID positions) and
// starts replication. When both run WithSemiSync, it returns once primary's
// semi-synchronous replication is active.
func (s *Server) ReplicateFrom(t testing.TB, primary *Server) {
	t.Helper()
	s.Exec(t, fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='root', "+
		"MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1", primary.Host(), primary.Port()))
	s.Exec(t, "START SLAVE")
	s.waitReplicating(t, primary)
	if s.semiSync && primary.semiSync && primary.QueryInt(t, "SELECT @@global.rpl_semi_sync_master_enabled") == 1 {
		primary.waitSemiSyncActive(t)
	}
}

// waitReplicating waits until both replication threads run, and fails with
// the replication error when one stopped.
func (s *Server) waitReplicating(t testing.TB, primary *Server) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		st := s.replicaStatus(t)
		if string(st["Slave_IO_Running"]) == "Yes" && string(st["Slave_SQL_Running"]) == "Yes" {
			return
		}
		if e := st["Last_IO_Error"]; len(e) > 0 && string(st["Slave_IO_Running"]) == "No" {
			t.Fatalf("mariadbtest: replication from %s stopped: %s", primary.Addr(), e)
		}
		if e := st["Last_SQL_Error"]; len(e) > 0 {
			t.Fatalf("mariadbtest: replication from %s stopped: %s", primary.Addr(), e)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("mariadbtest: replication from %s did not start", primary.Addr())
}

// globalStatus reads one SHOW GLOBAL STATUS variable.
func (s *Server) globalStatus(t testing.TB, name string) string {
	t.Helper()
	var v string
	if err := s.DB(t).QueryRow("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = ?", name).Scan(&v); err != nil {
		t.Fatalf("mariadbtest: SHOW GLOBAL STATUS LIKE %q: %v", name, err)
	}
	return v
}

// SemiSyncActive reports whether s, as a primary, is running
// semi-synchronous replication right now: a commit waits for a replica's
// acknowledgement (Rpl_semi_sync_master_status = ON with a semi-sync
// replica connected), rather than having fallen back to asynchronous
// replication.
func (s *Server) SemiSyncActive(t testing.TB) bool {
	t.Helper()
	return s.globalStatus(t, "Rpl_semi_sync_master_status") == "ON" &&
		s.globalStatus(t, "Rpl_semi_sync_master_clients") != "0"
}

func (s *Server) waitSemiSyncActive(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !s.SemiSyncActive(t) {
		if time.Now().After(deadline) {
			t.Fatalf("mariadbtest: semi-synchronous replication on %s did not become active within 30s", s.Addr())
		}
		time.Sleep(20 * time.Millisecond)
	}
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

// WaitReplicaCaughtUp waits until s has applied everything its primary had
// written when the call started.
func (s *Server) WaitReplicaCaughtUp(t testing.TB, primary *Server) {
	t.Helper()
	s.waitCaughtUp(t, primary, 20*time.Second)
}

func (s *Server) waitCaughtUp(t testing.TB, primary *Server, timeout time.Duration) {
	t.Helper()
	var pos string
	if err := primary.DB(t).QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		t.Fatalf("mariadbtest: reading the primary's GTID position: %v", err)
	}
	var res sql.NullInt64
	if err := s.DB(t).QueryRow("SELECT MASTER_GTID_WAIT(?, ?)", pos, timeout.Seconds()).Scan(&res); err != nil {
		t.Fatalf("mariadbtest: waiting for the replica: %v", err)
	}
	if !res.Valid || res.Int64 != 0 {
		st := s.replicaStatus(t)
		t.Fatalf("mariadbtest: replica did not reach GTID %s within %v (applied %s; IO error: %s; SQL error: %s)",
			pos, timeout, s.gtidSlavePos(t), st["Last_IO_Error"], st["Last_SQL_Error"])
	}
}

// Promote turns a replica into a writable primary. It stops receiving
// from the old primary, applies everything it had received (its whole relay
// log: STOP SLAVE alone would stop the applier where it is, and RESET SLAVE
// ALL would then throw away received transactions, some of which a
// semi-synchronous primary may already have reported committed), forgets
// replication, and only then switches read_only off. With WithSemiSync it
// becomes a semi-synchronous primary that replicates asynchronously while
// no replica is connected (rpl_semi_sync_master_wait_no_slave = OFF, so
// that writes do not stall until one rejoins; RejoinAsReplica makes it wait
// again once one has).
func (s *Server) Promote(t testing.TB) {
	t.Helper()
	s.Exec(t, "STOP SLAVE IO_THREAD")
	st := s.replicaStatus(t)
	if received := string(st["Gtid_IO_Pos"]); received != "" {
		var res sql.NullInt64
		if err := s.DB(t).QueryRow("SELECT MASTER_GTID_WAIT(?, 60)", received).Scan(&res); err != nil {
			t.Fatalf("mariadbtest: promoting %s: applying the relay log: %v", s.Addr(), err)
		}
		if !res.Valid || res.Int64 != 0 {
			st = s.replicaStatus(t)
			t.Fatalf("mariadbtest: promoting %s: the relay log (up to GTID %s) was not applied within 60s (applied %s; SQL error: %s)",
				s.Addr(), received, s.gtidSlavePos(t), st["Last_SQL_Error"])
		}
	}
	s.Exec(t, "STOP SLAVE")
	s.Exec(t, "RESET SLAVE ALL")
	if s.semiSync {
		s.Exec(t, "SET GLOBAL rpl_semi_sync_master_wait_no_slave = OFF")
		s.Exec(t, "SET GLOBAL rpl_semi_sync_master_enabled = ON")
	}
	s.Exec(t, "SET GLOBAL read_only = 0")
}

func (s *Server) gtidSlavePos(t testing.TB) string {
	t.Helper()
	var pos string
	if err := s.DB(t).QueryRow("SELECT @@global.gtid_slave_pos").Scan(&pos); err != nil {
		t.Fatalf("mariadbtest: reading gtid_slave_pos: %v", err)
	}
	return pos
}

// RejoinAsReplica brings back a failed former primary s (killed, or still
// running: it is killed first) as a read-only replica of primary, the
// replica that was promoted in its place. s restarts with
// --init-rpl-role=SLAVE, so that MariaDB's semi-sync crash recovery
// truncates from its binary log (and rolls back in the engine) the
// transactions that were written to it but not committed: with
// AFTER_SYNC semi-sync those are the ones no replica had acknowledged, so
// no client was told they committed, and primary may never have received
// them. s then replicates from primary starting after its own last
// transaction; a binary log that diverged all the same stops replication
// with an error (gtid_strict_mode), which fails the test. The call returns
// once s has caught up with primary and, with WithSemiSync, once primary's
// semi-synchronous replication is active again; from then on primary waits
// for s's acknowledgements even if s disconnects
// (rpl_semi_sync_master_wait_no_slave = ON). Both must run WithBinlog.
func (s *Server) RejoinAsReplica(t testing.TB, primary *Server) {
	t.Helper()
	s.Kill()
	extra := []string{"--read-only=1", "--skip-slave-start"}
	if s.semiSync {
		extra = append(extra, "--init-rpl-role=SLAVE")
	}
	if err := s.launch(s.port, extra...); err != nil {
		t.Fatalf("mariadbtest: restarting %s as a replica: %v", s.Addr(), err)
	}
	// Replicate from primary after the last transaction s holds (its own,
	// or ones it replicated before it was promoted).
	s.Exec(t, "SET GLOBAL gtid_slave_pos = @@global.gtid_binlog_pos")
	s.Exec(t, fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='root', "+
		"MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1", primary.Host(), primary.Port()))
	s.Exec(t, "START SLAVE")
	s.waitReplicating(t, primary)
	s.waitCaughtUp(t, primary, 120*time.Second)
	if s.semiSync && primary.semiSync {
		primary.waitSemiSyncActive(t)
		primary.Exec(t, "SET GLOBAL rpl_semi_sync_master_wait_no_slave = ON")
	}
}
