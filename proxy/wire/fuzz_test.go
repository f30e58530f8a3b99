package wire_test

import (
	"bytes"
	"testing"

	"github.com/rdsmux/rdsmux/proxy/wire"
	"github.com/stretchr/testify/require"
)

// Seed packets shared by the fuzz targets and the seed-corpus writer.
func seedHandshake() []byte {
	return wire.AppendHandshake(nil, &wire.Handshake{ServerVersion: "5.5.5-10.11.19-MariaDB", ConnectionID: 7,
		AuthData: []byte("abcdefghijklmnopqrst"), Capabilities: wire.DefaultServerCapabilities | wire.ClientSSL,
		Charset: 45, Status: wire.StatusAutocommit, AuthPlugin: wire.AuthNativePassword})
}

func seedResponse() []byte {
	return wire.AppendHandshakeResponse(nil, &wire.HandshakeResponse{Capabilities: wire.DefaultClientCapabilities,
		MaxPacketSize: 1 << 24, Charset: 45, User: "app", AuthResponse: bytes.Repeat([]byte{7}, 20), Database: "test",
		AuthPlugin: wire.AuthNativePassword, Attrs: []wire.Attr{{Key: "_client_name", Value: "x"}}})
}

func seedOK() []byte {
	return wire.AppendOK(nil, wire.DefaultClientCapabilities, &wire.OK{AffectedRows: 3, LastInsertID: 300,
		Status: wire.StatusAutocommit | wire.StatusSessionStateChanged, Warnings: 1, Info: []byte("Rows matched: 3"),
		SessionState: []byte{1, 5, 4, 't', 'e', 's', 't'}})
}

func FuzzParseHandshake(f *testing.F) {
	f.Add(seedHandshake())
	f.Add(wire.AppendERR(nil, wire.ClientProtocol41, wire.NewError(1040, "08004", "Too many connections")))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := wire.ParseHandshake(data)
		if err != nil {
			return
		}
		h2, err := wire.ParseHandshake(wire.AppendHandshake(nil, h))
		require.NoError(t, err, "re-parse: %v", err)
		require.Equal(t, h.ServerVersion, h2.ServerVersion, "round trip: %+v != %+v", h2, h)
		require.Equal(t, h.ConnectionID, h2.ConnectionID, "round trip: %+v != %+v", h2, h)
		require.Equal(t, h.Capabilities&0xffff, h2.Capabilities&0xffff, "round trip: %+v != %+v", h2, h)
	})
}

func FuzzParseHandshakeResponse(f *testing.F) {
	f.Add(seedResponse())
	f.Add(wire.AppendSSLRequest(nil, wire.DefaultClientCapabilities|wire.ClientSSL, 1<<24, 45))
	f.Add(wire.AppendChangeUser(nil, &wire.HandshakeResponse{Capabilities: wire.DefaultClientCapabilities, User: "u",
		AuthResponse: []byte("0123456789abcdefghij"), Database: "db", Charset: 45, AuthPlugin: wire.AuthNativePassword}))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = wire.IsSSLRequest(data)
		_, _, _, _ = wire.ParseSSLRequest(data)
		if cu, err := wire.ParseChangeUser(data, wire.DefaultClientCapabilities); err == nil && len(cu.AuthResponse) < 256 {
			cu2, err := wire.ParseChangeUser(wire.AppendChangeUser(nil, cu), wire.DefaultClientCapabilities)
			require.NoError(t, err, "COM_CHANGE_USER round trip: %+v %v", cu2, err)
			require.Equal(t, cu.User, cu2.User, "COM_CHANGE_USER round trip: %+v %v", cu2, err)
			require.Equal(t, cu.Database, cu2.Database, "COM_CHANGE_USER round trip: %+v %v", cu2, err)
		}
		r, err := wire.ParseHandshakeResponse(data)
		if err != nil {
			return
		}
		if r.Capabilities&wire.ClientPluginAuthLenencClientData == 0 && len(r.AuthResponse) > 255 {
			return // not representable with a one-byte length
		}
		r2, err := wire.ParseHandshakeResponse(wire.AppendHandshakeResponse(nil, r))
		require.NoError(t, err, "re-parse: %v", err)
		require.Equal(t, r.User, r2.User, "round trip: %+v != %+v", r2, r)
		require.True(t, bytes.Equal(r2.AuthResponse, r.AuthResponse), "round trip: %+v != %+v", r2, r)
	})
}

func FuzzParseOKERREOF(f *testing.F) {
	f.Add(seedOK(), uint32(wire.DefaultClientCapabilities))
	f.Add(wire.AppendOK(nil, wire.ClientProtocol41, &wire.OK{Info: []byte("x")}), uint32(wire.ClientProtocol41))
	f.Add(wire.AppendERR(nil, wire.ClientProtocol41, wire.NewError(1045, "28000", "Access denied")), uint32(0))
	f.Add(wire.AppendEOF(nil, wire.EOF{Warnings: 2, Status: 0x22}), uint32(0))
	f.Add([]byte{0xfe, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8}, uint32(wire.ClientProtocol41))
	f.Fuzz(func(t *testing.T, data []byte, caps uint32) {
		var ok wire.OK
		if err := wire.ParseOK(data, wire.Capability(caps), &ok); err == nil {
			for rest := ok.SessionState; len(rest) > 0; {
				typ, v, r, err := wire.NextSessionState(rest)
				if err != nil {
					break
				}
				switch typ {
				case wire.TrackSystemVariables:
					_, _, _ = wire.ParseTrackedVariable(v)
				case wire.TrackSchema:
					_, _ = wire.ParseTrackedSchema(v)
				}
				rest = r
			}
			var ok2 wire.OK
			c := wire.Capability(caps)
			err := wire.ParseOK(wire.AppendOK(nil, c, &ok), c, &ok2)
			require.NoError(t, err, "re-parse: %v", err)
			require.Equal(t, ok.AffectedRows, ok2.AffectedRows, "round trip: %+v != %+v", ok2, ok)
			require.Equal(t, ok.LastInsertID, ok2.LastInsertID, "round trip: %+v != %+v", ok2, ok)
		}
		if e, err := wire.ParseERR(data); err == nil {
			_ = e.Error()
		}
		_, _ = wire.ParseEOF(data)
		_, _, _, _ = wire.ReadLenEncString(data)
	})
}

func FuzzParseColumn(f *testing.F) {
	f.Add(wire.AppendColumn(nil, &wire.Column{Schema: "test", Table: "t", OrgTable: "t", Name: "id", OrgName: "id",
		Charset: 63, Length: 11, Type: wire.TypeLong, Flags: wire.FlagNotNull | wire.FlagPriKey}))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := wire.ParseColumn(data)
		if err != nil {
			return
		}
		c2, err := wire.ParseColumn(wire.AppendColumn(nil, c))
		require.NoError(t, err, "round trip: %+v %v", c2, err)
		require.Equal(t, c.Name, c2.Name, "round trip: %+v %v", c2, err)
		require.Equal(t, c.Type, c2.Type, "round trip: %+v %v", c2, err)
		_, _ = wire.DecodeBinaryRow(nil, append([]byte{0, 0}, data...), []*wire.Column{c, c})
	})
}

// FuzzFramer feeds a response, split into packets by one length byte
// each, to a Framer and an EOFTranslator: errors are fine, panics and
// runaway states are not.
func FuzzFramer(f *testing.F) {
	var stream []byte
	add := func(p []byte) { stream = append(append(stream, byte(len(p))), p...) }
	add([]byte{2})
	add(wire.AppendColumn(nil, &wire.Column{Name: "a", Type: wire.TypeLong}))
	add(wire.AppendColumn(nil, &wire.Column{Name: "b", Type: wire.TypeVarString}))
	add([]byte{1, '1', 0xfb})
	add(wire.AppendOKAsEOF(nil, wire.ClientProtocol41, &wire.OK{Status: wire.StatusMoreResultsExist}))
	add(wire.AppendOK(nil, wire.ClientProtocol41, &wire.OK{AffectedRows: 1}))
	f.Add(stream, byte(wire.ModeText), true)
	f.Add(stream, byte(wire.ModeBinary), false)
	var prep []byte
	p := wire.AppendPrepareOK(nil, wire.PrepareOK{StatementID: 1, NumColumns: 1, NumParams: 1})
	prep = append(append(prep, byte(len(p))), p...)
	for i := 0; i < 2; i++ {
		c := wire.AppendColumn(nil, &wire.Column{Name: "?"})
		prep = append(append(prep, byte(len(c))), c...)
		e := wire.AppendEOF(nil, wire.EOF{})
		prep = append(append(prep, byte(len(e))), e...)
	}
	f.Add(prep, byte(wire.ModePrepare), false)
	f.Fuzz(func(t *testing.T, data []byte, mode byte, deprecate bool) {
		var fr wire.Framer
		fr.Reset(wire.Mode(mode%6), deprecate)
		tr := wire.NewEOFTranslator(deprecate, !deprecate)
		for len(data) > 0 && !fr.Done() {
			n := int(data[0])
			data = data[1:]
			if n > len(data) {
				n = len(data)
			}
			k, err := fr.Next(data[:n])
			if err != nil {
				return
			}
			_, _ = tr.Translate(&fr, k, data[:n])
			data = data[n:]
		}
	})
}

func FuzzStatementPackets(f *testing.F) {
	e := &wire.StmtExecute{StatementID: 9, Iterations: 1}
	_ = wire.BindParams(e, []any{int64(1), "x", nil, 2.5})
	f.Add(wire.AppendStmtExecute(nil, e), 4)
	f.Add(wire.AppendStmtFetch(nil, 9, 10), 0)
	f.Add(wire.AppendPrepareOK(nil, wire.PrepareOK{StatementID: 3, NumColumns: 2, NumParams: 1}), 1)
	f.Add(wire.AppendAuthSwitch(nil, wire.AuthCachingSHA2Password, []byte("01234567890123456789")), 0)
	f.Fuzz(func(t *testing.T, data []byte, numParams int) {
		numParams %= 1 << 16
		_, _ = wire.ParsePrepareOK(data)
		_, _ = wire.ParseAuthSwitch(data)
		if id, err := wire.StatementID(data); err == nil {
			d := append([]byte(nil), data...)
			err := wire.SetStatementID(d, id+1)
			require.NoError(t, err)
			id2, _ := wire.StatementID(d)
			require.Equal(t, id+1, id2, "SetStatementID did not stick")
		}
		if ex, err := wire.ParseStmtExecute(data, numParams); err == nil {
			types := make([]byte, 2*max(numParams, 0))
			out, err := wire.WithParamTypes(nil, data, numParams, types)
			require.NoError(t, err)
			ex2, err := wire.ParseStmtExecute(out, numParams)
			require.NoError(t, err, "WithParamTypes round trip: %v", err)
			require.Equal(t, ex.StatementID, ex2.StatementID, "WithParamTypes round trip: %v", err)
			require.True(t, bytes.Equal(ex2.Values, ex.Values), "WithParamTypes round trip: %v", err)
		}
	})
}

// FuzzReadPacket reads packets from an arbitrary byte stream.
func FuzzReadPacket(f *testing.F) {
	f.Add([]byte{3, 0, 0, 0, 'a', 'b', 'c', 0, 0, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0, 1, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := wire.NewConn(&fakeConn{r: bytes.NewReader(data)})
		c.SetMaxPacketSize(1 << 16)
		for i := 0; i < 100; i++ {
			if _, err := c.ReadPacket(); err != nil {
				return
			}
		}
	})
}
