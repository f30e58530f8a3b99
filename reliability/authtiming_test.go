package reliability

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/rdsmux/rdsmux/proxy"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// An unknown user and a known user with a wrong password must be
// indistinguishable from outside, in what the listener answers and in how
// long it takes. The default tests prove it structurally (the same
// exchange, packet for packet; in package wire, the same verifications
// against a decoy credential); BenchmarkAuthUnknownUserVsWrongPassword
// measures both side by side; RDSMUX_SOAK adds a statistical comparison.

// exchange is what a client saw during a failed login: one entry per
// packet received (its length, first byte and sequence id), then the
// error.
type exchange struct {
	packets []string
	err     *wire.Error
}

// failLogin logs in to addr as user with pass, announcing plugin, over TLS
// when tlsCfg is set, answering auth switches and full-authentication
// requests as a client does, and records what the listener sent.
func failLogin(addr, user, pass, plugin string, tlsCfg *tls.Config) (exchange, error) {
	var ex exchange
	nc, err := net.DialTimeout("tcp", addr, rigDeadline)
	if err != nil {
		return ex, err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(rigDeadline))
	c := wire.NewConn(nc)
	p, err := c.ReadPacket()
	if err != nil {
		return ex, fmt.Errorf("reading the handshake: %w", err)
	}
	hs, err := wire.ParseHandshake(p)
	if err != nil {
		return ex, err
	}
	caps := wire.ClientProtocol41 | wire.ClientSecureConnection | wire.ClientPluginAuth | wire.ClientLongPassword |
		wire.ClientTransactions | wire.ClientDeprecateEOF
	if tlsCfg != nil {
		caps |= wire.ClientSSL
		if err := c.WritePacketFlush(wire.AppendSSLRequest(nil, caps, 1<<24, wire.CharsetUTF8MB4GeneralCI)); err != nil {
			return ex, err
		}
		tc := tls.Client(nc, tlsCfg)
		if err := tc.Handshake(); err != nil {
			return ex, fmt.Errorf("TLS: %w", err)
		}
		seq := c.Seq()
		c = wire.NewConn(tc)
		c.SetSeq(seq)
	}
	scramble := func(plugin string, nonce []byte) []byte {
		if plugin == wire.AuthCachingSHA2Password {
			return wire.ScrambleSHA2Password(nonce, pass)
		}
		return wire.ScrambleNativePassword(nonce, pass)
	}
	resp := &wire.HandshakeResponse{Capabilities: caps, MaxPacketSize: 1 << 24, Charset: wire.CharsetUTF8MB4GeneralCI,
		User: user, AuthResponse: scramble(plugin, hs.AuthData), AuthPlugin: plugin}
	if err := c.WritePacketFlush(wire.AppendHandshakeResponse(nil, resp)); err != nil {
		return ex, err
	}
	for {
		p, err := c.ReadPacket()
		if err != nil {
			return ex, fmt.Errorf("after %v: %w", ex.packets, err)
		}
		ex.packets = append(ex.packets, fmt.Sprintf("%d bytes 0x%02x #%d", len(p), p[0], c.Seq()-1))
		var reply []byte
		switch {
		case wire.IsERR(p):
			ex.err, err = wire.ParseERR(p)
			return ex, err
		case wire.IsOK(p):
			return ex, fmt.Errorf("user %q logged in", user)
		case p[0] == 0xfe: // auth switch
			sw, err := wire.ParseAuthSwitch(p)
			if err != nil {
				return ex, err
			}
			reply = scramble(sw.Plugin, sw.Data)
		case len(p) == 2 && p[0] == 0x01 && p[1] == 0x04: // full authentication
			if tlsCfg == nil {
				return ex, fmt.Errorf("full authentication requested without TLS")
			}
			reply = append([]byte(pass), 0)
		case len(p) == 2 && p[0] == 0x01 && p[1] == 0x03: // fast auth succeeded
			continue
		default:
			return ex, fmt.Errorf("unexpected packet %q", p)
		}
		if err := c.WritePacketFlush(reply); err != nil {
			return ex, err
		}
	}
}

// TestUnknownUserLooksLikeWrongPassword: through the real listener, with
// each default plugin, with and without TLS, and with users whose
// caching_sha2 credential forces full authentication, a login as an
// unknown user and a login as a known user with a wrong password get the
// same packets (sizes, kinds, sequence ids; no extra auth switch) and the
// same error, and both count as ClientConnectionsSetupFailedAuth.
func TestUnknownUserLooksLikeWrongPassword(t *testing.T) {
	db := startRigDB(t)
	// Same-length names: the error message names the user.
	const known, unknown, wrong = "client", "nobody", "not-the-password"
	for _, tc := range []struct {
		name   string
		opts   []rigOption
		plugin string // what the client announces
		tls    bool
	}{
		{name: "native", plugin: wire.AuthNativePassword},
		{name: "native, client announces caching_sha2", plugin: wire.AuthCachingSHA2Password},
		{name: "caching_sha2 fast auth", plugin: wire.AuthCachingSHA2Password,
			opts: []rigOption{withRigServer(func(s *proxy.Server) { s.DefaultAuthPlugin = wire.AuthCachingSHA2Password })}},
		{name: "caching_sha2 over TLS (full auth after fast auth fails)", plugin: wire.AuthCachingSHA2Password, tls: true,
			opts: []rigOption{withRigTLS(), withRigServer(func(s *proxy.Server) { s.DefaultAuthPlugin = wire.AuthCachingSHA2Password })}},
		{name: "caching_sha2 full auth only, over TLS", plugin: wire.AuthCachingSHA2Password, tls: true,
			opts: []rigOption{withRigTLS(), withRigLookup(fullAuthUsers{known: rigPass}),
				withRigServer(func(s *proxy.Server) { s.DefaultAuthPlugin = wire.AuthCachingSHA2Password })}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]rigOption{withRigUsers(map[string]string{known: rigPass}, proxy.OneAccount(rigBackendUser, rigBackendPass))}, tc.opts...)
			r := startRig(t, db, opts...)
			var tlsCfg *tls.Config
			if tc.tls {
				tlsCfg = r.clientTLS.Clone()
				tlsCfg.ServerName = "127.0.0.1"
			}
			before := r.srv.Stats()
			bad, err := failLogin(r.addr, known, wrong, tc.plugin, tlsCfg)
			rigMust(t, err)
			ghost, err := failLogin(r.addr, unknown, wrong, tc.plugin, tlsCfg)
			rigMust(t, err)
			t.Logf("wrong password: %v; unknown user: %v", bad.packets, ghost.packets)
			if !slices.Equal(bad.packets, ghost.packets) {
				t.Errorf("the listener's packets differ:\n  wrong password %v\n  unknown user   %v", bad.packets, ghost.packets)
			}
			if bad.err.Code != wire.ErAccessDenied || ghost.err.Code != bad.err.Code || ghost.err.State != bad.err.State ||
				len(ghost.err.Message) != len(bad.err.Message) {
				t.Errorf("the errors differ beyond the user name:\n  %v\n  %v", bad.err, ghost.err)
			}
			r.waitStat(t, "ClientConnectionsSetupFailedAuth", func(s proxy.Stats) int64 { return s.ClientConnectionsSetupFailedAuth },
				before.ClientConnectionsSetupFailedAuth+2)
		})
	}
}

// loginPair times one failed login of each kind on the listener at addr,
// the unknown user first when unknownFirst.
func loginPair(ctx context.Context, addr string, unknownFirst bool) (unknown, wrong time.Duration, err error) {
	one := func(user string) (time.Duration, error) {
		start := time.Now()
		cc, err := wire.Dial(ctx, addr, &wire.ClientConfig{User: user, Password: "not-the-password"})
		d := time.Since(start)
		if err == nil {
			cc.Close()
			return d, fmt.Errorf("%s logged in", user)
		}
		if mysqlErrno(err) != wire.ErAccessDenied {
			return d, err
		}
		return d, nil
	}
	if unknownFirst {
		if unknown, err = one("nobody"); err == nil {
			wrong, err = one(rigUser)
		}
	} else {
		if wrong, err = one(rigUser); err == nil {
			unknown, err = one("nobody")
		}
	}
	return unknown, wrong, err
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkAuthUnknownUserVsWrongPassword logs in with a wrong password
// and as an unknown user, alternately, against a real listener (wire
// client, loopback TCP, mysql_native_password), and reports each case's
// median time per login and their ratio. One iteration is one login of
// each kind.
//
//	go test -run '^$' -bench AuthUnknownUser -benchmem ./reliability/
func BenchmarkAuthUnknownUserVsWrongPassword(b *testing.B) {
	db := startRigDB(b)
	r := startRig(b, db)
	ctx := context.Background()
	var unknown, wrong []time.Duration
	i := 0
	for b.Loop() {
		u, w, err := loginPair(ctx, r.addr, i%2 == 0)
		if err != nil {
			b.Fatal(err)
		}
		unknown, wrong = append(unknown, u), append(wrong, w)
		i++
	}
	mu, mw := median(unknown), median(wrong)
	b.ReportMetric(float64(mu.Nanoseconds()), "unknown-user-ns/login")
	b.ReportMetric(float64(mw.Nanoseconds()), "wrong-password-ns/login")
	b.ReportMetric(float64(mu)/float64(mw), "unknown/wrong")
}

// TestAuthTimingUnknownUserVsWrongPassword compares the two kinds of
// failed login statistically: interleaved pairs (the order alternating),
// medians, and a generous bound. Timed, so it runs only in long mode
// (RDSMUX_SOAK set).
func TestAuthTimingUnknownUserVsWrongPassword(t *testing.T) {
	if os.Getenv("RDSMUX_SOAK") == "" {
		t.Skip("timed comparison: runs with RDSMUX_SOAK set (the structural checks run in TestUnknownUserLooksLikeWrongPassword)")
	}
	db := startRigDB(t)
	r := startRig(t, db)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const pairs = 2000
	var unknown, wrong []time.Duration
	for i := range pairs {
		u, w, err := loginPair(ctx, r.addr, i%2 == 0)
		rigMust(t, err)
		unknown, wrong = append(unknown, u), append(wrong, w)
	}
	mu, mw := median(unknown), median(wrong)
	ratio := float64(mu) / float64(mw)
	t.Logf("%d interleaved pairs: median unknown user %v, wrong password %v, ratio %.3f", pairs, mu, mw, ratio)
	// The extra round trip unknown users used to get (an auth switch)
	// made their logins about 1.2 times as long on loopback; the medians
	// of 2,000 interleaved pairs stay well inside 10% of each other on a
	// loaded machine.
	if ratio < 0.9 || ratio > 1.1 {
		t.Errorf("an unknown user's login takes %.2f× a wrong password's (median %v vs %v)", ratio, mu, mw)
	}
}
