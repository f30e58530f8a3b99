package iamauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// SecretKeys names the JSON keys of a database secret. The zero value of a
// field means the default (DefaultSecretKeys); Host, Port and DBName are
// optional in the secret.
type SecretKeys struct {
	User     string
	Password string
	Host     string
	Port     string
	DBName   string
}

// DefaultSecretKeys are the keys of the secrets RDS and Secrets Manager's
// rotation functions write: username, password, host, port, dbname.
var DefaultSecretKeys = SecretKeys{User: "username", Password: "password", Host: "host", Port: "port", DBName: "dbname"}

func (k SecretKeys) withDefaults() SecretKeys {
	d := DefaultSecretKeys
	if k.User != "" {
		d.User = k.User
	}
	if k.Password != "" {
		d.Password = k.Password
	}
	if k.Host != "" {
		d.Host = k.Host
	}
	if k.Port != "" {
		d.Port = k.Port
	}
	if k.DBName != "" {
		d.DBName = k.DBName
	}
	return d
}

// errBadSecret is wrapped by every ParseSecret error. Messages never quote
// the secret's content.
var errBadSecret = errors.New("iamauth: malformed database secret")

// ParseSecret decodes a database secret: a JSON object with a user name and
// a password under keys (empty fields take DefaultSecretKeys'), and
// optionally host, port (number or numeric string) and dbname. Unknown keys
// are ignored. Errors describe what is wrong without quoting the secret.
func ParseSecret(data []byte, keys SecretKeys) (Credential, error) {
	keys = keys.withDefaults()
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return Credential{}, fmt.Errorf("%w: not valid JSON (syntax error at byte %d)", errBadSecret, se.Offset)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Credential{}, fmt.Errorf("%w: not valid JSON (truncated)", errBadSecret)
		}
		return Credential{}, fmt.Errorf("%w: not a JSON object", errBadSecret)
	}
	if m == nil {
		return Credential{}, fmt.Errorf("%w: not a JSON object", errBadSecret)
	}
	if dec.More() {
		return Credential{}, fmt.Errorf("%w: data after the JSON object", errBadSecret)
	}
	var c Credential
	var err error
	if c.User, err = secretString(m, keys.User, true); err != nil {
		return Credential{}, err
	}
	if c.Password, err = secretString(m, keys.Password, true); err != nil {
		return Credential{}, err
	}
	if c.Host, err = secretString(m, keys.Host, false); err != nil {
		return Credential{}, err
	}
	if c.DBName, err = secretString(m, keys.DBName, false); err != nil {
		return Credential{}, err
	}
	if raw, ok := m[keys.Port]; ok && string(raw) != "null" {
		c.Port, err = secretPort(raw)
		if err != nil {
			return Credential{}, fmt.Errorf("%w: key %q: %w", errBadSecret, keys.Port, err)
		}
	}
	return c, nil
}

func secretString(m map[string]json.RawMessage, key string, required bool) (string, error) {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		if required {
			return "", fmt.Errorf("%w: no %q key (set the secret keys to match your secret)", errBadSecret, key)
		}
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: key %q is not a string", errBadSecret, key)
	}
	if required && s == "" {
		return "", fmt.Errorf("%w: key %q is empty", errBadSecret, key)
	}
	return s, nil
}

func secretPort(raw json.RawMessage) (int, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, errors.New("not a number")
		}
		n = json.Number(s)
	}
	p, err := strconv.Atoi(n.String())
	if err != nil || p < 1 || p > 65535 {
		return 0, errors.New("not a port number in 1..65535")
	}
	return p, nil
}
