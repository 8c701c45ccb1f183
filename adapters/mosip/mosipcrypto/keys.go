package mosipcrypto

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
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

// ParsePrivateKeyPEM reads the first PEM block holding an RSA private key in
// PKCS#1 ("RSA PRIVATE KEY") or PKCS#8 ("PRIVATE KEY") form.
func ParsePrivateKeyPEM(b []byte) (*rsa.PrivateKey, error) {
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil, errors.New("mosipcrypto: no private key PEM block found")
		}
		switch blk.Type {
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("mosipcrypto: parse PKCS#1 key: %w", err)
			}
			return k, nil
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("mosipcrypto: parse PKCS#8 key: %w", err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("mosipcrypto: PKCS#8 key is %T, not RSA", k)
			}
			return rk, nil
		}
	}
}

// ParseCertificatePEM reads the first CERTIFICATE PEM block.
func ParseCertificatePEM(b []byte) (*x509.Certificate, error) {
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil, errors.New("mosipcrypto: no CERTIFICATE PEM block found")
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("mosipcrypto: parse certificate: %w", err)
		}
		return c, nil
	}
}

// EncodePrivateKeyPEM encodes k as a PKCS#8 "PRIVATE KEY" PEM block.
func EncodePrivateKeyPEM(k *rsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil { // only for invalid keys; fall back to PKCS#1
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// EncodeCertificatePEM encodes c as a CERTIFICATE PEM block.
func EncodeCertificatePEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// EncodePublicKeyPEM encodes pub as a PKIX "PUBLIC KEY" PEM block (the
// publicKeyPem of MOSIP's public-key.json).
func EncodePublicKeyPEM(pub *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("mosipcrypto: marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKeyPEM reads an RSA public key from a "PUBLIC KEY" (PKIX),
// "RSA PUBLIC KEY" (PKCS#1) or CERTIFICATE PEM block.
func ParsePublicKeyPEM(b []byte) (*rsa.PublicKey, error) {
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil, errors.New("mosipcrypto: no public key PEM block found")
		}
		switch blk.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("mosipcrypto: parse public key: %w", err)
			}
			rk, ok := k.(*rsa.PublicKey)
			if !ok {
				return nil, fmt.Errorf("mosipcrypto: public key is %T, not RSA", k)
			}
			return rk, nil
		case "RSA PUBLIC KEY":
			k, err := x509.ParsePKCS1PublicKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("mosipcrypto: parse PKCS#1 public key: %w", err)
			}
			return k, nil
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("mosipcrypto: parse certificate: %w", err)
			}
			rk, ok := c.PublicKey.(*rsa.PublicKey)
			if !ok {
				return nil, fmt.Errorf("mosipcrypto: certificate key is %T, not RSA", c.PublicKey)
			}
			return rk, nil
		}
	}
}
