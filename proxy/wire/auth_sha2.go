package wire

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// caching_sha2_password exchange bytes, sent after the 0x01 AuthMoreData
// header by the server, or alone by the client.
const (
	sha2RequestPublicKey = 0x02
	sha2FastAuthSuccess  = 0x03
	sha2PerformFullAuth  = 0x04
	sha2ScrambleLen      = sha256.Size
)

// SHA2PasswordHash returns SHA256(SHA256(password)): what a server needs to
// know to verify a caching_sha2_password fast-auth scramble (the "cache"
// entry of MySQL), and enough to verify a password sent in full auth.
func SHA2PasswordHash(password string) []byte {
	h1 := sha256.Sum256([]byte(password))
	h2 := sha256.Sum256(h1[:])
	return h2[:]
}

// ScrambleSHA2Password computes the client's caching_sha2_password fast-auth
// response: SHA256(password) XOR SHA256(SHA256(SHA256(password)) + nonce).
// An empty password yields an empty response.
func ScrambleSHA2Password(nonce []byte, password string) []byte {
	if password == "" {
		return nil
	}
	if len(nonce) > nonceLen {
		nonce = nonce[:nonceLen]
	}
	h1 := sha256.Sum256([]byte(password))
	h2 := sha256.Sum256(h1[:])
	s := sha256.New()
	s.Write(h2[:])
	s.Write(nonce)
	x := s.Sum(nil)
	for i := range x {
		x[i] ^= h1[i]
	}
	return x
}

// VerifySHA2Scramble checks a caching_sha2_password fast-auth response
// against SHA256(SHA256(password)): it recovers SHA256(password) from the
// response and checks that its SHA256 is the hash.
func VerifySHA2Scramble(nonce, response, hash []byte) bool {
	if len(response) != sha2ScrambleLen || len(hash) != sha256.Size {
		return false
	}
	if len(nonce) > nonceLen {
		nonce = nonce[:nonceLen]
	}
	s := sha256.New()
	s.Write(hash)
	s.Write(nonce)
	x := s.Sum(nil)
	for i := range x {
		x[i] ^= response[i]
	}
	h := sha256.Sum256(x)
	return subtle.ConstantTimeCompare(h[:], hash) == 1
}

// xorNonce XORs password+NUL with the nonce repeated, the obfuscation applied
// before RSA encryption in full auth (and undone after decryption).
func xorNonce(b, nonce []byte) {
	if len(nonce) > nonceLen {
		nonce = nonce[:nonceLen]
	}
	if len(nonce) == 0 {
		return
	}
	for i := range b {
		b[i] ^= nonce[i%len(nonce)]
	}
}

// EncryptPasswordRSA encrypts password for caching_sha2_password full auth
// over an unencrypted connection: (password + NUL) XOR nonce, RSA-OAEP with
// SHA-1, as MySQL 8.0.5 and later expect.
func EncryptPasswordRSA(password string, nonce []byte, pub *rsa.PublicKey) ([]byte, error) {
	plain := append([]byte(password), 0)
	xorNonce(plain, nonce)
	out, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, plain, nil)
	if err != nil {
		return nil, fmt.Errorf("wire: encrypting the password with the server's RSA key: %w", err)
	}
	return out, nil
}

// DecryptPasswordRSA reverses EncryptPasswordRSA on the server side and
// returns the password.
func DecryptPasswordRSA(ciphertext, nonce []byte, key *rsa.PrivateKey) (string, error) {
	plain, err := rsa.DecryptOAEP(sha1.New(), nil, key, ciphertext, nil)
	if err != nil {
		return "", fmt.Errorf("wire: decrypting the RSA-encrypted password: %w", err)
	}
	xorNonce(plain, nonce)
	if len(plain) == 0 || plain[len(plain)-1] != 0 {
		return "", errors.New("wire: decrypted password is not NUL-terminated")
	}
	return string(plain[:len(plain)-1]), nil
}

// MarshalPublicKeyPEM encodes pub as a PEM "PUBLIC KEY" block, as a server
// sends it to a client that requests it.
func MarshalPublicKeyPEM(pub *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKeyPEM decodes a PEM-encoded RSA public key, as sent by a server
// (PKIX "PUBLIC KEY" or PKCS#1 "RSA PUBLIC KEY").
func ParsePublicKeyPEM(data []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("wire: server public key is not PEM-encoded")
	}
	if block.Type == "RSA PUBLIC KEY" {
		return x509.ParsePKCS1PublicKey(block.Bytes)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("wire: parsing the server public key: %w", err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("wire: server public key is %T, not RSA", k)
	}
	return pub, nil
}
