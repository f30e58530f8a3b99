package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Command is one external command a suite runs; its combined output goes
// to a log file under the scratch directory as well as back to the caller.
type Command struct {
	Dir     string   // working directory relative to the repository root; "" for the root
	Env     []string // added to the environment
	Args    []string
	Timeout time.Duration
	Log     string // file name under the scratch directory
}

// String is the command as a user would type it from the repository root.
func (c Command) String() string {
	var parts []string
	if c.Dir != "" {
		parts = append(parts, "(cd "+c.Dir+" &&")
	}
	parts = append(parts, c.Env...)
	for _, a := range c.Args {
		parts = append(parts, shellQuote(a))
	}
	s := strings.Join(parts, " ")
	if c.Dir != "" {
		s += ")"
	}
	return s
}

// shellQuote quotes a for sh when it holds anything but safe characters.
func shellQuote(a string) string {
	if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./,:+@") == "" {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

// Run runs the command from root, appending its output to
// scratch/c.Log, and returns the output. The error says where the log is.
func (c Command) Run(ctx context.Context, root, scratch string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	logPath := filepath.Join(scratch, c.Log)
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fmt.Fprintf(f, "$ %s\n", c)
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	cmd.Dir = filepath.Join(root, c.Dir)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdout = io.MultiWriter(&buf, f)
	cmd.Stderr = cmd.Stdout
	// Its own process group, killed as a whole on timeout: `go test`
	// leaves its test binary running when only go itself is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second // a child holding the pipes open does not hang us
	start := time.Now()
	err = cmd.Run()
	fmt.Fprintf(f, "# exit: %v after %v\n", err, time.Since(start).Round(time.Millisecond))
	if ctx.Err() == context.DeadlineExceeded {
		return buf.String(), fmt.Errorf("%s: timed out after %v (output in %s)", c, c.Timeout, logPath)
	}
	if err != nil {
		return buf.String(), fmt.Errorf("%s: %w (output in %s)", c, err, logPath)
	}
	return buf.String(), nil
}
