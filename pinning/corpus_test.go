package pinning

import (
	"bufio"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateCorpus = flag.Bool("update", false, "rewrite testdata/corpus.txt with the classifier's current results")

const corpusFile = "testdata/corpus.txt"

// corpusEntry is one statement of the corpus with its expected result.
type corpusEntry struct {
	line int
	sql  string
	want string // "" when the file has no expectation yet
}

// readCorpus parses the corpus: each statement is one line, followed by
// a "=> " line with its expected Result.String(). Lines starting with "//"
// and blank lines are kept as they are on update.
func readCorpus(t testing.TB) (lines []string, entries []corpusEntry) {
	t.Helper()
	f, err := os.Open(corpusFile)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		lines = append(lines, line)
		switch {
		case strings.HasPrefix(line, "=> "):
			require.NotEqual(t, 0, len(entries), "%s:%d: expectation without a statement", corpusFile, n)
			require.Equal(t, "", entries[len(entries)-1].want, "%s:%d: expectation without a statement", corpusFile, n)
			entries[len(entries)-1].want = strings.TrimPrefix(line, "=> ")
		case line == "" || strings.HasPrefix(line, "//"):
		default:
			entries = append(entries, corpusEntry{line: n, sql: line})
		}
	}
	err = sc.Err()
	require.NoError(t, err)
	return lines, entries
}

func TestCorpus(t *testing.T) {
	lines, entries := readCorpus(t)
	assert.GreaterOrEqual(t, len(entries), 300, "corpus has %d statements, want at least 300", len(entries))
	c := NewClassifier()
	var r Result
	if *updateCorpus {
		var out strings.Builder
		for i := 0; i < len(lines); i++ {
			line := lines[i]
			if strings.HasPrefix(line, "=> ") {
				continue
			}
			out.WriteString(line)
			out.WriteByte('\n')
			if line == "" || strings.HasPrefix(line, "//") {
				continue
			}
			c.Classify(line, &r)
			out.WriteString("=> " + r.String() + "\n")
		}
		err := os.WriteFile(corpusFile, []byte(out.String()), 0o644)
		require.NoError(t, err)
		return
	}
	for _, e := range entries {
		if !assert.NotEmpty(t, e.want, "%s:%d: %q has no expectation", corpusFile, e.line, e.sql) {
			continue
		}
		c.Classify(e.sql, &r)
		got := r.String()
		assert.Equal(t, e.want, got, "%s:%d: %s\n got: %s\nwant: %s", corpusFile, e.line, e.sql, got, e.want)
	}
}
