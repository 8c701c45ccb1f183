// Package keyfile reads and writes RSA keys and X.509 certificates as PEM
// text and files: the hub's token signing key, its partner key and
// certificate, partners' certificates and published public keys. It
// imports only the standard library, so that the hub, the adapters and
// the test harness share one copy (adapters may import nothing of the
// hub's; the hub may import adapters).
package keyfile

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
)

// ParseRSAPrivateKey reads the first RSA private key of PEM text, in
// PKCS#1 ("RSA PRIVATE KEY") or PKCS#8 ("PRIVATE KEY") form; other blocks
// (a certificate before the key) are skipped. Encrypted keys are refused.
func ParseRSAPrivateKey(b []byte) (*rsa.PrivateKey, error) {
	for blk := range blocks(b) {
		if _, encrypted := blk.Headers["Proc-Type"]; encrypted || blk.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("encrypted PEM private keys are not supported")
		}
		switch blk.Type {
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse PKCS#1 private key: %w", err)
			}
			return k, nil
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse PKCS#8 private key: %w", err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("private key is %T, an RSA key is required", k)
			}
			return rk, nil
		}
	}
	return nil, errors.New("no RSA private key PEM block found")
}

// blocks yields the PEM blocks of b, in order.
func blocks(b []byte) iter.Seq[*pem.Block] {
	return func(yield func(*pem.Block) bool) {
		for {
			blk, rest := pem.Decode(b)
			if blk == nil || !yield(blk) {
				return
			}
			b = rest
		}
	}
}

// ParseCertificate reads the first CERTIFICATE block of PEM text.
func ParseCertificate(b []byte) (*x509.Certificate, error) {
	for blk := range blocks(b) {
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		return c, nil
	}
	return nil, errors.New("no CERTIFICATE PEM block found")
}

// ParseRSAPublicKey reads the first RSA public key of PEM text: a "PUBLIC
// KEY" (PKIX), "RSA PUBLIC KEY" (PKCS#1) or CERTIFICATE block.
func ParseRSAPublicKey(b []byte) (*rsa.PublicKey, error) {
	for blk := range blocks(b) {
		var pub any
		var err error
		switch blk.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(blk.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(blk.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(blk.Bytes); err == nil {
				pub = c.PublicKey
			}
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", blk.Type, err)
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key is %T, an RSA key is required", pub)
		}
		return rk, nil
	}
	return nil, errors.New("no public key PEM block found")
}

// EncodePrivateKey encodes k as a PKCS#8 "PRIVATE KEY" PEM block.
func EncodePrivateKey(k *rsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil { // only for invalid keys; fall back to PKCS#1
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// EncodeCertificate encodes c as a CERTIFICATE PEM block.
func EncodeCertificate(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// EncodePublicKey encodes pub as a PKIX "PUBLIC KEY" PEM block.
func EncodePublicKey(pub *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ReadRSAPrivateKey reads an RSA private key PEM file (ParseRSAPrivateKey).
// A missing file is an error wrapping fs.ErrNotExist.
func ReadRSAPrivateKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	k, err := ParseRSAPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	return k, nil
}

// ReadCertificate reads a certificate PEM file (ParseCertificate). A
// missing file is an error wrapping fs.ErrNotExist.
func ReadCertificate(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	c, err := ParseCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", path, err)
	}
	return c, nil
}

// LoadOrCreateRSAKey reads an RSA private key PEM file, creating it with a
// new key of bits bits when it does not exist (mode 0600, folder 0700,
// written atomically: a temporary file in the same folder, synced, then
// linked into place, so no partly written key is ever there). If another
// process created the file first, that key wins and is returned.
func LoadOrCreateRSAKey(path string, bits int) (*rsa.PrivateKey, error) {
	priv, err := ReadRSAPrivateKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return priv, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key folder: %w", err)
	}
	if priv, err = rsa.GenerateKey(rand.Reader, bits); err != nil {
		return nil, fmt.Errorf("generate RSA key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create temporary key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op once linked and removed, or renamed
	_, err = tmp.Write(EncodePrivateKey(priv))
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write key file: %w", err)
	}
	// Link refuses to replace an existing file, so two processes starting
	// at once agree on one key. Fall back to rename where hard links are
	// not supported.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ReadRSAPrivateKey(path)
		}
		if err := os.Rename(tmpName, path); err != nil {
			return nil, fmt.Errorf("move key file into place: %w", err)
		}
	}
	syncDir(dir)
	return priv, nil
}

// syncDir makes a new directory entry durable; failures are ignored (not
// every platform can sync a directory).
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
