package pool

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A statement whose caller went away (a cancelled context in the driver,
// a client that vanished from the listener) keeps running on the server,
// holding its locks, until the server notices; its backend connection is
// closed, not reused. Killer stops it at once with KILL QUERY, sent over a
// control connection of its own, outside the pool. A connection id names
// a session only on its own server, and which server a new connection
// reaches can change (a failover, a cluster name moving), so each backend
// and each control connection knows its server's Identity, and a KILL goes
// only over a control connection with the statement's.

// Bounds of the Killer.
const (
	// KillTimeout bounds sending one KILL QUERY, dial included, and how
	// long Kill waits for it.
	KillTimeout = 5 * time.Second
	// KillIdleTimeout is how long a control connection stays open unused.
	KillIdleTimeout = time.Minute
	// killQueueLen bounds the KILLs waiting to be sent; further ones are
	// dropped (and logged).
	killQueueLen = 256
	// killMaxControls bounds the control connections kept open per user:
	// one per server a statement was stopped on, one or two unless the
	// writer changes often. Over the bound, one is used once and closed.
	killMaxControls = 4
	// erNoSuchThread is ER_NO_SUCH_THREAD: the connection to KILL has
	// already gone, so its statement has ended.
	erNoSuchThread = 1094
)

// Errors of Kill.
var (
	// ErrKillElsewhere: a new control connection reached another server
	// than the statement's (the writer changed since its backend was
	// dialed). A KILL there could stop an unrelated session with the same
	// connection id, so none is sent; the statement ends when its server
	// notices the closed connection.
	ErrKillElsewhere = errors.New("pool: the control connection reached another server than the statement's; not sending KILL QUERY")
	// ErrKillerClosed is returned by Kill after Killer.Close.
	ErrKillerClosed = errors.New("pool: killer is closed")
	// errKillQueueFull: too many KILLs are waiting to be sent.
	errKillQueueFull = errors.New("pool: too many cancelled statements waiting for KILL QUERY; dropped one")
)

// identityQuery reads a connection's id and its server's identity in one
// round trip, as one value: "<id> <hostname>:<port> server_id=<id>".
const identityQuery = "SELECT CONCAT(CONNECTION_ID(), ' ', @@hostname, ':', @@port, ' server_id=', @@server_id)"

// Identity names a backend connection's session on its server.
type Identity struct {
	// ConnID is the server's connection id (CONNECTION_ID()), what KILL
	// QUERY takes.
	ConnID uint64
	// Server names the server the id belongs to: host name, port and
	// server_id, as the server itself reports them. Two connections with
	// the same Server share their connection ids' namespace.
	Server string
}

// Identified is implemented by a Conn that knows its Identity (read once,
// when it was dialed, with ReadIdentity). Killer needs it of the
// connections whose statements it stops.
type Identified interface{ Identity() Identity }

// SameServerDialer is an optional interface of a Conn: DialSameServer
// opens a new connection, for the same user, to the server c is connected
// to, rather than wherever Config.Dial goes now (a failover-aware Dial
// follows the writer; c's statement may run on the former one). Killer
// dials its control connections with it when the Conn has it.
type SameServerDialer interface {
	DialSameServer(ctx context.Context) (Conn, error)
}

// ReadIdentity reads c's Identity from the server (one round trip).
func ReadIdentity(ctx context.Context, c Conn) (Identity, error) {
	v, err := c.QueryValue(ctx, identityQuery)
	if err != nil {
		return Identity{}, fmt.Errorf("pool: reading the connection's id and server: %w", err)
	}
	idText, server, ok := strings.Cut(v, " ")
	id, err := strconv.ParseUint(idText, 10, 64)
	if !ok || err != nil {
		return Identity{}, fmt.Errorf("pool: reading the connection's id and server: unexpected value %q", v)
	}
	return Identity{ConnID: id, Server: server}, nil
}

// KillerConfig configures a Killer.
type KillerConfig struct {
	// ErrorNumber returns the MySQL error number of an error a control
	// connection's Exec returned (go-sql-driver's *mysql.MySQLError,
	// proxy/wire's *Error), so that a statement that already ended
	// (ER_NO_SUCH_THREAD) is not reported as a failed KILL. nil treats
	// every error as a failure.
	ErrorNumber func(error) (uint16, bool)
}

// Killer sends KILL QUERY for statements on a Pool's backends, one at a
// time, from its own goroutine (started by the first Kill, stopped by
// Close), over control connections opened as the pool opens its own
// (through SameServerDialer when the statement's Conn has it, else
// Config.Dial; with a Budget each takes a slot). It keeps at most
// killMaxControls open per user, each closed after KillIdleTimeout unused.
type Killer struct {
	pool        *Pool
	errorNumber func(error) (uint16, bool)

	queue  chan *killReq // KILLs to send
	stop   chan struct{} // closed by Close
	exited chan struct{} // closed when run returns (or by Close if it never started)
	start  sync.Once     // starts run
	closed sync.Once     // closes stop
}

// killReq asks for KILL QUERY of victim as user; err is set before done
// is closed.
type killReq struct {
	ctx    context.Context
	user   string
	victim Identity
	dial   func(ctx context.Context) (Conn, error) // nil: Config.Dial
	err    error
	done   chan struct{}
}

// killSlot names a control connection: its user and server.
type killSlot struct{ user, server string }

// control is a control connection, owned by the Killer's run goroutine.
type control struct {
	conn Conn
	used time.Time
}

// NewKiller returns a Killer for p's backends. Close it before p.
func NewKiller(p *Pool, cfg KillerConfig) *Killer {
	return &Killer{
		pool:        p,
		errorNumber: cfg.ErrorNumber,
		queue:       make(chan *killReq, killQueueLen),
		stop:        make(chan struct{}),
		exited:      make(chan struct{}),
	}
}

// Kill stops the statement running on victim, a connection dialed for
// user that implements Identified, with KILL QUERY over a control
// connection as user to victim's server. It waits until the KILL was sent
// or failed, ctx ended or KillTimeout passed; the KILL is sent (within
// KillTimeout) even if Kill returned first, unless ctx ended. A statement
// that had already ended counts as stopped (nil). Call it before closing
// victim, so that the pool frees victim's slot only once the server was
// told to end its statement.
func (k *Killer) Kill(ctx context.Context, user string, victim Conn) error {
	c := Unwrap(victim)
	idc, ok := c.(Identified)
	if !ok {
		return fmt.Errorf("pool: cannot KILL the statement of a %T: it does not implement pool.Identified", c)
	}
	req := &killReq{ctx: ctx, user: user, victim: idc.Identity(), done: make(chan struct{})}
	if sd, ok := c.(SameServerDialer); ok {
		req.dial = sd.DialSameServer
	}
	k.start.Do(func() { go k.run() })
	select {
	case <-k.stop:
		return ErrKillerClosed
	default:
	}
	select {
	case k.queue <- req:
	default:
		k.pool.log.Warn(errKillQueueFull.Error(), "user", user, "connection_id", req.victim.ConnID, "server", req.victim.Server)
		return errKillQueueFull
	}
	t := time.NewTimer(KillTimeout)
	defer t.Stop()
	select {
	case <-req.done:
		return req.err
	case <-k.exited:
		select {
		case <-req.done:
			return req.err
		default:
			return ErrKillerClosed
		}
	case <-ctx.Done():
		return fmt.Errorf("pool: KILL QUERY %d: %w", req.victim.ConnID, ctx.Err())
	case <-t.C:
		return fmt.Errorf("pool: KILL QUERY %d not sent within %s", req.victim.ConnID, KillTimeout)
	}
}

// Close stops the Killer's goroutine after it has sent the KILLs already
// queued, and closes the control connections. Kill then returns
// ErrKillerClosed. It is safe to call more than once.
func (k *Killer) Close() {
	k.closed.Do(func() { close(k.stop) })
	k.start.Do(func() { close(k.exited) }) // never started: nothing to wait for
	<-k.exited
}

// run is the Killer's goroutine, started by the first Kill and ended by
// Close; it owns the control connections.
func (k *Killer) run() {
	defer close(k.exited)
	controls := map[killSlot]*control{}
	defer func() {
		for _, c := range controls {
			_ = c.conn.Close()
		}
	}()
	tick := time.NewTicker(KillIdleTimeout / 4)
	defer tick.Stop()
	for {
		var req *killReq
		select {
		case req = <-k.queue:
		case now := <-tick.C:
			for key, c := range controls {
				if now.Sub(c.used) >= KillIdleTimeout {
					_ = c.conn.Close()
					delete(controls, key)
				}
			}
			continue
		case <-k.stop:
			// Send what is already queued, then stop.
			select {
			case req = <-k.queue:
			default:
				return
			}
		}
		req.err = k.send(controls, req)
		close(req.done)
	}
}

// send runs KILL QUERY for req over the control connection to its
// statement's server, dialing one if there is none. A control connection
// that breaks is closed and forgotten.
func (k *Killer) send(controls map[killSlot]*control, req *killReq) error {
	ctx, cancel := context.WithTimeout(req.ctx, KillTimeout)
	defer cancel()
	log := k.pool.log.With("user", req.user, "connection_id", req.victim.ConnID, "server", req.victim.Server)
	key := killSlot{user: req.user, server: req.victim.Server}
	c := controls[key]
	if c == nil {
		conn, err := k.pool.dialControl(ctx, req.user, req.dial)
		if err != nil {
			log.Warn("pool: could not connect to KILL a statement", "err", err)
			return fmt.Errorf("pool: opening a control connection for KILL QUERY: %w", err)
		}
		id, err := identityOf(ctx, conn)
		if err != nil {
			_ = conn.Close()
			log.Warn("pool: could not connect to KILL a statement", "err", err)
			return fmt.Errorf("pool: opening a control connection for KILL QUERY: %w", err)
		}
		reached := killSlot{user: req.user, server: id.Server}
		keep := controls[reached] == nil && k.controlsOf(controls, req.user) < killMaxControls
		if keep {
			controls[reached] = &control{conn: conn, used: time.Now()}
		}
		if reached != key {
			if !keep {
				_ = conn.Close()
			}
			log.Info("pool: not sending KILL QUERY: a new connection reaches another server than the statement's "+
				"(the writer changed); the statement ends when its server notices the closed connection", "reached", id.Server)
			return fmt.Errorf("%w (statement on %s, control connection to %s)", ErrKillElsewhere, req.victim.Server, id.Server)
		}
		if c = controls[key]; !keep {
			c = &control{conn: conn} // over the bound: used once, then closed
			defer conn.Close()
		}
	}
	c.used = time.Now()
	err := c.conn.Exec(ctx, "KILL QUERY "+strconv.FormatUint(req.victim.ConnID, 10))
	if err == nil {
		return nil
	}
	if k.errorNumber != nil {
		if n, ok := k.errorNumber(err); ok && n == erNoSuchThread {
			return nil // the connection ended by itself
		}
	}
	log.Debug("pool: KILL QUERY failed", "err", err)
	if k.pool.broken(Unwrap(c.conn), err) && controls[key] == c {
		_ = c.conn.Close()
		delete(controls, key)
	}
	return fmt.Errorf("pool: KILL QUERY %d: %w", req.victim.ConnID, err)
}

// controlsOf counts user's control connections.
func (k *Killer) controlsOf(controls map[killSlot]*control, user string) int {
	n := 0
	for key := range controls {
		if key.user == user {
			n++
		}
	}
	return n
}

// identityOf returns the Identity of a control connection: its own when
// it knows it, else read from the server.
func identityOf(ctx context.Context, c Conn) (Identity, error) {
	if idc, ok := Unwrap(c).(Identified); ok {
		return idc.Identity(), nil
	}
	return ReadIdentity(ctx, c)
}

// dialControl is DialControl with dial in place of Config.Dial when not
// nil.
func (p *Pool) dialControl(ctx context.Context, user string, dial func(ctx context.Context) (Conn, error)) (Conn, error) {
	release, err := p.ReserveConnection(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	if dial == nil {
		dial = func(ctx context.Context) (Conn, error) { return p.cfg.Dial(ctx, user) }
	}
	c, err := dial(ctx)
	if err != nil {
		release()
		return nil, &DialError{User: user, Err: err}
	}
	if p.cfg.Budget == nil {
		return c, nil
	}
	return &controlConn{Conn: c, release: release}, nil
}
