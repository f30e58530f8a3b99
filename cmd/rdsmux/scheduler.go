package main

import (
	"os"
	"strings"
)

// The Go runtime's monitor thread (sysmon) sleeps deeply while every P is
// idle, and the next goroutine that enters a system call wakes it; it then
// polls every 20 µs until the Ps are idle again. A relay is idle between
// every two packets, so each query through the listener paid for waking
// sysmon and its polling: on a 2-core VM that was most of what the listener
// added to a query (sysbench oltp_point_select at one thread: 0.76 of the
// rate through HAProxy; 1.04 with sysmon kept out of deep sleep; measured
// by bench/sysbench.sh with RELAY=1 HAPROXY=1).
//
// The runtime keeps sysmon out of deep sleep when GODEBUG schedtrace is on
// (so that it can print the trace on time), and has no other switch. So
// rdsmux starts itself again, once, at the top of main, with
// schedtrace=2147483647 in GODEBUG: the longest interval there is (24.8
// days), so that the trace line is, in practice, never printed (on a host
// up for longer than that, one "SCHED" line may go to stderr at start).
// Idle, sysmon then backs off to one wake-up every 10 ms. The process keeps
// its PID: it is an exec(2), not a child.
//
// A GODEBUG that already sets schedtrace is left alone: GODEBUG=schedtrace=0
// turns this off. A program that embeds proxy.Server can set the same
// GODEBUG in its own environment.

// schedtraceSetting is the GODEBUG setting rdsmux restarts itself with.
const schedtraceSetting = "schedtrace=2147483647"

// schedulerEnv returns the environment to restart rdsmux with, and false
// when no restart is needed: GODEBUG already sets schedtrace.
func schedulerEnv(environ []string) ([]string, bool) {
	env := make([]string, 0, len(environ)+1)
	found := false
	for _, kv := range environ {
		value, ok := strings.CutPrefix(kv, "GODEBUG=")
		if !ok {
			env = append(env, kv)
			continue
		}
		for setting := range strings.SplitSeq(value, ",") {
			if strings.HasPrefix(strings.TrimSpace(setting), "schedtrace=") {
				return nil, false
			}
		}
		if !found { // the first GODEBUG is the one getenv sees
			found = true
			if value != "" {
				value += ","
			}
			env = append(env, "GODEBUG="+value+schedtraceSetting)
		}
	}
	if !found {
		env = append(env, "GODEBUG="+schedtraceSetting)
	}
	return env, true
}

// keepSysmonAwake restarts rdsmux with schedtraceSetting when GODEBUG does
// not set schedtrace; it returns only when it does not restart (or the
// restart failed: rdsmux then runs as it is, slower).
func keepSysmonAwake() {
	env, restart := schedulerEnv(os.Environ())
	if !restart {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	_ = execve(exe, os.Args, env)
}
