package reliability

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux"
	"github.com/rdsmux/rdsmux/iamauth"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/proxy"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// logSink collects every log line of a test.
type logSink struct {
	mu    sync.Mutex // guards lines
	lines []string
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.lines = append(s.lines, strings.Split(strings.TrimRight(string(p), "\n"), "\n")...)
	s.mu.Unlock()
	return len(p), nil
}

func (s *logSink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lines)
}

// logger returns a logger at Debug level that writes every record to the
// sink twice, as text and as JSON, the two ways a program would log it.
func (s *logSink) logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	return slog.New(fanout{slog.NewTextHandler(s, opts), slog.NewJSONHandler(s, opts)})
}

// fanout hands each record to every handler.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range f {
		if err := h.Handle(ctx, r.Clone()); err != nil {
			return err
		}
	}
	return nil
}

func (f fanout) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}

// recordingProvider remembers every password its Provider hands out (IAM
// tokens are signed anew as they go), so that the test can look for them.
type recordingProvider struct {
	p    iamauth.Provider
	mu   sync.Mutex // guards seen
	seen []string
}

func (r *recordingProvider) Credentials(ctx context.Context) (iamauth.Credential, error) {
	c, err := r.p.Credentials(ctx)
	if err == nil {
		r.mu.Lock()
		r.seen = append(r.seen, c.Password)
		r.mu.Unlock()
	}
	return c, err
}

// Invalidate passes the rejection on, so that iamauth.Connect re-signs.
func (r *recordingProvider) Invalidate(c iamauth.Credential) {
	if inv, ok := r.p.(iamauth.Invalidator); ok {
		inv.Invalidate(c)
	}
}

func (r *recordingProvider) passwords() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// secretForms are the ways a secret could show in a log line: as is,
// hex, base64 (four alphabets), URL-escaped, and the password hashes a
// MySQL server stores (which let an attacker test guesses offline).
func secretForms(s string) map[string]string {
	b := []byte(s)
	forms := map[string]string{
		"as is":                           s,
		"hex":                             hex.EncodeToString(b),
		"HEX":                             strings.ToUpper(hex.EncodeToString(b)),
		"base64":                          base64.StdEncoding.EncodeToString(b),
		"base64 unpadded":                 base64.RawStdEncoding.EncodeToString(b),
		"base64url":                       base64.URLEncoding.EncodeToString(b),
		"base64url unpadded":              base64.RawURLEncoding.EncodeToString(b),
		"URL-escaped":                     url.QueryEscape(s),
		"mysql_native_password hash":      hex.EncodeToString(wire.NativePasswordHash(s)),
		"mysql_native_password hash (*X)": "*" + strings.ToUpper(hex.EncodeToString(wire.NativePasswordHash(s))),
		"caching_sha2_password hash":      hex.EncodeToString(wire.SHA2PasswordHash(s)),
	}
	// JSON escapes &, < and > in strings (an IAM token has &).
	if j, err := json.Marshal(s); err == nil {
		forms["JSON-escaped"] = strings.Trim(string(j), `"`)
	}
	return forms
}

// TestNoSecretsInLogs runs the listener, its pool and the driver with one
// Debug-level logger capturing every line (and go-sql-driver's own
// logger), drives successful and failed logins with every plugin, backend
// logins that the database refuses, IAM tokens (signed offline with static
// AWS credentials), password-changing statements and cancellations, then
// looks for every secret, in every form, in every line, and in every error
// the clients got.
func TestNoSecretsInLogs(t *testing.T) {
	// The AWS SDK must not look for anything: no instance metadata, no
	// config files, no endpoint but a closed loopback port.
	for k, v := range map[string]string{
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_PROFILE": "", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "",
		"AWS_ENDPOINT_URL": "http://127.0.0.1:9",
	} {
		t.Setenv(k, v)
	}
	sink := &logSink{}
	logger := sink.logger()
	mysql.SetLogger(log.New(sink, "[mysql] ", 0))
	defer mysql.SetLogger(log.New(os.Stderr, "[mysql] ", log.Ldate|log.Ltime|log.Lshortfile))

	secrets := map[string]string{}
	secret := func(name string) string {
		v := "s3-" + rand.Text()
		secrets[name] = v
		return v
	}
	var clientErrs []string
	noteErr := func(what string, err error) {
		if err != nil {
			clientErrs = append(clientErrs, what+": "+err.Error())
		}
	}
	var (
		appPw, fullPw                  = secret("listener password"), secret("listener full-auth password")
		wrongPw, unknownPw, changePw   = secret("wrong listener password"), secret("unknown user's password"), secret("COM_CHANGE_USER password")
		fullWrongPw                    = secret("wrong full-auth password (sent in clear over TLS)")
		svcPw, svc2Pw                  = secret("backend password"), secret("second backend password")
		badBackendPw, badDriverPw      = secret("wrong backend password (listener)"), secret("wrong backend password (driver)")
		awsKeyID                       = "AKIAEXAMPLE" + strings.ToUpper(rand.Text()[:9])
		awsSecret                      = secret("AWS secret access key")
		sqlPw1, sqlPw2, sqlPw3, sqlPw4 = secret("password in CREATE USER"), secret("password in ALTER USER"), secret("password in SET PASSWORD"), secret("password in a failing ALTER USER")
	)

	// Everything below closes before this runs (cleanups run last in,
	// first out), so that close-time lines are scanned too.
	t.Cleanup(func() { scanForSecrets(t, sink, secrets, clientErrs) })

	db := startRigDB(t, mariadbtest.WithTLS())
	db.CreateUser(t, "svc", svcPw)
	db.CreateUser(t, "svc2", svc2Pw)
	ctx, cancel := context.WithTimeout(context.Background(), 3*rigDeadline)
	defer cancel()

	// IAM tokens, signed offline. svc_iam's database password is the
	// first token, so that logins with it succeed; svc_nobody does not
	// exist, so its tokens are refused (and re-signed, and refused...).
	tokens, err := iamauth.NewTokenCache(ctx, iamauth.WithRegion("us-east-1"),
		iamauth.WithCredentialsProvider(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: awsKeyID, SecretAccessKey: awsSecret, Source: "reliability test"}, nil
		})))
	rigMust(t, err)
	t.Cleanup(func() { tokens.Close() })
	source := func(user string) *recordingProvider {
		s, err := tokens.Source(db.Host(), db.Port(), user)
		rigMust(t, err)
		return &recordingProvider{p: s}
	}
	iamGood, iamBad := source("svc_iam"), source("svc_nobody")
	first, err := iamGood.Credentials(ctx)
	rigMust(t, err)
	db.CreateUser(t, "svc_iam", first.Password)

	creds := func(user string) (iamauth.Provider, error) {
		switch user {
		case "app", "full":
			return iamauth.Static{User: "svc", Password: svcPw, Source: "static"}, nil
		case "app-badbackend":
			return iamauth.Static{User: "svc", Password: badBackendPw, Source: "static"}, nil
		case "app-iam":
			return iamGood, nil
		case "app-iambad":
			return iamBad, nil
		}
		return nil, fmt.Errorf("no backend account for %q", user)
	}
	backendTLS := func(b *proxy.Target) {
		b.TLSConfig = db.TLSConfig()
		b.ConnectOptions = []iamauth.ConnectOption{iamauth.WithRetryWindow(300 * time.Millisecond), iamauth.WithBackoff(5*time.Millisecond, 50*time.Millisecond)}
	}
	users := proxy.StaticUsers{"app": appPw, "app-badbackend": appPw, "app-iam": appPw, "app-iambad": appPw}
	native := startRig(t, db, withRigTLS(), withRigUsers(users, creds), withRigBackend(backendTLS), withRigLogger(logger),
		withRigServer(func(s *proxy.Server) { s.MaxPacketSize = 1 << 20 }))
	sha2 := startRig(t, db, withRigTLS(), withRigUsers(nil, creds), withRigLookup(fullAuthUsers{"full": fullPw}),
		withRigBackend(backendTLS), withRigLogger(logger), withRigServer(func(s *proxy.Server) {
			s.DefaultAuthPlugin = wire.AuthCachingSHA2Password
		}))

	// run runs queries as a go-sql-driver client with dsn and returns the
	// first error.
	run := func(dsn string, queries ...string) error {
		h, err := sql.Open("mysql", dsn)
		if err != nil {
			return err
		}
		defer h.Close()
		c, err := h.Conn(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		for _, q := range queries {
			if _, err := c.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}
	goSQL := func(r *rig, user, pass, params string, queries ...string) error {
		return run(r.dsn(user, pass, params), queries...)
	}
	goSQLNoDB := func(r *rig, user, pass string, queries ...string) error {
		cfg := mysql.NewConfig()
		cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = user, pass, "tcp", r.addr
		return run(cfg.FormatDSN(), queries...)
	}
	expectOK := func(what string, err error) {
		t.Helper()
		noteErr(what, err)
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	expectErr := func(what string, err error) {
		t.Helper()
		noteErr(what, err)
		if err == nil {
			t.Errorf("%s succeeded", what)
		}
	}

	// The listener: logins that succeed, with statements that pin and
	// that carry passwords.
	tlsParam := "tls=" + native.tlsName
	expectOK("listener login", goSQL(native, "app", appPw, "", "SELECT 1", "SET @pinned = 1", "SELECT @pinned",
		"CREATE USER 'tmp'@'%' IDENTIFIED BY '"+sqlPw1+"'", "ALTER USER 'tmp'@'%' IDENTIFIED BY '"+sqlPw2+"'",
		"SET PASSWORD FOR 'tmp'@'%' = PASSWORD('"+sqlPw3+"')", "DROP USER 'tmp'@'%'"))
	expectErr("a failing ALTER USER", goSQL(native, "app", appPw, "", "ALTER USER 'nosuch'@'%' IDENTIFIED BY '"+sqlPw4+"'"))
	expectOK("listener login over TLS", goSQL(native, "app", appPw, tlsParam, "SELECT 1"))
	expectOK("caching_sha2 full auth over TLS", goSQL(sha2, "full", fullPw, "tls="+sha2.tlsName, "SELECT 1", "SET @pinned = 2"))
	// Logins that fail.
	expectErr("wrong password", goSQL(native, "app", wrongPw, ""))
	expectErr("wrong password over TLS", goSQL(native, "app", wrongPw, tlsParam))
	expectErr("unknown user", goSQL(native, "nobody", unknownPw, ""))
	expectErr("caching_sha2 fast auth, wrong password", goSQL(sha2, "full", fullWrongPw, ""))
	expectErr("caching_sha2 full auth over TLS, wrong password", goSQL(sha2, "full", fullWrongPw, "tls="+sha2.tlsName))
	expectErr("caching_sha2 full auth over TLS, unknown user", goSQL(sha2, "nobody", unknownPw, "tls="+sha2.tlsName))
	cc := loginRaw(t, native.addr, "app", appPw)
	expectErr("COM_CHANGE_USER with a wrong password", cc.ChangeUser(ctx, &wire.ClientConfig{User: "app", Password: changePw}))
	cc.Close()
	// Protocol errors of an authenticated client (logged at Info).
	for _, p := range [][]byte{packet(3, []byte("\x0e")), packetHeader(0, wire.MaxChunk)} {
		cc := loginRaw(t, native.addr, "app", appPw)
		rigMust(t, writeRaw(cc.NetConn(), p))
		readUntilClosed(t, cc.NetConn())
	}
	// Backends the database refuses: a wrong static password, IAM tokens
	// for a user it does not have; and IAM tokens it accepts.
	// (Once with a database, refused at login when the listener checks
	// it on a backend; once without, refused at the first statement.)
	expectErr("a client whose backend password is wrong", goSQL(native, "app-badbackend", appPw, "", "SELECT 1"))
	expectErr("a client whose backend password is wrong, no database", goSQLNoDB(native, "app-badbackend", appPw, "SELECT 1"))
	expectErr("a client whose IAM tokens are refused", goSQL(native, "app-iambad", appPw, "", "SELECT 1"))
	expectErr("a client whose IAM tokens are refused, no database", goSQLNoDB(native, "app-iambad", appPw, "SELECT 1"))
	expectOK("a client served with IAM tokens", goSQL(native, "app-iam", appPw, "", "SELECT CURRENT_USER()"))

	// The driver, with the same logger: a good DSN, a wrong password, IAM
	// tokens, a pinned session and a cancelled statement.
	driverDSN := func(user, pass, params string) *rdsmux.Config {
		cfg, err := rdsmux.ParseDSN(db.UserDSN(user, pass, "test", "maxConnections=4&connectionBorrowTimeout=5s"+params))
		rigMust(t, err)
		return cfg
	}
	good, err := rdsmux.OpenConfig(driverDSN("svc", svcPw, ""), rdsmux.WithLogger(logger))
	rigMust(t, err)
	defer good.Close()
	conn, err := good.Conn(ctx)
	rigMust(t, err)
	_, err = conn.ExecContext(ctx, "SET @pinned = 3")
	expectOK("driver: a pinning SET", err)
	qctx, qcancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = conn.ExecContext(qctx, "DO SLEEP(5)")
	qcancel()
	noteErr("driver: a cancelled statement", err)
	conn.Close()
	_, err = good.ExecContext(ctx, "SELECT 1")
	expectOK("driver: a statement", err)
	bad, err := rdsmux.OpenConfig(driverDSN("svc2", badDriverPw, ""), rdsmux.WithLogger(logger))
	rigMust(t, err)
	defer bad.Close()
	_, err = bad.ExecContext(ctx, "SELECT 1")
	expectErr("driver: a wrong password", err)
	tlsName := native.tlsName + "-db"
	rigMust(t, mysql.RegisterTLSConfig(tlsName, db.TLSConfig()))
	defer mysql.DeregisterTLSConfig(tlsName)
	iam, err := rdsmux.OpenConfig(driverDSN("svc_iam", "", "&tls="+tlsName), rdsmux.WithLogger(logger), rdsmux.WithCredentials(iamGood))
	rigMust(t, err)
	defer iam.Close()
	var who string
	err = iam.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&who)
	expectOK("driver: IAM tokens", err)
	if err == nil && who != "svc_iam@%" {
		t.Errorf("driver with IAM tokens runs as %q", who)
	}

	// What the IAM providers handed out: every token, its signature and
	// the AWS secret key it was signed with.
	for i, tok := range append(iamGood.passwords(), iamBad.passwords()...) {
		secrets[fmt.Sprintf("IAM token %d", i)] = tok
		if u, err := url.Parse("https://" + tok); err == nil {
			if sig := u.Query().Get("X-Amz-Signature"); sig != "" {
				secrets[fmt.Sprintf("IAM token %d's signature", i)] = sig
			}
		}
	}
	if len(iamBad.passwords()) < 2 {
		t.Errorf("the refused IAM tokens were signed %d times, want re-signing after the refusal", len(iamBad.passwords()))
	}
}

// scanForSecrets fails the test for every secret, in any of its forms,
// found in a log line or a client's error, and checks that the log is not
// empty of what the test drove (a vacuous scan proves nothing).
func scanForSecrets(t *testing.T, sink *logSink, secrets map[string]string, clientErrs []string) {
	lines := sink.all()
	texts := append(slices.Clone(lines), clientErrs...)
	found := 0
	for name, s := range secrets {
		for form, v := range secretForms(s) {
			for _, l := range texts {
				if strings.Contains(l, v) {
					found++
					t.Errorf("LEAK: the %s (%s) appears in: %s", name, form, l)
				}
			}
		}
	}
	// The lines the test must have produced, at Debug level among
	// others.
	counts := map[string]int{}
	for _, l := range lines {
		var rec struct{ Msg string }
		if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg != "" {
			counts[rec.Msg]++
		}
	}
	for _, want := range []string{
		"proxy: client handshake failed",
		"proxy: COM_CHANGE_USER failed",
		"proxy: the database refused the backend credentials for a client user",
		"proxy: client sent a malformed packet; closing it",
		"proxy: client sent an oversized packet; closing it",
		"proxy: statement pins the client's session",
		"pool: session pinned",
	} {
		if counts[want] == 0 {
			t.Errorf("no log line %q: the scan would not see a leak there", want)
		}
	}
	var summary bytes.Buffer
	for _, m := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(&summary, "\n  %4d × %s", counts[m], m)
	}
	t.Logf("scanned %d log lines and %d client errors for %d secrets in %d forms each: %d found; messages:%s\nclient errors:\n  %s",
		len(lines), len(clientErrs), len(secrets), len(secretForms("x")), found, summary.String(), strings.Join(clientErrs, "\n  "))
}
