//go:build linux

package main

import (
	"bytes"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRelayCopiesBothWays: bytes go from client to target and back,
// larger than one read buffer, and a client that hangs up closes the
// target side.
func TestRelayCopiesBothWays(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	ended := make(chan struct{})
	go func() { // an echo server
		defer close(ended)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()

	r, err := newRelay(ln.Addr().String(), 2)
	require.NoError(t, err)
	lfd, addr, err := listenLoopback("127.0.0.1:0")
	require.NoError(t, err)
	defer syscall.Close(lfd)
	go func() { _ = r.serve(lfd) }()

	c, err := net.Dial("tcp", addr.String())
	require.NoError(t, err)
	msg := bytes.Repeat([]byte("0123456789abcdef"), 10000) // 160 KB: several reads, within the socket buffers
	go func() { _, _ = c.Write(msg) }()
	got := make([]byte, len(msg))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	require.Equal(t, msg, got)
	require.NoError(t, c.Close())
	<-ended // the echo server saw EOF: the relay closed its side
}

func TestLoopbackOnly(t *testing.T) {
	_, err := loopback("10.0.0.1:3306")
	require.Error(t, err)
	_, err = loopback("localhost:3306")
	require.NoError(t, err)
}
