package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repoFile reads a file from the repository root.
func repoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	require.NoError(t, err)
	return string(b)
}

// dockerInstruction is one Dockerfile instruction, continuation lines
// joined.
type dockerInstruction struct {
	cmd, args string
}

func parseDockerfile(text string) []dockerInstruction {
	var out []dockerInstruction
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cont, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// TestDockerfile checks the listener's Dockerfile for what hadolint and
// the issue ask: pinned bases, a static (CGO_ENABLED=0) build, a non-root
// user in the final image, an exec-form entrypoint. Docker itself is not
// needed; hadolint runs too when it is installed.
func TestDockerfile(t *testing.T) {
	text := repoFile(t, "Dockerfile")
	ins := parseDockerfile(text)
	var stages [][]dockerInstruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			image := strings.Fields(in.args)[0]
			if image != "scratch" {
				name, tag, ok := strings.Cut(image, ":")
				assert.True(t, ok && tag != "" && tag != "latest", "base %s is not pinned to a version", image)
				assert.NotContains(t, name, "$", "base image from a build argument")
				assert.Regexp(t, `\d+\.\d+\.\d+`, tag, "base %s: pin an exact release", image)
			}
			stages = append(stages, nil)
		}
		require.NotEmpty(t, stages, "instruction %s before FROM", in.cmd)
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	require.GreaterOrEqual(t, len(stages), 2, "want a build stage and a small final stage")
	built := false
	for _, in := range ins {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			built = true
			assert.Contains(t, in.args, "CGO_ENABLED=0", "the binary must be static")
			assert.Contains(t, in.args, "./cmd/rdsmux")
			assert.Contains(t, in.args, "-X main.version=", "the version must reach -version and build_info")
		}
	}
	assert.True(t, built, "no go build")
	final := stages[len(stages)-1]
	user := ""
	var entrypoint string
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "RUN":
			t.Errorf("the final stage runs %q: it has no shell", in.args)
		}
	}
	u, _, _ := strings.Cut(user, ":")
	assert.NotEmpty(t, u, "the final stage has no USER: it would run as root")
	assert.NotContains(t, []string{"0", "root"}, u, "the final stage runs as root")
	var argv []string
	assert.NoError(t, json.Unmarshal([]byte(entrypoint), &argv), "ENTRYPOINT must be the exec (JSON) form, so that SIGTERM reaches rdsmux")

	if path, err := exec.LookPath("hadolint"); err == nil {
		out, err := exec.Command(path, filepath.Join("..", "..", "Dockerfile")).CombinedOutput()
		assert.NoError(t, err, "hadolint: %s", out)
	}
}

// TestDeployExamples: the example settings parse and validate, the
// example credentials file reads, and the systemd unit reloads with
// SIGHUP and waits for a drain.
func TestDeployExamples(t *testing.T) {
	c, err := parseFlags([]string{"-config", filepath.Join("..", "..", "deploy", "rdsmux.yaml")}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "db.internal:3306", c.target)
	users, err := readCredentials(filepath.Join("..", "..", "deploy", "users.example.json"))
	require.NoError(t, err)
	assert.Len(t, users, 2)

	unit := repoFile(t, "deploy/rdsmux.service")
	keys := map[string]string{}
	for _, line := range strings.Split(unit, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			keys[k] = v
		}
	}
	assert.Contains(t, keys["ExecReload"], "-HUP")
	assert.Equal(t, "SIGTERM", keys["KillSignal"])
	assert.NotContains(t, keys["ExecStart"], "password")
	assert.NotEqual(t, "root", keys["User"])
	stop, err := strconv.Atoi(keys["TimeoutStopSec"])
	require.NoError(t, err)
	assert.Greater(t, time.Duration(stop)*time.Second, c.shutdownTimeout, "systemd would kill rdsmux mid-drain")
}

// TestInstallDepsLeavesServicesAlone: make test runs
// scripts/install-deps.sh, which must never stop, restart or start a
// MariaDB service the user runs.
func TestInstallDepsLeavesServicesAlone(t *testing.T) {
	script := repoFile(t, "scripts/install-deps.sh")
	for _, line := range strings.Split(script, "\n") {
		code, _, _ := strings.Cut(line, "#")
		for _, bad := range []string{"service ", "systemctl ", "invoke-rc.d ", "mysqladmin shutdown"} {
			assert.NotContains(t, code, bad, "install-deps.sh touches a service: %q", line)
		}
	}
	assert.Contains(t, script, "policy-rc.d", "package installs must not start services")
}
