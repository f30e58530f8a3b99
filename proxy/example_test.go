package proxy_test

import (
	"context"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy"
)

// Run a listener in front of a database: clients authenticate as app and
// share at most 20 backend connections, borrowed per transaction.
func ExampleServer() {
	users := proxy.StaticUsers{"app": "secret"}
	target := &proxy.Target{
		Addr:        "127.0.0.1:3306",
		Credentials: proxy.SameCredentials(users), // the database's own accounts
	}
	p, err := pool.New(pool.Config{Dial: target.Dial, MaxConnections: 20, ConnectionBorrowTimeout: 30 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	srv := &proxy.Server{Pool: p, Users: users}

	ln, err := net.Listen("tcp", "127.0.0.1:3307")
	if err != nil {
		log.Fatal(err)
	}
	go func() { // drains on SIGTERM
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	if err := srv.Serve(ln); err != proxy.ErrServerClosed {
		log.Fatal(err)
	}
}
