package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

const (
	testUser = "iam_app"
	poolCap  = 3
)

// offlineAWS makes the SDK's default chain find static credentials and a
// region in the environment, as the Lambda runtime provides them, and
// nothing else: no shared config files, no instance metadata. Signing an
// IAM token is local computation; nothing reaches AWS.
func offlineAWS(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY":       "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_SESSION_TOKEN":           "example-session-token",
		"AWS_REGION":                  "eu-west-1",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_PROFILE":                 "",
	} {
		t.Setenv(k, v)
	}
}

// TestHandlerSharesPoolAcrossInvocations invokes the handler the way the
// Lambda runtime does, many times in a row and then concurrently, against a
// MariaDB that requires TLS for the IAM user; the IAM token the function
// signs stands in for IAM's check as the user's password.
func TestHandlerSharesPoolAcrossInvocations(t *testing.T) {
	srv := mariadbtest.Start(t, mariadbtest.WithTLS())
	ca := filepath.Join(srv.Dir(), "ca.pem")
	if _, err := os.Stat(ca); err != nil {
		t.Fatalf("the harness's CA certificate: %v", err)
	}
	offlineAWS(t)
	for k, v := range map[string]string{
		"DB_HOST": srv.Host(), "DB_PORT": strconv.Itoa(srv.Port()), "DB_USER": testUser,
		"DB_NAME": "test", "DB_CA_FILE": ca, "DB_MAX_CONNECTIONS": strconv.Itoa(poolCap),
	} {
		t.Setenv(k, v)
	}
	ctx := context.Background()

	// The first invocation of the environment opens the app; no
	// connection is made yet.
	a, err := sharedApp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.db.Close()
		shared.mu.Lock()
		shared.app = nil
		shared.mu.Unlock()
	})
	tok, err := a.tokens.Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tok.Password, "Action=connect") || !strings.Contains(tok.Password, "DBUser="+testUser) {
		t.Fatalf("not an IAM token: %v", tok)
	}
	srv.CreateUser(t, testUser, tok.Password)
	srv.Exec(t, "ALTER USER "+testUser+"@'%' REQUIRE SSL")
	srv.Exec(t, "CREATE TABLE test.items (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, stock INT NOT NULL)")
	srv.Exec(t, "INSERT INTO test.items VALUES (1, 'umbrella', 1000), (2, 'boots', 1)")

	invoke := func(method, path, id string) events.APIGatewayV2HTTPResponse {
		var req events.APIGatewayV2HTTPRequest
		req.RawPath = path
		req.PathParameters = map[string]string{"id": id}
		req.RequestContext.HTTP.Method = method
		resp, err := handle(ctx, req)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
		}
		return resp
	}

	// Warm invocations one after another.
	for range 50 {
		resp := invoke(http.MethodGet, "/items/1", "1")
		var it item
		if err := json.Unmarshal([]byte(resp.Body), &it); err != nil || resp.StatusCode != http.StatusOK || it.Name != "umbrella" {
			t.Fatalf("GET /items/1: %d %s", resp.StatusCode, resp.Body)
		}
	}
	afterSequential := a.db.PoolStats()
	if n := afterSequential.DatabaseConnectionsSetupSucceeded; n != 1 {
		t.Errorf("50 sequential invocations opened %d backend connections, want 1 reused throughout", n)
	}

	// Concurrent invocations (several environments' worth in one
	// process): reads and reservations.
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for g := range 40 {
		wg.Go(func() {
			for i := range 10 {
				var resp events.APIGatewayV2HTTPResponse
				if (g+i)%4 == 0 {
					resp = invoke(http.MethodPost, "/items/1/reserve", "1")
				} else {
					resp = invoke(http.MethodGet, "/items/1", "1")
				}
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if statuses[http.StatusOK] != 400 {
		t.Fatalf("statuses of 400 concurrent invocations: %v", statuses)
	}
	var stock int
	if err := srv.DB(t).QueryRow("SELECT stock FROM test.items WHERE id = 1").Scan(&stock); err != nil {
		t.Fatal(err)
	}
	if stock != 1000-100 {
		t.Errorf("stock after 100 reservations = %d, want 900", stock)
	}

	// Sold out and unknown items are answers, not failures.
	if r := invoke(http.MethodPost, "/items/2/reserve", "2"); r.StatusCode != http.StatusOK {
		t.Errorf("first reservation of item 2: %d %s", r.StatusCode, r.Body)
	}
	if r := invoke(http.MethodPost, "/items/2/reserve", "2"); r.StatusCode != http.StatusConflict {
		t.Errorf("second reservation of item 2: %d %s", r.StatusCode, r.Body)
	}
	if r := invoke(http.MethodGet, "/items/3", "3"); r.StatusCode != http.StatusNotFound {
		t.Errorf("GET /items/3: %d %s", r.StatusCode, r.Body)
	}
	if r := invoke(http.MethodGet, "/items/x", "x"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /items/x: %d %s", r.StatusCode, r.Body)
	}

	st := a.db.PoolStats()
	t.Logf("pool after %d invocations: %d backend connections opened, %d open, %d borrows, %d waited",
		50+400+4, st.DatabaseConnectionsSetupSucceeded, st.DatabaseConnections, st.BorrowRequests, st.WaitCount)
	if st.MaxDatabaseConnectionsAllowed != poolCap {
		t.Errorf("cap = %d, want %d", st.MaxDatabaseConnectionsAllowed, poolCap)
	}
	if st.DatabaseConnections > poolCap || st.DatabaseConnectionsSetupSucceeded > poolCap {
		t.Errorf("backend connections: %d open, %d opened in all; want at most %d", st.DatabaseConnections, st.DatabaseConnectionsSetupSucceeded, poolCap)
	}
	if st.DatabaseConnectionsSetupFailed != 0 {
		t.Errorf("%d backend connections failed to set up", st.DatabaseConnectionsSetupFailed)
	}
	// The server's own view: the IAM user never held more than the cap,
	// and its sessions are encrypted.
	if n := srv.ConnectionsOf(t, testUser); n > poolCap || n < 1 {
		t.Errorf("server sees %d connections of %s, want 1..%d", n, testUser, poolCap)
	}
	var name, cipher string
	if err := a.db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil || cipher == "" {
		t.Errorf("the backend session is not encrypted: %q %v", cipher, err)
	}
	var user string
	if err := a.db.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&user); err != nil || !strings.HasPrefix(user, testUser+"@") {
		t.Errorf("CURRENT_USER() = %q, %v", user, err)
	}
}

// TestConfigRequiresTLS: without a CA bundle the function refuses to start
// rather than send a token in the clear.
func TestConfigRequiresTLS(t *testing.T) {
	for k, v := range map[string]string{"DB_HOST": "127.0.0.1", "DB_USER": "u", "DB_NAME": "d", "DB_CA_FILE": "", "DB_PORT": "", "DB_MAX_CONNECTIONS": ""} {
		t.Setenv(k, v)
	}
	_, err := configFromEnv()
	if err == nil || !strings.Contains(err.Error(), "DB_CA_FILE") {
		t.Fatalf("err = %v, want one about DB_CA_FILE", err)
	}
	t.Setenv("DB_PORT", "x")
	if _, err := configFromEnv(); err == nil || !strings.Contains(err.Error(), "DB_PORT") {
		t.Fatalf("err = %v, want one about DB_PORT", err)
	}
}
