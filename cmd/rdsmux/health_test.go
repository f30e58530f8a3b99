package main

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestDialFailureLogRateLimit: the first failure is logged at once with
// its reason, the next ones at most every dialLogInterval with a count of
// those left out, and recovery once; readiness flips after the window.
func TestDialFailureLogRateLimit(t *testing.T) {
	var logs syncBuffer
	h := newHealth(slog.New(slog.NewJSONHandler(&logs, nil)), 3*time.Second)
	now := time.Unix(1000, 0)
	h.now = func() time.Time { return now }
	h.lastSuccess = now
	refused := errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	for i := 0; i < 30; i++ { // one failure a second for 30 s
		h.record(refused, "pool dial")
		if i == 2 {
			ok, _ := h.ready()
			assert.True(t, ok, "unready before the window passed")
		}
		now = now.Add(time.Second)
	}
	ok, why := h.ready()
	assert.False(t, ok)
	assert.Contains(t, why, "unreachable")
	warns := strings.Count(logs.String(), `"msg":"rdsmux: cannot connect to the database"`)
	assert.Equal(t, 3, warns, "30 failures over 30 s: logged at 0 s, 10 s, 20 s\n%s", logs.String())
	assert.Contains(t, logs.String(), "connection refused")
	assert.Contains(t, logs.String(), `"failures_not_logged":9`)

	h.record(nil, "readiness probe")
	ok, _ = h.ready()
	assert.True(t, ok)
	assert.Equal(t, 1, strings.Count(logs.String(), `"msg":"rdsmux: the database answers again"`))
}
