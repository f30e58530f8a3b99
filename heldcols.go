package rdsmux

import (
	"bytes"
	"database/sql/driver"
	"reflect"

	"github.com/rdsmux/rdsmux/metacache"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// MariaDB's metadata cache, as a client of a dedicated connection sees it.
//
// go-sql-driver negotiates MARIADB_CLIENT_CACHE_METADATA with MariaDB and
// reports, for a prepared statement, the column definitions it holds:
// those the server last sent for it, which depend on the statement's
// history on that connection (package metacache has the rule). rdsmux's
// backends do not use the cache (greeting.go), so each execute brings the
// current definitions, which the backend's connection copies; for each
// *sql.Stmt the driver keeps what a dedicated connection's client would
// hold (stmt.held, from the prepare's answer on) and, when that client
// would have kept older definitions, the rows report those: their names
// and, for string columns, their binary-ness (VARCHAR or VARBINARY).

// heldColumns is what database/sql reads about a result's columns.
type heldColumns struct {
	names []string
	cols  []heldColumn
}

// heldColumn is what database/sql reads about one column.
type heldColumn struct {
	dbType           string
	scan             reflect.Type
	nullable, nullOK bool
	precision, scale int64
	precisionScaleOK bool
}

// heldFor decides, for an execute of ps whose rows r came with the column
// definitions defs, which definitions a dedicated connection's client
// would hold: nil when those of r, else what the rows report instead. It
// updates ps.held.
func (c *conn) heldFor(ps *stmt, r driver.Rows, defs [][]byte) *heldColumns {
	st, results := c.s.State(), c.resultsCharset()
	held := ps.held
	if held == nil || !held.Keeps(defs, st, results) {
		ps.held = &metacache.Held{Defs: defs, State: st, Results: results}
		return nil
	}
	same := true
	for i, d := range defs {
		same = same && bytes.Equal(d, held.Defs[i])
	}
	if same {
		return nil
	}
	return heldView(r, held.Defs)
}

// heldView is what r reports about its columns, but for the names and the
// binary-ness of string columns, which come from the definitions defs.
func heldView(r driver.Rows, defs [][]byte) *heldColumns {
	names := r.Columns()
	h := &heldColumns{names: make([]string, len(names)), cols: make([]heldColumn, len(names))}
	for i := range h.cols {
		c := &h.cols[i]
		h.names[i] = names[i]
		if t, ok := r.(driver.RowsColumnTypeDatabaseTypeName); ok {
			c.dbType = t.ColumnTypeDatabaseTypeName(i)
		}
		if t, ok := r.(driver.RowsColumnTypeScanType); ok {
			c.scan = t.ColumnTypeScanType(i)
		}
		if t, ok := r.(driver.RowsColumnTypeNullable); ok {
			c.nullable, c.nullOK = t.ColumnTypeNullable(i)
		}
		if t, ok := r.(driver.RowsColumnTypePrecisionScale); ok {
			c.precision, c.scale, c.precisionScaleOK = t.ColumnTypePrecisionScale(i)
		}
		if i >= len(defs) {
			continue
		}
		col, err := wire.ParseColumn(defs[i])
		if err != nil {
			continue
		}
		h.names[i] = col.Name
		text := asText(c.dbType)
		if bin, isString := binaryTypes[text]; isString {
			if col.Charset == metacache.BinaryCollation {
				c.dbType = bin
			} else {
				c.dbType = text
			}
		}
	}
	return h
}

// textTypes maps go-sql-driver's name of a binary string type to its text
// twin.
var textTypes = map[string]string{
	"VARBINARY": "VARCHAR", "BINARY": "CHAR", "BLOB": "TEXT",
	"TINYBLOB": "TINYTEXT", "MEDIUMBLOB": "MEDIUMTEXT", "LONGBLOB": "LONGTEXT",
}

// binaryTypes is textTypes reversed.
var binaryTypes = func() map[string]string {
	m := make(map[string]string, len(textTypes))
	for b, t := range textTypes {
		m[t] = b
	}
	return m
}()

// asText returns the text twin of a binary string type, other types as
// they are.
func asText(t string) string {
	if s, ok := textTypes[t]; ok {
		return s
	}
	return t
}

// resultsCharset returns the session's character_set_results as
// metacache.ResultsCharset normalizes it.
func (c *conn) resultsCharset() string {
	return metacache.SessionResults(c.s)
}
