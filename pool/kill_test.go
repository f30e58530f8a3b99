package pool

import (
	"context"
	"errors"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"
)

// identConn is a test Conn that knows its Identity, as the driver's and
// the listener's backends do.
type identConn struct {
	Conn
	id Identity
}

func (c identConn) Identity() Identity { return c.id }

func mysqlNumber(err error) (uint16, bool) {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number, true
	}
	return 0, false
}

// TestKillerStopsTheStatementOnItsServer: Kill stops a running statement
// over a control connection it dials itself (whose identity it reads),
// counts a connection already gone as stopped, refuses a statement on
// another server, and ends with Close.
func TestKillerStopsTheStatementOnItsServer(t *testing.T) {
	srv := startServer(t)
	srv.CreateUser(t, "app", "pw-app")
	d := newTestDialer(srv, false)
	d.passwords["app"] = "pw-app"
	p := newServerPool(t, d, Config{MaxConnections: 4})
	ctx := context.Background()

	c, err := d.Dial(ctx, "app")
	require.NoError(t, err)
	id, err := ReadIdentity(ctx, c)
	require.NoError(t, err)
	require.Equal(t, uint64(c.(*sqlConn).id), id.ConnID)
	require.Contains(t, id.Server, " server_id=")
	victim := identConn{Conn: c, id: id}

	k := NewKiller(p, KillerConfig{ErrorNumber: mysqlNumber})
	stmt := make(chan error, 1)
	go func() { stmt <- c.Exec(ctx, "DO SLEEP(60) /* kill-me */") }() // ends with the KILL
	waitUntil(t, "the statement runs", func() bool {
		return srv.QueryInt(t, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'DO SLEEP(60) /* kill-me */'") == 1
	})
	require.NoError(t, k.Kill(ctx, "app", victim))
	require.NoError(t, <-stmt, "DO SLEEP ends early, without an error, when KILLed")
	waitUntil(t, "the server no longer runs the statement", func() bool {
		return srv.QueryInt(t, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'DO SLEEP(60) /* kill-me */'") == 0
	})

	// A connection that has gone: ER_NO_SUCH_THREAD counts as stopped.
	require.NoError(t, c.Close())
	require.NoError(t, k.Kill(ctx, "app", victim))

	// A statement on another server is never KILLed here.
	elsewhere := identConn{Conn: c, id: Identity{ConnID: id.ConnID, Server: "elsewhere:3306 server_id=99"}}
	require.ErrorIs(t, k.Kill(ctx, "app", elsewhere), ErrKillElsewhere)

	// A Conn without an Identity cannot be KILLed.
	require.Error(t, k.Kill(ctx, "app", c))

	k.Close()
	k.Close()
	require.ErrorIs(t, k.Kill(ctx, "app", victim), ErrKillerClosed)
}

// TestKillerClosedBeforeUse: a Killer that never sent anything closes at
// once and refuses later KILLs.
func TestKillerClosedBeforeUse(t *testing.T) {
	p, err := New(Config{Dial: func(context.Context, string) (Conn, error) { return nil, errors.New("no dial in this test") }})
	require.NoError(t, err)
	defer p.Close()
	k := NewKiller(p, KillerConfig{})
	k.Close()
	require.ErrorIs(t, k.Kill(context.Background(), "app", identConn{}), ErrKillerClosed)
}
