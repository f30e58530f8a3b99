package wire_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/proxy/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dialT(t testing.TB, addr string, cfg *wire.ClientConfig) *wire.ClientConn {
	t.Helper()
	c, err := wire.Dial(testCtx(t), addr, cfg)
	require.NoError(t, err, "Dial %s: %v", addr, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func mustExec(t testing.TB, c *wire.ClientConn, q string) *wire.Result {
	t.Helper()
	r, err := c.Exec(testCtx(t), q)
	require.NoError(t, err, "%s: %v", q, err)
	return r
}

func TestClientAgainstMariaDB(t *testing.T) {
	srv := mariadbtest.Start(t, mariadbtest.WithTLS(), mariadbtest.WithFlags("--max-allowed-packet=64M"))
	srv.CreateUser(t, "app", "s3cret")
	ctx := testCtx(t)

	t.Run("native", func(t *testing.T) {
		c := dialT(t, srv.Addr(), &wire.ClientConfig{User: "app", Password: "s3cret", Database: "test"})
		assert.False(t, !c.DeprecateEOF() || c.Capabilities()&wire.ClientSessionTrack == 0, "caps %#x: want DEPRECATE_EOF and SESSION_TRACK negotiated with MariaDB", c.Capabilities())
		assert.Contains(t, c.Handshake().ServerVersion, "MariaDB", "server version %q", c.Handshake().ServerVersion)
		v, ok, err := c.QueryValue(ctx, "SELECT CURRENT_USER()")
		require.NoError(t, err, "CURRENT_USER() = %q, %v, %v", v, ok, err)
		require.True(t, ok, "CURRENT_USER() = %q, %v, %v", v, ok, err)
		require.True(t, strings.HasPrefix(v, "app@"), "CURRENT_USER() = %q, %v, %v", v, ok, err)
		db, _, _ := c.QueryValue(ctx, "SELECT DATABASE()")
		assert.Equal(t, "test", db, "DATABASE() = %q", db)
	})

	t.Run("wrong password", func(t *testing.T) {
		_, err := wire.Dial(ctx, srv.Addr(), &wire.ClientConfig{User: "app", Password: "nope"})
		var e *wire.Error
		require.ErrorAs(t, err, &e, "err = %v, want access denied", err)
		require.Equal(t, wire.ErAccessDenied, e.Code, "err = %v, want access denied", err)
		require.Equal(t, wire.StateAccessDenied, e.State, "err = %v, want access denied", err)
	})

	t.Run("tls", func(t *testing.T) {
		c := dialT(t, srv.Addr(), &wire.ClientConfig{User: "app", Password: "s3cret", TLSConfig: srv.TLSConfig()})
		require.True(t, c.TLS(), "not TLS")
		v, _, err := c.QueryValue(ctx, "SHOW STATUS LIKE 'Ssl_cipher'")
		require.NoError(t, err)
		r, err := c.Query(ctx, "SHOW SESSION STATUS LIKE 'Ssl_version'")
		require.NoError(t, err, "Ssl_version: %v %v (%s)", r, err, v)
		require.Len(t, r.Rows, 1, "Ssl_version: %v %v (%s)", r, err, v)
		require.NotEqual(t, 0, len(r.Rows[0][1]), "Ssl_version: %v %v (%s)", r, err, v)
	})

	c := dialT(t, srv.Addr(), &wire.ClientConfig{User: "app", Password: "s3cret", Database: "test"})

	t.Run("exec and query", func(t *testing.T) {
		mustExec(t, c, "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20), score DOUBLE, created DATETIME(6), note TEXT)")
		r := mustExec(t, c, "INSERT INTO t (name, score, created) VALUES ('a', 1.5, '2024-01-02 03:04:05.123456'), ('b', NULL, NULL)")
		assert.False(t, r.AffectedRows != 2 || r.LastInsertID != 1, "insert: %+v", r)
		assert.Contains(t, r.Info, "Records: 2", "info %q", r.Info)
		q, err := c.Query(ctx, "SELECT id, name, score, created, note FROM t ORDER BY id")
		require.NoError(t, err)
		assert.False(t, len(q.Columns) != 5 || q.Columns[1].Name != "name" || q.Columns[1].Table != "t" || q.Columns[0].Type != wire.TypeLong, "columns: %+v", q.Columns[1])
		assert.False(t, len(q.Rows) != 2 || string(q.Rows[0][1]) != "a" || string(q.Rows[0][3]) != "2024-01-02 03:04:05.123456" || q.Rows[1][2] != nil, "rows: %q", q.Rows)
	})

	t.Run("transaction status", func(t *testing.T) {
		mustExec(t, c, "BEGIN")
		assert.True(t, c.Status().Has(wire.StatusInTrans), "status after BEGIN = %#x", c.Status())
		mustExec(t, c, "COMMIT")
		assert.False(t, c.Status().Has(wire.StatusInTrans) || !c.Status().Has(wire.StatusAutocommit), "status after COMMIT = %#x", c.Status())
	})

	t.Run("server error keeps the connection", func(t *testing.T) {
		_, err := c.Exec(ctx, "SELECT * FROM no_such_table")
		var e *wire.Error
		require.ErrorAs(t, err, &e, "err = %v", err)
		require.Equal(t, uint16(1146), e.Code, "err = %v", err)
		require.Equal(t, "42S02", e.State, "err = %v", err)
		require.NoError(t, c.Broken(), "connection marked broken after a server error")
		err = c.Ping(ctx)
		require.NoError(t, err)
	})

	t.Run("multi results", func(t *testing.T) {
		res, err := c.QueryMulti(ctx, "SELECT 1 AS a; UPDATE t SET score = 2 WHERE id = 1; SELECT 'x', 'y' UNION ALL SELECT 'z', NULL")
		require.NoError(t, err)
		require.Len(t, res, 3, "%d results", len(res))
		assert.False(t, string(res[0].Rows[0][0]) != "1" || res[0].Status&wire.StatusMoreResultsExist == 0, "result 1: %+v", res[0])
		assert.False(t, res[1].AffectedRows != 1 || res[1].Columns != nil, "result 2: %+v", res[1])
		assert.False(t, len(res[2].Rows) != 2 || res[2].Rows[1][1] != nil || res[2].Status&wire.StatusMoreResultsExist != 0, "result 3: %+v", res[2])
		// An error in the middle ends the batch.
		res, err = c.QueryMulti(ctx, "SELECT 1; SELECT * FROM nope; SELECT 3")
		var e *wire.Error
		require.ErrorAs(t, err, &e, "batch with error: %d results, %v", len(res), err)
		require.Len(t, res, 1, "batch with error: %d results, %v", len(res), err)
		err = c.Ping(ctx)
		require.NoError(t, err)
	})

	t.Run("prepared statements", func(t *testing.T) {
		st, err := c.Prepare(ctx, "SELECT id, name, score, created, ? + 1, CAST(? AS CHAR) FROM t WHERE id >= ? ORDER BY id")
		require.NoError(t, err)
		require.Len(t, st.Params, 3, "params %d columns %d", len(st.Params), len(st.Columns))
		require.Len(t, st.Columns, 6, "params %d columns %d", len(st.Params), len(st.Columns))
		r, err := c.Execute(ctx, st, int64(41), "hé", 1)
		require.NoError(t, err)
		require.Len(t, r.Rows, 2, "rows %q", r.Rows)
		got := r.Rows[0]
		want := []string{"1", "a", "2", "2024-01-02 03:04:05.123456", "42", "hé"}
		for i, w := range want {
			assert.Equal(t, w, string(got[i]), "col %d = %q, want %q", i, got[i], w)
		}
		assert.False(t, r.Rows[1][2] != nil || r.Rows[1][3] != nil, "row 2 NULLs: %q", r.Rows[1])
		// Re-execute with NULL parameter; then close.
		r, err = c.Execute(ctx, st, nil, nil, 2)
		require.NoError(t, err, "re-execute: %v %q", err, r.Rows)
		require.Len(t, r.Rows, 1, "re-execute: %v %q", err, r.Rows)
		require.Nil(t, r.Rows[0][4], "re-execute: %v %q", err, r.Rows)
		ins, err := c.Prepare(ctx, "INSERT INTO t (name) VALUES (?)")
		require.NoError(t, err)
		r, err = c.Execute(ctx, ins, []byte("c"))
		require.NoError(t, err, "insert: %+v %v", r, err)
		require.Equal(t, uint64(1), r.AffectedRows, "insert: %+v %v", r, err)
		require.Equal(t, uint64(3), r.LastInsertID, "insert: %+v %v", r, err)
		err = c.CloseStmt(ins)
		require.NoError(t, err)
		_, err = c.Execute(ctx, ins, "d")
		require.Error(t, err, "executing a closed statement succeeded")
	})

	t.Run("reset", func(t *testing.T) {
		mustExec(t, c, "SET @x = 5")
		mustExec(t, c, "BEGIN")
		err := c.Reset(ctx)
		require.NoError(t, err)
		v, ok, _ := c.QueryValue(ctx, "SELECT @x")
		assert.False(t, ok, "@x = %q after reset", v)
		assert.False(t, c.Status().Has(wire.StatusInTrans), "transaction survived reset")
	})

	t.Run("session state tracking", func(t *testing.T) {
		mustExec(t, c, "SET SESSION session_track_schema = ON")
		// Exec does not expose SessionState; read the raw OK to check it.
		require.NoError(t, c.WriteCommand(wire.ComInitDB, []byte("mysql")))
		p, err := c.ReadPacket()
		require.NoError(t, err)
		var ok wire.OK
		err = wire.ParseOK(p, c.Capabilities(), &ok)
		require.NoError(t, err)
		require.True(t, ok.Status.Has(wire.StatusSessionStateChanged), "no session state change: %+v", ok)
		found := false
		for rest := ok.SessionState; len(rest) > 0; {
			typ, v, r, err := wire.NextSessionState(rest)
			require.NoError(t, err)
			rest = r
			if typ == wire.TrackSchema {
				s, err := wire.ParseTrackedSchema(v)
				assert.False(t, err != nil || string(s) != "mysql", "schema %q %v", s, err)
				found = true
			}
		}
		assert.True(t, found, "no schema entry in %q", ok.SessionState)
		err = c.InitDB(ctx, "test")
		require.NoError(t, err)
	})

	t.Run("change user", func(t *testing.T) {
		cu := dialT(t, srv.Addr(), &wire.ClientConfig{User: "root"})
		mustExec(t, cu, "SET @v = 1")
		err := cu.ChangeUser(ctx, &wire.ClientConfig{User: "app", Password: "s3cret", Database: "test"})
		require.NoError(t, err)
		v, _, _ := cu.QueryValue(ctx, "SELECT CONCAT(CURRENT_USER(), ' ', DATABASE(), ' ', IFNULL(@v, 'reset'))")
		require.Equal(t, "app@% test reset", v, "after COM_CHANGE_USER: %q", v)
	})

	t.Run("local infile refused", func(t *testing.T) {
		lc := dialT(t, srv.Addr(), &wire.ClientConfig{User: "app", Password: "s3cret", Database: "test",
			Capabilities: wire.DefaultClientCapabilities | wire.ClientLocalFiles})
		mustExec(t, lc, "CREATE TABLE IF NOT EXISTS li (a INT)")
		_, err := lc.Exec(ctx, "LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE li")
		require.ErrorIs(t, err, wire.ErrLocalInfile, "err = %v, want ErrLocalInfile", err)
		err = lc.Ping(ctx)
		require.NoError(t, err, "connection unusable after refusing LOCAL INFILE: %v", err)
	})

	t.Run("large packets", func(t *testing.T) {
		mustExec(t, c, "CREATE TABLE big (b LONGBLOB)")
		for _, n := range []int{wire.MaxChunk - 30, wire.MaxChunk + 1000, 2*wire.MaxChunk + 5} {
			payload := bytes.Repeat([]byte("x"), n)
			// The COM_QUERY packet itself crosses the 16 MiB boundary.
			q := "INSERT INTO big VALUES ('" + string(payload) + "')"
			mustExec(t, c, q)
			v, _, err := c.QueryValue(ctx, "SELECT b FROM big")
			require.NoError(t, err)
			require.Len(t, v, n, "read back %d bytes, want %d", len(v), n)
			mustExec(t, c, "DELETE FROM big")
		}
	})

	t.Run("packet size guard", func(t *testing.T) {
		gc := dialT(t, srv.Addr(), &wire.ClientConfig{User: "app", Password: "s3cret", MaxPacketSize: 1 << 20})
		_, _, err := gc.QueryValue(ctx, "SELECT REPEAT('y', 2000000)")
		require.ErrorIs(t, err, wire.ErrPacketTooLarge, "err = %v, want ErrPacketTooLarge", err)
		require.Error(t, gc.Broken(), "connection not marked broken after an oversized packet")
	})

	t.Run("classic EOF", func(t *testing.T) {
		cc := dialT(t, srv.Addr(), &wire.ClientConfig{User: "app", Password: "s3cret", Database: "test",
			Capabilities: wire.DefaultClientCapabilities &^ wire.ClientDeprecateEOF})
		require.False(t, cc.DeprecateEOF(), "DEPRECATE_EOF negotiated")
		res, err := cc.QueryMulti(ctx, "SELECT 1; SELECT name FROM t ORDER BY id")
		require.NoError(t, err, "%v %+v", err, res)
		require.Len(t, res, 2, "%v %+v", err, res)
		require.Len(t, res[1].Rows, 3, "%v %+v", err, res)
		st, err := cc.Prepare(ctx, "SELECT ? + 1, name FROM t WHERE id = ?")
		require.NoError(t, err)
		r, err := cc.Execute(ctx, st, 1, 1)
		require.NoError(t, err, "%v %q", err, r.Rows)
		require.Equal(t, "2", string(r.Rows[0][0]), "%v %q", err, r.Rows)
		require.Equal(t, "a", string(r.Rows[0][1]), "%v %q", err, r.Rows)
	})

	t.Run("context cancel breaks the connection", func(t *testing.T) {
		kc := dialT(t, srv.Addr(), &wire.ClientConfig{User: "app", Password: "s3cret"})
		cctx, cancel := context.WithCancel(ctx)
		go func() { time.Sleep(50 * time.Millisecond); cancel() }()
		_, err := kc.Exec(cctx, "SELECT SLEEP(5)")
		require.ErrorIs(t, err, context.Canceled, "err = %v", err)
		require.Error(t, kc.Broken(), "not marked broken")
	})
}

// TestQueryAhead: a query written behind another command (one write) is
// answered after it, and the connection is in step afterwards, whether the
// first command succeeded or failed.
func TestQueryAhead(t *testing.T) {
	srv := mariadbtest.Start(t)
	srv.CreateUser(t, "app", "s3cret")
	ctx := testCtx(t)
	c := dialT(t, srv.Addr(), &wire.ClientConfig{User: "app", Password: "s3cret", Database: "test"})
	mustExec(t, c, "CREATE TABLE ahead (id INT AUTO_INCREMENT PRIMARY KEY)")
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "INSERT INTO ahead () VALUES (), ()")

	// readOne reads the first command's response: an OK or an ERR.
	readOne := func() (uint16, error) {
		p, err := c.ReadPacket()
		if err != nil {
			return 0, err
		}
		if p[0] == 0xff {
			e, err := wire.ParseERR(p)
			require.NoError(t, err)
			return e.Code, nil
		}
		require.Equal(t, byte(0), p[0], "want OK, got %x", p)
		return 0, nil
	}
	for _, tc := range []struct {
		cmd  string
		want uint16 // the first command's error number, 0 for OK
	}{
		{"COMMIT", 0},
		{"SELECT * FROM no_such_table", 1146}, // ER_NO_SUCH_TABLE
		{"DO 1", 0},
	} {
		require.NoError(t, c.WriteQueryAhead(append([]byte{byte(wire.ComQuery)}, tc.cmd...), "SELECT LAST_INSERT_ID() LIMIT 1"))
		code, err := readOne()
		require.NoError(t, err, tc.cmd)
		assert.Equal(t, tc.want, code, tc.cmd)
		v, ok, err := c.ReadQueryValue(ctx)
		require.NoError(t, err, tc.cmd)
		assert.True(t, ok)
		assert.Equal(t, "1", v, "LAST_INSERT_ID() after %s", tc.cmd)
	}
	// In step: an ordinary query after them.
	v, _, err := c.QueryValue(ctx, "SELECT COUNT(*) FROM ahead")
	require.NoError(t, err)
	assert.Equal(t, "2", v)
	assert.Nil(t, c.Broken())
}
