package proxy_test

import (
	"database/sql"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/proxy/wire"
)

// metaClient is a raw MySQL client that negotiates MariaDB's metadata
// cache (MARIADB_CLIENT_CACHE_METADATA), which wire.ClientConn never asks
// for, and records every packet of each response.
type metaClient struct {
	t    *testing.T
	c    *wire.Conn
	caps wire.Capability
}

// dialMeta connects to addr (the listener or MariaDB itself) as the app
// user, with or without CLIENT_DEPRECATE_EOF. The connection has a
// generous deadline so that a wrong packet count fails instead of hanging.
func dialMeta(t *testing.T, addr string, deprecateEOF bool) *metaClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	require.NoError(t, nc.SetDeadline(time.Now().Add(time.Minute)))
	c := wire.NewConn(nc)
	p, err := c.ReadPacket()
	require.NoError(t, err)
	hs, err := wire.ParseHandshake(p)
	require.NoError(t, err)
	want := wire.DefaultClientCapabilities&^(wire.ClientLongPassword|wire.ClientSessionTrack|wire.ClientConnectAttrs) |
		wire.MariaDBClientCacheMetadata
	if !deprecateEOF {
		want &^= wire.ClientDeprecateEOF
	}
	caps := want & hs.Capabilities
	require.NotZero(t, caps&wire.MariaDBClientCacheMetadata, "%s does not offer MARIADB_CLIENT_CACHE_METADATA", hs.ServerVersion)
	resp := &wire.HandshakeResponse{Capabilities: caps, MaxPacketSize: 1 << 24, Charset: wire.CharsetUTF8MB4GeneralCI,
		User: appUser, AuthResponse: wire.ScrambleNativePassword(hs.AuthData, appPass), Database: "test",
		AuthPlugin: wire.AuthNativePassword}
	require.NoError(t, c.WritePacketFlush(wire.AppendHandshakeResponse(nil, resp)))
	p, err = c.ReadPacket()
	require.NoError(t, err)
	if len(p) > 0 && p[0] == 0xfe { // auth switch
		sw, err := wire.ParseAuthSwitch(p)
		require.NoError(t, err)
		require.Equal(t, wire.AuthNativePassword, sw.Plugin)
		require.NoError(t, c.WritePacketFlush(wire.ScrambleNativePassword(sw.Data, appPass)))
		p, err = c.ReadPacket()
		require.NoError(t, err)
	}
	require.True(t, wire.IsOK(p), "handshake answer %q", p)
	return &metaClient{t: t, c: c, caps: caps}
}

func (m *metaClient) deprecateEOF() bool { return m.caps&wire.ClientDeprecateEOF != 0 }

func (m *metaClient) read() []byte {
	m.t.Helper()
	p, err := m.c.ReadPacket()
	require.NoError(m.t, err)
	return append([]byte(nil), p...)
}

// command sends a command and returns its response's packets.
func (m *metaClient) command(cmd []byte) [][]byte {
	m.t.Helper()
	m.c.ResetSeq()
	require.NoError(m.t, m.c.WritePacketFlush(cmd))
	var out [][]byte
	for {
		p := m.read()
		out = append(out, p)
		if wire.IsOK(p) || wire.IsERR(p) {
			var ok wire.OK
			if wire.IsOK(p) && wire.ParseOK(p, m.caps, &ok) == nil && ok.Status&wire.StatusMoreResultsExist != 0 {
				continue
			}
			return out
		}
		n, follows, err := wire.ParseColumnCount(p, m.caps)
		require.NoError(m.t, err)
		if follows {
			for range n {
				out = append(out, m.read())
			}
		}
		if !m.deprecateEOF() {
			// The EOF after the definitions. Its status and warnings
			// are not compared: the listener's backends use
			// CLIENT_DEPRECATE_EOF, and the EOF it makes up for a
			// classic client carries the status it knows at that point
			// (the previous response's), where MariaDB reports the
			// statement's so far (SERVER_STATUS_NO_INDEX_USED).
			eof := m.read()
			require.True(m.t, wire.IsEOF(eof), "EOF after the definitions: %q", eof)
			out = append(out, []byte{0xfe, 0, 0, 0, 0})
			if e, _ := wire.ParseEOF(eof); e.Status&wire.StatusCursorExists != 0 {
				return out // rows come with COM_STMT_FETCH
			}
		}
		var status wire.Status
		for {
			p := m.read()
			out = append(out, p)
			if wire.IsResultEnd(p) {
				if m.deprecateEOF() {
					var ok wire.OK
					require.NoError(m.t, wire.ParseOK(p, m.caps, &ok))
					status = ok.Status
				} else {
					e, err := wire.ParseEOF(p)
					require.NoError(m.t, err)
					status = e.Status
				}
				break
			}
		}
		if status&wire.StatusMoreResultsExist == 0 {
			return out
		}
	}
}

func (m *metaClient) prepare(q string) (uint32, [][]byte) {
	m.t.Helper()
	m.c.ResetSeq()
	require.NoError(m.t, m.c.WritePacketFlush(append([]byte{byte(wire.ComStmtPrepare)}, q...)))
	p, err := m.c.ReadPacket()
	require.NoError(m.t, err)
	require.False(m.t, wire.IsERR(p), "prepare %s: %q", q, p)
	po, err := wire.ParsePrepareOK(p)
	require.NoError(m.t, err)
	p = append([]byte(nil), p...)
	binary.LittleEndian.PutUint32(p[1:], 0)
	rest := [][]byte{p}
	for _, n := range []uint16{po.NumParams, po.NumColumns} {
		if n == 0 {
			continue
		}
		for range n {
			rest = append(rest, m.read())
		}
		if !m.deprecateEOF() {
			// Status not compared: the listener reports the one its
			// backend had before the prepare (SERVER_STATUS_NO_INDEX_USED
			// of the previous statement may be left over).
			eof := m.read()
			require.True(m.t, wire.IsEOF(eof), "EOF after the definitions: %q", eof)
			rest = append(rest, []byte{0xfe, 0, 0, 0, 0})
		}
	}
	return po.StatementID, rest
}

// execute runs the statement with no parameter (nil) or one: an int64
// (LONGLONG) or a string (VAR_STRING).
func (m *metaClient) execute(id uint32, param any) [][]byte {
	e := &wire.StmtExecute{StatementID: id, Iterations: 1}
	switch v := param.(type) {
	case int64:
		e.NullBitmap, e.NewParamsBound = []byte{0}, true
		e.ParamTypes = []byte{wire.TypeLongLong, 0}
		e.Values = binary.LittleEndian.AppendUint64(nil, uint64(v))
	case string:
		e.NullBitmap, e.NewParamsBound = []byte{0}, true
		e.ParamTypes = []byte{wire.TypeVarString, 0}
		e.Values = wire.AppendLenEncString(nil, []byte(v))
	}
	return m.command(wire.AppendStmtExecute(nil, e))
}

// openCursor executes the statement (no parameters) with a read-only
// cursor.
func (m *metaClient) openCursor(id uint32) [][]byte {
	return m.command(wire.AppendStmtExecute(nil, &wire.StmtExecute{StatementID: id, Iterations: 1,
		Flags: wire.CursorTypeReadOnly}))
}

// fetch reads rows of the statement's cursor: rows and the packet that
// ends them.
func (m *metaClient) fetch(id uint32, rows uint32) [][]byte {
	m.t.Helper()
	m.c.ResetSeq()
	require.NoError(m.t, m.c.WritePacketFlush(wire.AppendStmtFetch(nil, id, rows)))
	var out [][]byte
	for {
		p := m.read()
		out = append(out, p)
		if wire.IsResultEnd(p) || wire.IsERR(p) {
			return out
		}
	}
}

func (m *metaClient) query(q string) [][]byte {
	return m.command(append([]byte{byte(wire.ComQuery)}, q...))
}

// TestCacheMetadataPackets checks the exact packets a metadata-cache client
// gets through the listener, in both EOF styles, against what MariaDB sends
// such a client directly: the column count with metadata-follows 0 and no
// definitions (the EOF after them stays in the classic style) when the
// client holds the statement's definitions, 1 and the definitions when
// they changed, and the byte (1) on text result sets too.
func TestCacheMetadataPackets(t *testing.T) {
	e := startEnv(t, withBackends(3))
	for _, deprecate := range []bool{true, false} {
		t.Run(fmt.Sprintf("deprecateEOF=%v", deprecate), func(t *testing.T) {
			direct := runMetaScenario(t, dialMeta(t, e.db.Addr(), deprecate))
			listener := runMetaScenario(t, dialMeta(t, e.addr, deprecate))
			require.Equal(t, len(direct), len(listener))
			for i := range direct {
				assert.Equal(t, direct[i].packets, listener[i].packets, "%s", direct[i].step)
			}

			// What the scenario shows, stated explicitly.
			eof := 0
			if !deprecate {
				eof = 1
			}
			byStep := map[string][][]byte{}
			for _, s := range listener {
				byStep[s.step] = s.packets
			}
			again := byStep["execute again"]
			require.Len(t, again, 3+eof)
			assert.Equal(t, []byte{1, 0}, again[0], "column count, metadata-follows 0")
			if !deprecate {
				assert.True(t, wire.IsEOF(again[1]), "the EOF after the (absent) definitions stays: %q", again[1])
			}
			assert.Equal(t, []byte("\x00\x00\x05alice"), again[1+eof], "the row")
			binExec := byStep["execute under binary results"]
			require.Len(t, binExec, 3+eof, "no definitions after SET character_set_results")
			assert.Equal(t, []byte{1, 0}, binExec[0])
			first := byStep["SELECT ? with an INT"]
			assert.Equal(t, []byte{1, 1}, first[0], "the type follows the parameter: sent")
			assert.Equal(t, wire.TypeLongLong, mustColumn(t, first[1]).Type)
			assert.Equal(t, []byte{1, 0}, byStep["SELECT ? with an INT again"][0])
			str := byStep["SELECT ? with a string"]
			assert.Equal(t, []byte{1, 1}, str[0])
			assert.Equal(t, wire.TypeVarString, mustColumn(t, str[1]).Type)
			assert.Equal(t, []byte{1, 1}, byStep["text query"][0], "text results carry the byte, always 1")
			assert.Equal(t, []byte{3, 1}, byStep["execute after ALTER"][0], "re-prepared: sent")
			assert.Equal(t, []byte{3, 0}, byStep["execute after ALTER again"][0])
			// The cursor's definitions differ from the prepare's (flags):
			// sent once, then held.
			assert.Equal(t, []byte{1, 1}, byStep["open cursor"][0])
			assert.Equal(t, []byte{1, 0}, byStep["open cursor again"][0])
			assert.Len(t, byStep["open cursor again"], 1+1, "column count, then the packet that says a cursor is open")
			assert.Equal(t, []byte("\x00\x00\x01\x00\x00\x00"), byStep["fetch again"][0])
		})
	}
}

func mustColumn(t *testing.T, p []byte) *wire.Column {
	t.Helper()
	c, err := wire.ParseColumn(p)
	require.NoError(t, err)
	return c
}

type metaStep struct {
	step    string
	packets [][]byte
}

// runMetaScenario runs the same commands on m and returns each one's
// packets.
func runMetaScenario(t *testing.T, m *metaClient) []metaStep {
	var steps []metaStep
	add := func(step string, packets [][]byte) { steps = append(steps, metaStep{step, packets}) }
	tbl := fmt.Sprintf("meta_%d", time.Now().UnixNano())
	add("create", m.query("CREATE TABLE "+tbl+" (id INT PRIMARY KEY, name VARCHAR(50))"))
	t.Cleanup(func() { database(t).Exec(t, "DROP TABLE IF EXISTS test."+tbl) })
	add("insert", m.query("INSERT INTO "+tbl+" VALUES (1, 'alice')"))
	id, prep := m.prepare("SELECT name FROM " + tbl + " WHERE id = ?")
	add("prepare", normalizeTable(prep, tbl))
	add("execute", m.execute(id, int64(1)))
	add("execute again", m.execute(id, int64(1)))
	add("set binary results", m.query("SET SESSION character_set_results='binary'"))
	add("execute under binary results", m.execute(id, int64(1)))
	add("set default results", m.query("SET SESSION character_set_results=utf8mb4"))
	id2, prep2 := m.prepare("SELECT ?")
	add("prepare SELECT ?", prep2)
	add("SELECT ? with an INT", m.execute(id2, int64(7)))
	add("SELECT ? with an INT again", m.execute(id2, int64(8)))
	add("SELECT ? with a string", m.execute(id2, "x"))
	add("text query", m.query("SELECT 1 AS z"))
	id3, prep3 := m.prepare("SELECT * FROM " + tbl)
	add("prepare SELECT *", normalizeTable(prep3, tbl))
	add("execute SELECT *", normalizeTable(m.execute(id3, nil), tbl))
	add("alter", m.query("ALTER TABLE "+tbl+" ADD COLUMN x INT"))
	add("execute after ALTER", normalizeTable(m.execute(id3, nil), tbl))
	add("execute after ALTER again", normalizeTable(m.execute(id3, nil), tbl))
	id4, prep4 := m.prepare("SELECT id FROM " + tbl)
	add("prepare for a cursor", normalizeTable(prep4, tbl))
	for _, round := range []string{"", " again"} {
		add("open cursor"+round, normalizeTable(m.openCursor(id4), tbl))
		add("fetch"+round, m.fetch(id4, 10))
	}
	return steps
}

// normalizeTable replaces the scenario's table name in column definitions
// (same length, so lengths stay right).
func normalizeTable(packets [][]byte, tbl string) [][]byte {
	for i, p := range packets {
		packets[i] = []byte(strings.ReplaceAll(string(p), tbl, strings.Repeat("t", len(tbl))))
	}
	return packets
}

// TestCacheMetadataGoSQLDriver is the differential suite's finding:
// go-sql-driver negotiates the metadata cache; a statement prepared before
// SET character_set_results='binary' keeps its prepare-time column type
// (VARCHAR) directly against MariaDB, and must through the listener too,
// whichever backend runs each execute.
func TestCacheMetadataGoSQLDriver(t *testing.T) {
	e := startEnv(t, withBackends(3))
	run := func(db *sql.DB) []string {
		ctx := ctxT(t)
		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		defer conn.Close()
		var out []string
		note := func(stmt *sql.Stmt, args ...any) {
			rows, err := stmt.QueryContext(ctx, args...)
			require.NoError(t, err)
			defer rows.Close()
			types, err := rows.ColumnTypes()
			require.NoError(t, err)
			var names []string
			for _, ct := range types {
				names = append(names, ct.Name()+":"+ct.DatabaseTypeName())
			}
			vals := make([]any, len(types))
			for i := range vals {
				vals[i] = new(sql.RawBytes)
			}
			for rows.Next() {
				require.NoError(t, rows.Scan(vals...))
				for _, v := range vals {
					names = append(names, string(*v.(*sql.RawBytes)))
				}
			}
			require.NoError(t, rows.Err())
			out = append(out, strings.Join(names, " "))
		}
		stmt, err := conn.PrepareContext(ctx, "SELECT name FROM users WHERE id = ?")
		require.NoError(t, err)
		defer stmt.Close()
		for range 3 {
			note(stmt, 1)
		}
		_, err = conn.ExecContext(ctx, "SET SESSION character_set_results='binary'")
		require.NoError(t, err)
		for range 3 {
			note(stmt, 2)
		}
		// A statement prepared under binary results: its definitions
		// say so, and stay so after the setting goes back.
		stmt2, err := conn.PrepareContext(ctx, "SELECT name, id FROM users WHERE id = ?")
		require.NoError(t, err)
		defer stmt2.Close()
		note(stmt2, 3)
		_, err = conn.ExecContext(ctx, "SET SESSION character_set_results=utf8mb4")
		require.NoError(t, err)
		for range 3 {
			note(stmt, 1)
			note(stmt2, 3)
		}
		stmt3, err := conn.PrepareContext(ctx, "SELECT ?")
		require.NoError(t, err)
		defer stmt3.Close()
		note(stmt3, 5)
		note(stmt3, "five")
		note(stmt3, 6)
		return out
	}
	directDB, err := sql.Open("mysql", e.db.UserDSN(appUser, appPass, "test", ""))
	require.NoError(t, err)
	defer directDB.Close()
	direct := run(directDB)
	through := run(e.open(t, ""))
	assert.Equal(t, direct, through)
	assert.Equal(t, "name:VARCHAR bob", direct[3], "prepare-time type after SET character_set_results")
}
