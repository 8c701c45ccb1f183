package mosip

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/crvshub/crvshub/adapters/keyfile"
)

// keyCache fetches and caches the public keys of allow-listed credential
// verification methods.
type keyCache struct {
	a       *Adapter
	allowed map[string]bool

	mu      sync.Mutex
	keys    map[string]*rsa.PublicKey
	fetched map[string]time.Time
}

// keyRefetchAfter: a cached key older than this is fetched again when a
// proof fails with it (MOSIP rotated its key), at most once a minute.
const keyRefetchAfter = time.Minute

// dropStale forgets method's key if it was fetched more than
// keyRefetchAfter ago; it reports whether it did.
func (k *keyCache) dropStale(method string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	at, ok := k.fetched[method]
	if !ok || k.a.cfg.Now().Sub(at) < keyRefetchAfter {
		return false
	}
	delete(k.keys, method)
	delete(k.fetched, method)
	return true
}

// errNotAllowed: a credential names a verification method that is not in
// CredentialAllowList.
var errNotAllowed = errors.New("verification method not in CredentialAllowList")

// keyFor returns the key of an allow-listed verification method, fetching
// {publicKeyPem} from its URL the first time.
func (k *keyCache) keyFor(ctx context.Context, method string) (*rsa.PublicKey, error) {
	if !k.allowed[method] {
		return nil, fmt.Errorf("%w: %q", errNotAllowed, truncate(method, 200))
	}
	k.mu.Lock()
	key := k.keys[method]
	k.mu.Unlock()
	if key != nil {
		return key, nil
	}
	key, err := k.fetch(ctx, method)
	if err != nil {
		return nil, fmt.Errorf("credential key %s: %w", method, err)
	}
	k.mu.Lock()
	k.keys[method] = key
	k.fetched[method] = k.a.cfg.Now()
	k.mu.Unlock()
	return key, nil
}

func (k *keyCache) fetch(ctx context.Context, u string) (*rsa.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, k.a.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := k.a.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", res.StatusCode)
	}
	var doc struct {
		PublicKeyPem string `json:"publicKeyPem"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("not a {publicKeyPem} document: %w", err)
	}
	key, err := keyfile.ParseRSAPublicKey([]byte(doc.PublicKeyPem))
	if err != nil {
		return nil, fmt.Errorf("publicKeyPem: %w", err)
	}
	return key, nil
}
