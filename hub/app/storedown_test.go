package app_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/crvshub/crvshub/testharness/hubtest"
)

// TestTokenEndpointStoreDown: when the hub cannot read its database (here
// closed under the running server), the token endpoint answers 503
// temporarily_unavailable with Retry-After, not 500: the request was fine
// and the client may retry. A bearer token's client lookup answers the
// same 503.
func TestTokenEndpointStoreDown(t *testing.T) {
	h := hubtest.Start(t, hubtest.Options{})
	id, secret := h.NewClient("store down", hubtest.OfficeIbombo, hubtest.AllScopes...)
	tok := h.Token(id, secret)
	if err := h.App.Store.Close(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name       string
		send       func() *hubtest.Response
		key, value string // in the JSON body
	}{
		{"token endpoint", func() *hubtest.Response {
			return h.Do("POST", "/auth/token", "", map[string]string{"grant_type": "client_credentials", "client_id": id, "client_secret": secret})
		}, "error", "temporarily_unavailable"},
		{"bearer token on the events API", func() *hubtest.Response {
			return h.Do("GET", "/api/events/config", tok, nil)
		}, "code", "STORE_UNAVAILABLE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.send()
			if res.Status != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
				t.Fatalf("got %d %s (Retry-After %q), want 503 with Retry-After", res.Status, res.Body, res.Header.Get("Retry-After"))
			}
			var b map[string]any
			if err := json.Unmarshal(res.Body, &b); err != nil {
				t.Fatalf("body %s: %v", res.Body, err)
			}
			if b[tc.key] != tc.value {
				t.Errorf("body %s: want %s %q", res.Body, tc.key, tc.value)
			}
		})
	}
}
