package iamauth

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStatic(t *testing.T) {
	c, err := Static{User: "app", Password: "pw"}.Credentials(context.Background())
	if err != nil || c.User != "app" || c.Password != "pw" || c.Source != "static" {
		t.Fatalf("%v, %v", c, err)
	}
}

func TestEnvSource(t *testing.T) {
	t.Setenv(DefaultUserEnv, "app")
	t.Setenv(DefaultPasswordEnv, "pw")
	c, err := EnvSource{}.Credentials(context.Background())
	if err != nil || c.User != "app" || c.Password != "pw" || c.Source != "env:"+DefaultUserEnv {
		t.Fatalf("%v, %v", c, err)
	}
	t.Setenv("MY_USER", "u2")
	if _, err := (EnvSource{UserVar: "MY_USER", PasswordVar: "MY_PASSWORD_UNSET"}).Credentials(context.Background()); err == nil || !strings.Contains(err.Error(), "MY_PASSWORD_UNSET") {
		t.Fatalf("err = %v", err)
	}
	os.Unsetenv(DefaultUserEnv)
	if _, err := (EnvSource{}).Credentials(context.Background()); err == nil || !strings.Contains(err.Error(), DefaultUserEnv) {
		t.Fatalf("err = %v", err)
	}
}

func TestFileSource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.json")
	write := func(s string, mtime time.Time) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().Add(-time.Hour)
	write(`{"username":"app","password":"one"}`, t0)
	f := NewFileSource(path, SecretKeys{})
	ctx := context.Background()
	c, err := f.Credentials(ctx)
	if err != nil || c.Password != "one" || c.Source != "file:"+path {
		t.Fatalf("%v, %v", c, err)
	}
	// A rewrite (new mtime) is picked up.
	write(`{"username":"app","password":"two"}`, t0.Add(time.Second))
	if c, _ = f.Credentials(ctx); c.Password != "two" {
		t.Fatalf("got %v after rewrite", c)
	}
	// Same size and mtime: served from cache until invalidated.
	write(`{"username":"app","password":"TWO"}`, t0.Add(time.Second))
	if c, _ = f.Credentials(ctx); c.Password != "two" {
		t.Fatalf("got %v, want cached", c)
	}
	f.Invalidate(c)
	if c, _ = f.Credentials(ctx); c.Password != "TWO" {
		t.Fatalf("got %v after Invalidate", c)
	}
	// Errors.
	write(`{"username":"app"}`, t0.Add(2*time.Second))
	if _, err := f.Credentials(ctx); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewFileSource(filepath.Join(t.TempDir(), "missing.json"), SecretKeys{}).Credentials(ctx); err == nil {
		t.Fatal("missing file accepted")
	}
}
