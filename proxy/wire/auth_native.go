package wire

import (
	"crypto/sha1"
	"crypto/subtle"
)

// Auth plugin names.
const (
	AuthNativePassword      = "mysql_native_password"
	AuthCachingSHA2Password = "caching_sha2_password"
	AuthClearPassword       = "mysql_clear_password"
)

// nonceLen is the length of the auth nonce (scramble) this package sends
// and the part of a received nonce the password plugins use.
const nonceLen = 20

// NativePasswordHash returns SHA1(SHA1(password)), what a server stores to
// verify mysql_native_password (MySQL shows it hex-encoded with a '*'
// prefix in mysql.user).
func NativePasswordHash(password string) []byte {
	h1 := sha1.Sum([]byte(password))
	h2 := sha1.Sum(h1[:])
	return h2[:]
}

// ScrambleNativePassword computes the client's mysql_native_password auth
// response for a server nonce: SHA1(password) XOR SHA1(nonce +
// SHA1(SHA1(password))). An empty password yields an empty response.
func ScrambleNativePassword(nonce []byte, password string) []byte {
	if password == "" {
		return nil
	}
	if len(nonce) > nonceLen {
		nonce = nonce[:nonceLen]
	}
	h1 := sha1.Sum([]byte(password))
	h2 := sha1.Sum(h1[:])
	s := sha1.New()
	s.Write(nonce)
	s.Write(h2[:])
	x := s.Sum(nil)
	for i := range x {
		x[i] ^= h1[i]
	}
	return x
}

// VerifyNativePassword checks a mysql_native_password auth response against
// the stored hash SHA1(SHA1(password)), as a server does: it recovers
// SHA1(password) from the response and checks that its SHA1 is the hash.
func VerifyNativePassword(nonce, response, hash []byte) bool {
	if len(response) != sha1.Size || len(hash) != sha1.Size {
		return false
	}
	if len(nonce) > nonceLen {
		nonce = nonce[:nonceLen]
	}
	s := sha1.New()
	s.Write(nonce)
	s.Write(hash)
	x := s.Sum(nil)
	for i := range x {
		x[i] ^= response[i]
	}
	h := sha1.Sum(x)
	return subtle.ConstantTimeCompare(h[:], hash) == 1
}
