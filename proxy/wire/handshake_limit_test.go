package wire

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHandshakePacketLimit: before authentication a client's packets are
// held to MaxHandshakePacketSize, refused from the header alone with
// ER_NET_PACKET_TOO_LARGE; once authenticated, the configured
// MaxPacketSize applies.
func TestHandshakePacketLimit(t *testing.T) {
	lookup := func(context.Context, string) (Credential, error) { return CredentialFromPassword("pw"), nil }
	cfg := &ServerConfig{Lookup: lookup} // MaxPacketSize 0: DefaultMaxPacketSize after auth
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("before auth", func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		done := make(chan error, 1)
		go func() { // the server side
			_, err := Accept(ctx, a, cfg, 1)
			a.Close()
			done <- err
		}()
		c := NewConn(b)
		_, err := c.ReadPacket() // the handshake
		require.NoError(t, err)
		// Only the header of a 1 MiB handshake response.
		n := 1 << 20
		_, err = b.Write([]byte{byte(n), byte(n >> 8), byte(n >> 16), 1})
		require.NoError(t, err)
		c.SetSeq(2) // the answer to the packet with sequence id 1
		p, err := c.ReadPacket()
		require.NoError(t, err, "got %q, %v; want an error packet", p, err)
		require.True(t, IsERR(p), "got %q, %v; want an error packet", p, err)
		e, _ := ParseERR(p)
		assert.Equal(t, ErNetPacketTooLarge, e.Code, "error %v, want %d", e, ErNetPacketTooLarge)
		err = <-done
		assert.ErrorIs(t, err, ErrPacketTooLarge, "Accept returned %v, want ErrPacketTooLarge", err)
	})

	t.Run("after auth", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		got := make(chan []byte, 1)
		go func() { // the server side: one command after the handshake
			nc, err := ln.Accept()
			if err != nil {
				got <- nil
				return
			}
			defer nc.Close()
			sc, err := Accept(ctx, nc, cfg, 1)
			if err != nil {
				got <- nil
				return
			}
			_, p, err := sc.ReadCommand()
			if err != nil {
				got <- nil
				return
			}
			got <- bytes.Clone(p)
		}()
		cc, err := Dial(ctx, ln.Addr().String(), &ClientConfig{User: "u", Password: "pw"})
		require.NoError(t, err)
		defer cc.Close()
		q := append([]byte{byte(ComQuery)}, bytes.Repeat([]byte("x"), 1<<20)...)
		err = cc.WritePacketFlush(q)
		require.NoError(t, err)
		p := <-got
		require.True(t, bytes.Equal(p, q), "the server read %d bytes of a %d-byte command", len(p), len(q))
	})
}
