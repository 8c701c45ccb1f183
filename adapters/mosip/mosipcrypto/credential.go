package mosipcrypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// VER_R2 layout constants (MOSIP keymanager; research §1 item 11).
const (
	versionR2   = "VER_R2"
	KeySplitter = "#KEY_SPLITTER#"
	thumbLen    = 32
	aesKeyLen   = 32
	aadLen      = 32
	gcmIVLen    = 12
	gcmTagLen   = 16
)

// ErrMalformed marks input that does not have the expected MOSIP layout.
var ErrMalformed = errors.New("mosipcrypto: malformed input")

// EncryptCredential VER_R2-encrypts plaintext to pub. The thumbprint field is
// the SHA-256 of the public key's PKIX DER (use EncryptCredentialForCert when
// the recipient certificate is known). The result is URL-safe base64 with
// padding, as MOSIP's CryptoUtil.encodeToURLSafeBase64 produces.
func EncryptCredential(pub *rsa.PublicKey, plaintext []byte) (string, error) {
	if pub == nil {
		return "", errors.New("mosipcrypto: nil public key")
	}
	tp, err := publicKeyThumbprint(pub)
	if err != nil {
		return "", err
	}
	return encryptR2(pub, tp, plaintext)
}

// EncryptCredentialForCert is EncryptCredential with the thumbprint of the
// recipient certificate (SHA-256 of its DER), as MOSIP does.
func EncryptCredentialForCert(cert *x509.Certificate, plaintext []byte) (string, error) {
	if cert == nil {
		return "", errors.New("mosipcrypto: nil certificate")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return "", fmt.Errorf("mosipcrypto: certificate key is %T, not RSA", cert.PublicKey)
	}
	return encryptR2(pub, Thumbprint(cert), plaintext)
}

func encryptR2(pub *rsa.PublicKey, thumb, plaintext []byte) (string, error) {
	key := make([]byte, aesKeyLen)
	aad := make([]byte, aadLen)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("mosipcrypto: random key: %w", err)
	}
	if _, err := rand.Read(aad); err != nil {
		return "", fmt.Errorf("mosipcrypto: random aad: %w", err)
	}
	encKey, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, key, nil)
	if err != nil {
		return "", fmt.Errorf("mosipcrypto: RSA-OAEP: %w", err)
	}
	gcm, err := newGCM(key, gcmIVLen)
	if err != nil {
		return "", err
	}
	ct := gcm.Seal(nil, aad[:gcmIVLen], plaintext, aad)
	var b bytes.Buffer
	b.Grow(len(versionR2) + thumbLen + len(encKey) + len(KeySplitter) + aadLen + len(ct))
	b.WriteString(versionR2)
	b.Write(thumb)
	b.Write(encKey)
	b.WriteString(KeySplitter)
	b.Write(aad)
	b.Write(ct)
	return base64.URLEncoding.EncodeToString(b.Bytes()), nil
}

// DecryptCredential reverses EncryptCredential. encoded may use the standard
// or URL-safe base64 alphabet, with or without padding. The thumbprint is not
// required to match (MOSIP's consumers ignore it); everything else is checked.
func DecryptCredential(priv *rsa.PrivateKey, encoded string) ([]byte, error) {
	if priv == nil {
		return nil, errors.New("mosipcrypto: nil private key")
	}
	raw, err := DecodeBase64(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: credential base64: %w", ErrMalformed, err)
	}
	k := priv.Size()
	keyPart := len(versionR2) + thumbLen + k
	minLen := keyPart + len(KeySplitter) + aadLen + gcmTagLen
	if len(raw) < minLen {
		return nil, fmt.Errorf("%w: credential is %d bytes, need at least %d for a %d-bit key", ErrMalformed, len(raw), minLen, k*8)
	}
	if string(raw[:len(versionR2)]) != versionR2 {
		return nil, fmt.Errorf("%w: credential does not start with %q", ErrMalformed, versionR2)
	}
	if string(raw[keyPart:keyPart+len(KeySplitter)]) != KeySplitter {
		return nil, fmt.Errorf("%w: %s not found after the %d-byte key part", ErrMalformed, KeySplitter, keyPart)
	}
	encKey := raw[len(versionR2)+thumbLen : keyPart]
	key, err := rsa.DecryptOAEP(sha256.New(), nil, priv, encKey, nil)
	if err != nil {
		return nil, fmt.Errorf("mosipcrypto: RSA-OAEP decrypt of the session key: %w", err)
	}
	if len(key) != aesKeyLen {
		return nil, fmt.Errorf("%w: session key is %d bytes, want %d", ErrMalformed, len(key), aesKeyLen)
	}
	content := raw[keyPart+len(KeySplitter):]
	aad, ct := content[:aadLen], content[aadLen:]
	gcm, err := newGCM(key, gcmIVLen)
	if err != nil {
		return nil, err
	}
	pt, err := gcm.Open(nil, aad[:gcmIVLen], ct, aad)
	if err != nil {
		return nil, fmt.Errorf("mosipcrypto: AES-GCM open of the credential: %w", err)
	}
	return pt, nil
}

// DecodeBase64 accepts standard or URL-safe base64, padded or not, ignoring
// surrounding whitespace.
func DecodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return b, nil
}

func newGCM(key []byte, nonceSize int) (cipher.AEAD, error) {
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("mosipcrypto: AES: %w", err)
	}
	g, err := cipher.NewGCMWithNonceSize(blk, nonceSize)
	if err != nil {
		return nil, fmt.Errorf("mosipcrypto: GCM: %w", err)
	}
	return g, nil
}
