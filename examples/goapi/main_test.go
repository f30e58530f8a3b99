package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

func TestGoAPI(t *testing.T) {
	srv := mariadbtest.Start(t)
	var out bytes.Buffer
	if err := run(context.Background(), srv.DSN("maxConnections=4"), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	t.Log(got)
	for _, want := range []string{
		"session 1: time_zone=+02:00 pinned=false",
		"session 2: pinned=true reasons=user-variable holding a backend=true",
		"MaxDatabaseConnectionsAllowed=4",
		"pool: pins user-variable=1",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	m := regexp.MustCompile(`DatabaseConnections=(\d+)`).FindStringSubmatch(got)
	if m == nil {
		t.Fatal("no DatabaseConnections in the output")
	}
	if n, _ := strconv.Atoi(m[1]); n < 1 || n > 4 {
		t.Errorf("DatabaseConnections=%d, want 1..4", n)
	}
}
