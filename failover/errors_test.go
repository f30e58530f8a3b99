package failover

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	readOnly := &mysql.MySQLError{Number: 1290, Message: "The MariaDB server is running with the --read-only option so it cannot execute this statement"}
	secureFile := &mysql.MySQLError{Number: 1290, Message: "The MySQL server is running with the --secure-file-priv option so it cannot execute this statement"}
	cases := []struct {
		err  error
		want Class
	}{
		{nil, ClassOther},
		{errors.New("boom"), ClassOther},
		{&mysql.MySQLError{Number: 1062, Message: "Duplicate entry"}, ClassOther},
		{context.DeadlineExceeded, ClassOther},
		{fmt.Errorf("x: %w", context.Canceled), ClassOther},
		{driver.ErrBadConn, ClassNotSent},
		{fmt.Errorf("wrapped: %w", ErrNoWriter), ClassNotSent},
		{&AmbiguousWriterError{}, ClassNotSent},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, ClassNotSent},
		{mysql.ErrInvalidConn, ClassConnectionLost},
		{io.EOF, ClassConnectionLost},
		{io.ErrUnexpectedEOF, ClassConnectionLost},
		{&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, ClassConnectionLost},
		{fmt.Errorf("write: %w", syscall.EPIPE), ClassConnectionLost},
		{&mysql.MySQLError{Number: 1053, Message: "Server shutdown in progress"}, ClassConnectionLost},
		{&mysql.MySQLError{Number: 1927, Message: "Connection was killed"}, ClassConnectionLost},
		{readOnly, ClassReadOnly},
		{secureFile, ClassOther},
		{&mysql.MySQLError{Number: 1836, Message: "Running in read-only mode"}, ClassReadOnly},
		{&StatementError{Class: ClassReadOnly, Err: errors.New("x")}, ClassReadOnly},
	}
	for _, c := range cases {
		require.Equal(t, c.want, Classify(c.err), "%v", c.err)
	}
}

func TestShouldRetry(t *testing.T) {
	lost := mysql.ErrInvalidConn
	notSent := driver.ErrBadConn
	ro := &mysql.MySQLError{Number: 1836, Message: "Running in read-only mode"}
	other := &mysql.MySQLError{Number: 1062}

	// A read-only autocommit statement may be retried after a lost connection, a write never.
	require.True(t, ShouldRetry(lost, true, false))
	require.False(t, ShouldRetry(lost, false, false))
	// Nothing was sent, or the server refused: safe for writes too.
	require.True(t, ShouldRetry(notSent, false, false))
	require.True(t, ShouldRetry(ro, false, false))
	// Never inside a transaction.
	for _, err := range []error{lost, notSent, ro} {
		require.False(t, ShouldRetry(err, true, true))
	}
	require.False(t, ShouldRetry(other, true, false))
	require.False(t, ShouldRetry(nil, true, false))
}

func TestStatementError(t *testing.T) {
	err := WrapStatementError(mysql.ErrInvalidConn, true, "127.0.0.1:1")
	require.ErrorIs(t, err, ErrTransactionResolutionUnknown)
	require.ErrorIs(t, err, ErrConnectionLost)
	require.ErrorIs(t, err, mysql.ErrInvalidConn)
	require.Contains(t, err.Error(), "127.0.0.1:1")
	require.Contains(t, err.Error(), "check whether it committed")

	err = WrapStatementError(mysql.ErrInvalidConn, false, "")
	require.NotErrorIs(t, err, ErrTransactionResolutionUnknown)
	require.ErrorIs(t, err, ErrConnectionLost)
	require.Contains(t, err.Error(), "do not retry writes blindly")

	// database/sql's retry on ErrBadConn still sees it through the wrapper.
	err = WrapStatementError(driver.ErrBadConn, false, "")
	require.ErrorIs(t, err, driver.ErrBadConn)
	require.NotErrorIs(t, err, ErrConnectionLost)

	// Wrapping again inside a transaction upgrades the flag without nesting.
	inner := WrapStatementError(io.EOF, false, "a")
	outer := WrapStatementError(inner, true, "a")
	var se *StatementError
	require.ErrorAs(t, outer, &se)
	require.True(t, se.InTransaction)
	require.Equal(t, io.EOF, se.Err)

	plain := errors.New("syntax error")
	require.Same(t, plain, WrapStatementError(plain, true, "a"))
	require.NoError(t, WrapStatementError(nil, true, "a"))

	amb := &AmbiguousWriterError{Writers: []Host{{Addr: "127.0.0.1:1"}, {Addr: "127.0.0.1:2"}}}
	require.ErrorIs(t, amb, ErrAmbiguousWriter)
	require.Contains(t, amb.Error(), "127.0.0.1:1, 127.0.0.1:2")
}

func BenchmarkClassify(b *testing.B) {
	errs := []error{
		&StatementError{Class: ClassConnectionLost, Err: io.EOF},
		&mysql.MySQLError{Number: 1062, Message: "Duplicate entry"},
		mysql.ErrInvalidConn,
		driver.ErrBadConn,
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = Classify(errs[i%len(errs)])
	}
}
