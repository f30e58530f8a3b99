//go:build !linux

package failover

import (
	"syscall"
	"time"
)

// setUserTimeout is a no-op where TCP_USER_TIMEOUT does not exist; keepalive
// and probe timeouts still bound failure detection.
func setUserTimeout(rc syscall.RawConn, d time.Duration) error { return nil }
