package mosipcrypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

const authData = `{"biometrics":[],"demographics":{"dob":"2008/02/29","name":[{"language":"eng","value":"Charles Dikkens"}]},"otp":"","timestamp":"2026-11-27T06:00:00.000Z"}`

func TestIDARequestRoundTripAndLayout(t *testing.T) {
	k := testKeys(t)
	r, err := EncryptIDARequest(k[0].cert, []byte(authData))
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecryptIDARequest(k[0].key, r)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != authData {
		t.Fatalf("got %q", got)
	}
	// Independent layout checks: padded base64url fields.
	dec := func(name, s string) []byte {
		b, err := base64.URLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("%s not padded base64url: %v", name, err)
		}
		return b
	}
	tp := sha256.Sum256(k[0].cert.Raw)
	if !bytes.Equal(dec("thumbprint", r.Thumbprint), tp[:]) {
		t.Fatal("thumbprint is not SHA-256 of the cert DER")
	}
	key, err := rsa.DecryptOAEP(sha256.New(), nil, k[0].key, dec("requestSessionKey", r.RequestSessionKey), nil)
	if err != nil || len(key) != 32 {
		t.Fatalf("session key: %v (%d bytes)", err, len(key))
	}
	open := func(b []byte) []byte { // ciphertext || tag(16) || nonce(16)
		blk, _ := aes.NewCipher(key)
		g, _ := cipher.NewGCMWithNonceSize(blk, 16)
		pt, err := g.Open(nil, b[len(b)-16:], b[:len(b)-16], nil)
		if err != nil {
			t.Fatalf("layout ciphertext||tag||nonce16: %v", err)
		}
		return pt
	}
	req := dec("request", r.Request)
	if len(req) != len(authData)+32 {
		t.Fatalf("request is %d bytes, want %d", len(req), len(authData)+32)
	}
	if string(open(req)) != authData {
		t.Fatal("request plaintext differs")
	}
	sum := sha256.Sum256([]byte(authData))
	if string(open(dec("requestHMAC", r.RequestHMAC))) != strings.ToUpper(hex.EncodeToString(sum[:])) {
		t.Fatal("requestHMAC is not the uppercase hex SHA-256")
	}
}

func TestDecryptIDARequestRejects(t *testing.T) {
	k := testKeys(t)
	r, err := EncryptIDARequest(k[0].cert, []byte(authData))
	if err != nil {
		t.Fatal(err)
	}
	other, err := EncryptIDARequest(k[0].cert, []byte(`{"other":true}`))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(s string, i int) string {
		b, _ := base64.URLEncoding.DecodeString(s)
		if i < 0 {
			i += len(b)
		}
		b[i] ^= 1
		return base64.URLEncoding.EncodeToString(b)
	}
	with := func(f func(*IDARequest)) IDARequest { c := r; f(&c); return c }
	cases := []struct {
		name string
		r    IDARequest
		key  *rsa.PrivateKey
	}{
		{"wrong key", r, k[1].key},
		{"nil key", r, nil},
		{"request ciphertext", with(func(c *IDARequest) { c.Request = flip(c.Request, 0) }), k[0].key},
		{"request nonce", with(func(c *IDARequest) { c.Request = flip(c.Request, -1) }), k[0].key},
		{"hmac flipped", with(func(c *IDARequest) { c.RequestHMAC = flip(c.RequestHMAC, 3) }), k[0].key},
		{"session key flipped", with(func(c *IDARequest) { c.RequestSessionKey = flip(c.RequestSessionKey, 7) }), k[0].key},
		{"request from another message", with(func(c *IDARequest) { c.Request = other.Request; c.RequestSessionKey = other.RequestSessionKey }), k[0].key},
		{"hmac of another message", with(func(c *IDARequest) { c.RequestHMAC = other.RequestHMAC }), k[0].key},
		{"request garbage", with(func(c *IDARequest) { c.Request = "%%%" }), k[0].key},
		{"request short", with(func(c *IDARequest) { c.Request = "AAAA" }), k[0].key},
		{"hmac empty", with(func(c *IDARequest) { c.RequestHMAC = "" }), k[0].key},
		{"session key empty", with(func(c *IDARequest) { c.RequestSessionKey = "" }), k[0].key},
		{"all empty", IDARequest{}, k[0].key},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got, err := DecryptIDARequest(c.key, c.r); err == nil {
				t.Fatalf("accepted: %q", got)
			}
		})
	}
	if _, err := EncryptIDARequest(nil, nil); err == nil {
		t.Fatal("nil cert accepted")
	}
}
