package proxy

import "github.com/rdsmux/rdsmux/pinning"

// collationSettings returns the tracked settings a client session starts
// with for the collation id it sent in its handshake: the server makes it
// the connection's character_set_client, character_set_connection,
// character_set_results and collation_connection. Backend connections are
// dialed with utf8mb4_general_ci; the pool records these as the session's
// differences from that baseline and sets them, explicitly, on every
// backend the session borrows.
//
// An id the server would not accept as a client character set (unknown,
// or ucs2/utf16/utf32, which cannot be a client character set) starts the
// session in the backends' own character set.
func collationSettings(id byte) pinning.Settings {
	var s pinning.Settings
	name, charset, ok := pinning.CollationByID(uint16(id))
	if !ok || !clientCharset(charset) {
		return s
	}
	cs := pinning.ServerValue(pinning.VarCharacterSetClient, charset, false)
	s.Set(pinning.VarCharacterSetClient, cs)
	s.Set(pinning.VarCharacterSetConnection, cs)
	s.Set(pinning.VarCharacterSetResults, cs)
	coll := pinning.ServerValue(pinning.VarCollationConnection, name, false)
	s.Set(pinning.VarCollationConnection, coll)
	// The handshake gives the client character set the collation too.
	s.Set(pinning.VarClientCollation, coll)
	return s
}

// clientCharset reports whether a character set can be a client's: not one
// whose characters are two or more bytes wide (the server refuses those).
func clientCharset(cs string) bool {
	switch cs {
	case "ucs2", "utf16", "utf16le", "utf32":
		return false
	}
	return true
}
