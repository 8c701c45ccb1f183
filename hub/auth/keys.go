package auth

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// KeyBits is the size of the RSA key LoadOrCreateKey creates.
const KeyBits = 2048

// minKeyBits is the smallest RSA key LoadOrCreateKey accepts from a file.
const minKeyBits = 2048

// DefaultKeyFile is where LoadOrCreateKey keeps the signing key, relative
// to the data folder.
const DefaultKeyFile = "keys/jwt-signing.pem"

// KeyPair is the hub's token signing key and its published public forms.
type KeyPair struct {
	// Private is the RSA signing key.
	Private *rsa.PrivateKey
	// JWK is the private key as a jwk.Key with kid and alg RS256 set; sign
	// with it so that tokens carry the kid header.
	JWK jwk.Key
	// Public is the public key as a jwk.Key (same kid, alg RS256); verify
	// with it.
	Public jwk.Key
	// KeyID is the kid: the RFC 7638 SHA-256 thumbprint, base64url.
	KeyID string
	// PublicPEM is the public key as a PEM "PUBLIC KEY" (PKIX) block, as
	// OpenCRVS serves it at GET /.well-known.
	PublicPEM []byte
	// JWKS is the public JSON Web Key Set document.
	JWKS []byte
}

// LoadOrCreateKey returns the signing key pair. When pemFile is not empty
// the RSA private key is read from it (PKCS#1 "RSA PRIVATE KEY" or PKCS#8
// "PRIVATE KEY" PEM) and nothing is created. Otherwise the key is read from
// <dataDir>/keys/jwt-signing.pem, which is created (mode 0600, folder 0700,
// written atomically) with a new RSA key on first start.
func LoadOrCreateKey(dataDir string, pemFile string) (*KeyPair, error) {
	if pemFile != "" {
		priv, err := readKeyFile(pemFile)
		if err != nil {
			return nil, err
		}
		return NewKeyPair(priv)
	}
	if dataDir == "" {
		return nil, errors.New("auth: no data folder and no key file given")
	}
	path := filepath.Join(dataDir, filepath.FromSlash(DefaultKeyFile))
	priv, err := readKeyFile(path)
	if err == nil {
		return NewKeyPair(priv)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	priv, err = createKeyFile(path)
	if err != nil {
		return nil, err
	}
	return NewKeyPair(priv)
}

// NewKeyPair derives the jwk keys, kid, public PEM and JWKS from an RSA
// private key.
func NewKeyPair(priv *rsa.PrivateKey) (*KeyPair, error) {
	if priv == nil {
		return nil, errors.New("auth: nil private key")
	}
	if err := priv.Validate(); err != nil {
		return nil, fmt.Errorf("auth: invalid RSA key: %w", err)
	}
	if bits := priv.N.BitLen(); bits < minKeyBits {
		return nil, fmt.Errorf("auth: RSA key has %d bits, at least %d are required", bits, minKeyBits)
	}
	privJWK, err := jwk.FromRaw(priv)
	if err != nil {
		return nil, fmt.Errorf("auth: private jwk: %w", err)
	}
	pubJWK, err := jwk.FromRaw(&priv.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("auth: public jwk: %w", err)
	}
	tp, err := pubJWK.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("auth: key thumbprint: %w", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	for _, k := range []jwk.Key{privJWK, pubJWK} {
		if err := k.Set(jwk.KeyIDKey, kid); err != nil {
			return nil, fmt.Errorf("auth: set kid: %w", err)
		}
		if err := k.Set(jwk.AlgorithmKey, jwa.RS256); err != nil {
			return nil, fmt.Errorf("auth: set alg: %w", err)
		}
	}
	if err := pubJWK.Set(jwk.KeyUsageKey, jwk.ForSignature); err != nil {
		return nil, fmt.Errorf("auth: set use: %w", err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("auth: marshal public key: %w", err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pubJWK); err != nil {
		return nil, fmt.Errorf("auth: jwks: %w", err)
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("auth: marshal jwks: %w", err)
	}
	return &KeyPair{
		Private:   priv,
		JWK:       privJWK,
		Public:    pubJWK,
		KeyID:     kid,
		PublicPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}),
		JWKS:      jwks,
	}, nil
}

// ParsePrivateKeyPEM reads an RSA private key from PEM bytes in PKCS#1 or
// PKCS#8 form. Encrypted PEM is not supported.
func ParsePrivateKeyPEM(data []byte) (*rsa.PrivateKey, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no RSA private key PEM block found")
		}
		if _, encrypted := block.Headers["Proc-Type"]; encrypted {
			return nil, errors.New("encrypted PEM private keys are not supported")
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse PKCS#1 private key: %w", err)
			}
			return k, nil
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse PKCS#8 private key: %w", err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("private key is %T, an RSA key is required", k)
			}
			return rk, nil
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted PEM private keys are not supported")
		}
		// Skip other blocks (e.g. a certificate before the key).
	}
}

func readKeyFile(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read signing key: %w", err)
	}
	k, err := ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("auth: signing key %s: %w", path, err)
	}
	return k, nil
}

// createKeyFile generates a key and stores it at path without ever
// leaving a partly written file there: it writes a temporary file in the
// same folder, syncs it, and links it into place. If another process
// created the file first, that key wins and is returned.
func createKeyFile(path string) (*rsa.PrivateKey, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: create key folder: %w", err)
	}
	priv, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return nil, fmt.Errorf("auth: generate RSA key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("auth: marshal private key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})

	tmp, err := os.CreateTemp(dir, ".jwt-signing-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("auth: create temporary key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op once linked and removed, or renamed
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("auth: chmod key file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("auth: write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("auth: sync key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("auth: close key file: %w", err)
	}
	// Link refuses to replace an existing file, so two processes starting
	// at once agree on one key. Fall back to rename where hard links are
	// not supported.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKeyFile(path)
		}
		if err := os.Rename(tmpName, path); err != nil {
			return nil, fmt.Errorf("auth: move key file into place: %w", err)
		}
	}
	syncDir(dir)
	return priv, nil
}

// syncDir makes the new directory entry durable; failures are ignored
// (not every platform can sync a directory).
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// LoadOrCreateRSAKey reads an RSA private key PEM file, creating it
// (mode 0600, folder 0700, written atomically) with a new key when it does
// not exist. Partner keys (e.g. the key MOSIP encrypts credentials to) use
// it.
func LoadOrCreateRSAKey(path string) (*rsa.PrivateKey, error) {
	priv, err := readKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return priv, err
	}
	return createKeyFile(path)
}
