// Command mariadb starts a throwaway MariaDB for the benchmark scripts: a
// mariadbd in a temporary directory on a free 127.0.0.1 port (see
// internal/mariadbtest), with a database and a user for sysbench. It prints
// the server's address and stays up until it gets SIGINT or SIGTERM, or
// until its standard input closes; then it stops the server and removes
// its directory.
//
//	go run ./bench/mariadb -user sbtest -password sbtest -database sbtest
package main

import (
	"database/sql"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

func main() {
	user := flag.String("user", "sbtest", "account to create (all privileges)")
	password := flag.String("password", "sbtest", "password of -user")
	database := flag.String("database", "sbtest", "database to create")
	maxConns := flag.Int("max-connections", 500, "the server's max_connections")
	watchStdin := flag.Bool("stdin", false, "also stop when standard input closes")
	flag.Parse()
	if err := run(*user, *password, *database, *maxConns, *watchStdin); err != nil {
		fmt.Fprintln(os.Stderr, "bench/mariadb:", err)
		os.Exit(1)
	}
}

func run(user, password, database string, maxConns int, watchStdin bool) error {
	// Signals are caught before the server starts, so that one arriving
	// during startup still stops it cleanly.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	srv, err := mariadbtest.Launch(mariadbtest.WithMaxConnections(maxConns))
	if srv != nil {
		defer srv.Close()
	}
	if err != nil {
		return err
	}
	if err := setup(srv, user, password, database); err != nil {
		return err
	}
	fmt.Println(srv.Addr())
	if watchStdin {
		go func() { // ends when stdin closes, which also ends the program
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop <- syscall.SIGTERM
		}()
	}
	<-stop
	return nil
}

// setup creates the database and the user.
func setup(srv *mariadbtest.Server, user, password, database string) error {
	db, err := sql.Open("mysql", srv.DSN("timeout=5s"))
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS `" + database + "`",
		"CREATE USER IF NOT EXISTS '" + user + "'@'%' IDENTIFIED BY '" + password + "'",
		"GRANT ALL PRIVILEGES ON *.* TO '" + user + "'@'%'",
	} {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}
