package auth

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// secretBytes is the entropy of a generated client secret.
const secretBytes = 32

// maxSecretLen is the longest secret bcrypt can hash without truncating.
const maxSecretLen = 72

// NewSecret returns a new random client secret: 32 bytes from crypto/rand,
// base64url without padding (43 characters).
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: random secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HashSecret returns a salted bcrypt hash of secret at bcrypt.DefaultCost.
func HashSecret(secret string) (string, error) {
	return HashSecretCost(secret, bcrypt.DefaultCost)
}

// HashSecretCost returns a salted bcrypt hash of secret at the given cost
// (0 = bcrypt.DefaultCost). Secrets longer than 72 bytes are refused, as
// bcrypt would silently ignore the rest.
func HashSecretCost(secret string, cost int) (string, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	if secret == "" {
		return "", fmt.Errorf("auth: empty secret")
	}
	if len(secret) > maxSecretLen {
		return "", fmt.Errorf("auth: secret longer than %d bytes", maxSecretLen)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(secret), cost)
	if err != nil {
		return "", fmt.Errorf("auth: hash secret: %w", err)
	}
	return string(h), nil
}

// CheckSecret reports whether secret matches the bcrypt hash. The
// comparison is constant-time in the secret; an empty, over-long or
// malformed input is simply not a match.
func CheckSecret(hash, secret string) bool {
	if hash == "" || secret == "" || len(secret) > maxSecretLen {
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(secret)) == nil
}
