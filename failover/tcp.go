package failover

import (
	"context"
	"net"
	"syscall"
	"time"
)

// TCPConfig tunes the sockets the monitor and the dialer open, so that a
// dead or unreachable host is noticed in seconds rather than after the
// operating system's TCP timeouts (minutes).
type TCPConfig struct {
	// DialTimeout bounds a TCP connect. Default 1s.
	DialTimeout time.Duration
	// KeepAliveIdle is the idle time before the first keepalive probe.
	// Default 5s.
	KeepAliveIdle time.Duration
	// KeepAliveInterval is the time between keepalive probes. Default 1s.
	KeepAliveInterval time.Duration
	// KeepAliveCount is the number of unanswered probes after which the
	// kernel drops the connection. Default 3.
	KeepAliveCount int
	// UserTimeout (Linux TCP_USER_TIMEOUT) drops a connection whose sent
	// data stays unacknowledged this long, as when the peer vanished
	// without a reset. Default 10s; negative disables it.
	UserTimeout time.Duration
}

func (c TCPConfig) withDefaults() TCPConfig {
	if c.DialTimeout <= 0 {
		c.DialTimeout = time.Second
	}
	if c.KeepAliveIdle <= 0 {
		c.KeepAliveIdle = 5 * time.Second
	}
	if c.KeepAliveInterval <= 0 {
		c.KeepAliveInterval = time.Second
	}
	if c.KeepAliveCount <= 0 {
		c.KeepAliveCount = 3
	}
	if c.UserTimeout == 0 {
		c.UserTimeout = 10 * time.Second
	}
	return c
}

// netDialer returns a net.Dialer configured by c (after withDefaults).
func (c TCPConfig) netDialer() *net.Dialer {
	d := &net.Dialer{
		Timeout: c.DialTimeout,
		KeepAliveConfig: net.KeepAliveConfig{
			Enable:   true,
			Idle:     c.KeepAliveIdle,
			Interval: c.KeepAliveInterval,
			Count:    c.KeepAliveCount,
		},
	}
	if c.UserTimeout > 0 {
		ut := c.UserTimeout
		d.Control = func(network, address string, rc syscall.RawConn) error {
			return setUserTimeout(rc, ut)
		}
	}
	return d
}

// dialTCP connects to addr with c's settings.
func (c TCPConfig) dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	return c.netDialer().DialContext(ctx, "tcp", addr)
}
