package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// small is the scenario scaled down to run in a test: the surge still
// exceeds the server's connection limit several times over.
func small(maxConnections, pool, surge int) options {
	return options{
		maxConnections: maxConnections,
		pool:           pool,
		calm:           2,
		surge:          surge,
		calmFor:        300 * time.Millisecond,
		surgeFor:       1500 * time.Millisecond,
		think:          time.Millisecond,
		requestTimeout: 10 * time.Second,
		phases:         []string{"direct", "rdsmux"},
	}
}

// checkResults checks what the demo claims in its table: direct
// connections hit the server's limit and fail with error 1040, rdsmux
// serves every request on at most its pool's connections, and the
// client's counts agree with the server's own.
func checkResults(t *testing.T, o options, results []result, out string) {
	t.Helper()
	t.Log("\n" + out)
	if len(results) != 2 {
		t.Fatalf("%d results, want 2", len(results))
	}
	direct, mux := results[0], results[1]

	if direct.requests == 0 {
		t.Error("direct: no request succeeded")
	}
	if direct.errorKinds["1040 Too many connections"] == 0 {
		t.Errorf("direct: no 1040 error with %d handlers against max_connections=%d; errors: %v", o.surge, o.maxConnections, direct.errorKinds)
	}
	if direct.serverPeak > o.maxConnections || direct.peakDB > o.maxConnections {
		t.Errorf("direct: peak %d (server) / %d (client) beyond the server's limit %d", direct.serverPeak, direct.peakDB, o.maxConnections)
	}
	if direct.peakDB > direct.serverPeak {
		t.Errorf("direct: the client held %d connections at once, the server counted at most %d", direct.peakDB, direct.serverPeak)
	}

	if mux.errors != 0 {
		t.Errorf("rdsmux: %d errors: %v", mux.errors, mux.errorKinds)
	}
	if mux.requests == 0 {
		t.Error("rdsmux: no request")
	}
	if mux.peakDB < 1 || mux.peakDB > o.pool {
		t.Errorf("rdsmux: peak database connections %d, want 1..%d", mux.peakDB, o.pool)
	}
	// The server may still count a backend rdsmux has closed after a
	// pinned session while its replacement connects; never more than
	// that.
	if mux.serverPeak < mux.peakDB || mux.serverPeak > o.pool+2 {
		t.Errorf("rdsmux: the server counted a peak of %d connections, the pool %d (cap %d)", mux.serverPeak, mux.peakDB, o.pool)
	}
	if mux.peakClient < o.surge {
		t.Errorf("rdsmux: peak client connections %d, want at least the %d handlers", mux.peakClient, o.surge)
	}
	if mux.pins == nil {
		t.Error("rdsmux: no pin counts")
	}
	if mux.serverAfterEnd != 0 || direct.serverAfterEnd != 0 {
		t.Errorf("connections left on the server after the phases: direct %d, rdsmux %d", direct.serverAfterEnd, mux.serverAfterEnd)
	}
	for _, want := range []string{"requests (ok)", "1040 Too many connections", "multiplexing (client : db)", "pins by reason", "by the server's count"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	for _, bad := range []string{"panic", "goroutine "} {
		if strings.Contains(out, bad) {
			t.Errorf("the output contains %q", bad)
		}
	}
}

// TestDemoAgainstServer runs the demo with -dsn against a MariaDB with a
// low max_connections.
func TestDemoAgainstServer(t *testing.T) {
	o := small(30, 4, 120)
	srv := mariadbtest.Start(t, mariadbtest.WithMaxConnections(o.maxConnections),
		mariadbtest.WithFlags("--back-log=500"))
	o.dsn = srv.DSN("timeout=5s")
	var out bytes.Buffer
	results, err := run(context.Background(), o, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.serverExact {
			t.Errorf("%s: the server's peak was sampled, want Max_used_connections", r.phase)
		}
	}
	checkResults(t, o, results, out.String())
	// The demo dropped the table it created.
	if n := srv.QueryInt(t, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME = ?", demoTable); n != 0 {
		t.Errorf("the demo table is still there")
	}
}

// TestDemoEmbedded runs the demo on the embedded server, the fallback of a
// machine without MariaDB.
func TestDemoEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("the embedded server is slow under -race; skipped with -short")
	}
	o := small(20, 3, 60)
	o.embedded = true
	var out bytes.Buffer
	results, err := run(context.Background(), o, &out)
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, o, results, out.String())
	if !strings.Contains(out.String(), "embedded in-memory server") {
		t.Error("the output does not say which server it used")
	}
}

// TestLaunchedMariaDB checks the default database: a throwaway mariadbd
// with the demo's user, table and monitor.
func TestLaunchedMariaDB(t *testing.T) {
	if !mariadbtest.Available() {
		if testing.Short() {
			t.Skip("no mariadbd; " + mariadbtest.InstallHint)
		}
		t.Fatal("this test needs mariadbd; " + mariadbtest.InstallHint)
	}
	ctx := context.Background()
	d, err := mariadbDatabase(ctx, 25)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	if !strings.Contains(d.about, "max_connections=25") {
		t.Errorf("about = %q", d.about)
	}
	// As run does before each phase: the setup connections are gone (the
	// server tears them down after the client hung up), then the peak is
	// reset.
	if n := waitForServerIdle(ctx, d.view, 10*time.Second); n != 0 {
		t.Fatalf("%d connections left after setup", n)
	}
	if err := d.view.ResetPeak(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := d.view.Connected(ctx); err != nil || n != 0 {
		t.Errorf("Connected = %d, %v; want 0 (the monitor excluded)", n, err)
	}
	if n, exact, err := d.view.Peak(ctx); err != nil || !exact || n != 0 {
		t.Errorf("Peak = %d, %v, %v; want 0, exact", n, exact, err)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.calm != 10 || o.surge != 1000 || o.pool != 20 || o.maxConnections != 150 || strings.Join(o.phases, ",") != "direct,rdsmux" {
		t.Errorf("defaults: %+v", o)
	}
	if total := o.calmFor + o.surgeFor; total > 20*time.Second {
		t.Errorf("the default traffic lasts %v per phase; the demo must finish within a minute", total)
	}
	for _, args := range [][]string{{"-phases", "direct,nope"}, {"-pool", "0"}, {"-surge-for", "10m"}, {"-phases", ""}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1500: "-1,500"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
