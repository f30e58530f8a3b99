package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Machine describes where the report was measured.
type Machine struct {
	CPUs     int    // logical CPUs the benchmarks may use
	CPU      string // model name
	OS       string // kernel release
	Go       string // `go version`
	MariaDB  string // `mariadbd --version`
	Sysbench string // `sysbench --version`
	Commit   string // git HEAD, "+ local changes" when the tree is dirty
	Date     time.Time
	// LoadStart and LoadEnd are the 1, 5 and 15 minute load averages
	// before the first suite and after the last: how busy the machine was
	// with other work.
	LoadStart, LoadEnd string
}

// LoadAverage returns the first three fields of /proc/loadavg, "unknown"
// where there is none.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// DescribeMachine gathers Machine; what it cannot find reads "unknown".
func DescribeMachine(ctx context.Context) Machine {
	m := Machine{CPUs: runtime.NumCPU(), CPU: cpuModel(), Date: time.Now().UTC(), LoadStart: LoadAverage()}
	m.OS = firstLine(ctx, "uname", "-sr")
	m.Go = firstLine(ctx, "go", "version")
	m.MariaDB = firstLine(ctx, mariadbd(), "--version")
	m.Sysbench = firstLine(ctx, "sysbench", "--version")
	m.Commit = firstLine(ctx, "git", "rev-parse", "--short=12", "HEAD")
	if out, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(out) > 0 {
		m.Commit += " + local changes"
	}
	return m
}

// mariadbd finds the server binary as internal/mariadbtest does.
func mariadbd() string {
	if p, err := exec.LookPath("mariadbd"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/mariadbd", "/usr/local/sbin/mariadbd", "/usr/sbin/mysqld"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "mariadbd"
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func firstLine(ctx context.Context, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return "unknown"
	}
	l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if l == "" {
		return "unknown"
	}
	return l
}
