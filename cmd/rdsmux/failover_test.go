package main

import (
	"context"
	"database/sql"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// TestRunFollowsFailover runs the listener with -failover readonly in front
// of a primary and its replica; after the primary is killed and the replica
// promoted, clients of the listener write again without reconnecting to a
// new address.
func TestRunFollowsFailover(t *testing.T) {
	primary, replica := mariadbtest.StartReplicaPair(t)
	primary.CreateUser(t, "app", "pw")
	primary.Exec(t, "CREATE TABLE ledger (id INT PRIMARY KEY)")
	replica.WaitReplicaCaughtUp(t, primary)

	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() { // the command; ends when ctx is cancelled
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-target", primary.Addr() + "," + replica.Addr(),
			"-failover", "readonly", "-user", "client:cpw", "-backend-user", "app", "-backend-password", "pw",
			"-max-connections", "4", "-borrow-timeout", "30s"}, io.Discard, &logs, func(c, m string) { addrs <- [2]string{c, m} }, nil)
	}()
	var a [2]string
	select {
	case a = <-addrs:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	client, err := sql.Open("mysql", "client:cpw@tcp("+a[0]+")/test?timeout=5s")
	must(t, err)
	defer client.Close()

	var next atomic.Int64
	write := func() error {
		_, err := client.Exec("INSERT INTO ledger VALUES (?)", next.Add(1))
		return err
	}
	for i := 0; i < 20; i++ {
		must(t, write())
	}
	primary.Kill()
	replica.Promote(t)
	promoted := time.Now()
	var recovered time.Duration
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := write(); err == nil {
			recovered = time.Since(promoted)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write through the listener succeeded within 20s of the promotion:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := 0; i < 20; i++ {
		must(t, write())
	}
	require.GreaterOrEqual(t, replica.QueryInt(t, "SELECT COUNT(*) FROM ledger"), int64(21), "rows on the new writer")
	assert.Contains(t, logs.String(), `"msg":"rdsmux: failover event"`, "the log has no failover event")
	t.Logf("first write through the listener %v after the promotion", recovered)
	cancel()
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}
