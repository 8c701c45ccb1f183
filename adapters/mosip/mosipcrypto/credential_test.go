package mosipcrypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestCredentialRoundTrip(t *testing.T) {
	k := testKeys(t)
	for _, pt := range [][]byte{nil, []byte("x"), []byte(`{"credentialSubject":{"VID":"1234567890"}}`), bytes.Repeat([]byte("a"), 100000)} {
		enc, err := EncryptCredential(&k[0].key.PublicKey, pt)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecryptCredential(k[0].key, enc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("round trip of %d bytes gave %d bytes", len(pt), len(got))
		}
	}
}

// TestCredentialLayout decodes the output independently of DecryptCredential
// and checks every part of the VER_R2 layout.
func TestCredentialLayout(t *testing.T) {
	k := testKeys(t)
	pt := []byte("hello mosip")
	for name, enc := range map[string]func() (string, []byte, error){
		"public key": func() (string, []byte, error) {
			s, err := EncryptCredential(&k[0].key.PublicKey, pt)
			tp, _ := publicKeyThumbprint(&k[0].key.PublicKey)
			return s, tp, err
		},
		"certificate": func() (string, []byte, error) {
			s, err := EncryptCredentialForCert(k[0].cert, pt)
			d := sha256.Sum256(k[0].cert.Raw)
			return s, d[:], err
		},
	} {
		t.Run(name, func(t *testing.T) {
			s, wantThumb, err := enc()
			if err != nil {
				t.Fatal(err)
			}
			raw, err := base64.URLEncoding.DecodeString(s) // URL-safe, padded, like MOSIP
			if err != nil {
				t.Fatalf("not padded URL-safe base64: %v", err)
			}
			keyPart, content, ok := bytes.Cut(raw, []byte("#KEY_SPLITTER#"))
			if !ok {
				t.Fatal("no #KEY_SPLITTER#")
			}
			if string(keyPart[:6]) != "VER_R2" {
				t.Fatalf("prefix %q", keyPart[:6])
			}
			if !bytes.Equal(keyPart[6:38], wantThumb) {
				t.Fatal("thumbprint is not SHA-256 of the DER")
			}
			encKey := keyPart[38:]
			if len(encKey) != 256 {
				t.Fatalf("RSA part is %d bytes, want 256", len(encKey))
			}
			aesKey, err := rsa.DecryptOAEP(sha256.New(), nil, k[0].key, encKey, nil)
			if err != nil || len(aesKey) != 32 {
				t.Fatalf("session key: %v, %d bytes", err, len(aesKey))
			}
			if len(content) != 32+len(pt)+16 {
				t.Fatalf("content is %d bytes, want aad 32 + %d + tag 16", len(content), len(pt))
			}
			aad := content[:32]
			blk, _ := aes.NewCipher(aesKey)
			gcm, _ := cipher.NewGCM(blk)
			got, err := gcm.Open(nil, aad[:12], content[32:], aad) // IV = first 12 B of the AAD
			if err != nil {
				t.Fatalf("AES-GCM with IV = aad[:12]: %v", err)
			}
			if !bytes.Equal(got, pt) {
				t.Fatalf("got %q", got)
			}
		})
	}
}

func TestCredentialBase64Alphabets(t *testing.T) {
	k := testKeys(t)
	pt := []byte("alphabet check: some bytes that yield +/ and padding??>>")
	// find an encoding whose base64 has both '-' or '_' and padding, then convert.
	s, err := EncryptCredential(&k[0].key.PublicKey, pt)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.URLEncoding.DecodeString(s)
	for name, enc := range map[string]string{
		"url padded":   base64.URLEncoding.EncodeToString(raw),
		"url raw":      base64.RawURLEncoding.EncodeToString(raw),
		"std padded":   base64.StdEncoding.EncodeToString(raw),
		"std raw":      base64.RawStdEncoding.EncodeToString(raw),
		"with newline": base64.StdEncoding.EncodeToString(raw) + "\n",
	} {
		got, err := DecryptCredential(k[0].key, enc)
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCredentialTamperAndMalformed(t *testing.T) {
	k := testKeys(t)
	s, err := EncryptCredential(&k[0].key.PublicKey, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.URLEncoding.DecodeString(s)
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 0x01
		return base64.URLEncoding.EncodeToString(b)
	}
	splitAt := 6 + 32 + 256
	cases := []struct {
		name      string
		in        string
		key       *rsa.PrivateKey
		malformed bool
	}{
		{"version", flip(0), k[0].key, true},
		{"rsa part", flip(6 + 32 + 10), k[0].key, false},
		{"splitter", flip(splitAt + 3), k[0].key, true},
		{"aad", flip(splitAt + 14 + 20), k[0].key, false},
		{"iv", flip(splitAt + 14 + 2), k[0].key, false},
		{"ciphertext", flip(splitAt + 14 + 32 + 1), k[0].key, false},
		{"tag", flip(len(raw) - 1), k[0].key, false},
		{"wrong key", s, k[1].key, false},
		{"empty", "", k[0].key, true},
		{"garbage base64", "!!!not base64***", k[0].key, true},
		{"truncated before splitter", base64.URLEncoding.EncodeToString(raw[:100]), k[0].key, true},
		{"truncated content", base64.URLEncoding.EncodeToString(raw[:splitAt+14+40]), k[0].key, true},
		{"truncated tag", base64.URLEncoding.EncodeToString(raw[:len(raw)-3]), k[0].key, false},
		{"extra byte", base64.URLEncoding.EncodeToString(append(bytes.Clone(raw), 0)), k[0].key, false},
		{"nil key", s, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecryptCredential(c.key, c.in)
			if err == nil {
				t.Fatalf("no error, got %q", got)
			}
			if c.malformed && !errors.Is(err, ErrMalformed) {
				t.Fatalf("want ErrMalformed, got %v", err)
			}
		})
	}
}

func TestEncryptCredentialBadInput(t *testing.T) {
	if _, err := EncryptCredential(nil, []byte("x")); err == nil {
		t.Fatal("nil key accepted")
	}
	if _, err := EncryptCredentialForCert(nil, []byte("x")); err == nil {
		t.Fatal("nil cert accepted")
	}
}

func FuzzDecryptCredential(f *testing.F) {
	k := testKeys(f)
	s, err := EncryptCredential(&k[0].key.PublicKey, []byte(`{"id":"x"}`))
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := base64.URLEncoding.DecodeString(s)
	f.Add(s)
	f.Add("")
	f.Add("VER_R2")
	f.Add(base64.StdEncoding.EncodeToString(raw[:300]))
	f.Add(base64.StdEncoding.EncodeToString([]byte("VER_R2" + strings.Repeat("x", 288) + "#KEY_SPLITTER#" + strings.Repeat("y", 48))))
	f.Fuzz(func(t *testing.T, in string) {
		pt, err := DecryptCredential(k[0].key, in)
		if err == nil && in != s && !bytes.Equal(pt, []byte(`{"id":"x"}`)) {
			t.Fatalf("garbage decrypted to %q", pt)
		}
	})
}
