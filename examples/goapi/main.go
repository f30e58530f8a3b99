// Command goapi shows rdsmux's Go API, for what database/sql cannot say:
// rdsmux.Open returns a DB that is a *sql.DB plus its shared pool's
// statistics (PoolStats, named as RDS Proxy's metrics), and explicit
// sessions whose Info tells whether a statement pinned them and why.
//
//	go run ./goapi -dsn 'app:secret@tcp(127.0.0.1:3306)/shop?maxConnections=4'
//
// The DSN can also come from the RDSMUX_DSN environment variable.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/rdsmux/rdsmux"
	"github.com/rdsmux/rdsmux/pinning"
)

func main() {
	fs := flag.NewFlagSet("goapi", flag.ExitOnError)
	dsn := fs.String("dsn", os.Getenv("RDSMUX_DSN"),
		"go-sql-driver DSN plus rdsmux parameters (default $RDSMUX_DSN)")
	_ = fs.Parse(os.Args[1:])
	if *dsn == "" {
		fmt.Fprintln(os.Stderr, "goapi: pass -dsn or set RDSMUX_DSN")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, *dsn, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "goapi:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dsn string, out io.Writer) error {
	// Open once per process and keep it: the pool lives as long as the DB.
	db, err := rdsmux.Open(dsn)
	if err != nil {
		return err
	}
	defer db.Close()

	// 1. A session with a tracked setting stays shareable: rdsmux replays
	// the setting on whichever backend the session borrows next.
	s, err := db.Session(ctx)
	if err != nil {
		return err
	}
	if _, err := s.ExecContext(ctx, "SET time_zone = '+02:00'"); err != nil {
		return errorsJoinClose(err, s)
	}
	var tz string
	if err := s.QueryRowContext(ctx, "SELECT @@time_zone").Scan(&tz); err != nil {
		return errorsJoinClose(err, s)
	}
	info, err := s.Info()
	if err != nil {
		return errorsJoinClose(err, s)
	}
	fmt.Fprintf(out, "session 1: time_zone=%s pinned=%v holding a backend=%v\n", tz, info.Pinned, info.Holding)
	if err := s.Close(); err != nil {
		return err
	}

	// 2. A user variable lives on one backend connection: the session is
	// pinned until it ends, and the pool counts why.
	s, err = db.Session(ctx)
	if err != nil {
		return err
	}
	if _, err := s.ExecContext(ctx, "SET @cart = 42"); err != nil {
		return errorsJoinClose(err, s)
	}
	info, err = s.Info()
	if err != nil {
		return errorsJoinClose(err, s)
	}
	fmt.Fprintf(out, "session 2: pinned=%v reasons=%v holding a backend=%v\n", info.Pinned, info.PinReasons, info.Holding)
	// Session.Close hands the logical connection back to database/sql's
	// idle list with its state, as a plain MySQL connection would be: it
	// stays pinned there until database/sql closes it (SetMaxIdleConns,
	// SetConnMaxIdleTime) and the pool then resets or closes its backend,
	// never handing it to someone else dirty.
	if err := s.Close(); err != nil {
		return err
	}
	fmt.Fprintf(out, "after Close: backends held by pinned sessions=%d\n",
		db.PoolStats().DatabaseConnectionsCurrentlySessionPinned)

	// 3. A transaction holds one backend from BEGIN to COMMIT; between
	// transactions the backend serves others.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	var one int
	if err := tx.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}

	// 4. Many goroutines, few backends.
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			var n int
			errs <- db.QueryRowContext(ctx, "SELECT ?", i).Scan(&n)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}

	st := db.PoolStats()
	fmt.Fprintf(out, "pool: DatabaseConnections=%d MaxDatabaseConnectionsAllowed=%d CurrentlyBorrowed=%d\n",
		st.DatabaseConnections, st.MaxDatabaseConnectionsAllowed, st.DatabaseConnectionsCurrentlyBorrowed)
	fmt.Fprintf(out, "pool: borrows=%d waited=%d borrow latency p50<=%v p99<=%v\n",
		st.BorrowRequests, st.WaitCount,
		st.DatabaseConnectionsBorrowLatency.Quantile(0.5), st.DatabaseConnectionsBorrowLatency.Quantile(0.99))
	fmt.Fprintf(out, "pool: pins user-variable=%d\n", st.PinCount(pinning.PinUserVariable))
	return nil
}

// errorsJoinClose closes s after err and returns err (and a close error).
func errorsJoinClose(err error, s *rdsmux.Session) error {
	if cerr := s.Close(); cerr != nil {
		return fmt.Errorf("%w (closing the session: %v)", err, cerr)
	}
	return err
}
