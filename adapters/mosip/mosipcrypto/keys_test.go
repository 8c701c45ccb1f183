package mosipcrypto

import (
	"crypto/sha256"
	"testing"
)

func TestThumbprint(t *testing.T) {
	k := testKeys(t)
	sum := sha256.Sum256(k[0].cert.Raw)
	if string(Thumbprint(k[0].cert)) != string(sum[:]) || Thumbprint(nil) != nil {
		t.Fatal("Thumbprint")
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
