package rdsmux_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

var movableSeq atomic.Int64

// movableName registers a go-sql-driver network whose one name reaches
// whichever server the returned pointer holds, as a cluster endpoint's DNS
// name does across a failover.
func movableName(t *testing.T, first string) (network string, target *atomic.Pointer[string]) {
	target = new(atomic.Pointer[string])
	target.Store(&first)
	network = fmt.Sprintf("rdsmux-movable-%d", movableSeq.Add(1))
	mysql.RegisterDialContext(network, func(ctx context.Context, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", *target.Load())
	})
	return network, target
}

// sleeping reports the id of the connection of user app that runs query on
// s, or 0. It may run on require.Eventually's goroutine, so it does not
// stop the test.
func sleeping(t *testing.T, s *mariadbtest.Server, query string) int64 {
	var id int64
	err := s.DB(t).QueryRow("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'app' AND INFO = ?", query).Scan(&id)
	if !errors.Is(err, sql.ErrNoRows) {
		assert.NoError(t, err, "reading %s's process list", s.Addr())
	}
	return id
}

// TestCancelKillsOnlyOnTheStatementsServer: a cancelled statement is stopped
// with KILL QUERY on the server it runs on, never on another server that a
// new connection to the same name reaches after a failover, where the same
// connection id names an unrelated session.
func TestCancelKillsOnlyOnTheStatementsServer(t *testing.T) {
	t.Parallel()
	a, b := mariadbtest.Start(t), mariadbtest.Start(t)
	for _, s := range []*mariadbtest.Server{a, b} {
		s.CreateUser(t, "app", "app-pw")
	}
	for _, warm := range []bool{true, false} {
		t.Run(fmt.Sprintf("control connection to the old server open=%v", warm), func(t *testing.T) {
			// A's connection ids run ahead of B's, so that B can be made
			// to hold the id of the statement's backend on A.
			for i := 0; i < 50; i++ {
				require.NoError(t, a.Ping(context.Background()))
			}
			network, target := movableName(t, a.Addr())
			db, err := sql.Open("rdsmux", "app:app-pw@"+network+"(cluster:3306)/test?maxConnections=4")
			require.NoError(t, err)
			defer db.Close()
			if warm { // an earlier cancelled statement opened a control connection to A
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				_, err := db.ExecContext(ctx, "DO SLEEP(20)")
				cancel()
				require.ErrorIs(t, err, context.DeadlineExceeded)
				require.Eventually(t, func() bool { return sleeping(t, a, "DO SLEEP(20)") == 0 }, 10*time.Second, 10*time.Millisecond)
			}

			// A statement runs on A.
			query := fmt.Sprintf("DO SLEEP(%d)", 30+len(t.Name()))
			stmtCtx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stmtDone := make(chan error, 1)
			go func() { // ends with cancel below
				_, err := db.ExecContext(stmtCtx, query)
				stmtDone <- err
			}()
			var onA int64
			require.Eventually(t, func() bool { onA = sleeping(t, a, query); return onA != 0 }, 10*time.Second, 10*time.Millisecond)

			// The name now reaches B, where an unrelated session has the
			// statement's connection id and runs a statement of its own.
			next := b.Addr()
			target.Store(&next)
			victimDone := mariadbtest.Sleep(b.ConnWithID(t, onA), 4)
			time.Sleep(100 * time.Millisecond)

			cancel()
			require.ErrorIs(t, <-stmtDone, context.Canceled)
			if warm {
				// The control connection to A carries the KILL: the
				// statement stops there.
				require.Eventually(t, func() bool { return sleeping(t, a, query) == 0 }, 10*time.Second, 10*time.Millisecond,
					"the cancelled statement still runs on %s", a.Addr())
			}
			// B's session is left alone: SLEEP runs to its end.
			select {
			case r := <-victimDone:
				require.Equal(t, "SLEEP returned 0", r, "KILL QUERY %d meant for %s reached the unrelated session on %s", onA, a.Addr(), b.Addr())
			case <-time.After(15 * time.Second):
				t.Fatal("the session on B did not finish its SLEEP")
			}
			// The driver goes on.
			var one int
			require.NoError(t, db.QueryRow("SELECT 1").Scan(&one))
		})
	}
}
