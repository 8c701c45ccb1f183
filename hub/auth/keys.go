package auth

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/crvshub/crvshub/adapters/keyfile"
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
		priv, err := keyfile.ReadRSAPrivateKey(pemFile)
		if err != nil {
			return nil, fmt.Errorf("auth: signing %w", err)
		}
		return NewKeyPair(priv)
	}
	if dataDir == "" {
		return nil, errors.New("auth: no data folder and no key file given")
	}
	priv, err := keyfile.LoadOrCreateRSAKey(filepath.Join(dataDir, filepath.FromSlash(DefaultKeyFile)), KeyBits)
	if err != nil {
		return nil, fmt.Errorf("auth: signing %w", err)
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
