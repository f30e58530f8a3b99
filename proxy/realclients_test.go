package proxy_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// realClient is a client library the project did not write, driven by a
// script in testdata/clients (see its README).
type realClient struct {
	name string
	argv []string // the script and its fixed arguments
}

// checkResult is one line a client script prints.
type checkResult struct {
	Check  string          `json:"check"`
	OK     bool            `json:"ok"`
	Detail json.RawMessage `json:"detail"`
}

// errDetail is the detail of a check that reports a library's error.
type errDetail struct {
	Code    any    `json:"code"`
	State   string `json:"state"`
	Message string `json:"message"`
}

// code returns the error number as text ("1158"), whatever JSON type the
// library gave it.
func (d errDetail) code() string { return strings.TrimSuffix(fmt.Sprint(d.Code), ".0") }

// realClients returns the script-driven clients, failing the test with how
// to install what is missing.
func realClients(t testing.TB) []realClient {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "clients"))
	require.NoError(t, err)
	need := func(path, pkg string) {
		t.Helper()
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("%s is missing (%v): install it with scripts/install-deps.sh (%s)", path, err, pkg)
		}
	}
	need("/usr/bin/python3", "python3")
	py := func(mod, pkg string) {
		t.Helper()
		if out, err := exec.Command("/usr/bin/python3", "-c", "import "+mod).CombinedOutput(); err != nil {
			t.Fatalf("python module %s is missing (%v: %s): install it with scripts/install-deps.sh (Debian package %s)", mod, err, out, pkg)
		}
	}
	py("pymysql", "python3-pymysql")
	py("MySQLdb", "python3-mysqldb")
	need("/usr/bin/php", "php-cli")
	if out, err := exec.Command("/usr/bin/php", "-r", "exit(extension_loaded('pdo_mysql') && extension_loaded('mysqli') ? 0 : 1);").CombinedOutput(); err != nil {
		t.Fatalf("PHP's pdo_mysql or mysqli extension is missing (%v: %s): install it with scripts/install-deps.sh (php-mysql)", err, out)
	}
	need("/usr/bin/perl", "perl")
	if out, err := exec.Command("/usr/bin/perl", "-MDBD::MariaDB", "-e", "1").CombinedOutput(); err != nil {
		t.Fatalf("DBD::MariaDB is missing (%v: %s): install it with scripts/install-deps.sh (libdbd-mariadb-perl)", err, out)
	}
	node, err := exec.LookPath("node")
	require.NoError(t, err, "node is missing: install it with scripts/install-deps.sh (nodejs)")
	need(filepath.Join(dir, "node", "node_modules", "mysql2"), "npm ci in proxy/testdata/clients/node")
	return []realClient{
		{"pymysql", []string{"/usr/bin/python3", filepath.Join(dir, "python", "matrix.py"), "pymysql"}},
		{"mysqlclient", []string{"/usr/bin/python3", filepath.Join(dir, "python", "matrix.py"), "MySQLdb"}},
		{"php-pdo", []string{"/usr/bin/php", "-d", "mysqli.allow_local_infile=1", filepath.Join(dir, "php", "matrix.php"), "pdo"}},
		{"php-mysqli", []string{"/usr/bin/php", "-d", "mysqli.allow_local_infile=1", filepath.Join(dir, "php", "matrix.php"), "mysqli"}},
		{"perl-dbd-mariadb", []string{"/usr/bin/perl", filepath.Join(dir, "perl", "matrix.pl")}},
		{"node-mysql2", []string{node, filepath.Join(dir, "node", "matrix.js")}},
	}
}

// run runs checks with the client against addr and returns the results by
// check name. extra are more RDSMUX_* variables (RDSMUX_SQL...).
func (rc realClient) run(t testing.TB, addr, user, pass, db string, extra map[string]string, checks ...string) map[string]checkResult {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(rc.argv[0], append(rc.argv[1:], checks...)...)
	cmd.Env = append(os.Environ(), "RDSMUX_HOST="+host, "RDSMUX_PORT="+port, "RDSMUX_USER="+user,
		"RDSMUX_PASS="+pass, "RDSMUX_DB="+db)
	for k, v := range extra {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	res := make(map[string]checkResult)
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r checkResult
		if jerr := json.Unmarshal(sc.Bytes(), &r); !assert.NoError(t, jerr, "%s: unparsable line %q: %v", rc.name, sc.Text(), jerr) {
			continue
		}
		res[r.Check] = r
	}
	assert.NoError(t, err, "%s: the script failed (%v, %d of %d results): %s", rc.name, err, len(res), len(checks), stderr.String())
	assert.Len(t, res, len(checks), "%s: the script failed (%v, %d of %d results): %s", rc.name, err, len(res), len(checks), stderr.String())
	return res
}

// runAll runs the same checks with every client concurrently.
func runAll(t testing.TB, clients []realClient, addr, user, pass, db string, extra map[string]string, checks ...string) map[string]map[string]checkResult {
	t.Helper()
	var mu sync.Mutex
	all := make(map[string]map[string]checkResult)
	var wg sync.WaitGroup
	for _, rc := range clients {
		wg.Add(1)
		go func() { // ends when the script does
			defer wg.Done()
			r := rc.run(t, addr, user, pass, db, extra, checks...)
			mu.Lock()
			all[rc.name] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all
}

// names returns the keys of m, sorted.
func names[V any](m map[string]V) []string {
	s := make([]string, 0, len(m))
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}
