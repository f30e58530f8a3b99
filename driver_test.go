package rdsmux_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux"
	"github.com/rdsmux/rdsmux/iamauth"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
	"github.com/rdsmux/rdsmux/pool"
)

// open starts a server with user app and returns it and an rdsmux handle
// with the given extra DSN parameters.
func open(t testing.TB, params string, opts ...mariadbtest.Option) (*mariadbtest.Server, *sql.DB) {
	t.Helper()
	s := mariadbtest.Start(t, opts...)
	s.CreateUser(t, "app", "app-pw")
	db, err := sql.Open("rdsmux", s.UserDSN("app", "app-pw", "test", params))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return s, db
}

func TestDriverQueriesAndTransactions(t *testing.T) {
	t.Parallel()
	_, db := open(t, "maxConnections=3")
	ctx := context.Background()
	_, err := db.ExecContext(ctx, "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))")
	require.NoError(t, err)
	res, err := db.ExecContext(ctx, "INSERT INTO t (v) VALUES (?), (?)", "a", "b")
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.EqualValues(t, 2, n)

	var v string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT v FROM t WHERE id = ?", 2).Scan(&v))
	require.Equal(t, "b", v)

	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "INSERT INTO t (v) VALUES ('rolled back')")
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())

	tx, err = db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "INSERT INTO t (v) VALUES ('committed')")
	require.NoError(t, err)
	require.NoError(t, tx.Commit())

	var cnt int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM t WHERE v IN ('rolled back', 'committed')").Scan(&cnt))
	require.Equal(t, 1, cnt)

	// Text-protocol BEGIN/COMMIT on one logical connection.
	c, err := db.Conn(ctx)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.ExecContext(ctx, "BEGIN")
	require.NoError(t, err)
	_, err = c.ExecContext(ctx, "INSERT INTO t (v) VALUES ('text tx')")
	require.NoError(t, err)
	_, err = c.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)
	require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM t WHERE v = 'text tx'").Scan(&cnt))
	require.Equal(t, 0, cnt)

	// Multiple result sets and column types pass through.
	rows, err := db.QueryContext(ctx, "SELECT id, v FROM t ORDER BY id")
	require.NoError(t, err)
	types, err := rows.ColumnTypes()
	require.NoError(t, err)
	require.Equal(t, "INT", types[0].DatabaseTypeName())
	require.NoError(t, rows.Close())
}

// TestManyGoroutinesFewBackends is the 500 goroutines through 10
// backends: every statement succeeds and the server never sees more than
// the cap.
func TestManyGoroutinesFewBackends(t *testing.T) {
	t.Parallel()
	s, db := open(t, "maxConnections=10&connectionBorrowTimeout=60s", mariadbtest.WithMaxConnections(300))
	db.SetMaxIdleConns(1000) // keep the logical connections, to count them
	_, err := db.Exec("CREATE TABLE hits (g INT, i INT)")
	require.NoError(t, err)

	var peak atomic.Int64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := int64(s.ConnectionsOf(t, "app")); n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()

	const goroutines, each = 500, 6
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				var err error
				switch i % 3 {
				case 0:
					_, err = db.Exec("INSERT INTO hits VALUES (?, ?)", g, i)
				case 1:
					var n int
					err = db.QueryRow("SELECT COUNT(*) FROM hits WHERE g = ?", g).Scan(&n)
				case 2:
					var tx *sql.Tx
					if tx, err = db.Begin(); err == nil {
						if _, err = tx.Exec("INSERT INTO hits VALUES (?, ?)", g, i); err == nil {
							err = tx.Commit()
						} else {
							tx.Rollback()
						}
					}
				}
				if err != nil {
					errs <- fmt.Errorf("goroutine %d statement %d: %w", g, i, err)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	sampler.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	var rowsN int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM hits").Scan(&rowsN))
	require.Equal(t, goroutines*4, rowsN)
	require.LessOrEqual(t, peak.Load(), int64(10), "the server saw more backend connections than the cap")
	require.Greater(t, db.Stats().OpenConnections, 10, "database/sql should hold many more logical connections than backends")
	t.Logf("peak backend connections %d for %d logical connections", peak.Load(), db.Stats().MaxOpenConnections)
}

func TestSessionStateIsolation(t *testing.T) {
	t.Parallel()
	_, db := open(t, "maxConnections=2")
	ctx := context.Background()

	// A tracked setting follows its logical connection across backends and
	// never leaks into another.
	a, err := db.Conn(ctx)
	require.NoError(t, err)
	defer a.Close()
	b, err := db.Conn(ctx)
	require.NoError(t, err)
	defer b.Close()
	_, err = a.ExecContext(ctx, "SET time_zone = '+05:00'")
	require.NoError(t, err)
	_, err = b.ExecContext(ctx, "SET SESSION sql_mode = 'ANSI_QUOTES'")
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		var tz, mode string
		require.NoError(t, a.QueryRowContext(ctx, "SELECT @@session.time_zone, @@session.sql_mode").Scan(&tz, &mode))
		require.Equal(t, "+05:00", tz)
		require.NotEqual(t, "ANSI_QUOTES", mode)
		require.NoError(t, b.QueryRowContext(ctx, "SELECT @@session.time_zone, @@session.sql_mode").Scan(&tz, &mode))
		require.Equal(t, "SYSTEM", tz)
		require.Equal(t, "ANSI_QUOTES", mode)
		require.NoError(t, db.QueryRowContext(ctx, "SELECT @@session.time_zone, @@session.sql_mode").Scan(&tz, &mode))
		require.Equal(t, "SYSTEM", tz)
		require.NotEqual(t, "ANSI_QUOTES", mode)
	}
}

func TestPinnedStateNeverLeaks(t *testing.T) {
	t.Parallel()
	_, db := open(t, "maxConnections=2")
	// database/sql hands a released logical connection, with its session,
	// to the next caller, as it would a plain go-sql-driver connection;
	// with no idle logical connections each Close really ends the session.
	db.SetMaxIdleConns(0)
	ctx := context.Background()
	for round := 0; round < 5; round++ {
		c, err := db.Conn(ctx)
		require.NoError(t, err)
		_, err = c.ExecContext(ctx, "SET @secret = 'round-"+fmt.Sprint(round)+"'")
		require.NoError(t, err)
		_, err = c.ExecContext(ctx, "CREATE TEMPORARY TABLE tmp_secret (x INT)")
		require.NoError(t, err)
		var got sql.NullString
		require.NoError(t, c.QueryRowContext(ctx, "SELECT @secret").Scan(&got))
		require.Equal(t, "round-"+fmt.Sprint(round), got.String)
		var lock int
		require.NoError(t, c.QueryRowContext(ctx, "SELECT GET_LOCK('rdsmux-test', 0)").Scan(&lock))
		require.Equal(t, 1, lock)
		_, err = c.ExecContext(ctx, "BEGIN")
		require.NoError(t, err)
		require.NoError(t, c.Close()) // closes the pinned session mid-transaction

		for i := 0; i < 4; i++ {
			o, err := db.Conn(ctx)
			require.NoError(t, err)
			require.NoError(t, o.QueryRowContext(ctx, "SELECT @secret").Scan(&got))
			require.False(t, got.Valid, "user variable leaked into another session")
			_, err = o.ExecContext(ctx, "SELECT * FROM tmp_secret")
			require.Error(t, err, "temporary table leaked into another session")
			// The pinned backend was closed (go-sql-driver cannot send
			// COM_RESET_CONNECTION); the server frees its named lock when it
			// has processed the disconnect, a moment later.
			require.Eventually(t, func() bool {
				var free int
				require.NoError(t, o.QueryRowContext(ctx, "SELECT IS_FREE_LOCK('rdsmux-test')").Scan(&free))
				return free == 1
			}, 5*time.Second, 5*time.Millisecond, "a named lock outlived its session")
			var inTx int
			require.NoError(t, o.QueryRowContext(ctx, "SELECT @@in_transaction").Scan(&inTx))
			require.Equal(t, 0, inTx, "an open transaction leaked into another session")
			require.NoError(t, o.Close())
		}
	}
}

func TestLastInsertIDWhileMultiplexed(t *testing.T) {
	t.Parallel()
	_, db := open(t, "maxConnections=3")
	_, err := db.Exec("CREATE TABLE seq (id INT AUTO_INCREMENT PRIMARY KEY, g INT)")
	require.NoError(t, err)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := db.Conn(ctx)
			if !assertNoError(t, err) {
				return
			}
			defer c.Close()
			for i := 0; i < 20; i++ {
				res, err := c.ExecContext(ctx, "INSERT INTO seq (g) VALUES (?)", g)
				if !assertNoError(t, err) {
					return
				}
				want, _ := res.LastInsertId()
				var got int64
				if !assertNoError(t, c.QueryRowContext(ctx, "SELECT LAST_INSERT_ID()").Scan(&got)) {
					return
				}
				if !assert.Equal(t, want, got, "goroutine %d: LAST_INSERT_ID()", g) {
					return
				}
			}
		}()
	}
	wg.Wait()
}

// assertNoError is assert.NoError, for the goroutines of a test.
func assertNoError(t testing.TB, err error) bool {
	t.Helper()
	return assert.NoError(t, err)
}

func TestPreparedStatementsAcrossBackends(t *testing.T) {
	t.Parallel()
	s, db := open(t, "maxConnections=4")
	_, err := db.Exec("CREATE TABLE kv (k INT PRIMARY KEY, v INT)")
	require.NoError(t, err)
	before := s.QueryInt(t, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'COM_STMT_PREPARE'")
	ins, err := db.Prepare("INSERT INTO kv VALUES (?, ?)")
	require.NoError(t, err)
	defer ins.Close()
	sel, err := db.Prepare("SELECT v FROM kv WHERE k = ?")
	require.NoError(t, err)
	defer sel.Close()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				k := g*100 + i
				if _, err := ins.Exec(k, k*2); !assertNoError(t, err) {
					return
				}
				var v int
				if !assertNoError(t, sel.QueryRow(k).Scan(&v)) {
					return
				}
				assert.Equal(t, k*2, v)
			}
		}()
	}
	wg.Wait()
	prepares := s.QueryInt(t, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'COM_STMT_PREPARE'") - before
	// Two statements, at most four backends: each prepared at most once per
	// backend, although they ran 400 times.
	require.LessOrEqual(t, prepares, int64(8), "statements were re-prepared instead of reused per backend")
	require.Greater(t, prepares, int64(0))
}

func TestServerSideKillHeals(t *testing.T) {
	t.Parallel()
	s, db := open(t, "maxConnections=2")
	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "DO SLEEP(30)")
		done <- err
	}()
	var id int64
	require.Eventually(t, func() bool {
		err := s.DB(t).QueryRow("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = 'DO SLEEP(30)'").Scan(&id)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	s.Exec(t, fmt.Sprintf("KILL %d", id))
	select {
	case err := <-done:
		require.Error(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the killed statement did not return")
	}
	for i := 0; i < 5; i++ {
		var one int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT 1").Scan(&one))
	}
}

func TestCancelStopsQueryOnServer(t *testing.T) {
	t.Parallel()
	s, db := open(t, "maxConnections=2")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := db.ExecContext(ctx, "DO SLEEP(20)")
	require.Error(t, err)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
	// The server stops the statement: rdsmux sends KILL QUERY.
	require.Eventually(t, func() bool {
		return s.QueryInt(t, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = 'DO SLEEP(20)'") == 0
	}, 10*time.Second, 20*time.Millisecond)
	var one int
	require.NoError(t, db.QueryRow("SELECT 1").Scan(&one))
}

func TestConnectorSharesOnePoolPerTarget(t *testing.T) {
	t.Parallel()
	s := mariadbtest.Start(t)
	s.CreateUser(t, "app", "pw")
	cfg, err := rdsmux.ParseDSN(s.UserDSN("app", "pw", "test", "maxConnections=2"))
	require.NoError(t, err)
	c1, err := rdsmux.NewConnector(cfg)
	require.NoError(t, err)
	c2, err := rdsmux.NewConnector(cfg)
	require.NoError(t, err)
	db1, db2 := sql.OpenDB(c1), sql.OpenDB(c2)
	defer db1.Close()
	defer db2.Close()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); _, err := db1.Exec("DO SLEEP(0.01)"); assertNoError(t, err) }()
		go func() { defer wg.Done(); _, err := db2.Exec("DO SLEEP(0.01)"); assertNoError(t, err) }()
	}
	wg.Wait()
	st := c1.Stats()
	require.LessOrEqual(t, st.DatabaseConnections, 2)
	require.Equal(t, c1.Stats().MaxDatabaseConnectionsAllowed, 2)

	other := cfg.Clone()
	other.MaxConnections = 5
	_, err = rdsmux.NewConnector(other)
	require.ErrorContains(t, err, "already exists with other settings")
}

func TestDatabaseRestartHealsWithoutErrors(t *testing.T) {
	t.Parallel()
	s, db := open(t, "maxConnections=4&healthCheckIdle=1h")
	ctx := context.Background()
	// Open four backends.
	conns := make([]*sql.Conn, 4)
	for i := range conns {
		c, err := db.Conn(ctx)
		require.NoError(t, err)
		_, err = c.ExecContext(ctx, "BEGIN")
		require.NoError(t, err)
		conns[i] = c
	}
	for _, c := range conns {
		_, err := c.ExecContext(ctx, "COMMIT")
		require.NoError(t, err)
		require.NoError(t, c.Close())
	}
	s.Restart(t) // every idle backend is now dead
	for i := 0; i < 10; i++ {
		var one int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT 1").Scan(&one), "statement %d after the restart", i)
		_, err := db.ExecContext(ctx, "DO 1")
		require.NoError(t, err)
	}
}

func TestStatementPathsWithoutCacheAndWithInterpolation(t *testing.T) {
	t.Parallel()
	for _, params := range []string{"statementCacheSize=-1", "interpolateParams=true"} {
		_, db := open(t, "maxConnections=2&"+params)
		_, err := db.Exec("CREATE TABLE p (k INT PRIMARY KEY, v VARCHAR(10))")
		require.NoError(t, err, params)
		for i := 0; i < 20; i++ {
			_, err := db.Exec("INSERT INTO p VALUES (?, ?)", i, fmt.Sprint("v", i))
			require.NoError(t, err, params)
			rows, err := db.Query("SELECT v FROM p WHERE k <= ? ORDER BY k", i)
			require.NoError(t, err, params)
			n := 0
			for rows.Next() {
				n++
			}
			require.NoError(t, rows.Err())
			require.NoError(t, rows.Close())
			require.Equal(t, i+1, n, params)
		}
	}
}

// rotatingProvider serves the password the test sets, like a Secrets
// Manager secret being rotated.
type rotatingProvider struct {
	mu       sync.Mutex
	password string
}

func (p *rotatingProvider) set(pw string) { p.mu.Lock(); p.password = pw; p.mu.Unlock() }

func (p *rotatingProvider) Credentials(context.Context) (iamauth.Credential, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return iamauth.Credential{User: "rot", Password: p.password, Source: "test"}, nil
}

func (p *rotatingProvider) Invalidate(iamauth.Credential) {}

func TestWithCredentialsFollowsRotation(t *testing.T) {
	t.Parallel()
	s := mariadbtest.Start(t)
	s.CreateUser(t, "rot", "first")
	prov := &rotatingProvider{password: "first"}
	cfg, err := rdsmux.ParseDSN(s.UserDSN("rot", "", "test", "maxConnections=2&maxLifetime=50ms"))
	require.NoError(t, err)
	db, err := rdsmux.OpenConfig(cfg, rdsmux.WithCredentials(prov))
	require.NoError(t, err)
	defer db.Close()

	var user string
	require.NoError(t, db.QueryRow("SELECT CURRENT_USER()").Scan(&user))
	require.Equal(t, "rot@%", user)

	s.SetPassword(t, "rot", "second")
	prov.set("second")
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		require.NoError(t, db.QueryRow("SELECT CURRENT_USER()").Scan(&user))
		time.Sleep(10 * time.Millisecond)
	}
	// Backends older than maxLifetime were replaced, with the new password.
	require.Greater(t, db.PoolStats().DatabaseConnectionsSetupSucceeded, int64(2))
	require.Zero(t, db.PoolStats().DatabaseConnectionsSetupFailed)
}

func TestPinnedSessionLosingItsBackendFailsLoudly(t *testing.T) {
	t.Parallel()
	s, db := open(t, "maxConnections=2")
	ctx := context.Background()
	c, err := db.Conn(ctx)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.ExecContext(ctx, "SET @state = 'precious'")
	require.NoError(t, err)
	var id int64
	require.NoError(t, c.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id))
	s.Exec(t, fmt.Sprintf("KILL %d", id))
	// The next statement fails; none may run without the user variable.
	var got sql.NullString
	require.Error(t, c.QueryRowContext(ctx, "SELECT @state").Scan(&got))
	require.Error(t, c.QueryRowContext(ctx, "SELECT @state").Scan(&got), "a session that lost its pinned state must stay failed")
	// The handle itself heals with a fresh session.
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @state").Scan(&got))
	require.False(t, got.Valid)
}

func TestLookBehindStatementsWhileMultiplexed(t *testing.T) {
	t.Parallel()
	_, db := open(t, "maxConnections=4")
	ctx := context.Background()
	_, err := db.Exec("CREATE TABLE lb (id INT AUTO_INCREMENT PRIMARY KEY, g INT)")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var answered, refused atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := db.Conn(ctx)
			if !assertNoError(t, err) {
				return
			}
			defer c.Close()
			for i := 0; i < 20; i++ {
				if _, err := c.ExecContext(ctx, "INSERT INTO lb (g) VALUES (?), (?), (?)", g, g, g); !assertNoError(t, err) {
					return
				}
				var n int64
				err := c.QueryRowContext(ctx, "SELECT ROW_COUNT()").Scan(&n)
				switch {
				case errors.Is(err, pool.ErrLookBehindLost):
					// The connection went to another session meanwhile:
					// refused, never a wrong answer.
					refused.Add(1)
				case !assert.NoError(t, err), !assert.EqualValues(t, 3, n, "ROW_COUNT()"):
					return
				default:
					answered.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("ROW_COUNT() answered %d times, refused %d times (its connection was reused)", answered.Load(), refused.Load())
	// Neither statement pinned anything.
	s, err := db.Conn(ctx)
	require.NoError(t, err)
	defer s.Close()
	_, err = s.ExecContext(ctx, "SELECT SQL_CALC_FOUND_ROWS id FROM lb LIMIT 1")
	require.NoError(t, err)
	var found int
	require.NoError(t, s.QueryRowContext(ctx, "SELECT FOUND_ROWS()").Scan(&found))
	require.Equal(t, 8*20*3, found)
}
