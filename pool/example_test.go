package pool_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool"
)

// exampleConn stands in for a real backend connection (the driver and the
// listener provide theirs).
type exampleConn struct{ user string }

func (c *exampleConn) Exec(ctx context.Context, query string) error { return nil }
func (c *exampleConn) QueryValue(ctx context.Context, query string) (string, error) {
	switch query {
	case "SELECT @@max_connections LIMIT 1":
		return "100", nil
	case "SELECT DATABASE()":
		return "app", nil
	}
	if strings.HasPrefix(query, "SELECT CAST(JSON_ARRAY(") {
		// The pool reads the session state: database and tracked
		// variables, as a JSON array of strings.
		vals := []string{`"app"`}
		for range strings.Count(query, "CONCAT(") {
			vals = append(vals, `"0"`)
		}
		return "[" + strings.Join(vals, ",") + "]", nil
	}
	return "", errors.New("example: unexpected query")
}
func (c *exampleConn) Reset(ctx context.Context) error { return nil }
func (c *exampleConn) Ping(ctx context.Context) error  { return nil }
func (c *exampleConn) Close() error                    { return nil }

func Example() {
	p, err := pool.New(pool.Config{
		Dial: func(ctx context.Context, user string) (pool.Conn, error) {
			return &exampleConn{user: user}, nil // dial and authenticate as user
		},
		MaxConnectionsPercent: 50, // of @@max_connections
	})
	if err != nil {
		panic(err)
	}
	defer p.Close()

	ctx := context.Background()
	classifier := pinning.NewClassifier()
	s := p.NewSession("app_user", pool.SessionOptions{})
	defer s.Close(ctx)

	for _, sql := range []string{"SET time_zone = '+00:00'", "SELECT 1", "SET @x = 1"} {
		b, err := s.Acquire(ctx)
		if err != nil {
			panic(err)
		}
		var r pinning.Result
		classifier.Classify(sql, &r)
		err = b.Conn().Exec(ctx, sql) // the caller runs the statement its own way
		s.Done(ctx, b, &r, pool.Status{Err: err})
		fmt.Printf("%-26s held=%v pinned=%v\n", sql, s.Held() != nil, s.PinReasons())
	}
	st := p.Stats()
	fmt.Println("cap:", st.MaxDatabaseConnectionsAllowed, "open:", st.DatabaseConnections)
	// Output:
	// SET time_zone = '+00:00'   held=false pinned=
	// SELECT 1                   held=false pinned=
	// SET @x = 1                 held=true pinned=user-variable
	// cap: 50 open: 1
}

func ExampleBorrowTimeoutError() {
	err := error(&pool.BorrowTimeoutError{Timeout: 120e9, Busy: 20, Max: 20, Waiting: 37})
	fmt.Println(errors.Is(err, pool.ErrBorrowTimeout))
	fmt.Println(err)
	// Output:
	// true
	// pool: timed out after 120s waiting for a database connection: pool of 20 busy, 37 waiting (raise the connection cap: rdsmux -max-connections or -max-connections-percent, DSN maxConnections or maxConnectionsPercent; shorten transactions; or raise the borrow timeout: rdsmux -borrow-timeout, DSN connectionBorrowTimeout)
}

// A look-behind statement runs on the connection its previous statement
// used, or is refused when another session has used that connection since.
func ExampleSession_AcquireFor() {
	p, err := pool.New(pool.Config{
		Dial: func(ctx context.Context, user string) (pool.Conn, error) {
			return &exampleConn{user: user}, nil
		},
		MaxConnections: 1,
	})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	ctx := context.Background()
	classifier := pinning.NewClassifier()
	statement := func(s *pool.Session, sql string) {
		var r pinning.Result
		classifier.Classify(sql, &r)
		b, err := s.AcquireFor(ctx, sql, &r)
		if err != nil {
			fmt.Printf("%-30s refused: %v\n", sql, errors.Is(err, pool.ErrLookBehindLost))
			return
		}
		err = b.Conn().Exec(ctx, sql) // run it; nothing else may run on b first
		s.Done(ctx, b, &r, pool.Status{Err: err})
		fmt.Printf("%-30s served, pinned=%v\n", sql, s.Pinned())
	}

	alice, bob := p.NewSession("app", pool.SessionOptions{}), p.NewSession("app", pool.SessionOptions{})
	statement(alice, "INSERT INTO t VALUES (1), (2)")
	statement(alice, "SELECT ROW_COUNT()") // the INSERT's connection, taken back
	statement(alice, "UPDATE t SET x = 1")
	statement(bob, "DELETE FROM t") // the only connection: now bob's statement's
	statement(alice, "SELECT ROW_COUNT()")
	fmt.Println("reclaimed:", p.Stats().LookBehindReclaimed, "refused:", p.Stats().LookBehindLost)
	// Output:
	// INSERT INTO t VALUES (1), (2)  served, pinned=false
	// SELECT ROW_COUNT()             served, pinned=false
	// UPDATE t SET x = 1             served, pinned=false
	// DELETE FROM t                  served, pinned=false
	// SELECT ROW_COUNT()             refused: true
	// reclaimed: 1 refused: 1
}
