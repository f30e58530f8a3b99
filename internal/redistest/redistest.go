// Package redistest starts real, throwaway Redis servers (Debian's
// redis-server, or Valkey's valkey-server) for tests: each in its own
// temporary directory, on a free loopback port, without persistence, and
// stopped when the test ends. A test that needs one and cannot find the
// binary fails with a message that says what to install (with go test
// -short it is skipped instead, as internal/mariadbtest does).
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// InstallHint tells a developer how to get a server binary.
const InstallHint = "install Redis: `apt-get install redis-server` on Debian/Ubuntu " +
	"(scripts/install-deps.sh does it), or put redis-server or valkey-server on PATH"

// Server is one running redis-server.
type Server struct {
	t       testing.TB
	bin     string
	dir     string
	port    int
	cluster bool

	mu sync.Mutex
	// Guarded by mu.
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
}

// findBinary looks for redis-server, then valkey-server.
func findBinary() (string, error) {
	for _, name := range []string{"redis-server", "valkey-server"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		for _, dir := range []string{"/usr/bin", "/usr/sbin", "/usr/local/bin"} {
			p := filepath.Join(dir, name)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", errors.New("neither redis-server nor valkey-server found")
}

// Option configures a server started by Start.
type Option func(*Server)

// WithCluster starts the server as a one-node Redis Cluster that serves
// every hash slot: a command whose keys map to different slots fails with
// CROSSSLOT there as on a real cluster.
func WithCluster() Option { return func(s *Server) { s.cluster = true } }

// Start starts a server for t, stopped by t.Cleanup. It fails t when no
// binary is installed.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	bin, err := findBinary()
	if err != nil {
		if testing.Short() {
			t.Skipf("skipping in -short mode: %v; %s", err, InstallHint)
		}
		t.Fatalf("this test needs a real Redis server: %v; %s", err, InstallHint)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("redistest: finding a free port: %v", err)
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir(), port: port}
	for _, o := range opts {
		o(s)
	}
	if err := s.launch(); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Kill)
	return s
}

// launch starts the process on s.port and waits until it answers PING.
func (s *Server) launch() error {
	args := []string{
		"--bind", "127.0.0.1", "--port", strconv.Itoa(s.port),
		"--dir", s.dir, "--save", "", "--appendonly", "no",
		"--protected-mode", "no", "--daemonize", "no",
		"--logfile", filepath.Join(s.dir, "redis.log"),
	}
	if s.cluster {
		_ = os.Remove(filepath.Join(s.dir, "nodes.conf"))
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(s.dir, "nodes.conf"))
	}
	cmd := exec.Command(s.bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { // owned by s; ends when the process exits
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s.ping() == nil {
			if s.cluster {
				return s.clusterUp(deadline)
			}
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited at start:\n%s", s.bin, s.logTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
	return fmt.Errorf("%s did not answer PING within 10s:\n%s", s.bin, s.logTail())
}

// clusterUp gives the one node every slot and waits for the cluster to
// be up.
func (s *Server) clusterUp(deadline time.Time) error {
	if err := s.command("CLUSTER ADDSLOTSRANGE 0 16383", "+OK"); err != nil {
		return err
	}
	for {
		err := s.command("SET {probe}:k v", "+OK")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the one-node cluster did not come up: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping sends an inline PING and expects +PONG.
func (s *Server) ping() error { return s.command("PING", "+PONG") }

// command sends an inline command and expects an answer starting with want.
func (s *Server) command(cmd, want string) error {
	c, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, want) {
		return fmt.Errorf("unexpected answer to %s: %q", cmd, line)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// Addr is the server's "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is redis://127.0.0.1:port/0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Kill stops the server with SIGKILL, as a crash would, and waits for it
// to exit; its data is lost (there is no persistence). Safe to call more
// than once.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
}

// Restart starts the server again on the same port after Kill, empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	if err := s.launch(); err != nil {
		s.t.Fatalf("redistest: restarting: %v", err)
	}
}
