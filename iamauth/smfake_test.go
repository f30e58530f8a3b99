package iamauth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// fakeSM is a loopback HTTP server speaking the Secrets Manager JSON
// protocol for GetSecretValue, so that the real SDK client is exercised
// (request signing, serialization, error decoding, retries).
type fakeSM struct {
	t   testing.TB
	srv *httptest.Server

	requests atomic.Int64 // GetSecretValue requests served (any outcome)

	mu       sync.Mutex
	stages   map[string]string // guarded by mu; version stage -> secret string
	throttle int               // guarded by mu; the next n requests get ThrottlingException
	failWith string            // guarded by mu; if set, every request fails with this error type
	gate     chan struct{}     // guarded by mu; if non-nil, requests wait for it to close
	seen     []string          // guarded by mu; stages requested, in order
}

func newFakeSM(t testing.TB) *fakeSM {
	f := &fakeSM{t: t, stages: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// client returns a real SDK client pointed at the fake: static credentials,
// a fixed region, the loopback endpoint, and retries without sleeping.
func (f *fakeSM) client() *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(f.srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
		HTTPClient:   f.srv.Client(),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.RateLimiter = ratelimit.None
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		}),
	})
}

func secretJSON(user, pass string) string {
	b, _ := json.Marshal(map[string]any{"username": user, "password": pass, "host": "127.0.0.1", "port": 3306, "dbname": "test", "engine": "mariadb"})
	return string(b)
}

func (f *fakeSM) set(stage, secret string) {
	f.mu.Lock()
	f.stages[stage] = secret
	f.mu.Unlock()
}

// finishRotation moves AWSCURRENT to the AWSPENDING version, as the
// rotation function's finishSecret step does.
func (f *fakeSM) finishRotation() {
	f.mu.Lock()
	f.stages["AWSPREVIOUS"] = f.stages[StageCurrent]
	f.stages[StageCurrent] = f.stages[StagePending]
	delete(f.stages, StagePending)
	f.mu.Unlock()
}

func (f *fakeSM) setThrottle(n int) {
	f.mu.Lock()
	f.throttle = n
	f.mu.Unlock()
}

func (f *fakeSM) setFail(errType string) {
	f.mu.Lock()
	f.failWith = errType
	f.mu.Unlock()
}

func (f *fakeSM) stagesSeen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

func (f *fakeSM) serve(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	if got := r.Header.Get("X-Amz-Target"); got != "secretsmanager.GetSecretValue" {
		f.writeErr(w, http.StatusBadRequest, "UnknownOperationException", "unexpected target "+got)
		return
	}
	// The SDK must sign with the static test key for us-east-1.
	if auth := r.Header.Get("Authorization"); !strings.Contains(auth, "Credential="+testAccessKey+"/") || !strings.Contains(auth, "/us-east-1/secretsmanager/aws4_request") {
		f.writeErr(w, http.StatusBadRequest, "InvalidSignatureException", "unsigned request")
		return
	}
	var in struct {
		SecretId     string
		VersionStage string
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		f.writeErr(w, http.StatusBadRequest, "InvalidRequestException", err.Error())
		return
	}
	if in.VersionStage == "" {
		in.VersionStage = StageCurrent
	}
	f.mu.Lock()
	f.seen = append(f.seen, in.VersionStage)
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	f.mu.Lock()
	throttled := f.throttle > 0
	if throttled {
		f.throttle--
	}
	failWith := f.failWith
	secret, ok := f.stages[in.VersionStage]
	f.mu.Unlock()
	switch {
	case throttled:
		f.writeErr(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
	case failWith == "InternalServiceError":
		f.writeErr(w, http.StatusInternalServerError, failWith, "internal error")
	case failWith != "":
		f.writeErr(w, http.StatusBadRequest, failWith, "injected failure")
	case !ok:
		f.writeErr(w, http.StatusBadRequest, "ResourceNotFoundException", fmt.Sprintf("Secrets Manager can't find the specified secret value for staging label: %s", in.VersionStage))
	default:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"ARN":           "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + in.SecretId,
			"Name":          in.SecretId,
			"SecretString":  secret,
			"VersionId":     fmt.Sprintf("v-%x", len(secret)),
			"VersionStages": []string{in.VersionStage},
			"CreatedDate":   1.7e9,
		})
	}
}

func (f *fakeSM) writeErr(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Errortype", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}
