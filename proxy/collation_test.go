package proxy_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestHandshakeCollationSurvivesOtherClients: a client whose handshake
// asked for utf8mb4_unicode_ci compares a string parameter of a prepared
// statement with a literal after other clients changed the character set
// of the only backend. The server gives the parameter the collation of the
// client character set, which SET NAMES ... COLLATE sets (as a handshake
// does) and SET character_set_client does not: with the latter the
// comparison failed with 1267 (illegal mix of collations).
func TestHandshakeCollationSurvivesOtherClients(t *testing.T) {
	e := startEnv(t, withBackends(1))
	db := e.open(t, "collation=utf8mb4_unicode_ci")
	noise := e.open(t, "")
	ctx := ctxT(t)
	c := e.conn(t, db)
	n := e.conn(t, noise)
	for _, q := range []string{"SET NAMES latin1", "SET NAMES utf8mb4 COLLATE utf8mb4_bin", "SET NAMES cp1257", "SET CHARACTER SET latin1", "SET NAMES utf8mb3"} {
		st, err := c.PrepareContext(ctx, "SELECT HEX(?), CHARSET(?), ? = 'é'")
		must(t, err)
		_, err = n.ExecContext(ctx, q)
		must(t, err)
		var a, b string
		var x int
		err = st.QueryRowContext(ctx, "0123", "o'k", "é").Scan(&a, &b, &x)
		assert.NoError(t, err, "after noise %q: %v", q, err)
		st.Close()
	}
}
