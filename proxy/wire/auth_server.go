package wire

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
)

// authenticate verifies the client's credentials, switching its auth plugin
// when the one it chose cannot be verified, and sends an error packet on
// failure. On success the final OK is still to be sent.
func (s *ServerConn) authenticate(ctx context.Context, cfg *ServerConfig, nonce []byte) error {
	user := s.resp.User
	cred, err := cfg.Lookup(ctx, user)
	if err != nil {
		if !errors.Is(err, ErrUnknownUser) {
			s.sendErr(s.caps, NewError(ErAccessDenied, StateAccessDenied,
				"Access denied for user '%s'@'%s': credentials are unavailable, try again later", user, s.remoteIP))
			return fmt.Errorf("wire: looking up the credentials of user %q: %w", user, err)
		}
		// An unknown user is verified against the decoy, so that the
		// exchange and the work are those of a wrong password.
		cred = decoyCredential
	}
	plugin := AuthNativePassword
	if s.caps&ClientPluginAuth != 0 && s.resp.AuthPlugin != "" {
		plugin = s.resp.AuthPlugin
	}
	authResp := s.resp.AuthResponse
	if !s.canUse(cfg, &cred, plugin) {
		target := s.choosePlugin(cfg, &cred)
		if target == "" || s.caps&ClientPluginAuth == 0 {
			return s.deny(len(authResp) > 0, "no auth plugin can verify this user's credential")
		}
		if err := s.WritePacketFlush(AppendAuthSwitch(s.Scratch(), target, nonce)); err != nil {
			return fmt.Errorf("wire: sending the auth switch request: %w", err)
		}
		p, err := s.ReadPacket()
		if err != nil {
			return fmt.Errorf("wire: reading the auth switch response: %w", err)
		}
		authResp = append([]byte(nil), p...)
		plugin = target
	}
	s.plugin = plugin
	switch plugin {
	case AuthNativePassword:
		if len(authResp) == 0 {
			if cred.emptyPassword() {
				return nil
			}
			return s.deny(false, "empty password")
		}
		if cred.verifyNative(nonce, authResp) {
			return nil
		}
		return s.deny(true, cred.wrongPassword())
	case AuthCachingSHA2Password:
		return s.authSHA2(cfg, &cred, nonce, authResp)
	case AuthClearPassword:
		pw := string(bytes.TrimSuffix(authResp, []byte{0}))
		if cred.verifyCleartext(AuthClearPassword, pw) {
			return nil
		}
		return s.deny(len(pw) > 0, cred.wrongPassword())
	}
	return s.deny(len(authResp) > 0, "unsupported auth plugin "+plugin)
}

// canUse reports whether the server can verify cred with plugin on this
// connection.
func (s *ServerConn) canUse(cfg *ServerConfig, cred *Credential, plugin string) bool {
	switch plugin {
	case AuthNativePassword:
		return cred.nativeHash() != nil
	case AuthCachingSHA2Password:
		// Fast auth needs SHA2Hash. Full auth (the password sent over TLS
		// or RSA-encrypted) is used for a known cleartext password; a
		// credential with only NativeHash is better served by switching
		// to mysql_native_password, which never sends the password.
		return cred.SHA2Hash != nil || (cred.HasPassword && (s.tls || cfg.RSAKey != nil))
	case AuthClearPassword:
		return cfg.AllowClearPassword && s.tls && cred.canVerifyPassword()
	}
	return false
}

// decoyCredential stands in for a user that Lookup does not know. It has
// what CredentialFromPassword gives a known user (both hashes and the
// password), for a random password drawn at start-up, so that an unknown
// user's exchange takes the path of a known user's with a wrong password:
// the same plugin choice (no extra auth switch), the same packets and the
// same verification work. Its verifications run in full and then fail,
// whatever the client sent. (A Lookup whose known users have other kinds
// of credentials, a NativeHash only for example, can still be told apart
// from an unknown user by the plugin it negotiates.)
var decoyCredential = func() Credential {
	c := CredentialFromPassword(rand.Text())
	c.decoy = true
	return c
}()

// testHookVerify, when set by a test, is called at each password
// verification with the plugin that verifies and whether the credential is
// the decoy of an unknown user.
var testHookVerify func(plugin string, decoy bool)

// verifyNative checks a mysql_native_password response against c.
func (c *Credential) verifyNative(nonce, resp []byte) bool {
	if testHookVerify != nil {
		testHookVerify(AuthNativePassword, c.decoy)
	}
	return VerifyNativePassword(nonce, resp, c.nativeHash()) && !c.decoy
}

// verifySHA2Scramble checks a caching_sha2_password fast-auth response
// against c.
func (c *Credential) verifySHA2Scramble(nonce, resp []byte) bool {
	if testHookVerify != nil {
		testHookVerify(AuthCachingSHA2Password, c.decoy)
	}
	return VerifySHA2Scramble(nonce, resp, c.SHA2Hash) && !c.decoy
}

// verifyCleartext checks a password received in clear (over TLS, or
// RSA-encrypted) for plugin against c.
func (c *Credential) verifyCleartext(plugin, pw string) bool {
	if testHookVerify != nil {
		testHookVerify(plugin, c.decoy)
	}
	return c.verifyPassword(pw) && !c.decoy
}

// wrongPassword is why a verification against c failed, for the error
// returned to the caller (the client is told only "Access denied").
func (c *Credential) wrongPassword() string {
	if c.decoy {
		return "unknown user"
	}
	return "wrong password"
}

// choosePlugin picks the plugin to switch to: the configured default if it
// can verify cred, else the first of caching_sha2_password,
// mysql_native_password and mysql_clear_password that can. A credential
// that verifies nothing gets the default, to fail like a wrong password.
func (s *ServerConn) choosePlugin(cfg *ServerConfig, cred *Credential) string {
	def := cfg.DefaultAuthPlugin
	if def == "" {
		def = AuthNativePassword
	}
	if !cred.canVerifyPassword() {
		return def
	}
	for _, p := range []string{def, AuthCachingSHA2Password, AuthNativePassword, AuthClearPassword} {
		if s.canUse(cfg, cred, p) {
			return p
		}
	}
	return ""
}

// authSHA2 runs caching_sha2_password: fast auth when the server knows
// SHA256(SHA256(password)) and the scramble matches, else full auth with the
// password sent over TLS or RSA-encrypted.
func (s *ServerConn) authSHA2(cfg *ServerConfig, cred *Credential, nonce, authResp []byte) error {
	if len(authResp) == 0 {
		if cred.emptyPassword() {
			return nil
		}
		return s.deny(false, "empty password")
	}
	if cred.SHA2Hash != nil && cred.verifySHA2Scramble(nonce, authResp) {
		return s.WritePacket(AppendAuthMoreData(s.Scratch(), []byte{sha2FastAuthSuccess}))
	}
	if !s.tls && cfg.RSAKey == nil {
		return s.deny(true, "caching_sha2_password full authentication needs TLS or a server RSA key")
	}
	if err := s.WritePacketFlush(AppendAuthMoreData(s.Scratch(), []byte{sha2PerformFullAuth})); err != nil {
		return fmt.Errorf("wire: requesting full authentication: %w", err)
	}
	p, err := s.ReadPacket()
	if err != nil {
		return fmt.Errorf("wire: reading the full-authentication password: %w", err)
	}
	var pw string
	if s.tls {
		pw = string(bytes.TrimSuffix(p, []byte{0}))
	} else {
		if len(p) == 1 && p[0] == sha2RequestPublicKey {
			pemKey, err := MarshalPublicKeyPEM(&cfg.RSAKey.PublicKey)
			if err != nil {
				return fmt.Errorf("wire: encoding the RSA public key: %w", err)
			}
			if err := s.WritePacketFlush(AppendAuthMoreData(s.Scratch(), pemKey)); err != nil {
				return fmt.Errorf("wire: sending the RSA public key: %w", err)
			}
			if p, err = s.ReadPacket(); err != nil {
				return fmt.Errorf("wire: reading the RSA-encrypted password: %w", err)
			}
		}
		if pw, err = DecryptPasswordRSA(p, nonce, cfg.RSAKey); err != nil {
			return s.deny(true, err.Error())
		}
	}
	if cred.verifyCleartext(AuthCachingSHA2Password+" full authentication", pw) {
		return nil
	}
	return s.deny(true, cred.wrongPassword())
}

// deny sends "Access denied" and returns an error that says why (the client
// is not told).
func (s *ServerConn) deny(usingPassword bool, why string) error {
	e := s.accessDenied(usingPassword)
	s.sendErr(s.caps, e)
	return fmt.Errorf("%w (%s)", e, why)
}
