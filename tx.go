package rdsmux

import (
	"database/sql/driver"
)

// tx is a transaction on the backend the logical connection holds until
// Commit or Rollback.
type tx struct {
	c    *conn
	tx   driver.Tx
	done bool
}

var _ driver.Tx = (*tx)(nil)

func (t *tx) Commit() error   { return t.c.endTx(t, true) }
func (t *tx) Rollback() error { return t.c.endTx(t, false) }
