package wire

import (
	"bytes"
	"fmt"
)

// ProtocolVersion is the protocol version sent in Handshake v10.
const ProtocolVersion = 10

// Handshake is the Handshake v10 packet a server sends first.
type Handshake struct {
	ProtocolVersion byte // always 10
	ServerVersion   string
	ConnectionID    uint32
	// AuthData is the nonce (scramble) for the auth plugin, normally 20
	// bytes, without the trailing NUL of the wire format.
	AuthData     []byte
	Capabilities Capability
	Charset      byte
	Status       Status
	AuthPlugin   string
	// MariaDBCapabilities are MariaDB's extended capabilities (the upper
	// 32 bits of its 64-bit capability set), sent when the server does not
	// set ClientLongPassword ("CLIENT_MYSQL"). ParseHandshake also puts
	// them in the upper bits of Capabilities; AppendHandshake sends both
	// combined.
	MariaDBCapabilities uint32
}

// ParseHandshake parses a Handshake v10 packet. A server may send an ERR
// packet instead (too many connections, host blocked); ParseHandshake then
// returns that *Error.
func ParseHandshake(payload []byte) (*Handshake, error) {
	if IsERR(payload) {
		e, err := ParseERR(payload)
		if err != nil {
			return nil, err
		}
		return nil, e
	}
	if len(payload) < 1 || payload[0] != ProtocolVersion {
		return nil, malformed("handshake: unsupported protocol version (need 10)")
	}
	h := &Handshake{ProtocolVersion: payload[0]}
	b := payload[1:]
	v, n, err := readNulString(b)
	if err != nil {
		return nil, fmt.Errorf("handshake: server version: %w", err)
	}
	h.ServerVersion = string(v)
	b = b[n:]
	if len(b) < 4+8+1+2 {
		return nil, malformed("handshake: too short")
	}
	h.ConnectionID = uint32At(b)
	auth := append([]byte(nil), b[4:12]...)
	h.Capabilities = Capability(uint16At(b[13:]))
	b = b[15:]
	if len(b) == 0 {
		h.AuthData = auth
		return h, nil
	}
	if len(b) < 1+2+2+1+10 {
		return nil, malformed("handshake: truncated after capabilities")
	}
	h.Charset = b[0]
	h.Status = Status(uint16At(b[1:]))
	h.Capabilities |= Capability(uint16At(b[3:])) << 16
	authLen := int(b[5])
	h.MariaDBCapabilities = uint32At(b[12:])
	if h.Capabilities&ClientLongPassword == 0 {
		h.Capabilities |= Capability(h.MariaDBCapabilities) << 32
	} else {
		h.MariaDBCapabilities = 0
	}
	b = b[16:]
	if h.Capabilities&ClientSecureConnection != 0 {
		n := max(13, authLen-8)
		if len(b) < n {
			return nil, malformed("handshake: auth data part 2 truncated")
		}
		part2 := b[:n]
		if i := bytes.IndexByte(part2, 0); i >= 0 {
			part2 = part2[:i]
		}
		auth = append(auth, part2...)
		b = b[n:]
	}
	h.AuthData = auth
	if h.Capabilities&ClientPluginAuth != 0 {
		// Some servers omit the final NUL.
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
		h.AuthPlugin = string(b)
	}
	return h, nil
}

// AppendHandshake appends a Handshake v10 packet. AuthData should be 20 bytes
// (it is sent as an 8-byte and a 12-byte part plus NUL).
func AppendHandshake(dst []byte, h *Handshake) []byte {
	dst = append(dst, ProtocolVersion)
	dst = append(dst, h.ServerVersion...)
	dst = append(dst, 0)
	dst = appendUint32(dst, h.ConnectionID)
	var part1 [8]byte
	copy(part1[:], h.AuthData)
	dst = append(dst, part1[:]...)
	dst = append(dst, 0)
	dst = appendUint16(dst, uint16(h.Capabilities))
	dst = append(dst, h.Charset)
	dst = appendUint16(dst, uint16(h.Status))
	dst = appendUint16(dst, uint16(h.Capabilities>>16))
	part2 := []byte(nil)
	if len(h.AuthData) > 8 {
		part2 = h.AuthData[8:]
	}
	if h.Capabilities&ClientPluginAuth != 0 {
		dst = append(dst, byte(8+len(part2)+1))
	} else {
		dst = append(dst, 0)
	}
	dst = append(dst, make([]byte, 6)...)
	if h.Capabilities&ClientLongPassword == 0 {
		dst = appendUint32(dst, h.MariaDBCapabilities|h.Capabilities.MariaDB())
	} else {
		dst = appendUint32(dst, 0)
	}
	if h.Capabilities&ClientSecureConnection != 0 {
		dst = append(dst, part2...)
		for i := len(part2); i < 12; i++ { // part 2 is at least 13 bytes with its NUL
			dst = append(dst, 0)
		}
		dst = append(dst, 0)
	}
	if h.Capabilities&ClientPluginAuth != 0 {
		dst = append(dst, h.AuthPlugin...)
		dst = append(dst, 0)
	}
	return dst
}

// Attr is one connection attribute (CLIENT_CONNECT_ATTRS), such as
// _client_name.
type Attr struct{ Key, Value string }

// HandshakeResponse is the HandshakeResponse41 packet a client answers the
// handshake with.
type HandshakeResponse struct {
	Capabilities  Capability
	MaxPacketSize uint32
	Charset       byte
	User          string
	AuthResponse  []byte
	Database      string // with ClientConnectWithDB
	AuthPlugin    string // with ClientPluginAuth
	Attrs         []Attr // with ClientConnectAttrs
}

// sslRequestLen is the length of an SSLRequest packet: the fixed part of a
// HandshakeResponse41.
const sslRequestLen = 32

// IsSSLRequest reports whether payload, read as the client's answer to the
// handshake, is an SSLRequest: the client wants to switch to TLS and will send
// its HandshakeResponse over it.
func IsSSLRequest(payload []byte) bool {
	return len(payload) == sslRequestLen && Capability(uint32At(payload))&ClientSSL != 0
}

// ParseSSLRequest returns the capabilities, maximum packet size and character
// set of an SSLRequest (or of the fixed part of a HandshakeResponse41).
func ParseSSLRequest(payload []byte) (caps Capability, maxPacket uint32, charset byte, err error) {
	if len(payload) < sslRequestLen {
		return 0, 0, 0, malformed("SSL request: too short")
	}
	return Capability(uint32At(payload)), uint32At(payload[4:]), payload[8], nil
}

// ParseHandshakeResponse parses a HandshakeResponse41. Clients that do not
// speak PROTOCOL_41 are rejected with an error.
func ParseHandshakeResponse(payload []byte) (*HandshakeResponse, error) {
	if len(payload) < 4 {
		return nil, malformed("handshake response: too short")
	}
	caps := Capability(uint32At(payload))
	if caps&ClientProtocol41 == 0 {
		return nil, malformed("handshake response: client does not speak protocol 4.1")
	}
	if len(payload) < sslRequestLen {
		return nil, malformed("handshake response: too short")
	}
	if caps&ClientLongPassword == 0 {
		// A MariaDB client: its extended capabilities end the filler.
		caps |= Capability(uint32At(payload[sslRequestLen-4:])) << 32
	}
	r := &HandshakeResponse{
		Capabilities:  caps,
		MaxPacketSize: uint32At(payload[4:]),
		Charset:       payload[8],
	}
	b := payload[sslRequestLen:]
	user, n, err := readNulString(b)
	if err != nil {
		return nil, fmt.Errorf("handshake response: user: %w", err)
	}
	r.User = string(user)
	b = b[n:]
	switch {
	case caps&ClientPluginAuthLenencClientData != 0:
		a, _, n, err := ReadLenEncString(b)
		if err != nil {
			return nil, fmt.Errorf("handshake response: auth response: %w", err)
		}
		r.AuthResponse = append([]byte(nil), a...)
		b = b[n:]
	case caps&ClientSecureConnection != 0:
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return nil, malformed("handshake response: auth response truncated")
		}
		r.AuthResponse = append([]byte(nil), b[1:1+int(b[0])]...)
		b = b[1+int(b[0]):]
	default:
		a, n, err := readNulString(b)
		if err != nil {
			return nil, fmt.Errorf("handshake response: auth response: %w", err)
		}
		r.AuthResponse = append([]byte(nil), a...)
		b = b[n:]
	}
	if caps&ClientConnectWithDB != 0 && len(b) > 0 {
		db, n := nulOrRest(b)
		r.Database = string(db)
		b = b[n:]
	}
	if caps&ClientPluginAuth != 0 && len(b) > 0 {
		p, n := nulOrRest(b)
		r.AuthPlugin = string(p)
		b = b[n:]
	}
	if caps&ClientConnectAttrs != 0 && len(b) > 0 {
		attrs, err := parseAttrs(b)
		if err != nil {
			return nil, fmt.Errorf("handshake response: %w", err)
		}
		r.Attrs = attrs
	}
	return r, nil
}

// nulOrRest reads a NUL-terminated string, or the rest of b when the NUL is
// missing (clients differ).
func nulOrRest(b []byte) ([]byte, int) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i], i + 1
	}
	return b, len(b)
}

// parseAttrs parses the length-prefixed block of connection attributes.
func parseAttrs(b []byte) ([]Attr, error) {
	block, _, _, err := ReadLenEncString(b)
	if err != nil {
		return nil, fmt.Errorf("connection attributes: %w", err)
	}
	var attrs []Attr
	for len(block) > 0 {
		k, _, n, err := ReadLenEncString(block)
		if err != nil {
			return nil, fmt.Errorf("connection attribute key: %w", err)
		}
		block = block[n:]
		v, _, n, err := ReadLenEncString(block)
		if err != nil {
			return nil, fmt.Errorf("connection attribute value: %w", err)
		}
		block = block[n:]
		attrs = append(attrs, Attr{Key: string(k), Value: string(v)})
	}
	return attrs, nil
}

// AppendSSLRequest appends an SSLRequest packet; caps must include ClientSSL.
func AppendSSLRequest(dst []byte, caps Capability, maxPacket uint32, charset byte) []byte {
	dst = appendUint32(dst, uint32(caps))
	dst = appendUint32(dst, maxPacket)
	dst = append(dst, charset)
	dst = append(dst, make([]byte, 19)...)
	if caps&ClientLongPassword != 0 {
		return appendUint32(dst, 0)
	}
	return appendUint32(dst, caps.MariaDB()) // MariaDB's extended capabilities
}

// AppendHandshakeResponse appends a HandshakeResponse41 packet. The auth
// response is length-encoded when r.Capabilities has
// ClientPluginAuthLenencClientData, and otherwise prefixed with one length
// byte (ClientSecureConnection).
func AppendHandshakeResponse(dst []byte, r *HandshakeResponse) []byte {
	caps := r.Capabilities
	dst = AppendSSLRequest(dst, caps, r.MaxPacketSize, r.Charset)
	dst = append(dst, r.User...)
	dst = append(dst, 0)
	switch {
	case caps&ClientPluginAuthLenencClientData != 0:
		dst = AppendLenEncString(dst, r.AuthResponse)
	case caps&ClientSecureConnection != 0:
		dst = append(dst, byte(len(r.AuthResponse)))
		dst = append(dst, r.AuthResponse...)
	default:
		dst = append(dst, r.AuthResponse...)
		dst = append(dst, 0)
	}
	if caps&ClientConnectWithDB != 0 {
		dst = append(dst, r.Database...)
		dst = append(dst, 0)
	}
	if caps&ClientPluginAuth != 0 {
		dst = append(dst, r.AuthPlugin...)
		dst = append(dst, 0)
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

// Auth exchange packet headers.
const (
	authMoreData      = 0x01 // followed by plugin data
	authSwitchRequest = 0xfe // followed by plugin name NUL and data
)

// AuthSwitch is an AuthSwitchRequest: the server asks the client to
// authenticate again with another plugin and nonce.
type AuthSwitch struct {
	Plugin string
	Data   []byte // the nonce, without the trailing NUL
}

// ParseAuthSwitch parses an AuthSwitchRequest (header 0xfe). A lone 0xfe is
// the pre-4.1 "old auth switch", which is rejected.
func ParseAuthSwitch(payload []byte) (*AuthSwitch, error) {
	if len(payload) < 2 || payload[0] != authSwitchRequest {
		return nil, malformed("auth switch request: too short or wrong header (old password auth is not supported)")
	}
	name, n, err := readNulString(payload[1:])
	if err != nil {
		return nil, fmt.Errorf("auth switch request: plugin name: %w", err)
	}
	data := payload[1+n:]
	if len(data) > 0 && data[len(data)-1] == 0 {
		data = data[:len(data)-1]
	}
	return &AuthSwitch{Plugin: string(name), Data: append([]byte(nil), data...)}, nil
}

// AppendAuthSwitch appends an AuthSwitchRequest for plugin with nonce data
// (sent with a trailing NUL, as servers do).
func AppendAuthSwitch(dst []byte, plugin string, data []byte) []byte {
	dst = append(dst, authSwitchRequest)
	dst = append(dst, plugin...)
	dst = append(dst, 0)
	dst = append(dst, data...)
	return append(dst, 0)
}

// AppendAuthMoreData appends an AuthMoreData packet (header 0x01).
func AppendAuthMoreData(dst []byte, data []byte) []byte {
	return append(append(dst, authMoreData), data...)
}
