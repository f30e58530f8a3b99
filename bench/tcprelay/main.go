// Command tcprelay is a plain TCP relay for the benchmark scripts: each
// client connection gets its own connection to the target, and bytes are
// copied both ways without looking at them. Run against the same server as
// the rdsmux listener, it shows what relaying alone costs on the machine —
// the floor under any proxy's overhead, MySQL-aware or not.
//
//	go run ./bench/tcprelay -listen 127.0.0.1:0 -target 127.0.0.1:3306
//
// It prints the address it listens on and relays until SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to accept clients on")
	target := flag.String("target", "", "`host:port` to relay to (required)")
	flag.Parse()
	if *target == "" {
		fmt.Fprintln(os.Stderr, "tcprelay: -target is required")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcprelay:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	r := &relay{target: *target, conns: map[net.Conn]struct{}{}}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go func() { // ends the accept loop
		<-stop
		ln.Close()
	}()
	r.serve(ln)
}

// relay owns the client and target connections it accepted and dialed.
type relay struct {
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{} // guarded by mu
}

// serve accepts until ln closes, then closes every connection and waits
// for the copies to end.
func (r *relay) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		r.wg.Add(1)
		go r.pipe(c)
	}
	r.mu.Lock()
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *relay) track(c net.Conn, add bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if add {
		r.conns[c] = struct{}{}
	} else {
		delete(r.conns, c)
	}
}

// pipe relays one client until either side closes.
func (r *relay) pipe(c net.Conn) {
	defer r.wg.Done()
	defer c.Close()
	b, err := net.Dial("tcp", r.target)
	if err != nil {
		return
	}
	defer b.Close()
	r.track(c, true)
	r.track(b, true)
	defer r.track(c, false)
	defer r.track(b, false)
	done := make(chan struct{})
	go func() { // client to target; ends when either side closes
		_, _ = io.Copy(b, c)
		b.Close()
		close(done)
	}()
	_, _ = io.Copy(c, b)
	c.Close()
	<-done
}
