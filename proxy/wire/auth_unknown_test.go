package wire

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingConn records the size of every read and write on a connection,
// in order, so that two exchanges can be compared packet by packet.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex // guards ops
	ops []int      // +n: wrote n bytes, -n: read n bytes
}

func (r *recordingConn) Write(b []byte) (int, error) {
	n, err := r.Conn.Write(b)
	r.mu.Lock()
	r.ops = append(r.ops, n)
	r.mu.Unlock()
	return n, err
}

func (r *recordingConn) Read(b []byte) (int, error) {
	n, err := r.Conn.Read(b)
	if n > 0 {
		r.mu.Lock()
		r.ops = append(r.ops, -n)
		r.mu.Unlock()
	}
	return n, err
}

// verification is one call of testHookVerify.
type verification struct {
	plugin string
	decoy  bool
}

// authAttempt is what the server side did for one failed login.
type authAttempt struct {
	verified []verification
	ops      []int  // the server's reads and writes (TCP without TLS only)
	err      string // the error the client got
	code     uint16
}

// attemptLogin runs one handshake of a wire client as user with password
// against Accept with cfg, over loopback TCP, and records the server side.
func attemptLogin(t *testing.T, cfg *ServerConfig, ccfg ClientConfig) authAttempt {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var a authAttempt
	var hookMu sync.Mutex
	testHookVerify = func(plugin string, decoy bool) {
		hookMu.Lock()
		a.verified = append(a.verified, verification{plugin, decoy})
		hookMu.Unlock()
	}
	defer func() { testHookVerify = nil }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	served := make(chan *recordingConn, 1)
	go func() { // the server side; ends with its connection
		nc, err := ln.Accept()
		if err != nil {
			served <- nil
			return
		}
		rc := &recordingConn{Conn: nc}
		if sc, err := Accept(ctx, rc, cfg, 7); err == nil {
			sc.Close()
		}
		nc.Close()
		served <- rc
	}()
	ccfg.Database = "test"
	cc, err := Dial(ctx, ln.Addr().String(), &ccfg)
	if err == nil {
		cc.Close()
	}
	require.Error(t, err, "user %q with password %q logged in", ccfg.User, ccfg.Password)
	rc := <-served
	require.NotNil(t, rc, "the server side accepted nothing")
	a.err = err.Error()
	var e *Error
	if errors.As(err, &e) {
		a.code = e.Code
	}
	rc.mu.Lock()
	a.ops = slices.Clone(rc.ops)
	rc.mu.Unlock()
	hookMu.Lock()
	defer hookMu.Unlock()
	a.verified = slices.Clone(a.verified)
	return a
}

// TestUnknownUserSameWorkAsWrongPassword: an unknown user is verified
// against the decoy credential exactly as a known user with a wrong
// password is against its own, for every plugin and transport: the same
// verifications run (the hook sees them, marked decoy or not), the same
// packets of the same sizes are exchanged (no auth switch for the unknown
// user), and the client gets the same error.
func TestUnknownUserSameWorkAsWrongPassword(t *testing.T) {
	certs, err := mariadbtest.GenerateCerts()
	require.NoError(t, err)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	// Same-length names, so that "Access denied for user '...'" has the
	// same size for both.
	const known, unknown, wrong = "native", "nobody", "wrong-password"
	lookup := func(_ context.Context, user string) (Credential, error) {
		if user == known {
			return CredentialFromPassword("the-right-password"), nil
		}
		return Credential{}, ErrUnknownUser
	}
	for _, tc := range []struct {
		name   string
		cfg    ServerConfig
		client ClientConfig
		tls    bool // the transcript is encrypted: compare verifications only
		want   []string
	}{
		{name: "native", cfg: ServerConfig{},
			want: []string{AuthNativePassword}},
		{name: "caching_sha2 without TLS or RSA", cfg: ServerConfig{DefaultAuthPlugin: AuthCachingSHA2Password},
			want: []string{AuthCachingSHA2Password}},
		{name: "caching_sha2 full auth with RSA", cfg: ServerConfig{DefaultAuthPlugin: AuthCachingSHA2Password, RSAKey: key},
			client: ClientConfig{ServerPublicKey: &key.PublicKey},
			want:   []string{AuthCachingSHA2Password, AuthCachingSHA2Password + " full authentication"}},
		{name: "caching_sha2 full auth over TLS", cfg: ServerConfig{DefaultAuthPlugin: AuthCachingSHA2Password, TLSConfig: certs.ServerConfig()},
			client: ClientConfig{TLSConfig: certs.ClientConfig()}, tls: true,
			want: []string{AuthCachingSHA2Password, AuthCachingSHA2Password + " full authentication"}},
		{name: "native over TLS", cfg: ServerConfig{TLSConfig: certs.ServerConfig()},
			client: ClientConfig{TLSConfig: certs.ClientConfig()}, tls: true,
			want: []string{AuthNativePassword}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Lookup = lookup
			wc := tc.client
			wc.User, wc.Password = known, wrong
			bad := attemptLogin(t, &cfg, wc)
			wc.User = unknown
			ghost := attemptLogin(t, &cfg, wc)

			plugins := func(vs []verification, decoy bool) []string {
				var out []string
				for _, v := range vs {
					assert.Equal(t, decoy, v.decoy, "verification %+v: decoy = %v, want %v", v, v.decoy, decoy)
					out = append(out, v.plugin)
				}
				return out
			}
			got := plugins(bad.verified, false)
			assert.True(t, slices.Equal(got, tc.want), "wrong password: verifications %q, want %q", got, tc.want)
			got = plugins(ghost.verified, true)
			assert.True(t, slices.Equal(got, tc.want), "unknown user: verifications %q, want %q (as for a wrong password)", got, tc.want)
			assert.False(t, bad.code != ErAccessDenied || ghost.code != ErAccessDenied, "error codes %d (wrong password) and %d (unknown user), want %d", bad.code, ghost.code, ErAccessDenied)
			assert.Len(t, bad.err, len(ghost.err), "errors differ beyond the user name:\n  %s\n  %s", bad.err, ghost.err)
			assert.False(t, !tc.tls && !slices.Equal(bad.ops, ghost.ops), "the server's reads (-) and writes (+) differ:\n  wrong password %v\n  unknown user   %v", bad.ops, ghost.ops)
		})
	}
}

// TestChangeUserUnknownSameWorkAsWrongPassword: COM_CHANGE_USER to an
// unknown user verifies against the decoy as for a wrong password.
func TestChangeUserUnknownSameWorkAsWrongPassword(t *testing.T) {
	lookup := func(_ context.Context, user string) (Credential, error) {
		if user == "native" {
			return CredentialFromPassword("pw"), nil
		}
		return Credential{}, ErrUnknownUser
	}
	for _, tc := range []struct {
		user  string
		decoy bool
	}{{"native", false}, {"nobody", true}} {
		var got []verification
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cfg := &ServerConfig{Lookup: lookup}
		done := make(chan error, 1)
		go func() { // the server side: accepts, then handles one COM_CHANGE_USER
			nc, err := ln.Accept()
			if err != nil {
				done <- err
				return
			}
			defer nc.Close()
			sc, err := Accept(ctx, nc, cfg, 1)
			if err != nil {
				done <- err
				return
			}
			_, p, err := sc.ReadCommand()
			if err != nil {
				done <- err
				return
			}
			testHookVerify = func(plugin string, decoy bool) { got = append(got, verification{plugin, decoy}) }
			err = sc.ChangeUser(ctx, cfg, p)
			testHookVerify = nil
			done <- err
		}()
		cc, err := Dial(ctx, ln.Addr().String(), &ClientConfig{User: "native", Password: "pw"})
		require.NoError(t, err)
		err = cc.ChangeUser(ctx, &ClientConfig{User: tc.user, Password: "not-it"})
		var e *Error
		assert.False(t, !errors.As(err, &e) || e.Code != ErAccessDenied, "change user to %q: %v, want access denied", tc.user, err)
		serr := <-done
		assert.Error(t, serr, "change user to %q succeeded on the server", tc.user)
		cc.Close()
		ln.Close()
		cancel()
		want := []verification{{AuthNativePassword, tc.decoy}}
		assert.True(t, slices.Equal(got, want), "change user to %q: verifications %+v, want %+v", tc.user, got, want)
	}
}

// TestDecoyNeverVerifies: the decoy refuses even its own password, with
// every plugin.
func TestDecoyNeverVerifies(t *testing.T) {
	c := decoyCredential
	pw := c.Password
	nonce := newNonce()
	assert.False(t, c.verifyNative(nonce, ScrambleNativePassword(nonce, pw)), "mysql_native_password verified the decoy")
	assert.False(t, c.verifySHA2Scramble(nonce, ScrambleSHA2Password(nonce, pw)), "caching_sha2_password fast auth verified the decoy")
	assert.False(t, c.verifyCleartext(AuthClearPassword, pw), "a cleartext password verified the decoy")
	assert.False(t, c.emptyPassword(), "the decoy accepts an empty password")
	// And a real credential with the same password does verify: the
	// refusal comes from the decoy mark, after the full computation.
	real := CredentialFromPassword(pw)
	assert.False(t, !real.verifyNative(nonce, ScrambleNativePassword(nonce, pw)) ||
		!real.verifySHA2Scramble(nonce, ScrambleSHA2Password(nonce, pw)) ||
		!real.verifyCleartext(AuthClearPassword, pw), "the same password does not verify a real credential")
}
