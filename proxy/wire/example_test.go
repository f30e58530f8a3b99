package wire_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/rdsmux/rdsmux/proxy/wire"
)

// Connect to a server as a client and run a query.
func ExampleDial() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wire.Dial(ctx, "127.0.0.1:3306", &wire.ClientConfig{User: "app", Password: "secret", Database: "test"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	v, _, err := c.QueryValue(ctx, "SELECT @@version")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v)
}

// Serve MySQL clients: authenticate them and answer their commands.
func ExampleAccept() {
	ln, err := net.Listen("tcp", "127.0.0.1:3307")
	if err != nil {
		log.Fatal(err)
	}
	cfg := &wire.ServerConfig{
		Lookup: func(_ context.Context, user string) (wire.Credential, error) {
			if user != "app" {
				return wire.Credential{}, wire.ErrUnknownUser
			}
			return wire.CredentialFromPassword("secret"), nil
		},
	}
	for id := uint32(1); ; id++ {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() { // serves one client until it quits
			defer nc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			sc, err := wire.Accept(ctx, nc, cfg, id)
			cancel()
			if err != nil {
				return
			}
			for {
				cmd, _, err := sc.ReadCommand()
				if err != nil || cmd == wire.ComQuit {
					return
				}
				if cmd == wire.ComPing {
					sc.WriteOK(&wire.OK{Status: wire.StatusAutocommit})
					continue
				}
				sc.WriteError(wire.NewError(wire.ErUnknownComError, wire.StateSyntaxOrAccess, "%s is not supported", cmd))
			}
		}()
	}
}

// Relay one command's response from a backend to a client, translating
// between their CLIENT_DEPRECATE_EOF settings.
func ExampleFramer() {
	var sc *wire.ServerConn // the client's connection, after Accept
	var be *wire.ClientConn // a backend connection, after Dial
	if sc == nil || be == nil {
		return
	}
	var f wire.Framer
	tr := wire.NewEOFTranslator(be.DeprecateEOF(), sc.DeprecateEOF())
	f.Reset(wire.ModeText, be.DeprecateEOF())
	for !f.Done() {
		p, err := be.ReadPacket()
		if err != nil {
			return
		}
		kind, err := f.Next(p)
		if err != nil {
			return
		}
		a, b := tr.Translate(&f, kind, p)
		for _, q := range [][]byte{a, b} {
			if q != nil {
				sc.WritePacket(q)
			}
		}
	}
	sc.Flush()
	fmt.Println("in transaction:", f.Status().Has(wire.StatusInTrans))
}
