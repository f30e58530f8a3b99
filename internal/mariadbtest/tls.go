package mariadbtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

type tlsFiles struct{ ca, cert, key string }

// CertPair is a generated CA and a leaf certificate signed by it, valid for
// 127.0.0.1, ::1 and localhost.
type CertPair struct {
	CAPEM, CertPEM, KeyPEM []byte
	Pool                   *x509.CertPool // trusts the CA
	Certificate            tls.Certificate
}

// GenerateCerts makes a fresh CA and a server certificate for loopback
// names. Listener tests use it too.
func GenerateCerts() (*CertPair, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "rdsmux test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	p := &CertPair{
		CAPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		Pool:    x509.NewCertPool(),
	}
	p.Pool.AddCert(caCert)
	p.Certificate, err = tls.X509KeyPair(p.CertPEM, p.KeyPEM)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ClientConfig returns a client TLS configuration that trusts the CA and
// expects the server name 127.0.0.1.
func (p *CertPair) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: p.Pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// ServerConfig returns a server TLS configuration with the leaf certificate.
func (p *CertPair) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.Certificate}, MinVersion: tls.VersionTLS12}
}

func writeTLSFiles(dir string) (tlsFiles, *tls.Config, error) {
	p, err := GenerateCerts()
	if err != nil {
		return tlsFiles{}, nil, err
	}
	f := tlsFiles{
		ca:   filepath.Join(dir, "ca.pem"),
		cert: filepath.Join(dir, "server-cert.pem"),
		key:  filepath.Join(dir, "server-key.pem"),
	}
	for path, data := range map[string][]byte{f.ca: p.CAPEM, f.cert: p.CertPEM, f.key: p.KeyPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return tlsFiles{}, nil, err
		}
	}
	return f, p.ClientConfig(), nil
}
