package iamauth

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// Credential is what a backend connection authenticates with. It is a plain
// value: the pool asks a Provider for one per new backend connection, uses it
// for the handshake and drops it.
//
// Credential never prints its password: String, GoString, Format (every fmt
// verb), LogValue (log/slog) and MarshalJSON all redact it, so a Credential
// that ends up in a log line, an error message or a debug dump does not leak.
type Credential struct {
	// User is the database user name.
	User string
	// Password is the password or IAM authentication token.
	Password string
	// Expires is when the password stops being accepted (IAM tokens), or
	// the zero time when the source does not know.
	Expires time.Time
	// Source names where the credential came from, for logs and errors,
	// e.g. "iam:db.example:3306/us-east-1", "secretsmanager:prod/db@AWSCURRENT",
	// "static", "env", "file:/etc/db.json". It never contains secret material.
	Source string
	// Cleartext reports that the password must be sent with the
	// mysql_clear_password plugin, which is only allowed over TLS. IAM
	// tokens set it.
	Cleartext bool
	// Host, Port and DBName are optional connection details some sources
	// carry (a Secrets Manager secret may hold host, port and dbname). Zero
	// when unknown; the go-sql-driver wiring does not apply them.
	Host   string
	Port   int
	DBName string
}

// Provider supplies credentials. The pool calls Credentials once for each new
// backend connection and does not keep the result after the handshake, so a
// Provider is free to rotate what it returns at any time. Implementations
// must be safe for concurrent use.
type Provider interface {
	Credentials(ctx context.Context) (Credential, error)
}

// Invalidator is implemented by Providers that can react to the server
// rejecting a credential (MySQL error 1045, access denied): Invalidate drops
// any cached copy of c so that the next Credentials call fetches afresh.
// Connect calls it before retrying. Invalidating a credential that is no
// longer cached is a no-op, so concurrent rejections of the same credential
// cause one re-fetch, not many.
type Invalidator interface {
	Invalidate(c Credential)
}

const redacted = "[redacted]"

// String returns a description of c without its password.
func (c Credential) String() string {
	pw := ""
	if c.Password != "" {
		pw = redacted
	}
	s := "iamauth.Credential{User:" + c.User + " Password:" + pw + " Source:" + c.Source
	if !c.Expires.IsZero() {
		s += " Expires:" + c.Expires.UTC().Format(time.RFC3339)
	}
	if c.Cleartext {
		s += " Cleartext:true"
	}
	if c.Host != "" {
		s += " Host:" + c.Host
	}
	if c.Port != 0 {
		s += fmt.Sprintf(" Port:%d", c.Port)
	}
	if c.DBName != "" {
		s += " DBName:" + c.DBName
	}
	return s + "}"
}

// GoString implements fmt.GoStringer (the %#v verb) without the password.
func (c Credential) GoString() string { return c.String() }

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %s, %q,
// %x, ...) prints the redacted form.
func (c Credential) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", c.String())
	default:
		_, _ = f.Write([]byte(c.String()))
	}
}

// LogValue implements slog.LogValuer: the user, source and expiry are logged,
// the password never is.
func (c Credential) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("user", c.User),
		slog.String("source", c.Source),
	}
	if !c.Expires.IsZero() {
		attrs = append(attrs, slog.Time("expires", c.Expires))
	}
	if c.Password != "" {
		attrs = append(attrs, slog.String("password", redacted))
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON implements json.Marshaler with the password redacted, so a
// Credential embedded in a JSON document (debug endpoints, structured logs)
// does not leak.
func (c Credential) MarshalJSON() ([]byte, error) {
	type shown struct {
		User      string    `json:"user"`
		Password  string    `json:"password,omitempty"`
		Source    string    `json:"source,omitempty"`
		Expires   time.Time `json:"expires,omitzero"`
		Cleartext bool      `json:"cleartext,omitempty"`
		Host      string    `json:"host,omitempty"`
		Port      int       `json:"port,omitempty"`
		DBName    string    `json:"dbname,omitempty"`
	}
	s := shown{User: c.User, Source: c.Source, Expires: c.Expires, Cleartext: c.Cleartext, Host: c.Host, Port: c.Port, DBName: c.DBName}
	if c.Password != "" {
		s.Password = redacted
	}
	return json.Marshal(s)
}

// same reports whether a and b are the same secret for the same user.
func (c Credential) same(o Credential) bool {
	return c.User == o.User && c.Password == o.Password
}

var (
	_ fmt.Stringer   = Credential{}
	_ fmt.GoStringer = Credential{}
	_ fmt.Formatter  = Credential{}
	_ slog.LogValuer = Credential{}
)
