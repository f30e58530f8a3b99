package wire

import (
	"bytes"
	"crypto/subtle"
	"errors"
)

// ErrUnknownUser is returned by a ServerConfig.Lookup function for a user it
// does not know. The client is then denied access exactly as for a wrong
// password, so that user names cannot be probed.
var ErrUnknownUser = errors.New("wire: unknown user")

// Credential is what a server knows about a user's password. Each field
// enables the auth plugins it can verify; any subset may be set.
type Credential struct {
	// NativeHash is SHA1(SHA1(password)) (NativePasswordHash): verifies
	// mysql_native_password.
	NativeHash []byte
	// SHA2Hash is SHA256(SHA256(password)) (SHA2PasswordHash): verifies
	// caching_sha2_password fast auth, and a password received in full
	// auth. Leave it nil with Password set to force full authentication
	// (the password then travels over TLS or RSA-encrypted).
	SHA2Hash []byte
	// Password is the cleartext password, when known: it verifies a
	// password received in caching_sha2_password full auth or
	// mysql_clear_password, and NativeHash is derived from it when nil.
	Password string
	// HasPassword must be true when Password is meant, even if empty:
	// CredentialFromPassword sets it. A Credential with no field set
	// verifies nothing.
	HasPassword bool

	// decoy marks the stand-in for an unknown user (decoyCredential):
	// every verification runs in full and then fails.
	decoy bool
}

// CredentialFromPassword returns a Credential that verifies every plugin.
func CredentialFromPassword(password string) Credential {
	return Credential{
		NativeHash:  NativePasswordHash(password),
		SHA2Hash:    SHA2PasswordHash(password),
		Password:    password,
		HasPassword: true,
	}
}

var emptyNativeHash, emptySHA2Hash = NativePasswordHash(""), SHA2PasswordHash("")

// nativeHash returns the hash that verifies mysql_native_password, if any.
func (c *Credential) nativeHash() []byte {
	if c.NativeHash != nil {
		return c.NativeHash
	}
	if c.HasPassword {
		return NativePasswordHash(c.Password)
	}
	return nil
}

// emptyPassword reports whether the credential is for the empty password,
// which clients send as an empty auth response.
func (c *Credential) emptyPassword() bool {
	switch {
	case c.decoy:
		return false
	case c.HasPassword:
		return c.Password == ""
	case c.NativeHash != nil:
		return bytes.Equal(c.NativeHash, emptyNativeHash)
	case c.SHA2Hash != nil:
		return bytes.Equal(c.SHA2Hash, emptySHA2Hash)
	}
	return false
}

// verifyPassword checks a cleartext password received in full auth or
// mysql_clear_password.
func (c *Credential) verifyPassword(pw string) bool {
	switch {
	case c.HasPassword:
		return subtle.ConstantTimeCompare([]byte(pw), []byte(c.Password)) == 1 && !c.decoy
	case c.SHA2Hash != nil:
		return subtle.ConstantTimeCompare(SHA2PasswordHash(pw), c.SHA2Hash) == 1
	case c.NativeHash != nil:
		return subtle.ConstantTimeCompare(NativePasswordHash(pw), c.NativeHash) == 1
	}
	return false
}

// canVerifyPassword reports whether verifyPassword can succeed at all.
func (c *Credential) canVerifyPassword() bool {
	return c.HasPassword || c.SHA2Hash != nil || c.NativeHash != nil
}
