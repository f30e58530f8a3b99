// Command demo replays the scenario RDS Proxy was built for, on your
// machine: traffic jumps from 10 to 1,000 concurrent handlers. First every
// handler connects to the database itself, a new connection per request,
// as a naive Lambda function does, and the database runs out of
// connections ("Too many connections"). Then the same handlers share one
// rdsmux pool of 20 database connections. It shows live progress and ends
// with a table: requests, errors, latency, peak connections (checked
// against the server's own count), the multiplexing ratio and pins.
//
//	make demo                     # or: cd examples && go run ./demo
//	go run ./demo -dsn 'user:pass@tcp(db.internal:3306)/scratch'
//
// It brings its own database: a throwaway mariadbd if one is installed,
// else an embedded in-memory MySQL-compatible server (go-mysql-server).
// With -dsn it runs against your server, in a table of its own
// (rdsmux_demo_items) that it drops at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// options are the demo's flags.
type options struct {
	dsn            string
	embedded       bool
	maxConnections int // max_connections of a server the demo starts
	pool           int // rdsmux's database connections
	calm, surge    int // concurrent handlers before and during the surge
	calmFor        time.Duration
	surgeFor       time.Duration
	think          time.Duration // mean pause between a handler's requests
	requestTimeout time.Duration
	phases         []string
	jsonOut        string // -json: also write the outcomes there
	tty            bool   // refresh the progress line in place
}

// steps is the traffic shape every phase replays.
func (o options) steps() []step {
	return []step{{handlers: o.calm, dur: o.calmFor}, {handlers: o.surge, dur: o.surgeFor}}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dsn, "dsn", "", "run against this server (go-sql-driver DSN with a database) instead of bringing one")
	fs.BoolVar(&o.embedded, "embedded", false, "use the embedded in-memory server even if mariadbd is installed")
	fs.IntVar(&o.maxConnections, "max-connections", 150, "max_connections of the server the demo starts")
	fs.IntVar(&o.pool, "pool", 20, "database connections rdsmux may open")
	fs.IntVar(&o.calm, "calm", 10, "concurrent handlers before the surge")
	fs.IntVar(&o.surge, "surge", 1000, "concurrent handlers during the surge")
	fs.DurationVar(&o.calmFor, "calm-for", 2*time.Second, "how long the calm lasts")
	fs.DurationVar(&o.surgeFor, "surge-for", 8*time.Second, "how long the surge lasts")
	fs.DurationVar(&o.think, "think", 100*time.Millisecond, "mean pause between a handler's requests")
	fs.DurationVar(&o.requestTimeout, "timeout", 5*time.Second, "a request's timeout")
	names := make([]string, len(phases))
	for i, p := range phases {
		names[i] = p.name
	}
	fs.StringVar(&o.jsonOut, "json", "", "also write each phase's outcome as JSON to this `file`")
	list := fs.String("phases", strings.Join(names, ","), "phases to run, in order")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, n := range strings.Split(*list, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !slices.Contains(names, n) {
			return o, fmt.Errorf("unknown phase %q (known: %s)", n, strings.Join(names, ", "))
		}
		o.phases = append(o.phases, n)
	}
	switch {
	case len(o.phases) == 0:
		return o, errors.New("-phases names no phase")
	case o.calm < 1 || o.surge < 1 || o.pool < 1 || o.maxConnections < 1:
		return o, errors.New("-calm, -surge, -pool and -max-connections must be positive")
	case o.calmFor <= 0 || o.surgeFor <= 0 || o.requestTimeout <= 0 || o.think < 0:
		return o, errors.New("-calm-for, -surge-for and -timeout must be positive, -think not negative")
	case o.calmFor+o.surgeFor > 5*time.Minute:
		return o, errors.New("-calm-for plus -surge-for must stay under 5 minutes")
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	}
	if fi, err := os.Stdout.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		o.tty = true
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	results, err := run(ctx, o, os.Stdout)
	if err == nil && o.jsonOut != "" {
		err = writeJSON(o.jsonOut, results)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// run sets up the database, runs the phases and prints the report.
func run(ctx context.Context, o options, out io.Writer) ([]result, error) {
	// go-sql-driver logs dropped connections to stderr; the report counts
	// them instead.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))

	fmt.Fprintln(out, "rdsmux demo: traffic jumps from", o.calm, "to", thousands(int64(o.surge)), "concurrent handlers.")
	d, err := openDatabase(ctx, o, func(s string) { fmt.Fprintln(out, s) })
	if err != nil {
		return nil, err
	}
	defer d.close()
	fmt.Fprintf(out, "Database: %s.\n", d.about)
	counter := "Max_used_connections after FLUSH STATUS, the demo's monitor connection excluded"
	if _, ok := d.view.(embeddedView); ok {
		counter = "the embedded server's own count of accepted connections"
		fmt.Fprintln(out, "The embedded engine is made for tests and serves a few thousand queries a second at most:\n"+
			"with it, latency through rdsmux is mostly the wait for the engine. Install MariaDB (make deps)\n"+
			"for numbers closer to a real database.")
	}

	prog := newProgress(out, o.tty)
	var results []result
	for _, name := range o.phases {
		i := slices.IndexFunc(phases, func(p phase) bool { return p.name == name })
		p := phases[i]
		waitForServerIdle(ctx, d.view, 3*time.Second)
		if err := d.view.ResetPeak(ctx); err != nil {
			return results, err
		}
		fmt.Fprintf(out, "\n== %s: %s\n", p.name, p.about)
		c, err := p.open(ctx, d, o)
		if err != nil {
			return results, fmt.Errorf("phase %s: %w", p.name, err)
		}
		r := runPhase(ctx, p, c, d.view, o, prog.update)
		prog.end()
		if err := c.close(); err != nil {
			return results, fmt.Errorf("phase %s: closing: %w", p.name, err)
		}
		r.serverAfterEnd = waitForServerIdle(ctx, d.view, 3*time.Second)
		results = append(results, r)
		if ctx.Err() != nil {
			break
		}
	}
	if slices.ContainsFunc(results, func(r result) bool { return !r.serverExact }) {
		counter = "sampled from Threads_connected every 100ms (FLUSH STATUS needs the RELOAD privilege)"
	}
	fmt.Fprintln(out)
	writeReport(out, results, counter)
	return results, ctx.Err()
}
