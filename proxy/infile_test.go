package proxy_test

import (
	"bufio"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/proxy"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// writeLines writes n lines "<i>\t<pad>" to a new file and returns its
// path and size.
func writeLines(t *testing.T, n int, pad int) (string, int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data.tsv")
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriterSize(f, 1<<20)
	filler := strings.Repeat("x", pad)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(w, "%d\t%s-%d\n", i, filler, i)
	}
	require.NoError(t, w.Flush())
	st, err := f.Stat()
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return path, st.Size()
}

// TestLocalInfile: LOAD DATA LOCAL INFILE through the listener loads the
// same rows as directly, for go-sql-driver and the mariadb CLI; a client
// that did not enable it is refused as the server refuses it directly.
func TestLocalInfile(t *testing.T) {
	e := startEnv(t, withBackends(2))
	e.db.Exec(t, "CREATE TABLE IF NOT EXISTS test.infile_rows (id INT PRIMARY KEY, v VARCHAR(200))")
	path, _ := writeLines(t, 5000, 20)
	mysql.RegisterLocalFile(path)
	check := func(name, dsn string) {
		t.Helper()
		e.db.Exec(t, "TRUNCATE test.infile_rows")
		db, err := sql.Open("mysql", dsn)
		require.NoError(t, err)
		defer db.Close()
		res, err := db.Exec(fmt.Sprintf("LOAD DATA LOCAL INFILE '%s' INTO TABLE infile_rows", path))
		require.NoError(t, err, name)
		n, _ := res.RowsAffected()
		assert.EqualValues(t, 5000, n, name)
		var sum int64
		require.NoError(t, db.QueryRow("SELECT SUM(CRC32(v)) FROM infile_rows").Scan(&sum))
		assert.Equal(t, e.db.QueryInt(t, "SELECT SUM(CRC32(CONCAT('xxxxxxxxxxxxxxxxxxxx-', seq))) FROM seq_1_to_5000"), sum, name)
	}
	check("direct", e.db.UserDSN(appUser, appPass, "test", ""))
	check("listener", e.dsn(appUser, appPass, ""))

	// The mariadb CLI with and without --local-infile: the same outcome
	// directly and through the listener.
	stmt := fmt.Sprintf("LOAD DATA LOCAL INFILE '%s' INTO TABLE infile_rows; SELECT COUNT(*) FROM infile_rows", path)
	for _, flag := range []string{"--local-infile=1", "--local-infile=0"} {
		var outs []string
		for _, addr := range []string{e.db.Addr(), e.addr} {
			e.db.Exec(t, "TRUNCATE test.infile_rows")
			out, err := mariadbCLI(t, addr, "-u", appUser, "-p"+appPass, "--skip-ssl", flag, "test", "-e", stmt)
			t.Logf("%s %s: %v %s", flag, addr, err, out)
			outs = append(outs, out)
		}
		if flag == "--local-infile=1" {
			assert.Equal(t, "5000", outs[0])
		} else {
			assert.Contains(t, outs[0], "ERROR 4166 (HY000)")
		}
		assert.Equal(t, outs[0], outs[1], flag)
	}
}

// TestLocalInfileDisabled: with DisableLocalInfile the capability is not
// offered and the statement is refused with 1148, loading nothing.
func TestLocalInfileDisabled(t *testing.T) {
	e := startEnv(t, withBackends(1), withServer(func(s *proxy.Server) { s.DisableLocalInfile = true }))
	e.db.Exec(t, "CREATE TABLE IF NOT EXISTS test.infile_off (id INT PRIMARY KEY, v VARCHAR(200))")
	path, _ := writeLines(t, 10, 1)
	mysql.RegisterLocalFile(path)
	db := e.open(t, "")
	_, err := db.Exec(fmt.Sprintf("LOAD DATA LOCAL INFILE '%s' INTO TABLE infile_off", path))
	assert.Equal(t, wire.ErNotAllowedCommand, mysqlErr(err), "%v", err)
	assert.Contains(t, err.Error(), "-local-infile=false")
	assert.EqualValues(t, 0, queryInt(t, db, "SELECT COUNT(*) FROM infile_off"))
	cc := dialWire(t, e.addr, appUser, appPass)
	assert.Zero(t, cc.Handshake().Capabilities&wire.ClientLocalFiles)
}

// TestLocalInfileLargeFileStreams: a 100 MB file goes through the listener
// without being buffered: the test process (listener, pool; the client is
// the mariadb CLI) allocates a small fraction of the file. The server
// skips all lines but the last (IGNORE n LINES reads them all), which
// proves the whole file arrived, in order.
func TestLocalInfileLargeFileStreams(t *testing.T) {
	e := startEnv(t, withBackends(1))
	e.db.Exec(t, "CREATE TABLE IF NOT EXISTS test.infile_big (id INT PRIMARY KEY, v VARCHAR(2000))")
	const lines = 100_000
	path, size := writeLines(t, lines, 1050)
	require.GreaterOrEqual(t, size, int64(100<<20))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	stmt := fmt.Sprintf("LOAD DATA LOCAL INFILE '%s' INTO TABLE infile_big IGNORE %d LINES; SELECT id FROM infile_big", path, lines-1)
	out, err := mariadbCLI(t, e.addr, "-u", appUser, "-p"+appPass, "--skip-ssl", "--local-infile=1", "test", "-e", stmt)
	require.NoError(t, err, out)
	runtime.ReadMemStats(&after)
	assert.Equal(t, fmt.Sprint(lines), out)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("a %d MB file through the listener: %.1f MB allocated by the test process", size>>20, float64(alloc)/(1<<20))
	assert.Less(t, alloc, uint64(size/4), "the listener buffered the file")
}

// TestLocalInfileClientVanishes: a client that goes away in the middle of
// its file leaves nothing behind: the statement is rolled back and its
// backend closed, not reused.
func TestLocalInfileClientVanishes(t *testing.T) {
	e := startEnv(t, withBackends(1))
	e.db.Exec(t, "CREATE TABLE IF NOT EXISTS test.infile_gone (id INT PRIMARY KEY)")
	ctx := ctxT(t)
	cc, err := wire.Dial(ctx, e.addr, &wire.ClientConfig{User: appUser, Password: appPass, Database: "test",
		Capabilities: wire.DefaultClientCapabilities | wire.ClientLocalFiles})
	require.NoError(t, err)
	backendID, _, err := cc.QueryValue(ctx, "SELECT CONNECTION_ID()")
	require.NoError(t, err)
	require.NoError(t, cc.WriteCommand(wire.ComQuery, []byte("LOAD DATA LOCAL INFILE 'rows' INTO TABLE infile_gone")))
	p, err := cc.ReadPacket()
	require.NoError(t, err)
	require.Equal(t, byte(0xfb), p[0], "no LOCAL INFILE request")
	var b strings.Builder
	for i := 1; i <= 10000; i++ {
		fmt.Fprintf(&b, "%d\n", i)
	}
	require.NoError(t, cc.WritePacketFlush([]byte(b.String())))
	cc.NetConn().Close() // gone mid-file: no empty packet
	root := e.db.DB(t)
	for deadline := time.Now().Add(20 * time.Second); ; {
		var n int
		require.NoError(t, root.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", backendID).Scan(&n))
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the backend of the vanished client (connection %s) is still open", backendID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	assert.EqualValues(t, 0, e.db.QueryInt(t, "SELECT COUNT(*) FROM test.infile_gone"))
	// The listener serves the next client on a fresh backend.
	db := e.open(t, "")
	assert.EqualValues(t, 0, queryInt(t, db, "SELECT COUNT(*) FROM infile_gone"))
	assert.NotEqual(t, backendID, fmt.Sprint(queryInt(t, db, "SELECT CONNECTION_ID()")))
}
