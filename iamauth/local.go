package iamauth

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Static is a Provider with a fixed credential, for tests and for databases
// without rotation. It is not an Invalidator: a rejected static password
// fails at once.
type Static Credential

var _ Provider = Static{}

// Credentials returns the credential.
func (s Static) Credentials(context.Context) (Credential, error) {
	c := Credential(s)
	if c.Source == "" {
		c.Source = "static"
	}
	return c, nil
}

// String prints the credential redacted.
func (s Static) String() string { return Credential(s).String() }

// GoString prints the credential redacted.
func (s Static) GoString() string { return Credential(s).String() }

// Format prints the credential redacted for every fmt verb.
func (s Static) Format(f fmt.State, verb rune) { Credential(s).Format(f, verb) }

// LogValue logs the credential without its password.
func (s Static) LogValue() slog.Value { return Credential(s).LogValue() }

// Default environment variables of EnvSource.
const (
	DefaultUserEnv     = "RDSMUX_DB_USER"
	DefaultPasswordEnv = "RDSMUX_DB_PASSWORD"
)

// EnvSource reads the user and password from environment variables on every
// call, for local development. Empty names mean DefaultUserEnv and
// DefaultPasswordEnv.
type EnvSource struct {
	UserVar     string
	PasswordVar string
}

// EnvSource is not an Invalidator: the environment does not change under a
// running program, so a rejected password fails at once.
var _ Provider = EnvSource{}

// Credentials reads the variables. The user variable must be set; the
// password variable may be empty but must exist.
func (e EnvSource) Credentials(context.Context) (Credential, error) {
	uv, pv := e.UserVar, e.PasswordVar
	if uv == "" {
		uv = DefaultUserEnv
	}
	if pv == "" {
		pv = DefaultPasswordEnv
	}
	user := os.Getenv(uv)
	if user == "" {
		return Credential{}, fmt.Errorf("iamauth: environment variable %s (database user) is not set", uv)
	}
	pw, ok := os.LookupEnv(pv)
	if !ok {
		return Credential{}, fmt.Errorf("iamauth: environment variable %s (database password) is not set", pv)
	}
	return Credential{User: user, Password: pw, Source: "env:" + uv}, nil
}

// FileSource reads a JSON secret file (the format of ParseSecret, so a
// Secrets Manager secret can be dumped into it) for local development. The
// file is re-read when its modification time or size changes and after the
// server rejects its credential.
type FileSource struct {
	path string
	keys SecretKeys

	mu    sync.Mutex
	cred  Credential // guarded by mu; zero Password: not loaded
	mtime time.Time  // guarded by mu
	size  int64      // guarded by mu
}

var (
	_ Provider    = (*FileSource)(nil)
	_ Invalidator = (*FileSource)(nil)
)

// NewFileSource returns a source for the JSON file at path, decoded with
// keys (the zero SecretKeys means DefaultSecretKeys).
func NewFileSource(path string, keys SecretKeys) *FileSource {
	return &FileSource{path: path, keys: keys.withDefaults()}
}

// Credentials returns the file's credential, re-reading a changed file.
func (f *FileSource) Credentials(context.Context) (Credential, error) {
	st, err := os.Stat(f.path)
	if err != nil {
		return Credential{}, fmt.Errorf("iamauth: credential file: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cred.Password != "" && st.ModTime().Equal(f.mtime) && st.Size() == f.size {
		return f.cred, nil
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return Credential{}, fmt.Errorf("iamauth: credential file: %w", err)
	}
	c, err := ParseSecret(data, f.keys)
	if err != nil {
		return Credential{}, fmt.Errorf("credential file %s: %w", f.path, err)
	}
	c.Source = "file:" + f.path
	f.cred, f.mtime, f.size = c, st.ModTime(), st.Size()
	return c, nil
}

// Invalidate forces the next call to re-read the file if c is what was
// read.
func (f *FileSource) Invalidate(c Credential) {
	f.mu.Lock()
	if f.cred.same(c) {
		f.cred = Credential{}
	}
	f.mu.Unlock()
}

// MarshalJSON encodes the credential with its password redacted.
func (s Static) MarshalJSON() ([]byte, error) { return Credential(s).MarshalJSON() }
