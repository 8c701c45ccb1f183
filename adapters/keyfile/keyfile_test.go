package keyfile

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var (
	keysOnce sync.Once
	key      *rsa.PrivateKey
	cert     *x509.Certificate // of another key
	keysErr  error
)

func testKeys(t *testing.T) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	keysOnce.Do(func() {
		if key, keysErr = rsa.GenerateKey(rand.Reader, 2048); keysErr != nil {
			return
		}
		var other *rsa.PrivateKey
		if other, keysErr = rsa.GenerateKey(rand.Reader, 2048); keysErr != nil {
			return
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		var der []byte
		if der, keysErr = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &other.PublicKey, other); keysErr != nil {
			return
		}
		cert, keysErr = x509.ParseCertificate(der)
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return key, cert
}

func TestPEM(t *testing.T) {
	k, c := testKeys(t)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	for name, b := range map[string][]byte{
		"pkcs8":              EncodePrivateKey(k),
		"pkcs1":              pkcs1,
		"after a cert block": append(EncodeCertificate(c), EncodePrivateKey(k)...),
	} {
		got, err := ParseRSAPrivateKey(b)
		if err != nil || !got.Equal(k) {
			t.Errorf("%s: %v", name, err)
		}
	}
	got, err := ParseCertificate(append(EncodePrivateKey(k), EncodeCertificate(c)...))
	if err != nil || !got.Equal(c) {
		t.Fatalf("certificate: %v", err)
	}
	pubPEM, err := EncodePublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1Pub := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.PublicKey)})
	for name, tc := range map[string]struct {
		b    []byte
		want *rsa.PublicKey
	}{"pkix": {pubPEM, &k.PublicKey}, "pkcs1": {pkcs1Pub, &k.PublicKey}, "cert": {EncodeCertificate(c), c.PublicKey.(*rsa.PublicKey)}} {
		pub, err := ParseRSAPublicKey(tc.b)
		if err != nil || !pub.Equal(tc.want) {
			t.Errorf("public %s: %v", name, err)
		}
	}
}

func TestPEMRejects(t *testing.T) {
	bad := [][]byte{nil, []byte("garbage"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1}}),
		pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}})}
	for i, b := range bad {
		if _, err := ParseRSAPrivateKey(b); err == nil {
			t.Errorf("private %d accepted", i)
		}
	}
	for i, b := range [][]byte{nil, []byte("x"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})} {
		if _, err := ParseCertificate(b); err == nil {
			t.Errorf("certificate %d accepted", i)
		}
		if _, err := ParseRSAPublicKey(b); err == nil {
			t.Errorf("public %d accepted", i)
		}
	}
}

// TestLoadOrCreateRSAKey: the first call creates the file (0600, folder
// 0700), the next one reads the same key back; a file that is not a key
// is an error, never replaced.
func TestLoadOrCreateRSAKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	path := filepath.Join(dir, "partner.pem")
	k1, err := LoadOrCreateRSAKey(path, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v, want mode 0600", fi.Mode(), err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("key folder: %v %v, want mode 0700", fi.Mode(), err)
	}
	k2, err := LoadOrCreateRSAKey(path, 2048)
	if err != nil || !k2.Equal(k1) {
		t.Fatalf("second load: %v (same key: %v)", err, k2 != nil && k2.Equal(k1))
	}
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateRSAKey(path, 2048); err == nil {
		t.Fatal("a file that is not a key was accepted")
	}
	if b, _ := os.ReadFile(path); string(b) != "not a key" {
		t.Fatal("a file that is not a key was replaced")
	}
}
