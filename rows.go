package rdsmux

import (
	"database/sql/driver"
	"reflect"
)

// rows is a result set being read from a borrowed backend; the backend goes
// back (or stays held) when the rows are closed.
type rows struct {
	c      *conn
	r      driver.Rows
	stmt   driver.Stmt // an uncached statement to close with the rows
	closed bool
	// held, when set, are the column definitions reported for the first
	// result set instead of r's (heldcols.go).
	held *heldColumns
}

var (
	_ driver.Rows                           = (*rows)(nil)
	_ driver.RowsNextResultSet              = (*rows)(nil)
	_ driver.RowsColumnTypeScanType         = (*rows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*rows)(nil)
	_ driver.RowsColumnTypeLength           = (*rows)(nil)
	_ driver.RowsColumnTypeNullable         = (*rows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*rows)(nil)
)

func (r *rows) Columns() []string {
	if r.held != nil {
		return r.held.names
	}
	return r.r.Columns()
}

func (r *rows) Next(dest []driver.Value) error { return r.r.Next(dest) }

// Close reads what is left of the result, then gives the backend back.
func (r *rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.r.Close()
	if r.stmt != nil {
		if cerr := r.stmt.Close(); err == nil {
			err = cerr
		}
	}
	r.c.finishRows(r, err)
	return err
}

func (r *rows) HasNextResultSet() bool {
	if n, ok := r.r.(driver.RowsNextResultSet); ok {
		return n.HasNextResultSet()
	}
	return false
}

func (r *rows) NextResultSet() error {
	r.held = nil
	if n, ok := r.r.(driver.RowsNextResultSet); ok {
		return n.NextResultSet()
	}
	return nil
}

func (r *rows) ColumnTypeScanType(i int) reflect.Type {
	if r.held != nil && r.held.cols[i].scan != nil {
		return r.held.cols[i].scan
	}
	if t, ok := r.r.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *rows) ColumnTypeDatabaseTypeName(i int) string {
	if r.held != nil {
		return r.held.cols[i].dbType
	}
	if t, ok := r.r.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *rows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.r.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *rows) ColumnTypeNullable(i int) (bool, bool) {
	if r.held != nil {
		return r.held.cols[i].nullable, r.held.cols[i].nullOK
	}
	if t, ok := r.r.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *rows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if r.held != nil {
		c := r.held.cols[i]
		return c.precision, c.scale, c.precisionScaleOK
	}
	if t, ok := r.r.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
