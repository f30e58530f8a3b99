package main

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Drill is one summary line of the repeated failover drill
// (failover/drill_test.go, TestFailoverDrillRepeated): recovery of writes
// through rdsmux's failover dialer, next to plain go-sql-driver on the old
// writer's fixed address.
type Drill struct {
	Name                       string
	Runs                       int
	PromotionP50, PromotionMax time.Duration // promotion -> first acknowledged write
	FailureP50, FailureMax     time.Duration // failure -> first acknowledged write
	DetectionP50, DetectionMax time.Duration // failure -> monitor's "failover started"
	ClientErrors               int
	ErrorsPerRun               float64
	AckedUnreplicated          int
	FixedRecovered, FixedRuns  int           // runs where the fixed-address client wrote again
	FixedWithin                time.Duration // how long after promotion it was given
}

var drillRE = regexp.MustCompile(`^drill (.+): n=(\d+)\s+promotion->first write p50=(\S+) max=(\S+)\s+` +
	`failure->first write p50=(\S+) max=(\S+)\s+detection p50=(\S+) max=(\S+)\s+` +
	`client errors=(\d+) \(([0-9.]+)/run\)\s+acked-but-unreplicated=(\d+)\s+` +
	`fixed-address go-sql-driver recovered in (\d+)/(\d+) runs within (\S+)\s*$`)

// ParseDrill parses one "drill NAME: n=..." line; ok is false if the line
// is not one.
func ParseDrill(line string) (d Drill, ok bool) {
	m := drillRE.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return Drill{}, false
	}
	var err error
	atoi := func(s string) int {
		n, e := strconv.Atoi(s)
		if e != nil && err == nil {
			err = e
		}
		return n
	}
	dur := func(s string) time.Duration {
		v, e := time.ParseDuration(s)
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	d = Drill{Name: m[1], Runs: atoi(m[2]),
		PromotionP50: dur(m[3]), PromotionMax: dur(m[4]),
		FailureP50: dur(m[5]), FailureMax: dur(m[6]),
		DetectionP50: dur(m[7]), DetectionMax: dur(m[8]),
		ClientErrors: atoi(m[9]), AckedUnreplicated: atoi(m[11]),
		FixedRecovered: atoi(m[12]), FixedRuns: atoi(m[13]), FixedWithin: dur(m[14])}
	d.ErrorsPerRun, _ = strconv.ParseFloat(m[10], 64)
	return d, err == nil
}

// PoolFailover is the line TestFailoverThroughThePool (failover_test.go)
// logs: the drill through the driver's pool.
type PoolFailover struct {
	Recovery                time.Duration // promotion -> first acknowledged write
	Acked, InReplication    int
	WriteErrors, ReadErrors int
	ClosedOnFailover        int
}

var poolFailoverRE = regexp.MustCompile(`recovery: first write (\S+) after promotion; (\d+) writes acknowledged, ` +
	`(\d+) still in replication when the primary died; write errors (\d+), read errors (\d+); ` +
	`backend connections closed on failover: (\d+)`)

// ParsePoolFailover finds TestFailoverThroughThePool's log line in line
// (with or without the file:line prefix of `go test -v`).
func ParsePoolFailover(line string) (p PoolFailover, ok bool) {
	m := poolFailoverRE.FindStringSubmatch(line)
	if m == nil {
		return PoolFailover{}, false
	}
	var err error
	atoi := func(s string) int {
		n, e := strconv.Atoi(s)
		if e != nil && err == nil {
			err = e
		}
		return n
	}
	p.Recovery, err = time.ParseDuration(m[1])
	p.Acked, p.InReplication = atoi(m[2]), atoi(m[3])
	p.WriteErrors, p.ReadErrors, p.ClosedOnFailover = atoi(m[4]), atoi(m[5]), atoi(m[6])
	return p, err == nil
}
