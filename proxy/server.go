package proxy

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rdsmux/rdsmux/backoff"
	"github.com/rdsmux/rdsmux/pinning"
	"github.com/rdsmux/rdsmux/pool"
	"github.com/rdsmux/rdsmux/proxy/wire"
)

// Defaults of Server fields.
const (
	DefaultIdleClientTimeout = 1800 * time.Second // RDS Proxy's default
	DefaultHandshakeTimeout  = 10 * time.Second
)

// ClientCapabilities are the capabilities the listener offers clients:
// wire's defaults without session-state tracking (see BackendCapabilities)
// and IGNORE_SPACE (which backends do not use). LOCAL_FILES is left out
// with Server.DisableLocalInfile; with Server.Target, the backend-dependent
// ones its server lacks are left out too.
const ClientCapabilities = wire.DefaultServerCapabilities &^
	(wire.ClientSessionTrack | wire.ClientIgnoreSpace)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("proxy: server closed")

// Server is the MySQL-protocol listener: it accepts client connections,
// authenticates them against Users, and serves each client's commands on
// backend connections borrowed from Pool, per transaction by default.
//
// Set the fields, then call Serve (once per listener). The fields must not
// change once Serve was called. Like net/http.Server, Shutdown drains
// gracefully and Close stops at once.
type Server struct {
	// Pool is the shared pool of backend connections. Its Dial must return
	// *BackendConn: use Target.Dial. Required. The Server does not close
	// it.
	Pool *pool.Pool
	// Users authenticates clients. Required.
	Users UserLookup
	// TLSConfig lets clients switch to TLS; nil offers no TLS.
	TLSConfig *tls.Config
	// RequireTLS refuses clients that do not use TLS (RDS Proxy's
	// RequireTLS). It needs TLSConfig.
	RequireTLS bool
	// RSAKey lets clients without TLS complete caching_sha2_password full
	// authentication (the password RSA-encrypted). Optional.
	RSAKey *rsa.PrivateKey
	// DefaultAuthPlugin is the plugin announced to clients:
	// "mysql_native_password" (when empty) or "caching_sha2_password".
	DefaultAuthPlugin string
	// MaxClientConnections caps concurrent client connections; beyond it a
	// client is refused with ER_CON_COUNT_ERROR ("Too many connections").
	// 0 means no cap.
	MaxClientConnections int
	// IdleClientTimeout closes a client connection that sent no command
	// for this long. 0 means DefaultIdleClientTimeout; negative,
	// never.
	IdleClientTimeout time.Duration
	// HandshakeTimeout bounds a client's handshake and authentication. 0
	// means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// Mode is when a client gives its backend back: pool.ModeTransaction
	// (the default) or pool.ModeSession.
	Mode pool.Mode
	// Classifier classifies COM_QUERY text; nil means
	// pinning.NewClassifier().
	Classifier *pinning.Classifier
	// MaxPacketSize limits the packets read from clients; 0 means
	// wire.DefaultMaxPacketSize. A larger packet closes that client.
	MaxPacketSize int
	// ServerVersion is announced to clients. When empty, the version of
	// the server behind Target is announced, with VersionSuffix appended
	// (wire.DefaultServerVersion until it is known, or without Target).
	ServerVersion string
	// Target, when set, is the Target whose Dial is the Pool's: the
	// listener then announces what that server announces (its version,
	// default collation, and of the capabilities the listener offers only
	// those the server has), read from its handshake when Serve starts and
	// again from every new backend connection, so that a failover to a
	// server of another version is followed. Serve's read connects
	// without authenticating (the server logs an aborted connection and
	// counts it in Aborted_connects) and waits at most 5 s; until a
	// backend connection opens, a server that could not be read is
	// announced as wire.DefaultServerVersion. Optional.
	Target *Target
	// DisableLocalInfile refuses LOAD DATA LOCAL INFILE (error 1148) for
	// every client, and CLIENT_LOCAL_FILES is not offered. By default the
	// listener behaves as a direct connection: a client that enabled the
	// capability is asked for its file, which is streamed to the backend.
	DisableLocalInfile bool
	// Logger receives connection events (Info: accepted/refused errors,
	// Debug: per-client pins and closes). nil discards them.
	Logger *slog.Logger

	initOnce      sync.Once
	initErr       error
	wireCfg       *wire.ServerConfig
	classifier    *pinning.Classifier
	classifierNBE *pinning.Classifier // for sessions with NO_BACKSLASH_ESCAPES
	log           *slog.Logger
	idle          time.Duration
	ctx           context.Context // cancelled by Close
	cancel        context.CancelFunc

	mu sync.Mutex
	// Guarded by mu.
	listeners map[net.Listener]struct{}
	clients   map[*clientConn]struct{}

	// draining is set by Shutdown or Close: accept nothing new. It is
	// atomic so that clients read it under their own lock without taking
	// mu (Shutdown takes mu, then each client's lock).
	draining atomic.Bool

	wg      sync.WaitGroup // client goroutines
	nextID  atomic.Uint32  // connection ids announced to clients
	counts  counters
	watch   watcher  // finds clients gone mid-command (vanish.go)
	dbKnown sync.Map // user + "\x00" + database: the database exists for user
	ident   atomic.Pointer[identCache]
}

// init validates the configuration once.
func (s *Server) init() error {
	s.initOnce.Do(func() {
		switch {
		case s.Pool == nil:
			s.initErr = errors.New("proxy: Server.Pool is required")
		case s.Users == nil:
			s.initErr = errors.New("proxy: Server.Users is required")
		case s.RequireTLS && s.TLSConfig == nil:
			s.initErr = errors.New("proxy: Server.RequireTLS needs Server.TLSConfig")
		}
		s.classifier = s.Classifier
		if s.classifier == nil {
			s.classifier = pinning.NewClassifier()
		}
		s.classifierNBE = pinning.NewClassifier(pinning.WithFilters(s.classifier.Filters()), pinning.WithNoBackslashEscapes())
		s.log = s.Logger
		if s.log == nil {
			s.log = slog.New(slog.DiscardHandler)
		}
		s.idle = s.IdleClientTimeout
		if s.idle == 0 {
			s.idle = DefaultIdleClientTimeout
		}
		users := precompute(s.Users)
		s.wireCfg = &wire.ServerConfig{
			ServerVersion:     s.ServerVersion,
			Capabilities:      s.clientCaps(),
			TLSConfig:         s.TLSConfig,
			RequireTLS:        s.RequireTLS,
			DefaultAuthPlugin: s.DefaultAuthPlugin,
			Lookup:            users.Lookup,
			Authorize:         s.authorize,
			RSAKey:            s.RSAKey,
			MaxPacketSize:     s.MaxPacketSize,
		}
		if s.Target != nil {
			s.wireCfg.Identity = s.identity
		}
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.listeners = make(map[net.Listener]struct{})
		s.clients = make(map[*clientConn]struct{})
	})
	return s.initErr
}

// Serve accepts client connections on ln and serves each on its own
// goroutine until Shutdown or Close, then returns ErrServerClosed. Serve
// closes ln when it returns. Temporary accept errors are retried with
// backoff; any other accept error is returned.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.init(); err != nil {
		ln.Close()
		return err
	}
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	s.readServerInfo()
	s.startWatch()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	failures := 0 // accept failures in a row
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isDraining() {
				return ErrServerClosed
			}
			if isTemporaryAccept(err) {
				d := backoff.Delay(failures, acceptRetryMin, acceptRetryMax)
				failures++
				s.log.Warn("proxy: accept failed; retrying", "err", err, "backoff", d)
				_ = backoff.Sleep(s.ctx, d) // Close cancels s.ctx; the next Accept then fails
				continue
			}
			return fmt.Errorf("proxy: accepting client connections: %w", err)
		}
		failures = 0
		s.counts.received.Add(1)
		if !s.admit() {
			s.counts.refusedCap.Add(1)
			s.wg.Add(1)
			go s.refuse(nc)
			continue
		}
		c := s.newClient(nc)
		if c == nil { // shutting down
			s.counts.clients.Add(-1)
			nc.Close()
			continue
		}
		go c.serve()
	}
}

// isTemporaryAccept reports whether an accept error passes: a timeout, too
// many open files, a connection aborted before it was accepted.
func isTemporaryAccept(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

// admit counts a new client against MaxClientConnections.
func (s *Server) admit() bool {
	n := s.counts.clients.Add(1)
	if s.MaxClientConnections > 0 && n > int64(s.MaxClientConnections) {
		s.counts.clients.Add(-1)
		return false
	}
	return true
}

// refuse answers a client beyond the connection cap with
// ER_CON_COUNT_ERROR instead of a handshake, as MySQL does, and closes it.
func (s *Server) refuse(nc net.Conn) {
	defer s.wg.Done()
	defer nc.Close()
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	c := wire.NewConn(nc)
	e := wire.NewError(wire.ErConCountError, wire.StateConnRejected,
		"Too many connections (rdsmux listener: %d client connections, the configured maximum)", s.MaxClientConnections)
	_ = c.WritePacketFlush(wire.AppendERR(nil, wire.ClientProtocol41, e))
}

// newClient registers a client connection, or returns nil when the server
// is shutting down.
func (s *Server) newClient(nc net.Conn) *clientConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining.Load() {
		return nil
	}
	c := &clientConn{srv: s, nc: nc, id: s.nextID.Add(1)}
	s.clients[c] = struct{}{}
	s.wg.Add(1)
	return c
}

// removeClient unregisters c.
func (s *Server) removeClient(c *clientConn) {
	s.mu.Lock()
	delete(s.clients, c)
	s.mu.Unlock()
	s.counts.clients.Add(-1)
	s.counts.closed.Add(1)
	s.wg.Done()
}

func (s *Server) isDraining() bool { return s.draining.Load() }

// Pauses between accept attempts after a temporary failure (out of file
// descriptors, say): doubling from acceptRetryMin up to acceptRetryMax.
const (
	acceptRetryMin = 5 * time.Millisecond
	acceptRetryMax = time.Second
)

// shutdownPoll is how often Shutdown checks whether the clients are gone.
const shutdownPoll = 10 * time.Millisecond

// Shutdown stops the server gracefully: it stops accepting, closes client
// connections that are idle between commands and hold no backend, and lets
// the others finish their command or transaction, closing each as soon as
// it is idle and holds nothing. It returns when every client is gone, or
// when ctx ends (then it closes the rest as Close does and returns ctx's
// error).
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.init(); err != nil {
		return err
	}
	s.mu.Lock()
	s.draining.Store(true)
	s.closeListenersLocked()
	s.mu.Unlock()
	t := time.NewTicker(shutdownPoll)
	defer t.Stop()
	for {
		s.mu.Lock()
		n := len(s.clients)
		for c := range s.clients {
			c.kickIfIdle()
		}
		s.mu.Unlock()
		if n == 0 {
			s.wg.Wait()
			s.stopWatch()
			return nil
		}
		select {
		case <-ctx.Done():
			s.Close()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Close stops the server at once: listeners and client connections are
// closed, and relays in progress are interrupted (their backends are
// closed, not reused). It waits for the client goroutines to end.
func (s *Server) Close() error {
	if err := s.init(); err != nil {
		return err
	}
	s.mu.Lock()
	s.draining.Store(true)
	s.closeListenersLocked()
	for c := range s.clients {
		c.interrupt()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.stopWatch()
	return nil
}

func (s *Server) closeListenersLocked() {
	for ln := range s.listeners {
		ln.Close()
	}
}

// authorize runs after a client's password was verified: a database asked
// for at connect time (or in COM_CHANGE_USER) must exist for the user.
func (s *Server) authorize(ctx context.Context, r *wire.HandshakeResponse) error {
	if r.Database == "" {
		return nil
	}
	key := r.User + "\x00" + r.Database
	if _, ok := s.dbKnown.Load(key); ok {
		return nil
	}
	sess := s.Pool.NewSession(partitionKey(r.User, r.Capabilities), pool.SessionOptions{Schema: r.Database})
	defer sess.Close(ctx)
	b, err := sess.Acquire(ctx)
	if err != nil {
		var e *wire.Error
		switch {
		case backendAuthRefused(err):
			s.log.Warn("proxy: the database refused the backend credentials for a client user", "user", r.User, "err", err)
			return errBackendAuth
		case errors.As(err, &e):
			return e // Unknown database, access denied to it
		}
		return backendError(err)
	}
	sess.Done(ctx, b, nil, pool.Status{})
	s.dbKnown.Store(key, struct{}{})
	return nil
}

// partitionKey is the pool partition (and the key Target.Dial receives)
// for a client user with capabilities caps.
func partitionKey(user string, caps wire.Capability) string {
	if caps&(wire.ClientFoundRows|extendedCaps) == 0 {
		return user
	}
	if caps&wire.ClientFoundRows != 0 {
		user += foundRowsSuffix
	}
	if caps&wire.MariaDBClientExtendedMetadata != 0 {
		user += extMetadataSuffix
	}
	return user
}
