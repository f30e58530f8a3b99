package wire_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/rdsmux/rdsmux/proxy/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLenEnc(t *testing.T) {
	for _, v := range []uint64{0, 250, 251, 0xffff, 0x10000, 0xffffff, 0x1000000, 1<<64 - 1} {
		b := wire.AppendLenEncInt(nil, v)
		got, null, n, err := wire.ReadLenEncInt(b)
		assert.False(t, err != nil || null || n != len(b) || got != v, "%d: got %d null=%v n=%d err=%v", v, got, null, n, err)
	}
	_, null, _, _ := wire.ReadLenEncInt([]byte{0xfb})
	assert.True(t, null, "0xfb is not NULL")
	for _, bad := range [][]byte{{}, {0xff}, {0xfc, 1}, {0xfd, 1, 2}, {0xfe, 1}, {5, 'a'}} {
		_, _, _, err := wire.ReadLenEncString(bad)
		assert.ErrorIs(t, err, wire.ErrMalformed, "%x: err = %v", bad, err)
	}
}

func TestOKRoundTrip(t *testing.T) {
	for _, caps := range []wire.Capability{wire.ClientProtocol41, wire.DefaultClientCapabilities} {
		in := &wire.OK{AffectedRows: 70000, LastInsertID: 1 << 40, Status: wire.StatusInTrans | wire.StatusSessionStateChanged,
			Warnings: 3, Info: []byte("info"), SessionState: []byte{0, 7, 3, 'a', 'b', 'c', 2, 'o', 'n'}}
		var out wire.OK
		err := wire.ParseOK(wire.AppendOK(nil, caps, in), caps, &out)
		require.NoError(t, err)
		require.Equal(t, in.AffectedRows, out.AffectedRows, "caps %#x: %+v", caps, out)
		require.Equal(t, in.LastInsertID, out.LastInsertID, "caps %#x: %+v", caps, out)
		require.Equal(t, "info", string(out.Info), "caps %#x: %+v", caps, out)
		require.Equal(t, uint16(3), out.Warnings, "caps %#x: %+v", caps, out)
		if caps&wire.ClientSessionTrack != 0 {
			typ, v, rest, err := wire.NextSessionState(out.SessionState)
			require.NoError(t, err, "session state: %v %v %q", typ, err, rest)
			require.Equal(t, wire.TrackSystemVariables, typ, "session state: %v %v %q", typ, err, rest)
			require.Len(t, rest, 0, "session state: %v %v %q", typ, err, rest)
			name, val, err := wire.ParseTrackedVariable(v)
			require.NoError(t, err, "variable %q=%q %v", name, val, err)
			require.Equal(t, "abc", string(name), "variable %q=%q %v", name, val, err)
			require.Equal(t, "on", string(val), "variable %q=%q %v", name, val, err)
		}
	}
	e := wire.NewError(wire.ErAccessDenied, wire.StateAccessDenied, "no %s", "way")
	got, err := wire.ParseERR(wire.AppendERR(nil, wire.ClientProtocol41, e))
	require.NoError(t, err, "%+v %v", got, err)
	require.Equal(t, *e, *got, "%+v %v", got, err)
	require.Equal(t, "Error 1045 (28000): no way", got.Error(), "%+v %v", got, err)
	got, _ = wire.ParseERR(wire.AppendERR(nil, 0, e))
	require.Equal(t, wire.StateGeneral, got.State, "pre-4.1 ERR: %+v", got)
	require.Equal(t, "no way", got.Message, "pre-4.1 ERR: %+v", got)
}

func TestAuthScrambles(t *testing.T) {
	nonce := []byte("0123456789abcdefghij")
	assert.True(t, wire.VerifyNativePassword(nonce, wire.ScrambleNativePassword(nonce, "pw"), wire.NativePasswordHash("pw")), "native: own scramble rejected")
	assert.False(t, wire.VerifyNativePassword(nonce, wire.ScrambleNativePassword(nonce, "pw"), wire.NativePasswordHash("px")), "native: wrong password accepted")
	assert.True(t, wire.VerifySHA2Scramble(nonce, wire.ScrambleSHA2Password(nonce, "pw"), wire.SHA2PasswordHash("pw")), "sha2: own scramble rejected")
	assert.False(t, wire.VerifySHA2Scramble(append([]byte("x"), nonce[1:]...), wire.ScrambleSHA2Password(nonce, "pw"), wire.SHA2PasswordHash("pw")), "sha2: scramble for another nonce accepted")
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	pemKey, _ := wire.MarshalPublicKeyPEM(&key.PublicKey)
	pub, err := wire.ParsePublicKeyPEM(pemKey)
	require.NoError(t, err)
	ct, err := wire.EncryptPasswordRSA("sëcret", nonce, pub)
	require.NoError(t, err)
	pw, err := wire.DecryptPasswordRSA(ct, nonce, key)
	require.NoError(t, err, "%q %v", pw, err)
	require.Equal(t, "sëcret", pw, "%q %v", pw, err)
}

func TestStmtExecuteRewrite(t *testing.T) {
	e := &wire.StmtExecute{StatementID: 5, Iterations: 1}
	require.NoError(t, wire.BindParams(e, []any{int64(-1), "abc", nil}))
	full := wire.AppendStmtExecute(nil, e)
	// The same execution without types, as a client sends it the second time.
	noTypes := wire.AppendStmtExecute(nil, &wire.StmtExecute{StatementID: 5, Iterations: 1, NullBitmap: e.NullBitmap, Values: e.Values})
	rebuilt, err := wire.WithParamTypes(nil, noTypes, 3, e.ParamTypes)
	require.NoError(t, err)
	require.True(t, bytes.Equal(rebuilt, full), "rebuilt %x\nwant    %x", rebuilt, full)
	err = wire.SetStatementID(rebuilt, 77)
	require.NoError(t, err)
	id, _ := wire.StatementID(rebuilt)
	require.Equal(t, uint32(77), id, "id %d", id)
	_, err = wire.StatementID([]byte{byte(wire.ComQuery), 1, 2, 3, 4})
	require.Error(t, err, "COM_QUERY has no statement id")
}

func TestModeFor(t *testing.T) {
	for cmd, want := range map[wire.Command]bool{wire.ComQuery: true, wire.ComStmtClose: false, wire.ComQuit: false,
		wire.ComStmtSendLongData: false, wire.ComPing: true, wire.ComResetConnection: true} {
		_, got := wire.ModeFor(cmd)
		assert.Equal(t, want, got, "%s answered = %v", cmd, got)
	}
	assert.False(t, wire.ComResetConnection.String() != "COM_RESET_CONNECTION" || wire.Command(0x99).String() != "COM_UNKNOWN(0x99)", "command names")
}

// TestTranslateEmptyBinaryResult covers a binary result set with no rows
// from a DEPRECATE_EOF source to a classic destination: the held-back
// metadata EOF and the final EOF are both sent.
func TestTranslateEmptyBinaryResult(t *testing.T) {
	var f, g wire.Framer
	f.Reset(wire.ModeBinary, true)
	g.Reset(wire.ModeBinary, false)
	tr := wire.NewEOFTranslator(true, false)
	var out []string
	for _, p := range [][]byte{{1}, wire.AppendColumn(nil, &wire.Column{Name: "a"}),
		wire.AppendOKAsEOF(nil, wire.ClientProtocol41, &wire.OK{Status: wire.StatusAutocommit})} {
		k, err := f.Next(p)
		require.NoError(t, err)
		a, b := tr.Translate(&f, k, p)
		for _, q := range [][]byte{a, b} {
			if q != nil {
				gk, err := g.Next(q)
				require.NoError(t, err)
				out = append(out, gk.String())
			}
		}
	}
	require.True(t, g.Done(), "translated: %v done=%v", out, g.Done())
	require.Len(t, out, 4, "translated: %v done=%v", out, g.Done())
	require.Equal(t, "MetadataEOF", out[2], "translated: %v done=%v", out, g.Done())
	require.Equal(t, "ResultEnd", out[3], "translated: %v done=%v", out, g.Done())
}

func BenchmarkParseOK(b *testing.B) {
	p := wire.AppendOK(nil, wire.DefaultClientCapabilities, &wire.OK{AffectedRows: 1, LastInsertID: 12345,
		Status: wire.StatusAutocommit | wire.StatusSessionStateChanged, SessionState: []byte{1, 5, 4, 't', 'e', 's', 't'}})
	var ok wire.OK
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		err := wire.ParseOK(p, wire.DefaultClientCapabilities, &ok)
		require.NoError(b, err)
	}
}

// BenchmarkFramerRows classifies the packets of a 100-row result set.
func BenchmarkFramerRows(b *testing.B) {
	pkts := [][]byte{{2}, wire.AppendColumn(nil, &wire.Column{Name: "id"}), wire.AppendColumn(nil, &wire.Column{Name: "v"})}
	for i := 0; i < 100; i++ {
		pkts = append(pkts, []byte{2, '4', '2', 5, 'h', 'e', 'l', 'l', 'o'})
	}
	pkts = append(pkts, wire.AppendOKAsEOF(nil, wire.ClientProtocol41, &wire.OK{Status: wire.StatusAutocommit}))
	var f wire.Framer
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		f.Reset(wire.ModeText, true)
		for _, p := range pkts {
			_, err := f.Next(p)
			require.NoError(b, err)
		}
		require.True(b, f.Done(), "not done")
	}
}
