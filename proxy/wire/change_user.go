package wire

import (
	"context"
	"errors"
	"fmt"
)

// ParseChangeUser parses a COM_CHANGE_USER packet (command byte included)
// from a client with capabilities caps into a HandshakeResponse (User,
// AuthResponse, Database, Charset, AuthPlugin, Attrs).
func ParseChangeUser(payload []byte, caps Capability) (*HandshakeResponse, error) {
	if len(payload) < 1 || Command(payload[0]) != ComChangeUser {
		return nil, malformed("COM_CHANGE_USER: wrong command")
	}
	b := payload[1:]
	user, n, err := readNulString(b)
	if err != nil {
		return nil, fmt.Errorf("COM_CHANGE_USER: user: %w", err)
	}
	r := &HandshakeResponse{Capabilities: caps, User: string(user)}
	b = b[n:]
	if caps&ClientSecureConnection != 0 {
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return nil, malformed("COM_CHANGE_USER: auth response truncated")
		}
		r.AuthResponse = append([]byte(nil), b[1:1+int(b[0])]...)
		b = b[1+int(b[0]):]
	} else {
		a, n, err := readNulString(b)
		if err != nil {
			return nil, fmt.Errorf("COM_CHANGE_USER: auth response: %w", err)
		}
		r.AuthResponse = append([]byte(nil), a...)
		b = b[n:]
	}
	db, n := nulOrRest(b)
	r.Database = string(db)
	b = b[n:]
	if len(b) >= 2 {
		r.Charset = b[0]
		b = b[2:]
	}
	if caps&ClientPluginAuth != 0 && len(b) > 0 {
		p, n := nulOrRest(b)
		r.AuthPlugin = string(p)
		b = b[n:]
	}
	if caps&ClientConnectAttrs != 0 && len(b) > 0 {
		attrs, err := parseAttrs(b)
		if err != nil {
			return nil, fmt.Errorf("COM_CHANGE_USER: %w", err)
		}
		r.Attrs = attrs
	}
	return r, nil
}

// AppendChangeUser appends a COM_CHANGE_USER packet for a connection with
// capabilities r.Capabilities.
func AppendChangeUser(dst []byte, r *HandshakeResponse) []byte {
	caps := r.Capabilities
	dst = append(dst, byte(ComChangeUser))
	dst = append(append(dst, r.User...), 0)
	if caps&ClientSecureConnection != 0 {
		dst = append(dst, byte(len(r.AuthResponse)))
		dst = append(dst, r.AuthResponse...)
	} else {
		dst = append(append(dst, r.AuthResponse...), 0)
	}
	dst = append(append(dst, r.Database...), 0)
	dst = append(dst, r.Charset, 0)
	if caps&ClientPluginAuth != 0 {
		dst = append(append(dst, r.AuthPlugin...), 0)
	}
	if caps&ClientConnectAttrs != 0 {
		var block []byte
		for _, a := range r.Attrs {
			block = appendLenEncStr(block, a.Key)
			block = appendLenEncStr(block, a.Value)
		}
		dst = AppendLenEncString(dst, block)
	}
	return dst
}

// ChangeUser handles a COM_CHANGE_USER packet read with ReadCommand: it
// authenticates the new user as Accept does (the client scrambles with the
// handshake's nonce; plugin switches are followed) and answers OK, or an
// error packet. On error the connection's identity is unchanged if the
// packet was malformed; after a failed authentication the client is
// expected to disconnect (MySQL servers close it). The caller resets the
// session state it tracks for the client.
func (s *ServerConn) ChangeUser(ctx context.Context, cfg *ServerConfig, payload []byte) error {
	r, err := ParseChangeUser(payload, s.caps)
	if err != nil {
		s.sendErr(s.caps, NewError(ErHandshakeError, StateCommLink, "Bad COM_CHANGE_USER packet"))
		return err
	}
	r.Capabilities, r.MaxPacketSize = s.resp.Capabilities, s.resp.MaxPacketSize
	w := watchContext(ctx, s.nc)
	prev := s.resp
	s.resp = r
	err = s.authenticate(ctx, cfg, s.nonce)
	if err == nil && cfg.Authorize != nil {
		if aerr := cfg.Authorize(ctx, r); aerr != nil {
			var e *Error
			if !errors.As(aerr, &e) {
				e = s.accessDenied(true)
			}
			s.sendErr(s.caps, e)
			err = aerr
		}
	}
	if err == nil {
		err = s.WriteOK(&OK{Status: StatusAutocommit})
	} else {
		s.resp = prev
	}
	return w.done(err)
}

// ChangeUser sends COM_CHANGE_USER: the server authenticates the new user
// and resets the session. On a server error (*Error) the server closes the
// connection, so the ClientConn is marked broken either way.
func (c *ClientConn) ChangeUser(ctx context.Context, cfg *ClientConfig) error {
	if err := c.usable(); err != nil {
		return err
	}
	plugin := c.hs.AuthPlugin
	if plugin != AuthCachingSHA2Password {
		plugin = AuthNativePassword
	}
	authResp, err := c.authResponse(cfg, plugin, c.hs.AuthData)
	if err != nil {
		return err
	}
	charset := cfg.Charset
	if charset == 0 {
		charset = CharsetUTF8MB4GeneralCI
	}
	r := &HandshakeResponse{Capabilities: c.caps, User: cfg.User, AuthResponse: authResp, Database: cfg.Database,
		Charset: charset, AuthPlugin: plugin, Attrs: cfg.Attrs}
	w := watchContext(ctx, c.nc)
	c.ResetSeq()
	err = c.WritePacketFlush(AppendChangeUser(c.Scratch(), r))
	if err == nil {
		err = c.authLoop(cfg, plugin, c.hs.AuthData)
	}
	err = w.done(err)
	if err != nil {
		c.MarkBroken(err)
	}
	return err
}
