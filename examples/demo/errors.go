package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux/pool"
)

// errorKind names an error for the report: a MySQL error by number and
// message ("1040 Too many connections"), a timeout, or the start of the
// message.
func errorKind(err error) string {
	var me *mysql.MySQLError
	var ne net.Error
	switch {
	case errors.As(err, &me):
		return fmt.Sprintf("%d %s", me.Number, me.Message)
	case errors.Is(err, pool.ErrBorrowTimeout):
		return "timed out waiting for a database connection"
	case errors.Is(err, context.DeadlineExceeded):
		return "request timed out"
	case errors.As(err, &ne) && ne.Timeout():
		return "network timeout"
	case errors.Is(err, mysql.ErrInvalidConn):
		return "connection dropped"
	}
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}
