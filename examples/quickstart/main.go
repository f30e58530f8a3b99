// Command quickstart is the plain database/sql quick start: register the
// driver with a blank import, open a handle with sql.Open("rdsmux", dsn),
// and use it as any *sql.DB. Many goroutines share a few backend
// connections.
//
//	go run ./quickstart -dsn 'app:secret@tcp(127.0.0.1:3306)/shop?maxConnections=4'
//
// The DSN can also come from the RDSMUX_DSN environment variable.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/rdsmux/rdsmux" // registers the "rdsmux" driver with database/sql
)

func main() {
	fs := flag.NewFlagSet("quickstart", flag.ExitOnError)
	dsn := fs.String("dsn", os.Getenv("RDSMUX_DSN"),
		"go-sql-driver DSN plus rdsmux parameters, e.g. app:secret@tcp(127.0.0.1:3306)/shop?maxConnections=4 (default $RDSMUX_DSN)")
	workers := fs.Int("workers", 50, "concurrent goroutines")
	_ = fs.Parse(os.Args[1:])
	if *dsn == "" {
		fmt.Fprintln(os.Stderr, "quickstart: pass -dsn or set RDSMUX_DSN")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, *dsn, *workers, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// run creates a table, has workers goroutines insert and read rows through
// one handle, and prints what the shared pool did.
func run(ctx context.Context, dsn string, workers int, out io.Writer) error {
	db, err := sql.Open("rdsmux", dsn)
	if err != nil {
		return err
	}
	defer db.Close()

	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS quickstart_notes (
		id BIGINT AUTO_INCREMENT PRIMARY KEY,
		worker INT NOT NULL,
		body VARCHAR(200) NOT NULL)`); err != nil {
		return fmt.Errorf("creating the table: %w", err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() { errs <- work(ctx, db, w) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}

	var notes int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM quickstart_notes").Scan(&notes); err != nil {
		return err
	}
	fmt.Fprintf(out, "%d goroutines wrote %d notes\n", workers, notes)

	// The pool behind every handle to this server, keyed by its address.
	for target, st := range rdsmux.AllStats() {
		fmt.Fprintf(out, "%s: %d backend connections (cap %d), %d borrows, %d had to wait\n",
			target, st.DatabaseConnections, st.MaxDatabaseConnectionsAllowed, st.BorrowRequests, st.WaitCount)
	}
	return nil
}

// work is one goroutine's share: an insert in a transaction, then a read of
// the row by the id the insert produced.
func work(ctx context.Context, db *sql.DB, worker int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO quickstart_notes (worker, body) VALUES (?, ?)",
		worker, fmt.Sprintf("hello from goroutine %d", worker))
	if err != nil {
		return errors.Join(err, tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	// LastInsertId is exact even though the backend that ran the insert
	// may already serve another goroutine.
	id, err := res.LastInsertId()
	if err != nil {
		return err
	}
	var body string
	if err := db.QueryRowContext(ctx, "SELECT body FROM quickstart_notes WHERE id = ?", id).Scan(&body); err != nil {
		return fmt.Errorf("reading note %d: %w", id, err)
	}
	if want := fmt.Sprintf("hello from goroutine %d", worker); body != want {
		return fmt.Errorf("note %d: got %q, want %q", id, body, want)
	}
	return nil
}
