package wire_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/proxy/wire"
	"github.com/stretchr/testify/require"
)

// stmtIDOffset is added to backend statement ids towards clients, so the
// relay test exercises statement id rewriting in both directions.
const stmtIDOffset = 1000

// startRelay starts a minimal listener: each client authenticates against
// ServerConn, gets its own backend ClientConn, and its commands are relayed
// packet by packet with a Framer and an EOFTranslator, the way proxy.Server
// is meant to use this package.
func startRelay(t *testing.T, backend string, clientCaps, backendCaps wire.Capability) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg := &wire.ServerConfig{Capabilities: clientCaps, Lookup: lookupTestUser}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // accept loop, ends when ln closes
		defer wg.Done()
		for id := uint32(1); ; id++ {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { // serves one client
				defer wg.Done()
				defer nc.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				sc, err := wire.Accept(ctx, nc, cfg, id)
				if err != nil {
					return
				}
				be, err := wire.Dial(ctx, backend, &wire.ClientConfig{User: "root", Database: sc.Database(), Capabilities: backendCaps})
				if err != nil {
					sc.WriteError(err)
					return
				}
				defer be.Close()
				if err := relay(sc, be); err != nil {
					t.Logf("relay: %v", err)
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

func relay(sc *wire.ServerConn, be *wire.ClientConn) error {
	var f wire.Framer
	tr := wire.NewEOFTranslator(be.DeprecateEOF(), sc.DeprecateEOF())
	for {
		cmd, p, err := sc.ReadCommand()
		if err != nil {
			return nil // client went away
		}
		if cmd == wire.ComQuit {
			return nil
		}
		if id, err := wire.StatementID(p); err == nil {
			if err := wire.SetStatementID(p, id-stmtIDOffset); err != nil {
				return err
			}
		}
		be.ResetSeq()
		if err := be.WritePacketFlush(p); err != nil {
			return err
		}
		mode, answered := wire.ModeFor(cmd)
		if !answered {
			continue
		}
		f.Reset(mode, be.DeprecateEOF())
		for !f.Done() {
			q, err := be.ReadPacket()
			if err != nil {
				return err
			}
			kind, err := f.Next(q)
			if err != nil {
				return err
			}
			switch kind {
			case wire.KindPrepareOK:
				id, _ := wire.StatementID(append([]byte{byte(wire.ComStmtClose)}, q[1:5]...))
				q[1], q[2], q[3], q[4] = byte(id+stmtIDOffset), byte((id+stmtIDOffset)>>8), byte((id+stmtIDOffset)>>16), byte((id+stmtIDOffset)>>24)
			case wire.KindLocalInfile:
				// Refuse: an empty file to the backend, whose OK is
				// then replaced by an error for the client.
				if err := be.WritePacketFlush(nil); err != nil {
					return err
				}
				q, err = be.ReadPacket()
				if err != nil {
					return err
				}
				if _, err := f.Next(q); err != nil {
					return err
				}
				if err := sc.WriteError(wire.NewError(wire.ErNotAllowedCommand, wire.StateSyntaxOrAccess,
					"LOAD DATA LOCAL INFILE is not allowed through this proxy")); err != nil {
					return err
				}
				continue
			}
			a, b := tr.Translate(&f, kind, q)
			if a != nil {
				if err := sc.WritePacket(a); err != nil {
					return err
				}
			}
			if b != nil {
				if err := sc.WritePacket(b); err != nil {
					return err
				}
			}
		}
		be.SetStatus(f.Status())
		if err := sc.Flush(); err != nil {
			return err
		}
	}
}

func TestRelayWithRealClients(t *testing.T) {
	srv := mariadbtest.Start(t)
	srv.Exec(t, "CREATE TABLE test.items (id INT PRIMARY KEY, name VARCHAR(50), price DECIMAL(10,2), added DATE)")
	srv.Exec(t, "INSERT INTO test.items VALUES (1,'apple',1.50,'2024-05-01'),(2,'pear',NULL,NULL),(3,'plum',0.25,'2023-12-31')")
	full := wire.DefaultServerCapabilities
	classic := full &^ wire.ClientDeprecateEOF
	for _, m := range []struct {
		name                    string
		clientCaps, backendCaps wire.Capability
	}{
		{"both deprecate EOF", full, wire.DefaultClientCapabilities},
		{"both classic EOF", classic, wire.DefaultClientCapabilities &^ wire.ClientDeprecateEOF},
		{"classic client, deprecating backend", classic, wire.DefaultClientCapabilities},
		{"deprecating client, classic backend", full, wire.DefaultClientCapabilities &^ wire.ClientDeprecateEOF},
	} {
		t.Run(m.name, func(t *testing.T) {
			addr := startRelay(t, srv.Addr(), m.clientCaps, m.backendCaps)
			for _, params := range []string{"multiStatements=true", "multiStatements=true&interpolateParams=true"} {
				t.Run("go-sql-driver "+params, func(t *testing.T) { exerciseGoSQL(t, addr, params) })
			}
			t.Run("mariadb CLI", func(t *testing.T) {
				out, err := mariadbCLI(t, addr, "-u", "native", "-ppw-native", "--skip-ssl", "test", "-e",
					"SELECT name, price FROM items ORDER BY id; SELECT COUNT(*) FROM items WHERE price IS NULL; DO 1")
				require.NoError(t, err, "%v: %s", err, out)
				want := "apple\t1.50\npear\tNULL\nplum\t0.25\n1"
				require.Equal(t, want, out, "output %q, want %q", out, want)
			})
		})
	}
}

func exerciseGoSQL(t *testing.T, addr, params string) {
	db, err := sql.Open("mysql", fmt.Sprintf("native:pw-native@tcp(%s)/test?%s", addr, params))
	require.NoError(t, err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows, err := db.Query("SELECT id, name, price, added FROM items WHERE id >= ? ORDER BY id", 1)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var id int
		var name string
		var price, added sql.NullString
		err := rows.Scan(&id, &name, &price, &added)
		require.NoError(t, err)
		got = append(got, fmt.Sprintf("%d %s %s %s", id, name, price.String, added.String))
	}
	err = rows.Err()
	require.NoError(t, err)
	rows.Close()
	want := "1 apple 1.50 2024-05-01|2 pear  |3 plum 0.25 2023-12-31"
	require.Equal(t, want, strings.Join(got, "|"), "rows %q, want %q", strings.Join(got, "|"), want)
	// Multi-statement batch with results and an empty result.
	rows, err = db.Query("SELECT 1; SELECT name FROM items WHERE id = 0; SELECT 'x'")
	require.NoError(t, err)
	n := 0
	for {
		for rows.Next() {
			n++
		}
		if !rows.NextResultSet() {
			break
		}
	}
	rows.Close()
	require.Equal(t, 2, n, "%d rows over the batch, want 2", n)
	// Transaction through the relay, with a prepared statement.
	tx, err := db.Begin()
	require.NoError(t, err)
	stmt, err := tx.Prepare("UPDATE items SET name = ? WHERE id = ?")
	require.NoError(t, err)
	res, err := stmt.Exec("APPLE", 1)
	require.NoError(t, err)
	affected, _ := res.RowsAffected()
	require.Equal(t, int64(1), affected, "affected %d", affected)
	stmt.Close()
	err = tx.Rollback()
	require.NoError(t, err)
	var name string
	err = db.QueryRow("SELECT name FROM items WHERE id = ?", 1).Scan(&name)
	require.NoError(t, err, "after rollback: %q %v", name, err)
	require.Equal(t, "apple", name, "after rollback: %q %v", name, err)
	// Errors pass through and the connection keeps working.
	_, err = db.Exec("SELECT * FROM missing_table")
	require.ErrorContains(t, err, "1146", "err = %v", err)
	err = db.Ping()
	require.NoError(t, err)
}

// TestFramerCursor checks the framing of a cursor (COM_STMT_EXECUTE with
// CURSOR_TYPE_READ_ONLY, then COM_STMT_FETCH) against MariaDB in both EOF
// styles.
func TestFramerCursor(t *testing.T) {
	srv := mariadbtest.Start(t)
	for _, deprecate := range []bool{true, false} {
		t.Run(fmt.Sprint("deprecateEOF=", deprecate), func(t *testing.T) {
			caps := wire.DefaultClientCapabilities
			if !deprecate {
				caps &^= wire.ClientDeprecateEOF
			}
			c := dialT(t, srv.Addr(), &wire.ClientConfig{User: "root", Database: "test", Capabilities: caps})
			ctx := testCtx(t)
			st, err := c.Prepare(ctx, "SELECT seq FROM seq_1_to_5")
			require.NoError(t, err)
			var kinds []string
			// readAll reads a response and checks that its translation
			// to the other EOF style frames cleanly, ending exactly at
			// its last packet with the same status.
			readAll := func(mode wire.Mode) *wire.Framer {
				var f, g wire.Framer
				f.Reset(mode, c.DeprecateEOF())
				g.Reset(mode, !c.DeprecateEOF())
				tr := wire.NewEOFTranslator(c.DeprecateEOF(), !c.DeprecateEOF())
				var translated []string
				for !f.Done() {
					p, err := c.ReadPacket()
					require.NoError(t, err)
					k, err := f.Next(p)
					require.NoError(t, err)
					kinds = append(kinds, k.String())
					a, b := tr.Translate(&f, k, p)
					for _, q := range [][]byte{a, b} {
						if q == nil {
							continue
						}
						require.False(t, g.Done(), "translated stream continues after its end: %v", translated)
						gk, err := g.Next(q)
						require.NoError(t, err, "translated stream %v: %v", translated, err)
						translated = append(translated, gk.String())
					}
				}
				require.True(t, g.Done(), "translated stream %v: done=%v status %#x, want %#x", translated, g.Done(), g.Status(), f.Status())
				require.Equal(t, f.Status(), g.Status(), "translated stream %v: done=%v status %#x, want %#x", translated, g.Done(), g.Status(), f.Status())
				t.Logf("%v -> %v", kinds, translated)
				return &f
			}
			e := &wire.StmtExecute{StatementID: st.ID, Flags: wire.CursorTypeReadOnly, Iterations: 1}
			err = c.WriteCommand(wire.ComStmtExecute, wire.AppendStmtExecute(nil, e)[1:])
			require.NoError(t, err)
			f := readAll(wire.ModeBinary)
			require.True(t, f.Status().Has(wire.StatusCursorExists), "no cursor: status %#x, packets %v", f.Status(), kinds)
			t.Logf("execute with cursor: %v", kinds)
			rows := 0
			for !f.Status().Has(wire.StatusLastRowSent) {
				kinds = kinds[:0]
				err := c.WriteCommand(wire.ComStmtFetch, wire.AppendStmtFetch(nil, st.ID, 2)[1:])
				require.NoError(t, err)
				f = readAll(wire.ModeFetch)
				for _, k := range kinds {
					if k == "Row" {
						rows++
					}
				}
				require.LessOrEqual(t, rows, 5, "too many rows: %v", kinds)
			}
			require.Equal(t, 5, rows, "fetched %d rows, want 5", rows)
			err = c.Ping(ctx)
			require.NoError(t, err)
		})
	}
}
