package rdsmux_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"sync"

	"github.com/rdsmux/rdsmux"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// Fifty goroutines share two backend connections through database/sql.
func Example() {
	srv, err := mariadbtest.Launch() // a throwaway MariaDB on a loopback port
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	db, err := sql.Open("rdsmux", srv.DSN("maxConnections=2"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n int
			if err := db.QueryRow("SELECT ?", i).Scan(&n); err != nil {
				log.Fatal(err)
			}
		}()
	}
	wg.Wait()
	st := rdsmux.AllStats()["tcp("+srv.Addr()+")"]
	fmt.Println("queries: 50, backend connections at most:", st.MaxDatabaseConnectionsAllowed,
		"within the cap:", st.DatabaseConnections <= st.MaxDatabaseConnectionsAllowed)
	// Output: queries: 50, backend connections at most: 2 within the cap: true
}

// The Go API: a DB that keeps its pool across Lambda invocations, an
// explicit session, and what pinned it.
func ExampleOpen() {
	srv, err := mariadbtest.Launch()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	db, err := rdsmux.Open(srv.DSN("maxConnections=4"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	s, err := db.Session(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ExecContext(ctx, "SET time_zone = '+00:00'"); err != nil {
		log.Fatal(err)
	}
	info, _ := s.Info()
	fmt.Println("after a tracked SET: pinned =", info.Pinned)

	if _, err := s.ExecContext(ctx, "SET @cart = 42"); err != nil {
		log.Fatal(err)
	}
	info, _ = s.Info()
	fmt.Println("after a user variable: pinned =", info.Pinned, info.PinReasons)
	// Output:
	// after a tracked SET: pinned = false
	// after a user variable: pinned = true user-variable
}

// A Session's Close ends it for good: what it set is gone for the next one.
func ExampleSession_Close() {
	srv, err := mariadbtest.Launch()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	db, err := rdsmux.Open(srv.DSN("maxConnections=1"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	s, _ := db.Session(ctx)
	s.ExecContext(ctx, "SET @cart = 42")
	s.Close()

	var cart sql.NullInt64
	db.QueryRowContext(ctx, "SELECT @cart").Scan(&cart)
	fmt.Println("next caller sees @cart:", cart.Valid)
	// Output: next caller sees @cart: false
}

// PoolStats carries the per-statement latency histograms, RDS Proxy's
// QueryDatabaseResponseLatency and QueryResponseLatency.
func ExampleDB_PoolStats() {
	srv, err := mariadbtest.Launch()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	db, err := rdsmux.Open(srv.DSN("maxConnections=2"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	for i := 0; i < 5; i++ {
		var n int
		if err := db.QueryRow("SELECT ?", i).Scan(&n); err != nil {
			log.Fatal(err)
		}
	}
	st := db.PoolStats()
	fmt.Println("statements timed:", st.QueryResponseLatency.Count(), st.QueryDatabaseResponseLatency.Count())
	fmt.Println("client-seen time covers the database's:",
		st.QueryResponseLatency.Sum >= st.QueryDatabaseResponseLatency.Sum)
	// Output:
	// statements timed: 5 5
	// client-seen time covers the database's: true
}
