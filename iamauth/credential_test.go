package iamauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const leakyPassword = "S3cr3t-P4ssw0rd-do-not-log"

func TestCredentialNeverPrintsPassword(t *testing.T) {
	c := Credential{User: "app", Password: leakyPassword, Source: "test", Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), Cleartext: true, Host: "h", Port: 3306, DBName: "d"}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%100v", "%-10s"} {
		outputs = append(outputs, fmt.Sprintf(verb, c), fmt.Sprintf(verb, &c), fmt.Sprintf(verb, Static(c)))
	}
	outputs = append(outputs,
		fmt.Sprint(c), fmt.Sprintln(c), c.String(), c.GoString(),
		fmt.Sprintf("%v", []Credential{c}), fmt.Sprintf("%+v", struct{ C Credential }{c}),
		fmt.Errorf("dial with %v: %w", c, errors.New("x")).Error(),
	)
	for _, mk := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		l := slog.New(mk(&buf))
		l.Info("connecting", "cred", c, "static", Static(c))
		l.Info("connecting", slog.Any("cred", c))
		outputs = append(outputs, buf.String())
	}
	for _, v := range []any{c, &c, Static(c), []Credential{c}, map[string]any{"c": c}} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		outputs = append(outputs, string(b))
	}
	for _, out := range outputs {
		assert.False(t, strings.Contains(out, leakyPassword) || strings.Contains(out, fmt.Sprintf("%x", leakyPassword)) || strings.Contains(strings.ToLower(out), fmt.Sprintf("%x", leakyPassword)), "password leaked: %s", out)
		assert.Contains(t, out, "app", "user missing from %s", out)
	}
	assert.Contains(t, c.String(), redacted, "String() does not say the password is redacted: %s", c)
	assert.NotContains(t, Credential{User: "u"}.String(), redacted, "an empty password is shown as redacted")
}

func TestCredentialJSONShape(t *testing.T) {
	b, _ := json.Marshal(Credential{User: "app", Password: "x", Source: "s"})
	require.Equal(t, `{"user":"app","password":"[redacted]","source":"s"}`, string(b), "%s", b)
}
