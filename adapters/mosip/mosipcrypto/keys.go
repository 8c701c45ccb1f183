package mosipcrypto

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"
)

// Thumbprint is the SHA-256 of the certificate's DER encoding (nil for a nil cert).
func Thumbprint(cert *x509.Certificate) []byte {
	if cert == nil {
		return nil
	}
	s := sha256.Sum256(cert.Raw)
	return s[:]
}

// publicKeyThumbprint is the SHA-256 of the PKIX DER encoding of pub.
func publicKeyThumbprint(pub *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("mosipcrypto: marshal public key: %w", err)
	}
	s := sha256.Sum256(der)
	return s[:], nil
}

// NewSelfSigned generates an RSA key (bits <= 0 means 2048) and a self-signed
// certificate with common name cn, valid from an hour ago for ten years.
func NewSelfSigned(cn string, bits int) (*rsa.PrivateKey, *x509.Certificate, error) {
	if bits <= 0 {
		bits = 2048
	}
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, nil, fmt.Errorf("mosipcrypto: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, fmt.Errorf("mosipcrypto: serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("mosipcrypto: create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("mosipcrypto: parse certificate: %w", err)
	}
	return key, cert, nil
}
