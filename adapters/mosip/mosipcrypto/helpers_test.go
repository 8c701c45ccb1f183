package mosipcrypto

import (
	"crypto/rsa"
	"crypto/x509"
	"sync"
	"testing"
)

type testKey struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

var (
	keysOnce sync.Once
	keys     [3]testKey
	keysErr  error
)

// testKeys returns three distinct 2048-bit keys with self-signed certificates,
// generated once per test binary.
func testKeys(t testing.TB) [3]testKey {
	t.Helper()
	keysOnce.Do(func() {
		for i, cn := range []string{"alice", "bob", "mallory"} {
			k, c, err := NewSelfSigned(cn, 2048)
			if err != nil {
				keysErr = err
				return
			}
			keys[i] = testKey{k, c}
		}
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return keys
}
