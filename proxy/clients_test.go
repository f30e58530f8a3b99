package proxy_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/proxy"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

func TestMariadbCLI(t *testing.T) {
	e := startEnv(t, withBackends(2))
	out, err := mariadbCLI(t, e.addr, "-u", appUser, "-p"+appPass, "--skip-ssl", "test", "-e",
		"SELECT name FROM users ORDER BY id; SET @x = 5; SELECT @x + 1; USE mysql; SELECT DATABASE()")
	require.NoError(t, err, "%v: %s", err, out)
	want := "alice\nbob\ncarol\n6\nmysql"
	require.Equal(t, want, out, "output %q, want %q", out, want)
	out, err = mariadbCLI(t, e.addr, "-u", appUser, "-pwrong", "--skip-ssl", "test", "-e", "SELECT 1")
	require.Error(t, err, "wrong password: %v %s", err, out)
	require.Contains(t, out, "1045", "wrong password: %v %s", err, out)
}

func TestMariadbCLIWithSSL(t *testing.T) {
	e := startEnv(t, withTLS(), withServer(func(s *proxy.Server) { s.RequireTLS = true }))
	out, err := mariadbCLI(t, e.addr, "-u", appUser, "-p"+appPass, "--ssl", "test", "-e",
		"SELECT COUNT(*) FROM users")
	require.NoError(t, err, "%v: %s", err, out)
	require.EqualValues(t, "3", out, "output")
	out, err = mariadbCLI(t, e.addr, "-u", appUser, "-p"+appPass, "--skip-ssl", "test", "-e", "SELECT 1")
	require.Error(t, err, "plaintext client against RequireTLS: %v %s", err, out)
	require.Contains(t, out, "3159", "plaintext client against RequireTLS: %v %s", err, out)
	t.Logf("plaintext client: %s", out)
}

// lambdaSnippet is the RDS Proxy article's Lambda handler: connect,
// SELECT * FROM users WHERE id = %s, close.
const lambdaSnippet = `
import sys, pymysql
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def lambda_handler(event, context):
    conn = pymysql.connect(host=host, port=port, user=user, password=password, db="test", connect_timeout=5)
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM users WHERE id = %s", (event["id"],))
        row = cur.fetchone()
    conn.close()
    return row

for i in (1, 2, 3):
    print(lambda_handler({"id": i}, None))
`

func TestPyMySQLLambdaSnippet(t *testing.T) {
	e := startEnv(t, withBackends(2))
	host, port := splitAddr(t, e.addr)
	cmd := exec.Command("/usr/bin/python3", "-c", lambdaSnippet, host, port, appUser, appPass)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%v: %s", err, out)
	want := "(1, 'alice')\n(2, 'bob')\n(3, 'carol')"
	got := strings.TrimSpace(string(out))
	require.Equal(t, want, got, "output %q, want %q", got, want)
}

// TestCursorFetchHoldsBackend: COM_STMT_EXECUTE with a cursor holds the
// backend until the cursor is read to its end.
func TestCursorFetchHoldsBackend(t *testing.T) {
	e := startEnv(t, withBackends(2))
	for _, deprecate := range []bool{true, false} {
		caps := wire.DefaultClientCapabilities
		if !deprecate {
			caps &^= wire.ClientDeprecateEOF
		}
		ctx := ctxT(t)
		cc, err := wire.Dial(ctx, e.addr, &wire.ClientConfig{User: appUser, Password: appPass, Database: "test", Capabilities: caps})
		must(t, err)
		st, err := cc.Prepare(ctx, "SELECT seq FROM seq_1_to_5")
		must(t, err)
		ex := &wire.StmtExecute{StatementID: st.ID, Flags: wire.CursorTypeReadOnly, Iterations: 1}
		must(t, cc.WriteCommand(wire.ComStmtExecute, wire.AppendStmtExecute(nil, ex)[1:]))
		status := readResponse(t, cc, wire.ModeBinary, nil)
		require.True(t, status.Has(wire.StatusCursorExists), "no cursor opened (status %#x)", status)
		got := e.srv.Stats().Pool.DatabaseConnectionsCurrentlyBorrowed
		require.Equal(t, 1, got, "backends borrowed with a cursor open: %d, want 1", got)
		rows := 0
		for !status.Has(wire.StatusLastRowSent) && rows <= 5 {
			must(t, cc.WriteCommand(wire.ComStmtFetch, wire.AppendStmtFetch(nil, st.ID, 2)[1:]))
			status = readResponse(t, cc, wire.ModeFetch, &rows)
		}
		require.EqualValues(t, 5, rows, "rows fetched")
		must(t, cc.Ping(ctx))
		got = e.srv.Stats().Pool.DatabaseConnectionsCurrentlyBorrowed
		require.Equal(t, 0, got, "backends borrowed after the cursor was read: %d", got)
		cc.Close()
	}
}

// readResponse reads one response on cc, counting rows.
func readResponse(t *testing.T, cc *wire.ClientConn, mode wire.Mode, rows *int) wire.Status {
	t.Helper()
	var f wire.Framer
	f.Reset(mode, cc.DeprecateEOF())
	for !f.Done() {
		p, err := cc.ReadPacket()
		must(t, err)
		k, err := f.Next(p)
		must(t, err)
		if k == wire.KindERR {
			e, _ := wire.ParseERR(p)
			require.FailNow(t, "server error", "%v", e)
		}
		if k == wire.KindRow && rows != nil {
			*rows++
		}
	}
	return f.Status()
}

// TestResetAndChangeUser: COM_RESET_CONNECTION clears the client's state
// and releases its pin; COM_CHANGE_USER re-authenticates.
func TestResetAndChangeUser(t *testing.T) {
	e := startEnv(t, withBackends(2))
	e.db.CreateUser(t, "other", "other-secret")
	ctx := ctxT(t)
	cc := dialWire(t, e.addr, appUser, appPass)
	_, err := cc.Exec(ctx, "SET @v = 1")
	require.NoError(t, err)
	require.Equal(t, 1, e.srv.Stats().Pool.DatabaseConnectionsCurrentlySessionPinned, "SET @v did not pin")
	must(t, cc.Reset(ctx))
	n := e.srv.Stats().Pool.DatabaseConnectionsCurrentlySessionPinned
	require.Equal(t, 0, n, "pinned after reset: %d", n)
	v, ok, err := cc.QueryValue(ctx, "SELECT @v")
	require.NoError(t, err, "after reset: @v = %q (null=%v) %v", v, !ok, err)
	require.False(t, ok, "after reset: @v = %q (null=%v) %v", v, !ok, err)
	must(t, cc.ChangeUser(ctx, &wire.ClientConfig{User: "other", Password: "other-secret", Database: "test"}))
	v, _, err = cc.QueryValue(ctx, "SELECT CURRENT_USER()")
	must(t, err)
	require.True(t, strings.HasPrefix(v, "other@"), "after COM_CHANGE_USER the backend user is %q", v)
	bad := dialWire(t, e.addr, appUser, appPass)
	err = bad.ChangeUser(ctx, &wire.ClientConfig{User: "other", Password: "nope"})
	require.Error(t, err, "COM_CHANGE_USER with a wrong password succeeded")
}

func TestInitDBAndFieldList(t *testing.T) {
	e := startEnv(t)
	ctx := ctxT(t)
	cc := dialWire(t, e.addr, appUser, appPass)
	must(t, cc.InitDB(ctx, "mysql"))
	v, _, err := cc.QueryValue(ctx, "SELECT DATABASE()")
	must(t, err)
	require.EqualValues(t, "mysql", v, "database")
	require.Error(t, cc.InitDB(ctx, "no_such_db"), "COM_INIT_DB to a missing database succeeded")
	must(t, cc.InitDB(ctx, "test"))
	must(t, cc.WriteCommand(wire.ComFieldList, append([]byte("users"), 0)))
	readResponse(t, cc, wire.ModeFieldList, nil)
	must(t, cc.WriteCommand(wire.ComStatistics, nil))
	readResponse(t, cc, wire.ModeStatistics, nil)
	must(t, cc.Ping(ctx))
}

func splitAddr(t testing.TB, addr string) (string, string) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	return addr[:i], addr[i+1:]
}
