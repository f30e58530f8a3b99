package iamauth

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSecret(t *testing.T) {
	for _, tc := range []struct {
		in   string
		keys SecretKeys
		want Credential
	}{
		{`{"username":"app","password":"pw"}`, SecretKeys{}, Credential{User: "app", Password: "pw"}},
		{`{"username":"app","password":"pw","host":"h","port":3306,"dbname":"d","engine":"mysql"}`, SecretKeys{}, Credential{User: "app", Password: "pw", Host: "h", Port: 3306, DBName: "d"}},
		{`{"username":"app","password":"pw","port":"3307"}`, SecretKeys{}, Credential{User: "app", Password: "pw", Port: 3307}},
		{`{"username":"app","password":"pw","port":null,"host":null}`, SecretKeys{}, Credential{User: "app", Password: "pw"}},
		{` {"u":"app","p":"pw \"q\" \u00e9"} `, SecretKeys{User: "u", Password: "p"}, Credential{User: "app", Password: `pw "q" é`}},
	} {
		got, err := ParseSecret([]byte(tc.in), tc.keys)
		assert.False(t, err != nil || got != tc.want, "ParseSecret(%s) = %v, %v; want %v", tc.in, got, err, tc.want)
	}
}

func TestParseSecretErrors(t *testing.T) {
	for in, wantMsg := range map[string]string{
		``:     "not a JSON object",
		`null`: "not a JSON object",
		`[1]`:  "not a JSON object",
		`{"username":"app","password":"hunter2",`:              "not valid JSON",
		`{"username":"app"}`:                                   `no "password" key`,
		`{"password":"hunter2"}`:                               `no "username" key`,
		`{"username":"app","password":""}`:                     `"password" is empty`,
		`{"username":"app","password":7}`:                      `"password" is not a string`,
		`{"username":"app","password":"hunter2","port":"x"}`:   "port number",
		`{"username":"app","password":"hunter2","port":70000}`: "port number",
		`{"username":"app","password":"hunter2"} {}`:           "data after",
		`{"username":"app","password":"hunter2","host":1}`:     `"host" is not a string`,
	} {
		_, err := ParseSecret([]byte(in), SecretKeys{})
		if !assert.True(t, err != nil && errors.Is(err, errBadSecret) && strings.Contains(err.Error(), wantMsg), "ParseSecret(%s): err = %v, want %q", in, err, wantMsg) {
			continue
		}
		assert.NotContains(t, err.Error(), "hunter2", "error leaks the password: %v", err)
	}
}

// parseSecretMessages holds every fixed text ParseSecret's errors may
// contain, so the fuzzer can tell a leaked password from a coincidence.
const parseSecretMessages = `iamauth: malformed database secret: not valid JSON (syntax error at byte 0123456789) (truncated) not a JSON object data after the JSON object no "username" "password" "host" "port" "dbname" key (set the secret keys to match your secret) is empty is not a string not a number not a port number in 1..65535`

func FuzzParseSecret(f *testing.F) {
	for _, s := range []string{
		`{"username":"app","password":"pw","host":"h","port":3306,"dbname":"d"}`,
		`{"username":"app","password":"pw","port":"3306"}`,
		`{"username":"app","password":"p\u0000w"}`,
		`{"username":"app","password":""}`,
		`{"username":1,"password":"x"}`,
		`{"username":"a","password":"b"} trailing`,
		`{`, `null`, `[]`, `""`, `{"port":1e3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseSecret(data, SecretKeys{})
		if err != nil {
			require.ErrorIs(t, err, errBadSecret, "error not wrapping errBadSecret: %v", err)
			// The error must not quote the password.
			var m map[string]any
			if json.Unmarshal(data, &m) == nil {
				pw, ok := m["password"].(string)
				require.False(t, ok && len(pw) >= 4 && strings.Contains(err.Error(), pw) && !strings.Contains(parseSecretMessages, pw), "error %q leaks the password %q", err, pw)
			}
			return
		}
		require.NotEqual(t, "", c.User, "accepted a secret without user or password: %v", c)
		require.NotEqual(t, "", c.Password, "accepted a secret without user or password: %v", c)
		require.GreaterOrEqual(t, c.Port, 0, "port %d", c.Port)
		require.LessOrEqual(t, c.Port, 65535, "port %d", c.Port)
		// String depends on whether there is a password, never on which.
		other := c
		other.Password = "x"
		require.Equal(t, other.String(), c.String(), "String() depends on the password: %s", c)
	})
}
