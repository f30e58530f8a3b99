package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCommandString(t *testing.T) {
	c := Command{Dir: "examples", Env: []string{"RDSMUX_DRILL=3"}, Args: []string{"go", "test", "-run", "^$", "-bench", ".", "it's"}}
	want := `(cd examples && RDSMUX_DRILL=3 go test -run '^$' -bench . 'it'\''s')`
	if got := c.String(); got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
}

func TestCommandRun(t *testing.T) {
	root, scratch := t.TempDir(), t.TempDir()
	c := Command{Env: []string{"X=42"}, Args: []string{"sh", "-c", "echo out $X; echo err >&2"}, Timeout: 10 * time.Second, Log: "x.txt"}
	out, err := c.Run(context.Background(), root, scratch)
	if err != nil || !strings.Contains(out, "out 42") || !strings.Contains(out, "err") {
		t.Fatalf("out %q, err %v", out, err)
	}
	log, _ := os.ReadFile(filepath.Join(scratch, "x.txt"))
	if !strings.Contains(string(log), "$ X=42 sh -c") || !strings.Contains(string(log), "out 42") {
		t.Errorf("log:\n%s", log)
	}
	c.Args = []string{"sh", "-c", "exit 3"}
	if _, err := c.Run(context.Background(), root, scratch); err == nil || !strings.Contains(err.Error(), "x.txt") {
		t.Errorf("failure: %v", err)
	}
}

// A timeout kills the command's whole process group: a child it started
// (as go test starts the test binary) does not outlive it.
func TestCommandRunTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	c := Command{Args: []string{"sh", "-c", "sleep 60 & echo $! > " + pidFile + "; wait"}, Timeout: 300 * time.Millisecond, Log: "t.txt"}
	_, err := c.Run(context.Background(), dir, dir)
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The child was SIGKILLed; wait for it to be reaped.
	for i := 0; syscall.Kill(pid, 0) == nil; i++ {
		if i == 500 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d still running after its command timed out", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
