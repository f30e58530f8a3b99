package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// serverView is the database server's own count of client connections,
// which the demo's report is checked against.
type serverView interface {
	// Connected is the number of client connections now, not counting the
	// demo's own monitor connection.
	Connected(ctx context.Context) (int, error)
	// Peak is the most client connections at once since ResetPeak
	// (monitor excluded); exact is false when the server cannot say and
	// the caller must rely on sampling Connected.
	Peak(ctx context.Context) (n int, exact bool, err error)
	// ResetPeak starts a new peak from the current count.
	ResetPeak(ctx context.Context) error
	Close() error
}

// database is the server the demo runs against.
type database struct {
	about          string // one line for the header
	dsn            string // go-sql-driver DSN the handlers use
	maxConnections int    // the server's connection limit, 0 if unknown
	view           serverView
	cleanup        []func()
}

// close releases the database in reverse order of setup.
func (d *database) close() {
	for i := len(d.cleanup) - 1; i >= 0; i-- {
		d.cleanup[i]()
	}
}

const demoTable = "rdsmux_demo_items"

// openDatabase picks the server: the user's (-dsn), the embedded one
// (-embedded, or when no mariadbd is installed), or a throwaway mariadbd.
func openDatabase(ctx context.Context, o options, note func(string)) (*database, error) {
	switch {
	case o.dsn != "":
		return userDatabase(ctx, o.dsn)
	case o.embedded:
		return embeddedDatabase(ctx, o.maxConnections)
	}
	d, err := mariadbDatabase(ctx, o.maxConnections)
	if err == nil {
		return d, nil
	}
	note(fmt.Sprintf("no MariaDB to start (%v);\nusing the embedded in-memory server instead.", firstLine(err)))
	return embeddedDatabase(ctx, o.maxConnections)
}

// mariadbDatabase starts a throwaway mariadbd with the given
// max_connections; the handlers sign in as a plain user so that root's
// monitor connection keeps the slot MariaDB reserves for SUPER.
func mariadbDatabase(ctx context.Context, maxConnections int) (*database, error) {
	srv, err := mariadbtest.Launch(mariadbtest.WithMaxConnections(maxConnections),
		mariadbtest.WithFlags("--back-log=1000", "--thread-cache-size=200"))
	if err != nil {
		if srv != nil {
			srv.Close()
		}
		return nil, err
	}
	d := &database{maxConnections: maxConnections, cleanup: []func(){srv.Close}}
	root, err := sql.Open("mysql", srv.DSN("timeout=5s"))
	if err != nil {
		d.close()
		return nil, err
	}
	defer root.Close()
	var version string
	for _, q := range []string{
		"CREATE USER 'app'@'%' IDENTIFIED BY 'app-secret'",
		"GRANT ALL PRIVILEGES ON test.* TO 'app'@'%'",
	} {
		if _, err := root.ExecContext(ctx, q); err != nil {
			d.close()
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	if err := root.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		d.close()
		return nil, err
	}
	d.about = fmt.Sprintf("a throwaway MariaDB %s on %s, max_connections=%d", strings.SplitN(version, "-", 2)[0], srv.Addr(), maxConnections)
	d.dsn = srv.UserDSN("app", "app-secret", "test", "timeout=5s")
	view, err := newSQLView(ctx, srv.DSN("timeout=5s"))
	if err != nil {
		d.close()
		return nil, err
	}
	d.view = view
	d.cleanup = append(d.cleanup, func() { _ = view.Close() })
	if err := createTable(ctx, d); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// embeddedDatabase starts go-mysql-server in memory.
func embeddedDatabase(ctx context.Context, maxConnections int) (*database, error) {
	e, err := startEmbedded("demo", maxConnections)
	if err != nil {
		return nil, err
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName, cfg.Timeout = "root", "tcp", e.Addr(), "demo", 5*time.Second
	d := &database{
		about:          fmt.Sprintf("the embedded in-memory server (go-mysql-server) on %s, %d connections at most", e.Addr(), maxConnections),
		dsn:            cfg.FormatDSN(),
		maxConnections: maxConnections,
		view:           embeddedView{ln: e.ln},
		cleanup:        []func(){e.Close},
	}
	if err := createTable(ctx, d); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// userDatabase uses the server the user named; the demo creates its table
// there and drops it at the end, unless it was there already.
func userDatabase(ctx context.Context, dsn string) (*database, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("-dsn: %w (want a go-sql-driver DSN such as user:pass@tcp(host:3306)/db)", err)
	}
	if cfg.DBName == "" {
		return nil, errors.New("-dsn names no database: add /dbname, the demo creates its table " + demoTable + " there")
	}
	view, err := newSQLView(ctx, dsn)
	if err != nil {
		return nil, err
	}
	d := &database{dsn: dsn, view: view, cleanup: []func(){func() { _ = view.Close() }}}
	var maxConns int
	if err := view.db.QueryRowContext(ctx, "SELECT @@max_connections").Scan(&maxConns); err == nil {
		d.maxConnections = maxConns
	}
	d.about = fmt.Sprintf("your server at %s, max_connections=%d", cfg.Addr, d.maxConnections)
	if err := createTable(ctx, d); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// createTable creates and fills the demo's table, unless it exists.
func createTable(ctx context.Context, d *database) error {
	db, err := sql.Open("mysql", d.dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", demoTable).Scan(&n); err != nil {
		return fmt.Errorf("looking for the demo table: %w", err)
	}
	if n > 0 {
		return nil
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE "+demoTable+" (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, stock INT NOT NULL)"); err != nil {
		return fmt.Errorf("creating the demo table: %w", err)
	}
	var b strings.Builder
	b.WriteString("INSERT INTO " + demoTable + " (id, name, stock) VALUES ")
	for i := 1; i <= demoRows; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "(%d,'item %d',%d)", i, i, 1_000_000)
	}
	if _, err := db.ExecContext(ctx, b.String()); err != nil {
		return fmt.Errorf("filling the demo table: %w", err)
	}
	d.cleanup = append(d.cleanup, func() {
		if db, err := sql.Open("mysql", d.dsn); err == nil {
			_, _ = db.Exec("DROP TABLE IF EXISTS " + demoTable)
			db.Close()
		}
	})
	return nil
}

const demoRows = 1000

// sqlView reads Threads_connected and Max_used_connections over one
// monitor connection, opened before any load so it always has its slot.
type sqlView struct {
	db       *sql.DB
	canFlush bool // FLUSH STATUS works (needs RELOAD), so Max_used_connections can be reset
}

func newSQLView(ctx context.Context, dsn string) (*sqlView, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to the database: %w", err)
	}
	return &sqlView{db: db}, nil
}

func (v *sqlView) status(ctx context.Context, name string) (int, error) {
	var n int
	var k string
	err := v.db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE '"+name+"'").Scan(&k, &n)
	return n, err
}

func (v *sqlView) Connected(ctx context.Context) (int, error) {
	n, err := v.status(ctx, "Threads_connected")
	return n - 1, err // the monitor itself
}

func (v *sqlView) Peak(ctx context.Context) (int, bool, error) {
	if !v.canFlush {
		return 0, false, nil
	}
	n, err := v.status(ctx, "Max_used_connections")
	return n - 1, true, err
}

func (v *sqlView) ResetPeak(ctx context.Context) error {
	_, err := v.db.ExecContext(ctx, "FLUSH STATUS")
	v.canFlush = err == nil
	return nil // without RELOAD the peak is sampled instead
}

func (v *sqlView) Close() error { return v.db.Close() }

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
