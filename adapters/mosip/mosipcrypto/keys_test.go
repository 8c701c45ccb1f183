package mosipcrypto

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

func TestKeysPEM(t *testing.T) {
	k := testKeys(t)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k[0].key)})
	for name, b := range map[string][]byte{
		"pkcs8":              EncodePrivateKeyPEM(k[0].key),
		"pkcs1":              pkcs1,
		"after a cert block": append(EncodeCertificatePEM(k[1].cert), EncodePrivateKeyPEM(k[0].key)...),
	} {
		got, err := ParsePrivateKeyPEM(b)
		if err != nil || !got.Equal(k[0].key) {
			t.Errorf("%s: %v", name, err)
		}
	}
	c, err := ParseCertificatePEM(append(EncodePrivateKeyPEM(k[0].key), EncodeCertificatePEM(k[1].cert)...))
	if err != nil || !c.Equal(k[1].cert) {
		t.Fatalf("certificate: %v", err)
	}
	pubPEM, err := EncodePublicKeyPEM(&k[0].key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"pkix": pubPEM, "cert": EncodeCertificatePEM(k[0].cert)} {
		pub, err := ParsePublicKeyPEM(b)
		if err != nil || !pub.Equal(&k[0].key.PublicKey) {
			t.Errorf("public %s: %v", name, err)
		}
	}
	sum := sha256.Sum256(k[0].cert.Raw)
	if string(Thumbprint(k[0].cert)) != string(sum[:]) || Thumbprint(nil) != nil {
		t.Fatal("Thumbprint")
	}
}

func TestKeysPEMRejects(t *testing.T) {
	bad := [][]byte{nil, []byte("garbage"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1}})}
	for i, b := range bad {
		if _, err := ParsePrivateKeyPEM(b); err == nil {
			t.Errorf("private %d accepted", i)
		}
	}
	for i, b := range [][]byte{nil, []byte("x"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})} {
		if _, err := ParseCertificatePEM(b); err == nil {
			t.Errorf("certificate %d accepted", i)
		}
		if _, err := ParsePublicKeyPEM(b); err == nil {
			t.Errorf("public %d accepted", i)
		}
	}
}

func TestNewSelfSigned(t *testing.T) {
	k := testKeys(t)
	if k[0].key.N.BitLen() != 2048 || k[0].cert.Subject.CommonName != "alice" {
		t.Fatalf("bits %d cn %q", k[0].key.N.BitLen(), k[0].cert.Subject.CommonName)
	}
	if err := k[0].cert.CheckSignatureFrom(k[0].cert); err != nil {
		t.Fatalf("not self-signed: %v", err)
	}
}
