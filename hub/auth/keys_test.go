package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

var (
	keysOnce   sync.Once
	sharedKey  *KeyPair
	sharedKey2 *KeyPair
	keysErr    error
)

// testKeys answers two distinct key pairs, generated once per test run.
func testKeys(t *testing.T) (*KeyPair, *KeyPair) {
	t.Helper()
	keysOnce.Do(func() {
		for _, dst := range []**KeyPair{&sharedKey, &sharedKey2} {
			priv, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				keysErr = err
				return
			}
			if *dst, err = NewKeyPair(priv); err != nil {
				keysErr = err
				return
			}
		}
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return sharedKey, sharedKey2
}

func TestLoadOrCreateKeyCreatesOnceAndReloads(t *testing.T) {
	dir := t.TempDir()
	kp1, err := LoadOrCreateKey(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "keys", "jwt-signing.pem")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode = %o, want 600", got)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if got := di.Mode().Perm(); got != 0o700 {
		t.Errorf("key folder mode = %o, want 700", got)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("key folder holds %d entries, want only the key (no temp files)", len(entries))
	}
	if bits := kp1.Private.N.BitLen(); bits < 2048 {
		t.Errorf("key has %d bits", bits)
	}

	kp2, err := LoadOrCreateKey(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if !kp1.Private.Equal(kp2.Private) {
		t.Error("second call answered a different key")
	}
	if kp1.KeyID != kp2.KeyID || !bytes.Equal(kp1.PublicPEM, kp2.PublicPEM) || !bytes.Equal(kp1.JWKS, kp2.JWKS) {
		t.Error("second call answered a different kid, PEM or JWKS")
	}
}

func TestLoadOrCreateKeyConcurrentFirstStart(t *testing.T) {
	dir := t.TempDir()
	const n = 3
	kids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			kp, err := LoadOrCreateKey(dir, "")
			errs[i] = err
			if err == nil {
				kids[i] = kp.KeyID
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if kids[i] != kids[0] {
			t.Fatalf("concurrent starts disagree on the key: %v", kids)
		}
	}
	kp, err := LoadOrCreateKey(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if kp.KeyID != kids[0] {
		t.Fatal("the key on disk is not the one the starters answered")
	}
}

func TestLoadOrCreateKeyFromPEMFile(t *testing.T) {
	kp, _ := testKeys(t)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(kp.Private)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	pubBlock, _ := pem.Decode(kp.PublicPEM)

	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"pkcs1", enc("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(kp.Private)), ""},
		{"pkcs8", enc("PRIVATE KEY", pkcs8), ""},
		{"pkcs8 after another block", append(enc("PUBLIC KEY", pubBlock.Bytes), enc("PRIVATE KEY", pkcs8)...), ""},
		{"ec key", enc("PRIVATE KEY", ecDER), "RSA key is required"},
		{"small rsa key", enc("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)), "at least 2048"},
		{"encrypted", enc("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}), "encrypted"},
		{"not pem", []byte("hello"), "no RSA private key"},
		{"public key only", kp.PublicPEM, "no RSA private key"},
		{"corrupt der", enc("RSA PRIVATE KEY", []byte{1, 2, 3}), "PKCS#1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			file := filepath.Join(t.TempDir(), "key.pem")
			if err := os.WriteFile(file, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadOrCreateKey(dataDir, file)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Private.Equal(kp.Private) || got.KeyID != kp.KeyID {
				t.Error("loaded key differs from the one written")
			}
			if _, err := os.Stat(filepath.Join(dataDir, "keys")); !os.IsNotExist(err) {
				t.Error("a key file was given, but the data folder was written to")
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		if _, err := LoadOrCreateKey(t.TempDir(), filepath.Join(t.TempDir(), "nope.pem")); err == nil {
			t.Fatal("want an error for a missing key file")
		}
	})
	t.Run("corrupt key in data folder is not replaced", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "keys", "jwt-signing.pem")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateKey(dir, ""); err == nil {
			t.Fatal("want an error for a corrupt key file")
		}
		if b, _ := os.ReadFile(path); string(b) != "garbage" {
			t.Fatal("corrupt key file was overwritten")
		}
	})
}

func TestKeyPairPublicForms(t *testing.T) {
	kp, _ := testKeys(t)

	// kid is the RFC 7638 thumbprint, base64url, 43 characters.
	if len(kp.KeyID) != 43 {
		t.Errorf("kid %q is not a base64url SHA-256 thumbprint", kp.KeyID)
	}

	block, rest := pem.Decode(kp.PublicPEM)
	if block == nil || block.Type != "PUBLIC KEY" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("PublicPEM is not one PUBLIC KEY block: %q", kp.PublicPEM)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !kp.Private.PublicKey.Equal(pub) {
		t.Error("PublicPEM holds another key")
	}

	set, err := jwk.Parse(kp.JWKS)
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 1 {
		t.Fatalf("JWKS has %d keys, want 1", set.Len())
	}
	k, _ := set.Key(0)
	if k.KeyID() != kp.KeyID || k.Algorithm() != jwa.RS256 || k.KeyUsage() != string(jwk.ForSignature) {
		t.Errorf("JWKS key kid=%q alg=%q use=%q", k.KeyID(), k.Algorithm(), k.KeyUsage())
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(kp.JWKS, &doc); err != nil {
		t.Fatal(err)
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		if _, ok := doc.Keys[0][private]; ok {
			t.Errorf("JWKS leaks private member %q", private)
		}
	}
}
