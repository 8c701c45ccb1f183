package mosipcrypto

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// idaNonceLen is the AES-GCM nonce of IDA requests (16 B, appended after the tag).
const idaNonceLen = 16

// IDARequest holds the encrypted fields of a MOSIP IDA auth request
// (JSON names request, requestSessionKey, requestHMAC, thumbprint).
type IDARequest struct{ Request, RequestSessionKey, RequestHMAC, Thumbprint string }

// EncryptIDARequest encrypts authData for the IDA partner certificate:
// Request = base64url(AES-256-GCM(k, 16 B nonce) as ciphertext||tag||nonce),
// RequestSessionKey = base64url(RSA-OAEP-SHA256(k)), RequestHMAC = the same
// AES-GCM over the uppercase hex SHA-256 of authData, Thumbprint =
// base64url(SHA-256 of the certificate DER); all padded.
func EncryptIDARequest(idaCert *x509.Certificate, authData []byte) (IDARequest, error) {
	if idaCert == nil {
		return IDARequest{}, errors.New("mosipcrypto: nil IDA certificate")
	}
	pub, ok := idaCert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return IDARequest{}, fmt.Errorf("mosipcrypto: IDA certificate key is %T, not RSA", idaCert.PublicKey)
	}
	key := make([]byte, aesKeyLen)
	if _, err := rand.Read(key); err != nil {
		return IDARequest{}, fmt.Errorf("mosipcrypto: random key: %w", err)
	}
	req, err := idaSeal(key, authData)
	if err != nil {
		return IDARequest{}, err
	}
	hmac, err := idaSeal(key, []byte(hashHex(authData)))
	if err != nil {
		return IDARequest{}, err
	}
	sk, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, key, nil)
	if err != nil {
		return IDARequest{}, fmt.Errorf("mosipcrypto: RSA-OAEP: %w", err)
	}
	enc := base64.URLEncoding.EncodeToString
	return IDARequest{Request: enc(req), RequestSessionKey: enc(sk), RequestHMAC: enc(hmac), Thumbprint: enc(Thumbprint(idaCert))}, nil
}

// DecryptIDARequest decrypts r.Request with priv and checks that
// r.RequestHMAC decrypts to the uppercase hex SHA-256 of the result.
// The thumbprint is not checked here (the caller may compare it).
func DecryptIDARequest(priv *rsa.PrivateKey, r IDARequest) ([]byte, error) {
	if priv == nil {
		return nil, errors.New("mosipcrypto: nil private key")
	}
	sk, err := DecodeBase64(r.RequestSessionKey)
	if err != nil {
		return nil, fmt.Errorf("%w: requestSessionKey: %w", ErrMalformed, err)
	}
	key, err := rsa.DecryptOAEP(sha256.New(), nil, priv, sk, nil)
	if err != nil {
		return nil, fmt.Errorf("mosipcrypto: RSA-OAEP decrypt of requestSessionKey: %w", err)
	}
	if len(key) != aesKeyLen {
		return nil, fmt.Errorf("%w: session key is %d bytes, want %d", ErrMalformed, len(key), aesKeyLen)
	}
	data, err := idaOpen(key, r.Request, "request")
	if err != nil {
		return nil, err
	}
	mac, err := idaOpen(key, r.RequestHMAC, "requestHMAC")
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(mac, []byte(hashHex(data))) != 1 {
		return nil, errors.New("mosipcrypto: requestHMAC does not match the request")
	}
	return data, nil
}

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return strings.ToUpper(hex.EncodeToString(s[:]))
}

func idaSeal(key, plain []byte) ([]byte, error) {
	g, err := newGCM(key, idaNonceLen)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, idaNonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("mosipcrypto: random nonce: %w", err)
	}
	return append(g.Seal(nil, nonce, plain, nil), nonce...), nil
}

func idaOpen(key []byte, encoded, field string) ([]byte, error) {
	raw, err := DecodeBase64(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, field, err)
	}
	if len(raw) < gcmTagLen+idaNonceLen {
		return nil, fmt.Errorf("%w: %s is %d bytes, too short", ErrMalformed, field, len(raw))
	}
	g, err := newGCM(key, idaNonceLen)
	if err != nil {
		return nil, err
	}
	n := len(raw) - idaNonceLen
	pt, err := g.Open(nil, raw[n:], raw[:n], nil)
	if err != nil {
		return nil, fmt.Errorf("mosipcrypto: AES-GCM open of %s: %w", field, err)
	}
	return pt, nil
}
