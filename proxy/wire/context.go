package wire

import (
	"context"
	"fmt"
	"net"
	"time"
)

// aLongTimeAgo is a deadline in the past, to interrupt blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// ctxWatch applies a context's deadline and cancellation to a connection for
// the duration of one exchange.
type ctxWatch struct {
	ctx      context.Context
	nc       net.Conn
	deadline bool
	stop     func() bool
}

// watchContext sets nc's deadline from ctx and interrupts nc's I/O when ctx
// is cancelled, until done is called.
func watchContext(ctx context.Context, nc net.Conn) ctxWatch {
	w := ctxWatch{ctx: ctx, nc: nc}
	if d, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(d)
		w.deadline = true
	}
	if ctx.Done() != nil {
		w.stop = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(aLongTimeAgo) })
	}
	return w
}

// done ends the watch. When ctx was cancelled during the exchange, the
// result is an error wrapping ctx's error (even if err is nil: the deadline
// was pushed into the past) and the connection must be treated as broken.
// When ctx's deadline passed, err wraps the deadline error.
func (w ctxWatch) done(err error) error {
	if w.stop != nil && !w.stop() {
		if err == nil {
			return fmt.Errorf("wire: %w at the end of the exchange; the connection's state is unknown", w.ctx.Err())
		}
		return fmt.Errorf("wire: %w (connection interrupted: %v)", w.ctx.Err(), err)
	}
	if w.deadline {
		_ = w.nc.SetDeadline(time.Time{})
	}
	if err != nil && w.ctx.Err() != nil {
		return fmt.Errorf("wire: %w (%v)", w.ctx.Err(), err)
	}
	return err
}
