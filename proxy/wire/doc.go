// Package wire implements the MySQL client/server protocol: packet framing,
// the handshake, authentication plugins, and the command and result packets
// that the listener reads from clients and relays to backends.
package wire
