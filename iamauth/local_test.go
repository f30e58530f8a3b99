package iamauth

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStatic(t *testing.T) {
	c, err := Static{User: "app", Password: "pw"}.Credentials(context.Background())
	require.NoError(t, err, "%v, %v", c, err)
	require.Equal(t, "app", c.User, "%v, %v", c, err)
	require.Equal(t, "pw", c.Password, "%v, %v", c, err)
	require.Equal(t, "static", c.Source, "%v, %v", c, err)
}

func TestEnvSource(t *testing.T) {
	t.Setenv(DefaultUserEnv, "app")
	t.Setenv(DefaultPasswordEnv, "pw")
	c, err := EnvSource{}.Credentials(context.Background())
	require.NoError(t, err, "%v, %v", c, err)
	require.Equal(t, "app", c.User, "%v, %v", c, err)
	require.Equal(t, "pw", c.Password, "%v, %v", c, err)
	require.Equal(t, "env:"+DefaultUserEnv, c.Source, "%v, %v", c, err)
	t.Setenv("MY_USER", "u2")
	_, err = (EnvSource{UserVar: "MY_USER", PasswordVar: "MY_PASSWORD_UNSET"}).Credentials(context.Background())
	require.ErrorContains(t, err, "MY_PASSWORD_UNSET", "err = %v", err)
	os.Unsetenv(DefaultUserEnv)
	_, err = (EnvSource{}).Credentials(context.Background())
	require.ErrorContains(t, err, DefaultUserEnv, "err = %v", err)
}

func TestFileSource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.json")
	write := func(s string, mtime time.Time) {
		err := os.WriteFile(path, []byte(s), 0o600)
		require.NoError(t, err)
		err = os.Chtimes(path, mtime, mtime)
		require.NoError(t, err)
	}
	t0 := time.Now().Add(-time.Hour)
	write(`{"username":"app","password":"one"}`, t0)
	f := NewFileSource(path, SecretKeys{})
	ctx := context.Background()
	c, err := f.Credentials(ctx)
	require.NoError(t, err, "%v, %v", c, err)
	require.Equal(t, "one", c.Password, "%v, %v", c, err)
	require.Equal(t, "file:"+path, c.Source, "%v, %v", c, err)
	// A rewrite (new mtime) is picked up.
	write(`{"username":"app","password":"two"}`, t0.Add(time.Second))
	c, _ = f.Credentials(ctx)
	require.Equal(t, "two", c.Password, "got %v after rewrite", c)
	// Same size and mtime: served from cache until invalidated.
	write(`{"username":"app","password":"TWO"}`, t0.Add(time.Second))
	c, _ = f.Credentials(ctx)
	require.Equal(t, "two", c.Password, "got %v, want cached", c)
	f.Invalidate(c)
	c, _ = f.Credentials(ctx)
	require.Equal(t, "TWO", c.Password, "got %v after Invalidate", c)
	// Errors.
	write(`{"username":"app"}`, t0.Add(2*time.Second))
	_, err = f.Credentials(ctx)
	require.ErrorContains(t, err, path, "err = %v", err)
	_, err = NewFileSource(filepath.Join(t.TempDir(), "missing.json"), SecretKeys{}).Credentials(ctx)
	require.Error(t, err, "missing file accepted")
}
