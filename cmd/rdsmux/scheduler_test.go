package main

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSchedulerEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []string
		want    []string
		restart bool
	}{
		{"no GODEBUG", []string{"A=1"}, []string{"A=1", "GODEBUG=" + schedtraceSetting}, true},
		{"empty GODEBUG", []string{"GODEBUG="}, []string{"GODEBUG=" + schedtraceSetting}, true},
		{"other settings kept", []string{"GODEBUG=gctrace=1", "B=2"}, []string{"GODEBUG=gctrace=1," + schedtraceSetting, "B=2"}, true},
		{"schedtrace set: left alone", []string{"GODEBUG=gctrace=1,schedtrace=0"}, nil, false},
		{"schedtrace set elsewhere", []string{"GODEBUG=schedtrace=1000"}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, restart := schedulerEnv(tc.in)
			require.Equal(t, tc.restart, restart)
			require.Equal(t, tc.want, got)
		})
	}
}

// reexecEnv makes the test binary run keepSysmonAwake as main does and
// print its PID and GODEBUG before and after.
const reexecEnv = "RDSMUX_TEST_KEEP_SYSMON_AWAKE"

func TestMain(m *testing.M) {
	if os.Getenv(reexecEnv) == "1" {
		println("pid", os.Getpid(), "GODEBUG", os.Getenv("GODEBUG")) // stderr, unbuffered
		keepSysmonAwake()
		println("running")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestKeepSysmonAwake: the program restarts itself once, in the same
// process, with schedtrace added to GODEBUG; a GODEBUG with schedtrace is
// left alone.
func TestKeepSysmonAwake(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	run := func(godebug string) []string {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), reexecEnv+"=1", "GODEBUG="+godebug)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}

	lines := run("gctrace=0")
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		require.Equal(t, []string{"pid " + fieldOf(lines[0], 1) + " GODEBUG gctrace=0", "running"}, lines)
		return
	}
	require.Len(t, lines, 3, "one restart: %q", lines)
	pid := fieldOf(lines[0], 1)
	_, err = strconv.Atoi(pid)
	require.NoError(t, err)
	require.Equal(t, "pid "+pid+" GODEBUG gctrace=0", lines[0])
	require.Equal(t, "pid "+pid+" GODEBUG gctrace=0,"+schedtraceSetting, lines[1], "same process, schedtrace added")
	require.Equal(t, "running", lines[2])

	lines = run("schedtrace=0")
	require.Len(t, lines, 2, "no restart: %q", lines)
	require.Equal(t, "running", lines[1])
}

func fieldOf(line string, i int) string {
	f := strings.Fields(line)
	if i < len(f) {
		return f[i]
	}
	return ""
}
