package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

func TestQuickstart(t *testing.T) {
	srv := mariadbtest.Start(t)
	var out bytes.Buffer
	if err := run(context.Background(), srv.DSN("maxConnections=3"), 40, &out); err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	if !strings.Contains(out.String(), "40 goroutines wrote 40 notes") {
		t.Fatalf("output: %s", out.String())
	}
	if !strings.Contains(out.String(), fmt.Sprintf("tcp(%s): ", srv.Addr())) || !strings.Contains(out.String(), "(cap 3)") {
		t.Fatalf("pool line missing: %s", out.String())
	}
	// The server saw at most the cap (plus the harness's own root pool).
	if n := srv.ThreadsConnected(t); n > 3+1 {
		t.Fatalf("Threads_connected = %d, want <= 4", n)
	}
}
