package main

import (
	"context"
	"fmt"
	"io"
	"net"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/memory"
	"github.com/dolthub/go-mysql-server/server"
	gms "github.com/dolthub/go-mysql-server/sql"
	vlog "github.com/dolthub/vitess/go/vt/log"
	"github.com/sirupsen/logrus"
)

// embeddedServer is go-mysql-server with an in-memory database, serving
// the MySQL protocol on a loopback port behind a limitListener.
type embeddedServer struct {
	srv  *server.Server
	ln   *limitListener
	done chan struct{} // closed when Start returns
}

// startEmbedded starts the server with database dbName and a limit of
// maxConnections client connections.
func startEmbedded(dbName string, maxConnections int) (*embeddedServer, error) {
	quietEmbedded()
	db := memory.NewDatabase(dbName)
	db.BaseDatabase.EnablePrimaryKeyIndexes()
	pro := memory.NewDBProvider(db)
	engine := sqle.NewDefault(pro)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening on loopback: %w", err)
	}
	ln := newLimitListener(l, maxConnections)
	srv, err := server.NewServer(server.Config{Protocol: "tcp", Listener: ln}, engine, gms.NewContext, memory.NewSessionBuilder(pro), nil)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("starting the embedded server: %w", err)
	}
	e := &embeddedServer{srv: srv, ln: ln, done: make(chan struct{})}
	go func() { // owned by e; ends when Close closes the server
		defer close(e.done)
		_ = srv.Start()
	}()
	return e, nil
}

// Addr is the server's "127.0.0.1:port".
func (e *embeddedServer) Addr() string { return e.ln.Addr().String() }

// Close stops the server and waits for its accept loop to end.
func (e *embeddedServer) Close() {
	_ = e.srv.Close()
	_ = e.ln.Close()
	<-e.done
}

// embeddedView reads the limit listener's counters: the embedded server's
// own count of client connections, which the demo's monitor does not use.
type embeddedView struct{ ln *limitListener }

func (v embeddedView) Connected(context.Context) (int, error) { return int(v.ln.current.Load()), nil }
func (v embeddedView) Peak(context.Context) (int, bool, error) {
	return int(v.ln.peak.Load()), true, nil
}
func (v embeddedView) ResetPeak(context.Context) error { v.ln.resetPeak(); return nil }
func (v embeddedView) Close() error                    { return nil }

// quietEmbedded silences go-mysql-server's and vitess's logs, which would
// interleave with the demo's output (a line per connection).
func quietEmbedded() {
	logrus.SetOutput(io.Discard)
	logrus.SetLevel(logrus.PanicLevel)
	discard := func(...any) {}
	discardf := func(string, ...any) {}
	vlog.Info, vlog.Warning, vlog.Error = discard, discard, discard
	vlog.Infof, vlog.Warningf, vlog.Errorf = discardf, discardf, discardf
}
