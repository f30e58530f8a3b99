package mariadbtest

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// ConnWithID opens a root connection to s whose server connection id is
// id, closed at t's cleanup: for tests in which an id that belongs to a
// session on another server must name one here too. s's ids must still be
// below id (they only grow); the test fails otherwise.
func (s *Server) ConnWithID(t testing.TB, id int64) *sql.Conn {
	t.Helper()
	root, err := sql.Open("mysql", s.DSN(""))
	if err != nil {
		t.Fatalf("mariadbtest: %v", err)
	}
	t.Cleanup(func() { root.Close() })
	root.SetMaxIdleConns(0) // a closed connection really closes: each Conn is a new id
	ctx := context.Background()
	for {
		c, err := root.Conn(ctx)
		if err != nil {
			t.Fatalf("mariadbtest: connecting to %s: %v", s.Addr(), err)
		}
		var got int64
		if err := c.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&got); err != nil {
			t.Fatalf("mariadbtest: reading a connection id on %s: %v", s.Addr(), err)
		}
		switch {
		case got == id:
			t.Cleanup(func() { c.Close() })
			return c
		case got > id:
			t.Fatalf("mariadbtest: %s's connection ids passed %d (at %d)", s.Addr(), id, got)
		}
		c.Close()
	}
}

// Sleep runs SELECT SLEEP(seconds) on c and reports how it ended: "SLEEP
// returned 0" when it ran to its end, 1 or an error's text when something
// interrupted it.
func Sleep(c *sql.Conn, seconds int) <-chan string {
	done := make(chan string, 1)
	go func() { // ends when SLEEP returns
		var r int64
		if err := c.QueryRowContext(context.Background(), fmt.Sprintf("SELECT SLEEP(%d)", seconds)).Scan(&r); err != nil {
			done <- err.Error()
			return
		}
		done <- fmt.Sprintf("SLEEP returned %d", r)
	}()
	return done
}
