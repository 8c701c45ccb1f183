package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/store/sqlite"
	"github.com/crvshub/crvshub/hub/auth"
	"github.com/crvshub/crvshub/hub/httpapi"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// throttledHub serves the token routes over a real store, with a throttle
// on the given clock; loopback is a trusted proxy, so X-Forwarded-For
// names the source. It answers the server, the throttle and a client's
// id and secret.
func throttledHub(t *testing.T, clock *fakeClock) (*httptest.Server, *auth.Throttle, string, string) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	throttle := &auth.Throttle{Now: clock.Now}
	clients := &auth.Clients{Store: st, Cost: 4, Throttle: throttle}
	id, secret, err := clients.Create(context.Background(), "his", []string{"type=record.search"}, "", core.Principal{ID: "test", Type: core.UserTypeSystem})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{
		Token:          auth.TokenHandler(clients, &auth.Issuer{Key: foreignKey(t), Now: clock.Now}),
		TrustedProxies: []string{"127.0.0.1"},
	}).Handler())
	t.Cleanup(srv.Close)
	return srv, throttle, id, secret
}

// askToken posts client credentials from source; it answers the status
// and the Retry-After header.
func askToken(t *testing.T, srv *httptest.Server, source, id, secret string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"grant_type": "client_credentials", "client_id": id, "client_secret": secret})
	req, err := http.NewRequest("POST", srv.URL+"/auth/token", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", source)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var ans tokenAnswer
	_ = json.NewDecoder(res.Body).Decode(&ans)
	if res.StatusCode == http.StatusOK && ans.AccessToken == "" {
		t.Fatalf("200 without a token")
	}
	return res.StatusCode, res.Header.Get("Retry-After")
}

// TestTokenLockout: 300 wrong secrets in a row from one address, then the
// right one: the first failures are 401, then the pair is locked out and
// every request (the right secret too) is a 429 with Retry-After, refused
// without comparing the secret; after the lockout the right secret gets a
// token. Meanwhile the same client from its own address is not locked
// out, and an unknown client id is throttled exactly like a known one.
func TestTokenLockout(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	srv, throttle, id, secret := throttledHub(t, clock)
	const attacker, owner = "203.0.113.7", "198.51.100.20"

	statuses := func(id string, n int) map[int]int {
		got := map[int]int{}
		for range n {
			status, _ := askToken(t, srv, attacker, id, "wrong-secret")
			got[status]++
		}
		return got
	}
	want := map[int]int{http.StatusUnauthorized: auth.DefaultPairFree, http.StatusTooManyRequests: 300 - auth.DefaultPairFree}
	if got := statuses(id, 300); got[401] != want[401] || got[429] != want[429] {
		t.Fatalf("300 wrong secrets: %v, want %v", got, want)
	}
	if got := throttle.Stats(); got.Failures != auth.DefaultPairFree || got.RefusedClient != 300-auth.DefaultPairFree {
		t.Fatalf("stats %+v: want %d secret comparisons (the locked-out requests compare none) and %d refusals",
			got, auth.DefaultPairFree, 300-auth.DefaultPairFree)
	}
	status, retry := askToken(t, srv, attacker, id, secret)
	if status != http.StatusTooManyRequests || retry == "" {
		t.Fatalf("right secret while locked out: %d Retry-After %q, want 429 with Retry-After", status, retry)
	}
	if status, _ := askToken(t, srv, owner, id, secret); status != http.StatusOK {
		t.Fatalf("the client from its own address while the attacker is locked out: %d, want 200", status)
	}
	secs, err := strconv.Atoi(retry)
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After %q is not a number of seconds", retry)
	}
	clock.Add(time.Duration(secs) * time.Second)
	if status, _ := askToken(t, srv, attacker, id, secret); status != http.StatusOK {
		t.Fatalf("right secret after the lockout: %d, want 200", status)
	}
	if status, _ := askToken(t, srv, attacker, id, "wrong-secret"); status != http.StatusUnauthorized {
		t.Fatalf("a wrong secret after a success: %d, want 401 (the success resets the count)", status)
	}

	// an unknown id: the same answers, in the same order
	if got := statuses(uuid.NewString(), 10); got[401] != auth.DefaultPairFree || got[429] != 10-auth.DefaultPairFree {
		t.Fatalf("10 tries of an unknown client id: %v, want %d x 401 then 429 like a known id", got, auth.DefaultPairFree)
	}
}

// TestTokenFloodFromOneSource: a flood of bad token requests from one
// address (random client ids, so no pair lockout) is soon refused cheaply
// by the source lockout, and a valid client from another address gets
// every token it asks for meanwhile.
func TestTokenFloodFromOneSource(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	srv, throttle, id, secret := throttledHub(t, clock)
	const flooders, each = 8, 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	flood := map[int]int{}
	for range flooders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				status, _ := askToken(t, srv, "203.0.113.9", uuid.NewString(), "guess")
				mu.Lock()
				flood[status]++
				mu.Unlock()
			}
		}()
	}
	for i := range 10 {
		if status, _ := askToken(t, srv, "198.51.100.20", id, secret); status != http.StatusOK {
			t.Errorf("valid client during the flood, request %d: %d, want 200", i, status)
		}
	}
	wg.Wait()
	// the source is locked after DefaultSourceFree failures; requests that
	// passed the check before the lock was recorded may still fail (one per
	// flooder at most)
	if f := throttle.Stats().Failures; f > auth.DefaultSourceFree+flooders {
		t.Fatalf("%d secret comparisons for the flood, want at most %d", f, auth.DefaultSourceFree+flooders)
	}
	if flood[http.StatusTooManyRequests] < flooders*each-auth.DefaultSourceFree-flooders || flood[http.StatusOK] != 0 {
		t.Fatalf("flood answers %v: want all but about %d refused with 429", flood, auth.DefaultSourceFree)
	}
	if got := throttle.Stats().RefusedSource; got != int64(flood[http.StatusTooManyRequests]) {
		t.Fatalf("source refusals counted %d, answered %d", got, flood[http.StatusTooManyRequests])
	}
}

// TestTokenLockoutIPv6Prefix: one IPv6 host commonly holds a whole /64
// (SLAAC privacy addresses; a provider hands a customer a /64 or more), so
// counting failures per IPv6 address would give an attacker 2^64 fresh
// sources. Failures count per /64: guesses from ever new addresses of one
// /64 are locked out like guesses from one address, while another /64 is
// not. An IPv4 address written IPv4-mapped counts as itself.
func TestTokenLockoutIPv6Prefix(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	srv, throttle, id, secret := throttledHub(t, clock)
	got := map[int]int{}
	for i := range 100 {
		status, _ := askToken(t, srv, fmt.Sprintf("2001:db8:1:2:%x:%x::1", i/7, i), id, "wrong-secret")
		got[status]++
	}
	if got[http.StatusUnauthorized] != auth.DefaultPairFree || got[http.StatusTooManyRequests] != 100-auth.DefaultPairFree {
		t.Fatalf("100 wrong secrets from 100 addresses of one /64: %v, want %d x 401 then 429 (one source)", got, auth.DefaultPairFree)
	}
	if f := throttle.Stats().Failures; f != auth.DefaultPairFree {
		t.Fatalf("%d secret comparisons, want %d", f, auth.DefaultPairFree)
	}
	if status, _ := askToken(t, srv, "2001:db8:1:3::1", id, secret); status != http.StatusOK {
		t.Fatalf("the client from another /64: %d, want 200", status)
	}

	got = map[int]int{}
	for i := range 10 {
		src := "192.0.2.44"
		if i%2 == 1 {
			src = "::ffff:192.0.2.44"
		}
		status, _ := askToken(t, srv, src, id, "wrong-secret")
		got[status]++
	}
	if got[http.StatusUnauthorized] != auth.DefaultPairFree {
		t.Fatalf("10 wrong secrets from one IPv4 address, half written IPv4-mapped: %v, want %d x 401 then 429", got, auth.DefaultPairFree)
	}
}

// TestTokenLockoutConcurrentGuesses: guesses sent at once must not slip
// past the lockout while the ones before them are still being checked:
// an attempt in progress counts against the pair and the source until it
// ends, so at most DefaultPairFree secrets are ever compared for one
// client id from one address, however many requests run side by side
// (otherwise every lockout that ends lets a whole burst in).
func TestTokenLockoutConcurrentGuesses(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	srv, throttle, id, _ := throttledHub(t, clock)
	for round := range 5 {
		var wg sync.WaitGroup
		for range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				askToken(t, srv, "203.0.113.50", id, "wrong-secret")
			}()
		}
		wg.Wait()
		if f := throttle.Stats().Failures; f > int64(auth.DefaultPairFree+round) {
			t.Fatalf("round %d: %d secret comparisons for 40 guesses sent at once, want at most %d",
				round, f, auth.DefaultPairFree+round)
		}
		clock.Add(auth.DefaultLockMax) // every lockout over: one more guess may be compared
	}
}
