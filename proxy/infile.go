package proxy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rdsmux/rdsmux/proxy/wire"
)

// LOAD DATA LOCAL INFILE through the listener. The server asks for the
// file with a 0xfb packet naming it; the client answers with the file's
// content in packets of any size, ended by an empty packet; the server
// then answers OK or ERR. The listener relays the request only to a client
// that set CLIENT_LOCAL_FILES (and when Server.DisableLocalInfile is not
// set); it then streams the client's packets to the backend as they come,
// one buffer's worth at a time, so a file of any size costs a packet of
// memory. Otherwise it refuses on the client's behalf, as a server does:
// the backend gets an empty file (it loads nothing) and the client error
// 1148.

// errInfileAborted marks a backend whose LOAD DATA LOCAL INFILE was cut
// short because its client went away (or broke the protocol) mid-file: the
// statement cannot be ended cleanly, so the backend is closed (the server
// then rolls the statement back) instead of being reused.
var errInfileAborted = errors.New("proxy: the client stopped sending its LOCAL INFILE file")

// localInfileAllowed reports whether the client may be asked for a file.
func (c *clientConn) localInfileAllowed() bool {
	return !c.srv.DisableLocalInfile && c.sc.Capabilities()&wire.ClientLocalFiles != 0
}

// relayInfile answers the backend's LOCAL INFILE request p: it relays it to
// the client and streams the client's file to the backend (true), or
// refuses with an empty file (false; the client is then sent the error).
// A failure is recorded in o: o.beErr set means the relay must stop and
// the backend is not reused.
func (c *clientConn) relayInfile(be *BackendConn, p []byte, o *outcome) bool {
	if !c.localInfileAllowed() || o.clientErr != nil {
		if err := be.cc.WritePacketFlush(nil); err != nil {
			o.beErr = err
		}
		return false
	}
	if err := c.sc.WritePacketFlush(p); err != nil {
		// The client is gone before it sent anything: the backend gets
		// an empty file, and its answer is read and dropped.
		o.clientErr = err
		if err := be.cc.WritePacketFlush(nil); err != nil {
			o.beErr = err
		}
		return true
	}
	for {
		if c.sc.Buffered() == 0 {
			// About to wait for the client: send what came so far.
			if err := be.cc.Flush(); err != nil {
				c.drainInfile(o, err)
				return true
			}
		}
		q, err := c.sc.ReadPacket()
		if err != nil {
			o.clientErr = err
			o.beErr = fmt.Errorf("%w: %w", errInfileAborted, err)
			return true
		}
		if err := be.cc.WritePacket(q); err != nil {
			if len(q) != 0 {
				c.drainInfile(o, err)
			} else {
				o.beErr = err
			}
			return true
		}
		if len(q) == 0 {
			if err := be.cc.Flush(); err != nil {
				o.beErr = err
			}
			return true
		}
	}
}

// drainInfile reads and drops the rest of the client's file after the
// backend failed (beErr), so that the client reads the error next.
func (c *clientConn) drainInfile(o *outcome, beErr error) {
	o.beErr = beErr
	for {
		q, err := c.sc.ReadPacket()
		if err != nil {
			o.clientErr = err
			return
		}
		if len(q) == 0 {
			return
		}
	}
}

// localInfileRefusal is the error a refused client gets: with
// DisableLocalInfile the listener's own; for a client that did not enable
// the capability, the one its server would have sent it directly (the
// backend, which has the capability, asked for the file instead).
func (c *clientConn) localInfileRefusal(be *BackendConn) *wire.Error {
	if c.srv.DisableLocalInfile {
		return errLocalInfileDisabled
	}
	version := ""
	if hs := be.cc.Handshake(); hs != nil {
		version = hs.ServerVersion
	}
	return localInfileNotEnabled(version)
}

// localInfileNotEnabled is the error a server of the given version sends a
// client without CLIENT_LOCAL_FILES for LOAD DATA LOCAL INFILE.
func localInfileNotEnabled(version string) *wire.Error {
	mariadb := strings.Contains(version, "MariaDB")
	v := strings.TrimPrefix(version, "5.5.5-")
	major, minor := 0, 0
	if i := strings.IndexFunc(v, func(r rune) bool { return r != '.' && (r < '0' || r > '9') }); i >= 0 {
		v = v[:i]
	}
	parts := strings.SplitN(v, ".", 3)
	if len(parts) >= 2 {
		major, _ = strconv.Atoi(parts[0])
		minor, _ = strconv.Atoi(parts[1])
	}
	switch {
	case mariadb && (major > 10 || major == 10 && minor >= 5):
		return errInfileCapabilityMariaDB
	case mariadb:
		return errInfileNotAllowedMariaDB
	case major >= 8:
		return errInfileDisabledMySQL
	}
	return errInfileNotAllowedMySQL
}

// The errors servers send a client that did not enable LOCAL INFILE.
var (
	errInfileCapabilityMariaDB = wire.NewError(4166, wire.StateGeneral, // ER_LOAD_INFILE_CAPABILITY_DISABLED
		"The used command is not allowed because the MariaDB server or client has disabled the local infile capability")
	errInfileNotAllowedMariaDB = wire.NewError(wire.ErNotAllowedCommand, wire.StateSyntaxOrAccess,
		"The used command is not allowed with this MariaDB version")
	errInfileDisabledMySQL = wire.NewError(3948, wire.StateSyntaxOrAccess, // ER_CLIENT_LOCAL_FILES_DISABLED
		"Loading local data is disabled; this must be enabled on both the client and server sides")
	errInfileNotAllowedMySQL = wire.NewError(wire.ErNotAllowedCommand, wire.StateSyntaxOrAccess,
		"The used command is not allowed with this MySQL version")
)
