package reliability

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdsmux/rdsmux/proxy"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// The hostile-input suite: clients that send garbage, truncate, lie about
// sequence ids and sizes, never speak, idle, or flood the listener. After
// each, the listener still serves good clients, the pool is back to idle,
// and only the hostile client was closed.

// hostileMaxPacket is the rigs' Server.MaxPacketSize.
const hostileMaxPacket = 64 << 10

// setupFailures is every handshake that did not end in a session.
func setupFailures(st proxy.Stats) int64 {
	return st.ClientConnectionsSetupFailed + st.ClientConnectionsSetupFailedAuth
}

// packet frames payload with sequence id seq.
func packet(seq byte, payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...)
}

// packetHeader is the header of a packet of n bytes that will not follow.
func packetHeader(seq byte, n int) []byte {
	return []byte{byte(n), byte(n >> 8), byte(n >> 16), seq}
}

// mustNotAuthenticate waits for the listener to close nc and fails the
// test if it authenticated the client (an OK packet) or kept the
// connection open. It returns the last error packet received, if any.
func mustNotAuthenticate(t *testing.T, nc net.Conn, what string) *wire.Error {
	t.Helper()
	e, err := notAuthenticated(nc, what)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// notAuthenticated is mustNotAuthenticate for other goroutines: it returns
// the failure instead of ending the test.
func notAuthenticated(nc net.Conn, what string) (*wire.Error, error) {
	o := drainToClose(nc)
	switch {
	case o.gotOK:
		return nil, fmt.Errorf("%s: the listener authenticated the client (it sent an OK packet)", what)
	case o.timedOut:
		return nil, fmt.Errorf("%s: the listener did not close the connection within %v", what, rigDeadline)
	}
	return o.lastErr, nil
}

// TestHostileHandshake: garbage, truncated handshake responses, wrong
// sequence ids, oversized packets and clients that never speak, before
// authentication. Every one is closed without getting in; good clients are
// served throughout.
func TestHostileHandshake(t *testing.T) {
	db := startRigDB(t)
	seed := rigSeed(t)
	r := startRig(t, db, withRigServer(func(s *proxy.Server) {
		s.HandshakeTimeout = time.Second
		s.MaxPacketSize = hostileMaxPacket
	}))
	// A client served all along: it must never notice.
	good := r.open(t, rigUser, rigPass, "")
	bystander, err := good.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer bystander.Close()
	checkBystander := func(t *testing.T) {
		t.Helper()
		var n int
		if err := bystander.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM items").Scan(&n); err != nil || n != 3 {
			t.Fatalf("the bystander client: COUNT(*) = %d, %v", n, err)
		}
	}
	checkBystander(t)
	after := func(t *testing.T, before proxy.Stats, failures int64) {
		t.Helper()
		r.waitStat(t, "handshake failures", setupFailures, setupFailures(before)+failures)
		st := r.srv.Stats()
		if st.ClientConnectionsSetupSucceeded != before.ClientConnectionsSetupSucceeded {
			t.Errorf("%d hostile clients authenticated", st.ClientConnectionsSetupSucceeded-before.ClientConnectionsSetupSucceeded)
		}
		r.waitIdle(t, 1) // the bystander
		checkBystander(t)
		r.checkServes(t)
		r.waitIdle(t, 1)
	}

	t.Run("random bytes", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(seed, 1))
		before := r.srv.Stats()
		const n = 40
		var wg sync.WaitGroup
		for i := range n {
			junk := make([]byte, 1+rng.IntN(400))
			for j := range junk {
				junk[j] = byte(rng.Uint32())
			}
			readFirst := rng.IntN(2) == 0
			wg.Add(1)
			go func() { // one hostile client; ends when the listener closes it
				defer wg.Done()
				nc, err := net.DialTimeout("tcp", r.addr, rigDeadline)
				if err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
				defer nc.Close()
				if readFirst {
					_ = nc.SetReadDeadline(time.Now().Add(rigDeadline))
					if _, err := wire.NewConn(nc).ReadPacket(); err != nil {
						t.Errorf("client %d: reading the handshake: %v", i, err)
						return
					}
				}
				if _, err := nc.Write(junk); err != nil {
					return // already closed by the listener
				}
				if _, err := notAuthenticated(nc, fmt.Sprintf("client %d (%d random bytes)", i, len(junk))); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		after(t, before, n)
	})

	t.Run("truncated handshake response", func(t *testing.T) {
		nc := dialRaw(t, r.addr)
		hs := readGreeting(t, wire.NewConn(nc))
		nc.Close()
		full := handshakeResponse(hs, rigUser, "not-the-password")
		before := r.srv.Stats()
		var n int64
		for cut := 0; cut < len(full); cut += 1 + cut/8 {
			// Twice: a complete packet with a truncated body, then the
			// full length announced and the body cut short.
			for _, announce := range []bool{false, true} {
				nc := dialRaw(t, r.addr)
				readGreeting(t, wire.NewConn(nc))
				msg := packet(1, full[:cut])
				if announce {
					msg = append(packetHeader(1, len(full)), full[:cut]...)
				}
				if _, err := nc.Write(msg); err != nil {
					t.Fatal(err)
				}
				if announce {
					nc.(*net.TCPConn).CloseWrite()
				}
				mustNotAuthenticate(t, nc, fmt.Sprintf("response cut at %d of %d bytes (announced full: %v)", cut, len(full), announce))
				nc.Close()
				n++
			}
		}
		after(t, before, n)
	})

	t.Run("wrong sequence ids", func(t *testing.T) {
		before := r.srv.Stats()
		var n int64
		for _, seq := range []byte{0, 2, 3, 200, 255} {
			// The right password: only the sequence id is wrong.
			nc := dialRaw(t, r.addr)
			hs := readGreeting(t, wire.NewConn(nc))
			if _, err := nc.Write(packet(seq, handshakeResponse(hs, rigUser, rigPass))); err != nil {
				t.Fatal(err)
			}
			mustNotAuthenticate(t, nc, fmt.Sprintf("handshake response with sequence id %d", seq))
			n++
		}
		// An auth-switch response with the wrong sequence id: the client
		// asks for a plugin the listener does not know, so it switches.
		nc := dialRaw(t, r.addr)
		c := wire.NewConn(nc)
		hs := readGreeting(t, c)
		resp := &wire.HandshakeResponse{
			Capabilities:  wire.ClientProtocol41 | wire.ClientSecureConnection | wire.ClientPluginAuth | wire.ClientLongPassword,
			MaxPacketSize: 1 << 24, Charset: wire.CharsetUTF8MB4GeneralCI, User: rigUser,
			AuthResponse: []byte("whatever"), AuthPlugin: "no_such_plugin",
		}
		c.SetSeq(1)
		if err := c.WritePacketFlush(wire.AppendHandshakeResponse(nil, resp)); err != nil {
			t.Fatal(err)
		}
		p, err := c.ReadPacket()
		if err != nil || len(p) == 0 || p[0] != 0xfe {
			t.Fatalf("expected an auth switch request, got %q, %v", p, err)
		}
		if _, err := nc.Write(packet(7, wire.ScrambleNativePassword(hs.AuthData, rigPass))); err != nil {
			t.Fatal(err)
		}
		mustNotAuthenticate(t, nc, "auth switch response with sequence id 7")
		n++
		after(t, before, n)
	})

	t.Run("oversized handshake packet", func(t *testing.T) {
		before := r.srv.Stats()
		var n int64
		for _, size := range []int{hostileMaxPacket + 1, 1 << 20, wire.MaxChunk} {
			nc := dialRaw(t, r.addr)
			readGreeting(t, wire.NewConn(nc))
			if _, err := nc.Write(packetHeader(1, size)); err != nil {
				t.Fatal(err)
			}
			mustNotAuthenticate(t, nc, fmt.Sprintf("a %d-byte handshake response announced", size))
			n++
		}
		after(t, before, n)
	})

	t.Run("clients that never speak", func(t *testing.T) {
		before := r.srv.Stats()
		const n = 30
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() { // one silent client; ends when the listener closes it
				defer wg.Done()
				nc, err := net.DialTimeout("tcp", r.addr, rigDeadline)
				if err != nil {
					t.Errorf("silent client %d: %v", i, err)
					return
				}
				defer nc.Close()
				if _, err := notAuthenticated(nc, fmt.Sprintf("silent client %d", i)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		after(t, before, n)
	})

	t.Run("slow handshake", func(t *testing.T) {
		// A valid response, one byte at a time, slower than the handshake
		// timeout allows for the whole: the timeout bounds the handshake,
		// not each read.
		before := r.srv.Stats()
		nc := dialRaw(t, r.addr)
		hs := readGreeting(t, wire.NewConn(nc))
		msg := packet(1, handshakeResponse(hs, rigUser, rigPass))
		for i := 0; i < len(msg); i++ {
			if _, err := nc.Write(msg[i : i+1]); err != nil {
				break // closed by the listener: expected
			}
			time.Sleep(20 * time.Millisecond)
		}
		mustNotAuthenticate(t, nc, "slow handshake")
		after(t, before, 1)
	})
}

// TestOversizedHandshakeClosedAtOnce: a client that announces a large
// packet before authenticating is refused as soon as the header arrives,
// without the listener waiting for (or making room for) the bytes. The
// handshake timeout here is longer than the test's wait, so only the size
// check can close the client in time.
func TestOversizedHandshakeClosedAtOnce(t *testing.T) {
	db := startRigDB(t)
	r := startRig(t, db, withRigServer(func(s *proxy.Server) { s.HandshakeTimeout = 10 * time.Minute }))
	before := r.srv.Stats()
	const n = 8
	for i := range n {
		nc := dialRaw(t, r.addr)
		readGreeting(t, wire.NewConn(nc))
		if _, err := nc.Write(packetHeader(1, wire.MaxChunk-1)); err != nil {
			t.Fatal(err)
		}
		e := mustNotAuthenticate(t, nc, fmt.Sprintf("client %d announcing a 16 MiB handshake response", i))
		if e == nil || e.Code != wire.ErNetPacketTooLarge {
			t.Errorf("client %d: error packet %v, want %d (packet too large)", i, e, wire.ErNetPacketTooLarge)
		}
	}
	r.waitStat(t, "ClientConnectionsSetupFailed", func(s proxy.Stats) int64 { return s.ClientConnectionsSetupFailed },
		before.ClientConnectionsSetupFailed+n)
	r.waitIdle(t, 0)
	r.checkServes(t)
}

// TestHostileAfterAuth: authenticated clients that send malformed,
// oversized, mis-sequenced and random packets. Only the offending client is
// closed; bystanders in a transaction, a pinned session and with a
// prepared statement keep their state.
func TestHostileAfterAuth(t *testing.T) {
	db := startRigDB(t)
	seed := rigSeed(t)
	r := startRig(t, db, withRigBackends(6), withRigServer(func(s *proxy.Server) { s.MaxPacketSize = hostileMaxPacket }))
	db.Exec(t, "CREATE TABLE test.marks (id INT AUTO_INCREMENT PRIMARY KEY, who VARCHAR(20))")
	ctx := context.Background()

	// Bystanders, each with session state the storm must not touch.
	good := r.open(t, rigUser, rigPass, "")
	inTx, err := good.Conn(ctx)
	rigMust(t, err)
	defer inTx.Close()
	_, err = inTx.ExecContext(ctx, "BEGIN")
	rigMust(t, err)
	_, err = inTx.ExecContext(ctx, "INSERT INTO marks (who) VALUES ('bystander')")
	rigMust(t, err)
	pinned, err := good.Conn(ctx)
	rigMust(t, err)
	defer pinned.Close()
	_, err = pinned.ExecContext(ctx, "SET @mine = 42")
	rigMust(t, err)
	prepared, err := good.Conn(ctx)
	rigMust(t, err)
	defer prepared.Close()
	stmt, err := prepared.PrepareContext(ctx, "SELECT v FROM items WHERE id = ?")
	rigMust(t, err)
	defer stmt.Close()
	checkBystanders := func(t *testing.T) {
		t.Helper()
		var n, inTrans int
		if err := inTx.QueryRowContext(ctx, "SELECT COUNT(*), @@in_transaction FROM marks WHERE who = 'bystander'").Scan(&n, &inTrans); err != nil || n != 1 || inTrans != 1 {
			t.Fatalf("the bystander in a transaction: its row %d, in transaction %d, %v", n, inTrans, err)
		}
		var mine sql.NullInt64
		if err := pinned.QueryRowContext(ctx, "SELECT @mine").Scan(&mine); err != nil || mine.Int64 != 42 {
			t.Fatalf("the pinned bystander: @mine = %v, %v", mine, err)
		}
		var v int
		if err := stmt.QueryRowContext(ctx, 2).Scan(&v); err != nil || v != 20 {
			t.Fatalf("the bystander's prepared statement: %d, %v", v, err)
		}
	}
	checkBystanders(t)
	base := r.srv.Stats()
	after := func(t *testing.T) {
		t.Helper()
		r.waitBack(t, base)
		checkBystanders(t)
		r.checkServes(t)
		r.waitBack(t, base)
	}

	// send writes one command packet and returns the listener's first
	// answer: the packet, or the error that ended the read.
	send := func(cc *wire.ClientConn, seq byte, payload []byte) ([]byte, error) {
		nc := cc.NetConn()
		_ = nc.SetDeadline(time.Now().Add(rigDeadline))
		defer nc.SetDeadline(time.Time{})
		if _, err := nc.Write(packet(seq, payload)); err != nil {
			return nil, err
		}
		// The answer's sequence id follows the listener's view, not
		// the packet's: read it without checking.
		_, p, err := rawPacket(nc)
		return p, err
	}
	// alive reports whether cc still answers a ping.
	alive := func(cc *wire.ClientConn) bool {
		pctx, cancel := context.WithTimeout(ctx, rigDeadline)
		defer cancel()
		return cc.Ping(pctx) == nil
	}

	t.Run("closing packets", func(t *testing.T) {
		// Packets that break the framing: the listener answers with an
		// error and closes that client.
		before := r.srv.Stats()
		for _, tc := range []struct {
			name    string
			seq     byte
			payload []byte
			code    uint16
			// unread: the listener closes with the packet's bytes
			// unread, so the kernel may reset the connection before
			// the client reads the error packet.
			unread bool
		}{
			{"wrong sequence id", 5, []byte("\x03SELECT 1"), wire.ErNetReadError, false},
			{"wrong sequence id 255", 255, []byte("\x0e"), wire.ErNetReadError, false},
			{"empty packet", 0, nil, wire.ErNetReadError, false},
			{"oversized query", 0, append([]byte{byte(wire.ComQuery)}, []byte("SELECT '"+strings.Repeat("x", hostileMaxPacket)+"'")...), wire.ErNetPacketTooLarge, true},
		} {
			cc := loginRaw(t, r.addr, rigUser, rigPass)
			p, err := send(cc, tc.seq, tc.payload)
			switch {
			case err != nil && tc.unread:
				t.Logf("%s: %v (reset before the error packet was read)", tc.name, err)
			case err != nil || !wire.IsERR(p):
				t.Fatalf("%s: got %q, %v; want an error packet", tc.name, p, err)
			default:
				if e, _ := wire.ParseERR(p); e == nil || e.Code != tc.code {
					t.Errorf("%s: error %v, want code %d", tc.name, e, tc.code)
				}
			}
			if e := readUntilClosed(t, cc.NetConn()); e != nil {
				t.Logf("%s: then %v", tc.name, e)
			}
		}
		// An oversized packet announced in its header alone: refused
		// without waiting for the bytes.
		cc := loginRaw(t, r.addr, rigUser, rigPass)
		if _, err := cc.NetConn().Write(packetHeader(0, wire.MaxChunk)); err != nil {
			t.Fatal(err)
		}
		if e := readUntilClosed(t, cc.NetConn()); e == nil || e.Code != wire.ErNetPacketTooLarge {
			t.Errorf("a 16 MiB header: error %v, want %d", e, wire.ErNetPacketTooLarge)
		}
		r.waitStat(t, "ProtocolErrors", func(s proxy.Stats) int64 { return s.ProtocolErrors }, before.ProtocolErrors+5)
		after(t)
	})

	t.Run("packet at the size limit", func(t *testing.T) {
		// Exactly MaxPacketSize bytes is allowed.
		cc := loginRaw(t, r.addr, rigUser, rigPass)
		q := "SELECT LENGTH('"
		pad := hostileMaxPacket - 1 - len(q) - len("')")
		payload := append([]byte{byte(wire.ComQuery)}, q+strings.Repeat("y", pad)+"')"...)
		if len(payload) != hostileMaxPacket {
			t.Fatalf("payload %d bytes", len(payload))
		}
		cc.ResetSeq()
		if err := cc.WritePacketFlush(payload); err != nil {
			t.Fatal(err)
		}
		cc.Close()
		qctx, cancel := context.WithTimeout(ctx, rigDeadline)
		defer cancel()
		cc = loginRaw(t, r.addr, rigUser, rigPass)
		res, err := cc.Query(qctx, string(payload[1:]))
		if err != nil || len(res.Rows) != 1 || string(res.Rows[0][0]) != fmt.Sprint(pad) {
			t.Fatalf("a query of exactly MaxPacketSize bytes: %v, %v", res, err)
		}
		cc.Close() // it pinned its session (a statement too long to classify)
		after(t)
	})

	t.Run("malformed commands", func(t *testing.T) {
		// Well-framed but malformed or unsupported commands: an error
		// packet, and the client stays usable, unless the command is one
		// whose failure ends the session (COM_CHANGE_USER).
		for _, tc := range []struct {
			name    string
			payload []byte
			closes  bool
		}{
			{"COM_SLEEP", []byte{byte(wire.ComSleep)}, false},
			{"COM_SHUTDOWN", []byte{byte(wire.ComShutdown), 0}, false},
			{"COM_PROCESS_KILL", []byte{byte(wire.ComProcessKill), 1, 0, 0, 0}, false},
			{"COM_BINLOG_DUMP", []byte{byte(wire.ComBinlogDump), 4, 0, 0, 0, 0, 0, 1, 0, 0, 0}, false},
			{"COM_REGISTER_SLAVE", []byte{byte(wire.ComRegisterSlave), 1, 2, 3}, false},
			{"unknown command 0x7f", []byte{0x7f, 'x'}, false},
			{"command 0xff", []byte{0xff}, false},
			{"COM_STMT_EXECUTE too short", []byte{byte(wire.ComStmtExecute), 1}, false},
			{"COM_STMT_EXECUTE of an unknown statement", wire.AppendStmtExecute(nil, &wire.StmtExecute{StatementID: 0xdeadbeef, Iterations: 1}), false},

			{"COM_STMT_RESET of an unknown statement", wire.AppendStmtCommand(nil, wire.ComStmtReset, 77), false},
			{"COM_STMT_FETCH of an unknown statement", wire.AppendStmtFetch(nil, 77, 10), false},
			{"COM_STMT_PREPARE of garbage", append([]byte{byte(wire.ComStmtPrepare)}, "\x00\x01 SELEC FROM ?"...), false},
			{"COM_QUERY of garbage", append([]byte{byte(wire.ComQuery)}, "\xff\xfe)(*&"...), false},
			{"COM_QUERY empty", []byte{byte(wire.ComQuery)}, false},
			{"COM_INIT_DB of a missing schema", append([]byte{byte(wire.ComInitDB)}, "no\x00such"...), false},
			{"COM_FIELD_LIST of garbage", append([]byte{byte(wire.ComFieldList)}, "\x00\x00"...), false},
			{"COM_SET_OPTION too short", []byte{byte(wire.ComSetOption)}, false},
			{"COM_SET_OPTION unknown option", []byte{byte(wire.ComSetOption), 9, 0}, false},
			{"COM_CHANGE_USER truncated", []byte{byte(wire.ComChangeUser), 'x'}, true},
		} {
			before := r.srv.Stats()
			cc := loginRaw(t, r.addr, rigUser, rigPass)
			p, err := send(cc, 0, tc.payload)
			if err != nil {
				t.Fatalf("%s: no answer: %v", tc.name, err)
			}
			if !wire.IsERR(p) {
				// Some commands may legitimately answer otherwise
				// (COM_FIELD_LIST of nothing); drain by closing.
				t.Logf("%s: answered %q", tc.name, p[:min(len(p), 40)])
				cc.Close()
				continue
			}
			e, _ := wire.ParseERR(p)
			t.Logf("%s: %v", tc.name, e)
			if tc.closes {
				readUntilClosed(t, cc.NetConn())
			} else if !alive(cc) {
				t.Errorf("%s: the client was closed; it should stay usable after an error", tc.name)
			}
			cc.Close()
			if st := r.srv.Stats(); st.ProtocolErrors != before.ProtocolErrors {
				t.Errorf("%s: counted as a protocol error", tc.name)
			}
		}
		// Commands that have no answer: malformed ones are ignored and
		// the client stays usable.
		for _, tc := range []struct {
			name    string
			payload []byte
		}{
			{"COM_STMT_CLOSE too short", []byte{byte(wire.ComStmtClose)}},
			{"COM_STMT_CLOSE of an unknown statement", wire.AppendStmtCommand(nil, wire.ComStmtClose, 99)},
			{"COM_STMT_SEND_LONG_DATA too short", []byte{byte(wire.ComStmtSendLongData), 1}},
			{"COM_STMT_SEND_LONG_DATA to an unknown statement", append(wire.AppendStmtCommand(nil, wire.ComStmtSendLongData, 99), 0, 0, 'x')},
		} {
			cc := loginRaw(t, r.addr, rigUser, rigPass)
			if _, err := cc.NetConn().Write(packet(0, tc.payload)); err != nil {
				t.Fatal(err)
			}
			if !alive(cc) {
				t.Errorf("%s: the client was closed; it should stay usable", tc.name)
			}
			cc.Close()
		}
		after(t)
	})

	t.Run("random packets", func(t *testing.T) {
		// Seeded random command packets from concurrent authenticated
		// clients, sent without waiting for the answers, then the
		// client vanishes. Nothing may hang, crash or leak.
		// (COM_CHANGE_USER and COM_QUIT, which end the session, are left
		// to the malformed-command cases.)
		const clients, sessions, packets = 8, 4, 40
		commands := []byte{byte(wire.ComQuery), byte(wire.ComStmtPrepare), byte(wire.ComStmtExecute), byte(wire.ComStmtFetch),
			byte(wire.ComStmtClose), byte(wire.ComStmtReset), byte(wire.ComStmtSendLongData), byte(wire.ComFieldList),
			byte(wire.ComInitDB), byte(wire.ComSetOption), byte(wire.ComPing),
			byte(wire.ComResetConnection), byte(wire.ComStatistics), 0x00, 0x08, 0x12, 0x20, 0xfa, 0xff}
		var sent atomic.Int64
		// fuzzSession logs in as fuzzing client i, sends it random
		// packets (some of them mutated executes of a real statement)
		// and vanishes.
		fuzzSession := func(i int, rng *rand.Rand) {
			cctx, cancel := context.WithTimeout(ctx, rigDeadline)
			defer cancel()
			cc, err := wire.Dial(cctx, r.addr, &wire.ClientConfig{User: rigUser, Password: rigPass, Database: "test"})
			if err != nil {
				t.Errorf("fuzz client %d: %v", i, err)
				return
			}
			defer cc.Close()
			// A real prepared statement, whose execute packets get
			// mutated below.
			st, err := cc.Prepare(cctx, "SELECT v FROM items WHERE id = ?")
			if err != nil {
				t.Errorf("fuzz client %d: prepare: %v", i, err)
				return
			}
			exec := wire.AppendStmtExecute(nil, &wire.StmtExecute{StatementID: st.ID, Iterations: 1,
				NullBitmap: []byte{0}, NewParamsBound: true, ParamTypes: []byte{3, 0}, Values: binary.LittleEndian.AppendUint32(nil, 2)})
			_ = cc.NetConn().SetWriteDeadline(time.Now().Add(rigDeadline))
			for range packets {
				var p []byte
				if rng.IntN(3) == 0 {
					p = append([]byte(nil), exec...)
					for range 1 + rng.IntN(3) {
						p[1+rng.IntN(len(p)-1)] = byte(rng.Uint32())
					}
					p = p[:1+rng.IntN(len(p))]
				} else {
					p = make([]byte, 1+rng.IntN(120))
					p[0] = commands[rng.IntN(len(commands))]
					for j := 1; j < len(p); j++ {
						p[j] = byte(rng.Uint32())
					}
				}
				seq := byte(0)
				if rng.IntN(20) == 0 {
					seq = byte(rng.Uint32())
				}
				if _, err := cc.NetConn().Write(packet(seq, p)); err != nil {
					return // closed by the listener
				}
				sent.Add(1)
			}
		}
		var wg sync.WaitGroup
		for i := range clients {
			rng := rand.New(rand.NewPCG(seed, uint64(100+i)))
			wg.Add(1)
			go func() { // one fuzzing client, session after session
				defer wg.Done()
				for range sessions {
					fuzzSession(i, rng)
				}
			}()
		}
		wg.Wait()
		t.Logf("%d random packets sent by %d clients", sent.Load(), clients)
		after(t)
	})
}

// TestIdleAuthenticatedClients: clients that authenticate and then say
// nothing are closed by IdleClientTimeout; one that idles inside a
// transaction has it rolled back and its backend returned clean.
func TestIdleAuthenticatedClients(t *testing.T) {
	db := startRigDB(t)
	db.Exec(t, "CREATE TABLE test.idle_marks (id INT AUTO_INCREMENT PRIMARY KEY, who VARCHAR(20))")
	r := startRig(t, db, withRigServer(func(s *proxy.Server) { s.IdleClientTimeout = 300 * time.Millisecond }))
	before := r.srv.Stats()
	const n = 10
	ctx, cancel := context.WithTimeout(context.Background(), rigDeadline)
	defer cancel()
	var conns []*wire.ClientConn
	for i := range n {
		cc := loginRaw(t, r.addr, rigUser, rigPass)
		if i == 0 {
			for _, q := range []string{"BEGIN", "INSERT INTO idle_marks (who) VALUES ('idler')"} {
				if _, err := cc.Exec(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
		}
		conns = append(conns, cc)
	}
	for i, cc := range conns {
		if e := readUntilClosed(t, cc.NetConn()); e != nil {
			t.Logf("idle client %d closed with %v", i, e)
		}
	}
	r.waitStat(t, "ClientConnectionsIdleTimeout", func(s proxy.Stats) int64 { return s.ClientConnectionsIdleTimeout },
		before.ClientConnectionsIdleTimeout+n)
	r.waitIdle(t, 0)
	if got := db.QueryInt(t, "SELECT COUNT(*) FROM test.idle_marks"); got != 0 {
		t.Errorf("the idle client's transaction was committed: %d rows", got)
	}
	if st := r.srv.Stats().Pool; st.Rollbacks < 1 {
		t.Errorf("pool Rollbacks = %d, want the idle transaction rolled back", st.Rollbacks)
	}
	r.checkServes(t)
}

// TestConnectionFlood: a flood of connections beyond MaxClientConnections.
// Exactly the free slots are admitted, every other client is refused with
// error 1040 (counted in ClientConnectionsRefused), and the clients already
// connected keep running queries through the flood without an error.
func TestConnectionFlood(t *testing.T) {
	db := startRigDB(t)
	const maxClients, workers, flood = 12, 4, 200
	r := startRig(t, db, withRigServer(func(s *proxy.Server) {
		s.MaxClientConnections = maxClients
		// Admitted flood clients keep their slot until the test lets go.
		s.HandshakeTimeout = 10 * time.Minute
	}))
	good := r.open(t, rigUser, rigPass, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var conns []*sql.Conn
	for range workers {
		c, err := good.Conn(ctx)
		rigMust(t, err)
		defer c.Close()
		conns = append(conns, c)
		var one int
		rigMust(t, c.QueryRowContext(ctx, "SELECT 1").Scan(&one))
	}
	var queries, workerErrs atomic.Int64
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() { // a connected client working through the flood; ends with ctx
			defer wg.Done()
			for ctx.Err() == nil {
				var v int
				err := c.QueryRowContext(ctx, "SELECT v FROM items WHERE id = ?", 1+i%3).Scan(&v)
				switch {
				case ctx.Err() != nil:
				case err != nil:
					workerErrs.Add(1)
					t.Errorf("worker %d during the flood: %v", i, err)
				default:
					queries.Add(1)
				}
			}
		}()
	}

	for round := range 2 {
		before := r.srv.Stats()
		queriesBefore := queries.Load()
		var refused, admitted atomic.Int64
		held := make(chan net.Conn, flood)
		var fwg sync.WaitGroup
		for i := range flood {
			fwg.Add(1)
			go func() { // one flood client
				defer fwg.Done()
				nc, err := net.DialTimeout("tcp", r.addr, rigDeadline)
				if err != nil {
					t.Errorf("flood client %d: %v", i, err)
					return
				}
				_ = nc.SetReadDeadline(time.Now().Add(rigDeadline))
				c := wire.NewConn(nc)
				p, err := c.ReadPacket()
				switch {
				case err != nil:
					t.Errorf("flood client %d: no first packet: %v", i, err)
					nc.Close()
				case wire.IsERR(p):
					e, _ := wire.ParseERR(p)
					if e == nil || e.Code != wire.ErConCountError {
						t.Errorf("flood client %d: error %v, want 1040", i, e)
					}
					refused.Add(1)
					if _, err := c.ReadPacket(); err == nil {
						t.Errorf("flood client %d: the refused connection stays open", i)
					}
					nc.Close()
				default:
					admitted.Add(1)
					held <- nc
				}
			}()
		}
		fwg.Wait()
		close(held)
		if got := admitted.Load(); got != maxClients-workers {
			t.Errorf("round %d: %d flood clients admitted, want the %d free slots", round, got, maxClients-workers)
		}
		if got := refused.Load(); got != flood-(maxClients-workers) {
			t.Errorf("round %d: %d refused, want %d", round, got, flood-(maxClients-workers))
		}
		// A real client while the listener is full: a clean 1040.
		full, err := sql.Open("mysql", r.dsn(rigUser, rigPass, ""))
		rigMust(t, err)
		if err := full.PingContext(ctx); mysqlErrno(err) != wire.ErConCountError {
			t.Errorf("round %d: go-sql-driver while full: %v, want error 1040", round, err)
		}
		full.Close()
		r.waitStat(t, "ClientConnectionsRefused", func(s proxy.Stats) int64 { return s.ClientConnectionsRefused },
			before.ClientConnectionsRefused+refused.Load()+1)
		// The admitted flood clients go away, half with bytes that are
		// not the protocol, half with a malformed handshake response.
		i := 0
		for nc := range held {
			if i%2 == 0 {
				nc.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
			} else {
				nc.Write(packet(1, []byte{0, 0, 0, 0}))
			}
			nc.Close()
			i++
		}
		r.waitIdle(t, workers)
		waitFor(t, "the workers' queries after the flood", func() (bool, string) {
			return queries.Load() > queriesBefore+10, fmt.Sprintf("%d queries", queries.Load()-queriesBefore)
		})
	}
	cancel()
	wg.Wait()
	if workerErrs.Load() != 0 {
		t.Fatalf("%d worker queries failed during the floods", workerErrs.Load())
	}
	t.Logf("workers ran %d queries through 2 floods of %d connections", queries.Load(), flood)
	for _, c := range conns {
		c.Close()
	}
	r.waitIdle(t, 0)
	r.checkServes(t)
}
