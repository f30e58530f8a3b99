package wire_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dialT(t testing.TB, addr string, cfg *wire.ClientConfig) *wire.ClientConn {
	t.Helper()
	c, err := wire.Dial(testCtx(t), addr, cfg)
	if err != nil {
		t.Fatalf("Dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustExec(t testing.TB, c *wire.ClientConn, q string) *wire.Result {
	t.Helper()
	r, err := c.Exec(testCtx(t), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return r
}

func TestClientAgainstMariaDB(t *testing.T) {
	srv := mariadbtest.Start(t, mariadbtest.WithTLS(), mariadbtest.WithFlags("--max-allowed-packet=64M"))
	srv.CreateUser(t, "app", "s3cret")
	ctx := testCtx(t)

	t.Run("native", func(t *testing.T) {
		c := dialT(t, srv.Addr(), &wire.ClientConfig{User: "app", Password: "s3cret", Database: "test"})
		if !c.DeprecateEOF() || c.Capabilities()&wire.ClientSessionTrack == 0 {
			t.Errorf("caps %#x: want DEPRECATE_EOF and SESSION_TRACK negotiated with MariaDB", c.Capabilities())
		}
		if !strings.Contains(c.Handshake().ServerVersion, "MariaDB") {
			t.Errorf("server version %q", c.Handshake().ServerVersion)
		}
		v, ok, err := c.QueryValue(ctx, "SELECT CURRENT_USER()")
		if err != nil || !ok || !strings.HasPrefix(v, "app@") {
			t.Fatalf("CURRENT_USER() = %q, %v, %v", v, ok, err)
		}
		if db, _, _ := c.QueryValue(ctx, "SELECT DATABASE()"); db != "test" {
			t.Errorf("DATABASE() = %q", db)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		_, err := wire.Dial(ctx, srv.Addr(), &wire.ClientConfig{User: "app", Password: "nope"})
		var e *wire.Error
		if !errors.As(err, &e) || e.Code != wire.ErAccessDenied || e.State != wire.StateAccessDenied {
			t.Fatalf("err = %v, want access denied", err)
		}
	})

	t.Run("tls", func(t *testing.T) {
		c := dialT(t, srv.Addr(), &wire.ClientConfig{User: "app", Password: "s3cret", TLSConfig: srv.TLSConfig()})
		if !c.TLS() {
			t.Fatal("not TLS")
		}
		v, _, err := c.QueryValue(ctx, "SHOW STATUS LIKE 'Ssl_cipher'")
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Query(ctx, "SHOW SESSION STATUS LIKE 'Ssl_version'")
		if err != nil || len(r.Rows) != 1 || len(r.Rows[0][1]) == 0 {
			t.Fatalf("Ssl_version: %v %v (%s)", r, err, v)
		}
	})

	c := dialT(t, srv.Addr(), &wire.ClientConfig{User: "app", Password: "s3cret", Database: "test"})

	t.Run("exec and query", func(t *testing.T) {
		mustExec(t, c, "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20), score DOUBLE, created DATETIME(6), note TEXT)")
		r := mustExec(t, c, "INSERT INTO t (name, score, created) VALUES ('a', 1.5, '2024-01-02 03:04:05.123456'), ('b', NULL, NULL)")
		if r.AffectedRows != 2 || r.LastInsertID != 1 {
			t.Errorf("insert: %+v", r)
		}
		if !strings.Contains(r.Info, "Records: 2") {
			t.Errorf("info %q", r.Info)
		}
		q, err := c.Query(ctx, "SELECT id, name, score, created, note FROM t ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		if len(q.Columns) != 5 || q.Columns[1].Name != "name" || q.Columns[1].Table != "t" || q.Columns[0].Type != wire.TypeLong {
			t.Errorf("columns: %+v", q.Columns[1])
		}
		if len(q.Rows) != 2 || string(q.Rows[0][1]) != "a" || string(q.Rows[0][3]) != "2024-01-02 03:04:05.123456" || q.Rows[1][2] != nil {
			t.Errorf("rows: %q", q.Rows)
		}
	})

	t.Run("transaction status", func(t *testing.T) {
		mustExec(t, c, "BEGIN")
		if !c.Status().Has(wire.StatusInTrans) {
			t.Errorf("status after BEGIN = %#x", c.Status())
		}
		mustExec(t, c, "COMMIT")
		if c.Status().Has(wire.StatusInTrans) || !c.Status().Has(wire.StatusAutocommit) {
			t.Errorf("status after COMMIT = %#x", c.Status())
		}
	})

	t.Run("server error keeps the connection", func(t *testing.T) {
		_, err := c.Exec(ctx, "SELECT * FROM no_such_table")
		var e *wire.Error
		if !errors.As(err, &e) || e.Code != 1146 || e.State != "42S02" {
			t.Fatalf("err = %v", err)
		}
		if c.Broken() != nil {
			t.Fatal("connection marked broken after a server error")
		}
		if err := c.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("multi results", func(t *testing.T) {
		res, err := c.QueryMulti(ctx, "SELECT 1 AS a; UPDATE t SET score = 2 WHERE id = 1; SELECT 'x', 'y' UNION ALL SELECT 'z', NULL")
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 3 {
			t.Fatalf("%d results", len(res))
		}
		if string(res[0].Rows[0][0]) != "1" || res[0].Status&wire.StatusMoreResultsExist == 0 {
			t.Errorf("result 1: %+v", res[0])
		}
		if res[1].AffectedRows != 1 || res[1].Columns != nil {
			t.Errorf("result 2: %+v", res[1])
		}
		if len(res[2].Rows) != 2 || res[2].Rows[1][1] != nil || res[2].Status&wire.StatusMoreResultsExist != 0 {
			t.Errorf("result 3: %+v", res[2])
		}
		// An error in the middle ends the batch.
		res, err = c.QueryMulti(ctx, "SELECT 1; SELECT * FROM nope; SELECT 3")
		var e *wire.Error
		if !errors.As(err, &e) || len(res) != 1 {
			t.Fatalf("batch with error: %d results, %v", len(res), err)
		}
		if err := c.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("prepared statements", func(t *testing.T) {
		st, err := c.Prepare(ctx, "SELECT id, name, score, created, ? + 1, CAST(? AS CHAR) FROM t WHERE id >= ? ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Params) != 3 || len(st.Columns) != 6 {
			t.Fatalf("params %d columns %d", len(st.Params), len(st.Columns))
		}
		r, err := c.Execute(ctx, st, int64(41), "hé", 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Rows) != 2 {
			t.Fatalf("rows %q", r.Rows)
		}
		got := r.Rows[0]
		want := []string{"1", "a", "2", "2024-01-02 03:04:05.123456", "42", "hé"}
		for i, w := range want {
			if string(got[i]) != w {
				t.Errorf("col %d = %q, want %q", i, got[i], w)
			}
		}
		if r.Rows[1][2] != nil || r.Rows[1][3] != nil {
			t.Errorf("row 2 NULLs: %q", r.Rows[1])
		}
		// Re-execute with NULL parameter; then close.
		r, err = c.Execute(ctx, st, nil, nil, 2)
		if err != nil || len(r.Rows) != 1 || r.Rows[0][4] != nil {
			t.Fatalf("re-execute: %v %q", err, r.Rows)
		}
		ins, err := c.Prepare(ctx, "INSERT INTO t (name) VALUES (?)")
		if err != nil {
			t.Fatal(err)
		}
		r, err = c.Execute(ctx, ins, []byte("c"))
		if err != nil || r.AffectedRows != 1 || r.LastInsertID != 3 {
			t.Fatalf("insert: %+v %v", r, err)
		}
		if err := c.CloseStmt(ins); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Execute(ctx, ins, "d"); err == nil {
			t.Fatal("executing a closed statement succeeded")
		}
	})

	t.Run("reset", func(t *testing.T) {
		mustExec(t, c, "SET @x = 5")
		mustExec(t, c, "BEGIN")
		if err := c.Reset(ctx); err != nil {
			t.Fatal(err)
		}
		if v, ok, _ := c.QueryValue(ctx, "SELECT @x"); ok {
			t.Errorf("@x = %q after reset", v)
		}
		if c.Status().Has(wire.StatusInTrans) {
			t.Error("transaction survived reset")
		}
	})

	t.Run("session state tracking", func(t *testing.T) {
		mustExec(t, c, "SET SESSION session_track_schema = ON")
		// Exec does not expose SessionState; read the raw OK to check it.
		if err := c.WriteCommand(wire.ComInitDB, []byte("mysql")); err != nil {
			t.Fatal(err)
		}
		p, err := c.ReadPacket()
		if err != nil {
			t.Fatal(err)
		}
		var ok wire.OK
		if err := wire.ParseOK(p, c.Capabilities(), &ok); err != nil {
			t.Fatal(err)
		}
		if !ok.Status.Has(wire.StatusSessionStateChanged) {
			t.Fatalf("no session state change: %+v", ok)
		}
		found := false
		for rest := ok.SessionState; len(rest) > 0; {
			typ, v, r, err := wire.NextSessionState(rest)
			if err != nil {
				t.Fatal(err)
			}
			rest = r
			if typ == wire.TrackSchema {
				s, err := wire.ParseTrackedSchema(v)
				if err != nil || string(s) != "mysql" {
					t.Errorf("schema %q %v", s, err)
				}
				found = true
			}
		}
		if !found {
			t.Errorf("no schema entry in %q", ok.SessionState)
		}
		if err := c.InitDB(ctx, "test"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("change user", func(t *testing.T) {
		cu := dialT(t, srv.Addr(), &wire.ClientConfig{User: "root"})
		mustExec(t, cu, "SET @v = 1")
		if err := cu.ChangeUser(ctx, &wire.ClientConfig{User: "app", Password: "s3cret", Database: "test"}); err != nil {
			t.Fatal(err)
		}
		if v, _, _ := cu.QueryValue(ctx, "SELECT CONCAT(CURRENT_USER(), ' ', DATABASE(), ' ', IFNULL(@v, 'reset'))"); v != "app@% test reset" {
			t.Fatalf("after COM_CHANGE_USER: %q", v)
		}
	})

	t.Run("local infile refused", func(t *testing.T) {
		lc := dialT(t, srv.Addr(), &wire.ClientConfig{User: "app", Password: "s3cret", Database: "test",
			Capabilities: wire.DefaultClientCapabilities | wire.ClientLocalFiles})
		mustExec(t, lc, "CREATE TABLE IF NOT EXISTS li (a INT)")
		_, err := lc.Exec(ctx, "LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE li")
		if !errors.Is(err, wire.ErrLocalInfile) {
			t.Fatalf("err = %v, want ErrLocalInfile", err)
		}
		if err := lc.Ping(ctx); err != nil {
			t.Fatalf("connection unusable after refusing LOCAL INFILE: %v", err)
		}
	})

	t.Run("large packets", func(t *testing.T) {
		mustExec(t, c, "CREATE TABLE big (b LONGBLOB)")
		for _, n := range []int{wire.MaxChunk - 30, wire.MaxChunk + 1000, 2*wire.MaxChunk + 5} {
			payload := bytes.Repeat([]byte("x"), n)
			// The COM_QUERY packet itself crosses the 16 MiB boundary.
			q := "INSERT INTO big VALUES ('" + string(payload) + "')"
			mustExec(t, c, q)
			v, _, err := c.QueryValue(ctx, "SELECT b FROM big")
			if err != nil {
				t.Fatal(err)
			}
			if len(v) != n {
				t.Fatalf("read back %d bytes, want %d", len(v), n)
			}
			mustExec(t, c, "DELETE FROM big")
		}
	})

	t.Run("packet size guard", func(t *testing.T) {
		gc := dialT(t, srv.Addr(), &wire.ClientConfig{User: "app", Password: "s3cret", MaxPacketSize: 1 << 20})
		_, _, err := gc.QueryValue(ctx, "SELECT REPEAT('y', 2000000)")
		if !errors.Is(err, wire.ErrPacketTooLarge) {
			t.Fatalf("err = %v, want ErrPacketTooLarge", err)
		}
		if gc.Broken() == nil {
			t.Fatal("connection not marked broken after an oversized packet")
		}
	})

	t.Run("classic EOF", func(t *testing.T) {
		cc := dialT(t, srv.Addr(), &wire.ClientConfig{User: "app", Password: "s3cret", Database: "test",
			Capabilities: wire.DefaultClientCapabilities &^ wire.ClientDeprecateEOF})
		if cc.DeprecateEOF() {
			t.Fatal("DEPRECATE_EOF negotiated")
		}
		res, err := cc.QueryMulti(ctx, "SELECT 1; SELECT name FROM t ORDER BY id")
		if err != nil || len(res) != 2 || len(res[1].Rows) != 3 {
			t.Fatalf("%v %+v", err, res)
		}
		st, err := cc.Prepare(ctx, "SELECT ? + 1, name FROM t WHERE id = ?")
		if err != nil {
			t.Fatal(err)
		}
		r, err := cc.Execute(ctx, st, 1, 1)
		if err != nil || string(r.Rows[0][0]) != "2" || string(r.Rows[0][1]) != "a" {
			t.Fatalf("%v %q", err, r.Rows)
		}
	})

	t.Run("context cancel breaks the connection", func(t *testing.T) {
		kc := dialT(t, srv.Addr(), &wire.ClientConfig{User: "app", Password: "s3cret"})
		cctx, cancel := context.WithCancel(ctx)
		go func() { time.Sleep(50 * time.Millisecond); cancel() }()
		_, err := kc.Exec(cctx, "SELECT SLEEP(5)")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if kc.Broken() == nil {
			t.Fatal("not marked broken")
		}
	})
}
