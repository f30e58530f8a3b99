package wire_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/rdsmux/rdsmux/proxy/wire"
)

func TestLenEnc(t *testing.T) {
	for _, v := range []uint64{0, 250, 251, 0xffff, 0x10000, 0xffffff, 0x1000000, 1<<64 - 1} {
		b := wire.AppendLenEncInt(nil, v)
		got, null, n, err := wire.ReadLenEncInt(b)
		if err != nil || null || n != len(b) || got != v {
			t.Errorf("%d: got %d null=%v n=%d err=%v", v, got, null, n, err)
		}
	}
	if _, null, _, _ := wire.ReadLenEncInt([]byte{0xfb}); !null {
		t.Error("0xfb is not NULL")
	}
	for _, bad := range [][]byte{{}, {0xff}, {0xfc, 1}, {0xfd, 1, 2}, {0xfe, 1}, {5, 'a'}} {
		if _, _, _, err := wire.ReadLenEncString(bad); !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("%x: err = %v", bad, err)
		}
	}
}

func TestOKRoundTrip(t *testing.T) {
	for _, caps := range []wire.Capability{wire.ClientProtocol41, wire.DefaultClientCapabilities} {
		in := &wire.OK{AffectedRows: 70000, LastInsertID: 1 << 40, Status: wire.StatusInTrans | wire.StatusSessionStateChanged,
			Warnings: 3, Info: []byte("info"), SessionState: []byte{0, 7, 3, 'a', 'b', 'c', 2, 'o', 'n'}}
		var out wire.OK
		if err := wire.ParseOK(wire.AppendOK(nil, caps, in), caps, &out); err != nil {
			t.Fatal(err)
		}
		if out.AffectedRows != in.AffectedRows || out.LastInsertID != in.LastInsertID || string(out.Info) != "info" || out.Warnings != 3 {
			t.Fatalf("caps %#x: %+v", caps, out)
		}
		if caps&wire.ClientSessionTrack != 0 {
			typ, v, rest, err := wire.NextSessionState(out.SessionState)
			if err != nil || typ != wire.TrackSystemVariables || len(rest) != 0 {
				t.Fatalf("session state: %v %v %q", typ, err, rest)
			}
			name, val, err := wire.ParseTrackedVariable(v)
			if err != nil || string(name) != "abc" || string(val) != "on" {
				t.Fatalf("variable %q=%q %v", name, val, err)
			}
		}
	}
	e := wire.NewError(wire.ErAccessDenied, wire.StateAccessDenied, "no %s", "way")
	got, err := wire.ParseERR(wire.AppendERR(nil, wire.ClientProtocol41, e))
	if err != nil || *got != *e || got.Error() != "Error 1045 (28000): no way" {
		t.Fatalf("%+v %v", got, err)
	}
	got, _ = wire.ParseERR(wire.AppendERR(nil, 0, e))
	if got.State != wire.StateGeneral || got.Message != "no way" {
		t.Fatalf("pre-4.1 ERR: %+v", got)
	}
}

func TestAuthScrambles(t *testing.T) {
	nonce := []byte("0123456789abcdefghij")
	if !wire.VerifyNativePassword(nonce, wire.ScrambleNativePassword(nonce, "pw"), wire.NativePasswordHash("pw")) {
		t.Error("native: own scramble rejected")
	}
	if wire.VerifyNativePassword(nonce, wire.ScrambleNativePassword(nonce, "pw"), wire.NativePasswordHash("px")) {
		t.Error("native: wrong password accepted")
	}
	if !wire.VerifySHA2Scramble(nonce, wire.ScrambleSHA2Password(nonce, "pw"), wire.SHA2PasswordHash("pw")) {
		t.Error("sha2: own scramble rejected")
	}
	if wire.VerifySHA2Scramble(append([]byte("x"), nonce[1:]...), wire.ScrambleSHA2Password(nonce, "pw"), wire.SHA2PasswordHash("pw")) {
		t.Error("sha2: scramble for another nonce accepted")
	}
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, _ := wire.MarshalPublicKeyPEM(&key.PublicKey)
	pub, err := wire.ParsePublicKeyPEM(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := wire.EncryptPasswordRSA("sëcret", nonce, pub)
	if err != nil {
		t.Fatal(err)
	}
	if pw, err := wire.DecryptPasswordRSA(ct, nonce, key); err != nil || pw != "sëcret" {
		t.Fatalf("%q %v", pw, err)
	}
}

func TestStmtExecuteRewrite(t *testing.T) {
	e := &wire.StmtExecute{StatementID: 5, Iterations: 1}
	if err := wire.BindParams(e, []any{int64(-1), "abc", nil}); err != nil {
		t.Fatal(err)
	}
	full := wire.AppendStmtExecute(nil, e)
	// The same execution without types, as a client sends it the second time.
	noTypes := wire.AppendStmtExecute(nil, &wire.StmtExecute{StatementID: 5, Iterations: 1, NullBitmap: e.NullBitmap, Values: e.Values})
	rebuilt, err := wire.WithParamTypes(nil, noTypes, 3, e.ParamTypes)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rebuilt, full) {
		t.Fatalf("rebuilt %x\nwant    %x", rebuilt, full)
	}
	if err := wire.SetStatementID(rebuilt, 77); err != nil {
		t.Fatal(err)
	}
	if id, _ := wire.StatementID(rebuilt); id != 77 {
		t.Fatalf("id %d", id)
	}
	if _, err := wire.StatementID([]byte{byte(wire.ComQuery), 1, 2, 3, 4}); err == nil {
		t.Fatal("COM_QUERY has no statement id")
	}
}

func TestModeFor(t *testing.T) {
	for cmd, want := range map[wire.Command]bool{wire.ComQuery: true, wire.ComStmtClose: false, wire.ComQuit: false,
		wire.ComStmtSendLongData: false, wire.ComPing: true, wire.ComResetConnection: true} {
		if _, got := wire.ModeFor(cmd); got != want {
			t.Errorf("%s answered = %v", cmd, got)
		}
	}
	if wire.ComResetConnection.String() != "COM_RESET_CONNECTION" || wire.Command(0x99).String() != "COM_UNKNOWN(0x99)" {
		t.Error("command names")
	}
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
		if err != nil {
			t.Fatal(err)
		}
		a, b := tr.Translate(&f, k, p)
		for _, q := range [][]byte{a, b} {
			if q != nil {
				gk, err := g.Next(q)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, gk.String())
			}
		}
	}
	if !g.Done() || len(out) != 4 || out[2] != "MetadataEOF" || out[3] != "ResultEnd" {
		t.Fatalf("translated: %v done=%v", out, g.Done())
	}
}

func BenchmarkParseOK(b *testing.B) {
	p := wire.AppendOK(nil, wire.DefaultClientCapabilities, &wire.OK{AffectedRows: 1, LastInsertID: 12345,
		Status: wire.StatusAutocommit | wire.StatusSessionStateChanged, SessionState: []byte{1, 5, 4, 't', 'e', 's', 't'}})
	var ok wire.OK
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := wire.ParseOK(p, wire.DefaultClientCapabilities, &ok); err != nil {
			b.Fatal(err)
		}
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
			if _, err := f.Next(p); err != nil {
				b.Fatal(err)
			}
		}
		if !f.Done() {
			b.Fatal("not done")
		}
	}
}
