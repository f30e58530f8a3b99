//go:build linux

// Command epollrelay is a plain TCP relay built the way HAProxy is, not
// the way Go servers usually are: a fixed number of OS threads, each
// waiting on its own epoll instance and copying whatever is ready from a
// socket to its peer, with no goroutine per connection and no use of Go's
// network poller. Each client connection gets its own connection to the
// target.
//
// It answers one question for the benchmark scripts: how much of the gap
// between a goroutine-per-connection Go relay (bench/tcprelay, and the
// rdsmux listener) and HAProxy is the goroutine model, and how much is Go
// itself. It is a measuring instrument, not a server: a peer that cannot
// take a write at once is waited for by polling (the thread's other
// sockets wait too, which suits request/response traffic such as MySQL's
// and would stall a pair whose both directions fill at once), and
// connections are only closed when one side ends.
//
//	go run ./bench/epollrelay -listen 127.0.0.1:0 -target 127.0.0.1:3306 -threads 2
//
// It prints the address it listens on and relays until SIGINT or SIGTERM.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
)

// maxFD bounds the file descriptors the relay tracks.
const maxFD = 1 << 16

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback `address` to accept clients on")
	target := flag.String("target", "", "loopback `host:port` to relay to (required)")
	threads := flag.Int("threads", 2, "OS threads relaying, each with its own epoll instance")
	flag.Parse()
	if *target == "" {
		fmt.Fprintln(os.Stderr, "epollrelay: -target is required")
		os.Exit(2)
	}
	if err := run(*listen, *target, *threads); err != nil {
		fmt.Fprintln(os.Stderr, "epollrelay:", err)
		os.Exit(1)
	}
}

// relay holds the peer of every relayed socket and the epoll instances.
type relay struct {
	peers  [maxFD]atomic.Int32 // fd → the fd it relays to, -1 when none
	epolls []int
	target syscall.SockaddrInet4
}

func run(listen, target string, threads int) error {
	r, err := newRelay(target, threads)
	if err != nil {
		return err
	}
	lfd, addr, err := listenLoopback(listen)
	if err != nil {
		return err
	}
	fmt.Println(addr)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-stop
		os.Exit(0) // the relay holds nothing that needs flushing
	}()
	return r.serve(lfd)
}

// newRelay starts threads relaying threads, each with its own epoll
// instance; they run until the process exits.
func newRelay(target string, threads int) (*relay, error) {
	ta, err := loopback(target)
	if err != nil {
		return nil, err
	}
	r := &relay{target: ta}
	for i := range r.peers {
		r.peers[i].Store(-1)
	}
	for range max(threads, 1) {
		ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return nil, fmt.Errorf("epoll_create1: %w", err)
		}
		r.epolls = append(r.epolls, ep)
		go r.loop(ep)
	}
	return r, nil
}

// listenLoopback opens a listening socket on the loopback address listen
// and returns it with the address it got.
func listenLoopback(listen string) (int, netip.AddrPort, error) {
	la, err := loopback(listen)
	if err != nil {
		return -1, netip.AddrPort{}, err
	}
	lfd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, netip.AddrPort{}, err
	}
	if err := syscall.SetsockoptInt(lfd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		syscall.Close(lfd)
		return -1, netip.AddrPort{}, err
	}
	if err := syscall.Bind(lfd, &la); err != nil {
		syscall.Close(lfd)
		return -1, netip.AddrPort{}, fmt.Errorf("bind %s: %w", listen, err)
	}
	if err := syscall.Listen(lfd, 1024); err != nil {
		syscall.Close(lfd)
		return -1, netip.AddrPort{}, err
	}
	sa, err := syscall.Getsockname(lfd)
	if err != nil {
		syscall.Close(lfd)
		return -1, netip.AddrPort{}, err
	}
	bound := sa.(*syscall.SockaddrInet4)
	return lfd, netip.AddrPortFrom(netip.AddrFrom4(bound.Addr), uint16(bound.Port)), nil
}

// serve accepts clients on the listening socket lfd until accept fails
// (lfd closed) and spreads them over the epoll instances.
func (r *relay) serve(lfd int) error {
	for n := 0; ; n++ {
		cfd, _, err := syscall.Accept4(lfd, syscall.SOCK_CLOEXEC)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		if err := r.pair(cfd, r.epolls[n%len(r.epolls)]); err != nil {
			fmt.Fprintln(os.Stderr, "epollrelay:", err)
			syscall.Close(cfd)
		}
	}
}

// loopback resolves a loopback IPv4 host:port; the relay dials nothing
// else.
func loopback(hostport string) (syscall.SockaddrInet4, error) {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		host, port, serr := net.SplitHostPort(hostport)
		if serr != nil || host != "localhost" {
			return syscall.SockaddrInet4{}, fmt.Errorf("%q: want a loopback IPv4 host:port: %w", hostport, err)
		}
		ap, err = netip.ParseAddrPort("127.0.0.1:" + port)
		if err != nil {
			return syscall.SockaddrInet4{}, err
		}
	}
	if !ap.Addr().Is4() || !ap.Addr().IsLoopback() {
		return syscall.SockaddrInet4{}, fmt.Errorf("%s is not a loopback IPv4 address", hostport)
	}
	return syscall.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}, nil
}

// pair connects a target socket for the accepted client cfd and hands
// both to the epoll instance ep.
func (r *relay) pair(cfd, ep int) error {
	tfd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := syscall.Connect(tfd, &r.target); err != nil {
		syscall.Close(tfd)
		return fmt.Errorf("connect to the target: %w", err)
	}
	if cfd >= maxFD || tfd >= maxFD {
		syscall.Close(tfd)
		return fmt.Errorf("file descriptor beyond %d", maxFD)
	}
	for _, fd := range [2]int{cfd, tfd} {
		if err := syscall.SetNonblock(fd, true); err != nil {
			syscall.Close(tfd)
			return err
		}
		_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	}
	r.peers[cfd].Store(int32(tfd))
	r.peers[tfd].Store(int32(cfd))
	for _, fd := range [2]int{cfd, tfd} {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
		if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			r.closePair(ep, cfd, tfd)
			return fmt.Errorf("epoll_ctl: %w", err)
		}
	}
	return nil
}

// loop is one relaying thread: it owns the sockets registered with ep.
func (r *relay) loop(ep int) {
	runtime.LockOSThread()
	events := make([]syscall.EpollEvent, 128)
	buf := make([]byte, 64<<10)
	for {
		n, err := syscall.EpollWait(ep, events, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			fmt.Fprintln(os.Stderr, "epollrelay: epoll_wait:", err)
			os.Exit(1)
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			peer := int(r.peers[fd].Load())
			if peer < 0 {
				continue // closed earlier in this batch
			}
			if !r.copyOnce(fd, peer, buf) {
				r.closePair(ep, fd, peer)
			}
		}
	}
}

// copyOnce moves what fd has to peer; false when the pair should close.
func (r *relay) copyOnce(fd, peer int, buf []byte) bool {
	for {
		n, err := syscall.Read(fd, buf)
		switch {
		case errors.Is(err, syscall.EAGAIN):
			return true
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil || n == 0:
			return false
		}
		if !writeAll(peer, buf[:n]) {
			return false
		}
		if n < len(buf) {
			return true // drained: level-triggered epoll reports more
		}
	}
}

// writeAll writes p to the non-blocking fd, yielding while its send
// buffer is full.
func writeAll(fd int, p []byte) bool {
	for len(p) > 0 {
		n, err := syscall.Write(fd, p)
		switch {
		case errors.Is(err, syscall.EAGAIN):
			runtime.Gosched()
			continue
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			return false
		}
		p = p[n:]
	}
	return true
}

func (r *relay) closePair(ep, a, b int) {
	for _, fd := range [2]int{a, b} {
		r.peers[fd].Store(-1)
		_ = syscall.EpollCtl(ep, syscall.EPOLL_CTL_DEL, fd, nil)
		syscall.Close(fd)
	}
}
