package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/hub/auth"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// claimsFor are the claims the hub puts in a system token.
func claimsFor(clientID string, scopes ...string) map[string]any {
	return map[string]any{
		"iss": auth.DefaultIssuer, "aud": auth.DefaultAudience, "sub": clientID,
		"iat": time.Now().Unix(), "exp": time.Now().Add(10 * time.Minute).Unix(), "jti": uuid.NewString(),
		"userType": "system", "scope": scopes,
	}
}

func b64(t *testing.T, v any) string {
	t.Helper()
	return base64.RawURLEncoding.EncodeToString(mustJSON(t, v))
}

// signWith signs claims with an arbitrary key and algorithm.
func signWith(t *testing.T, alg jwa.SignatureAlgorithm, key any, claims map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatalf("claim %s: %v", k, err)
		}
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(alg, key))
	if err != nil {
		t.Fatalf("sign %s: %v", alg, err)
	}
	return string(signed)
}

// TestUnauthenticated: every way a bearer token can be bad is 401 with a
// JSON body and a WWW-Authenticate challenge, and changes nothing.
func TestUnauthenticated(t *testing.T) {
	t.Parallel()
	h := start(t)
	scopes := hubtest.AllScopes
	clientID, secret := h.NewClient("good", hubtest.OfficeIbombo, scopes...)
	good := h.Token(clientID, secret)
	canonical, _ := core.ParseScopes(scopes)
	scopeClaim := canonical.Strings()

	// A key that is not the hub's, with the hub's kid in its header.
	other, err := auth.NewKeyPair(foreignKey(t).Private)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.JWK.Set(jwk.KeyIDKey, h.App.Keys.KeyID); err != nil {
		t.Fatal(err)
	}
	wrongKey, _, err := (&auth.Issuer{Key: other}).IssueSystemToken(clientID, scopes)
	if err != nil {
		t.Fatal(err)
	}
	past := func() time.Time { return time.Now().Add(-time.Hour) }
	expired, _, err := (&auth.Issuer{Key: h.App.Keys, Now: past}).IssueSystemToken(clientID, scopes)
	if err != nil {
		t.Fatal(err)
	}
	future := func() time.Time { return time.Now().Add(time.Hour) }
	notYet, _, err := (&auth.Issuer{Key: h.App.Keys, Now: future}).IssueSystemToken(clientID, scopes)
	if err != nil {
		t.Fatal(err)
	}
	otherIssuer, _, err := (&auth.Issuer{Key: h.App.Keys, Issuer: "https://evil.example"}).IssueSystemToken(clientID, scopes)
	if err != nil {
		t.Fatal(err)
	}
	otherAudience, _, err := (&auth.Issuer{Key: h.App.Keys, Audience: []string{"opencrvs:countryconfig-user"}}).IssueSystemToken(clientID, scopes)
	if err != nil {
		t.Fatal(err)
	}
	unknownClient, _, err := h.App.Issuer.IssueSystemToken(uuid.NewString(), scopes)
	if err != nil {
		t.Fatal(err)
	}
	userToken, err := h.App.Issuer.Issue(map[string]any{"sub": clientID, "userType": "user", "scope": scopeClaim}, 0)
	if err != nil {
		t.Fatal(err)
	}
	noUserType, err := h.App.Issuer.Issue(map[string]any{"sub": clientID, "scope": scopeClaim}, 0)
	if err != nil {
		t.Fatal(err)
	}
	claims := claimsFor(clientID, scopeClaim...)
	algNone := b64(t, map[string]string{"alg": "none", "typ": "JWT"}) + "." + b64(t, claims) + "."
	hs256 := signWith(t, jwa.HS256, h.App.Keys.PublicPEM, claims)
	// Signed by the hub's key, but with claims the events service refuses.
	without := func(k string) map[string]any {
		c := claimsFor(clientID, scopeClaim...)
		delete(c, k)
		return c
	}
	noExp := signWith(t, jwa.RS256, h.App.Keys.JWK, without("exp"))
	noSub := signWith(t, jwa.RS256, h.App.Keys.JWK, without("sub"))
	noScope := signWith(t, jwa.RS256, h.App.Keys.JWK, without("scope"))
	scopeString := claimsFor(clientID)
	scopeString["scope"] = "type=record.create type=record.notify"
	scopeNotList := signWith(t, jwa.RS256, h.App.Keys.JWK, scopeString)
	badScope := signWith(t, jwa.RS256, h.App.Keys.JWK, claimsFor(clientID, "type=record.notify&event=birth&event=death"))
	// The hub's real signature over other claims (scope escalation).
	parts := strings.Split(h.ClientToken(hubtest.OfficeIbombo, "type=record.read"), ".")
	tampered := parts[0] + "." + b64(t, claims) + "." + parts[2]

	tests := []struct {
		name, header string
		msg          string
	}{
		{"no Authorization header", "", "missing"},
		{"Bearer without a token", "Bearer", "missing"},
		{"Bearer and spaces", "Bearer    ", "missing"},
		{"not a JWT", "Bearer not-a-jwt", "malformed"},
		{"three garbage parts", "Bearer a.b.c", "malformed"},
		{"Basic credentials", "Basic " + base64.StdEncoding.EncodeToString([]byte(clientID+":"+secret)), "malformed"},
		{"expired", "Bearer " + expired, "expired"},
		{"issued in the future", "Bearer " + notYet, "not valid yet"},
		{"signed by another key", "Bearer " + wrongKey, "signature"},
		{"payload tampered", "Bearer " + tampered, "signature"},
		{"alg none", "Bearer " + algNone, ""},
		{"HS256 keyed with the public key PEM", "Bearer " + hs256, ""},
		{"other issuer", "Bearer " + otherIssuer, "issuer"},
		{"other audience", "Bearer " + otherAudience, "audience"},
		{"unknown client", "Bearer " + unknownClient, "client"},
		{"user token", "Bearer " + userToken, "user"},
		{"no userType", "Bearer " + noUserType, "userType"},
		{"no exp", "Bearer " + noExp, "exp"},
		{"no sub", "Bearer " + noSub, "sub"},
		{"no scope", "Bearer " + noScope, "scope"},
		{"scope a string", "Bearer " + scopeNotList, "scope"},
		{"scope not understood", "Bearer " + badScope, "scope"},
	}
	admin := adminToken(h)
	before := total(t, h, admin)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, req := range []struct{ method, path string }{
				{"POST", pathNotify},
				{"GET", "/api/events/config"},
			} {
				r, err := http.NewRequest(req.method, h.URL+req.path, strings.NewReader(`{"transactionId":"`+newTx()+`","eventType":"birth","createdAtLocation":"`+hubtest.OfficeIbombo+`","declaration":{}}`))
				if err != nil {
					t.Fatal(err)
				}
				r.Header.Set("Content-Type", "application/json")
				if tc.header != "" {
					r.Header.Set("Authorization", tc.header)
				}
				res := h.Send(r)
				b := wantError(t, res, http.StatusUnauthorized, tc.msg)
				if b.Code != "INVALID_TOKEN" {
					t.Errorf("code %q, want INVALID_TOKEN", b.Code)
				}
				if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate %q", res.Header.Get("WWW-Authenticate"))
				}
				if strings.Contains(string(res.Body), "eyJ") {
					t.Errorf("the error body quotes the token: %s", res.Body)
				}
			}
		})
	}
	if after := total(t, h, admin); after != before {
		t.Errorf("refused requests changed the event count: %d -> %d", before, after)
	}

	// Controls: the same client's real token works, with any case of
	// "Bearer" and with the bare token.
	for _, hdr := range []string{"Bearer " + good, "bearer " + good, "BEARER  " + good, good} {
		r, _ := http.NewRequest("GET", h.URL+"/api/events/config", nil)
		r.Header.Set("Authorization", hdr)
		if res := h.Send(r); res.Status != http.StatusOK {
			t.Errorf("Authorization %q...: status %d", hdr[:10], res.Status)
		}
	}
}

// TestDisabledClient: disabling a client stops its existing token at
// once (the authenticator reads the client on every request: 401), and
// enabling it brings the same token back.
func TestDisabledClient(t *testing.T) {
	t.Parallel()
	h := start(t)
	id, secret := h.NewClient("to disable", hubtest.OfficeIbombo, "type=record.create", "type=record.notify", "type=record.search")
	tok := h.Token(id, secret)
	h.Notify(tok, "birth", newTx(), hubtest.BirthDeclaration("A", "B"))

	actor := core.Principal{ID: "operator", Type: core.UserTypeSystem}
	// tokens issued before a client's last change are refused, to the
	// second (iat's grain): change it in a later second than the token's
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	if err := h.App.Clients.Disable(context.Background(), id, actor); err != nil {
		t.Fatal(err)
	}
	res := h.Do("POST", pathNotify, tok, map[string]any{"transactionId": newTx(), "eventType": "birth",
		"createdAtLocation": hubtest.OfficeIbombo, "declaration": map[string]any{}})
	wantError(t, res, http.StatusUnauthorized, "disabled")
	wantError(t, h.Do("POST", pathSearch, tok, and(map[string]any{"eventType": "birth"})), http.StatusUnauthorized, "disabled")
	// No new token either.
	tr := h.Do("POST", "/auth/token", "", map[string]string{"grant_type": "client_credentials", "client_id": id, "client_secret": secret})
	if tr.Status != http.StatusUnauthorized || !strings.Contains(string(tr.Body), "invalid_client") {
		t.Errorf("token for a disabled client: %d %s", tr.Status, tr.Body)
	}

	if err := h.App.Clients.Enable(context.Background(), id, actor); err != nil {
		t.Fatal(err)
	}
	// enabling does not revive the tokens issued before the client was disabled
	wantError(t, h.Do("POST", pathSearch, tok, and(map[string]any{"eventType": "birth"})), http.StatusUnauthorized, "credentials last changed")
	if n := search(t, h, h.Token(id, secret), and(map[string]any{"eventType": "birth"})).Total; n != 1 {
		t.Errorf("after enable, with a new token: total %d, want 1 (only the first notify went through)", n)
	}
}

// TestForbidden: a valid token without the scope an operation needs is
// 403 naming the scope, and changes nothing.
func TestForbidden(t *testing.T) {
	t.Parallel()
	h := start(t)
	admin := adminToken(h)
	s := states{t, h, admin}
	birthDeclared := s.declared()
	birthCreated := s.created()
	birthNotified := s.notified()
	notifyBody := func() map[string]any {
		return map[string]any{"transactionId": newTx(), "eventType": "birth", "createdAtLocation": hubtest.OfficeIbombo,
			"declaration": hubtest.BirthDeclaration("A", "B")}
	}
	createBody := func(typ string) map[string]any {
		return map[string]any{"transactionId": newTx(), "type": typ, "createdAtLocation": hubtest.OfficeIbombo}
	}
	tests := []struct {
		name   string
		scopes []string
		method string
		path   string
		body   any
		want   []string
	}{
		{"register without record.register", []string{"type=record.create", "type=record.notify", "type=record.read", "type=record.declare"},
			"POST", eventPath(birthDeclared.ID) + "/register", map[string]any{"transactionId": newTx(), "createdAtLocation": hubtest.OfficeIbombo}, []string{"record.register"}},
		{"create without record.create", []string{"type=record.notify"},
			"POST", pathEvents, createBody("birth"), []string{"record.create"}},
		{"create a birth with create&event=death", []string{"type=record.create&event=death"},
			"POST", pathEvents, createBody("birth"), []string{"record.create", "event=birth"}},
		{"notify a birth with notify&event=death", []string{"type=record.notify&event=death"},
			"POST", eventPath(birthCreated.ID) + "/notify", map[string]any{"transactionId": newTx(), "createdAtLocation": hubtest.OfficeIbombo, "declaration": map[string]any{}}, []string{"record.notify", "event=birth"}},
		{"archive a birth with archive&event=death", []string{"type=record.archive&event=death"},
			"POST", eventPath(birthNotified.ID) + "/archive", map[string]any{"transactionId": newTx(), "createdAtLocation": hubtest.OfficeIbombo, "content": map[string]any{"reason": "x"}}, []string{"record.archive", "event=birth"}},
		{"events/notify with record.create only", []string{"type=record.create"},
			"POST", pathNotify, notifyBody(), []string{"record.notify"}},
		{"events/notify with record.notify only", []string{"type=record.notify"},
			"POST", pathNotify, notifyBody(), []string{"record.create"}},
		{"events/notify of a birth with create&event=death", []string{"type=record.create&event=death", "type=record.notify"},
			"POST", pathNotify, notifyBody(), []string{"record.create", "event=birth"}},
		{"events/notify of a birth with notify&event=death", []string{"type=record.create", "type=record.notify&event=death"},
			"POST", pathNotify, notifyBody(), []string{"record.notify", "event=birth"}},
		{"get without record.read", []string{"type=record.search"},
			"GET", eventPath(birthNotified.ID), nil, []string{"record.read"}},
		{"search without record.search", []string{"type=record.read"},
			"POST", pathSearch, and(map[string]any{"eventType": "birth"}), []string{"record.search"}},
		{"correction without record.correct", []string{"type=record.read", "type=record.register"},
			"POST", eventPath(birthDeclared.ID) + "/correction/approve", map[string]any{"transactionId": newTx(), "createdAtLocation": hubtest.OfficeIbombo}, []string{"record.correct"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := total(t, h, admin)
			actions := map[string]int{}
			for _, ev := range []*core.EventDocument{birthDeclared, birthCreated, birthNotified} {
				actions[ev.ID] = len(stored(t, h, ev.ID).Actions)
			}
			tok := h.ClientToken(hubtest.OfficeIbombo, tc.scopes...)
			b := wantError(t, h.Do(tc.method, tc.path, tok, tc.body), http.StatusForbidden, tc.want...)
			if b.Code != "MISSING_SCOPE" {
				t.Errorf("code %q, want MISSING_SCOPE", b.Code)
			}
			if after := total(t, h, admin); after != before {
				t.Errorf("event count %d -> %d", before, after)
			}
			for id, n := range actions {
				if got := len(stored(t, h, id).Actions); got != n {
					t.Errorf("event %s: %d actions, had %d", id, got, n)
				}
			}
		})
	}

	// A read scope for another event type does not reveal the event: 404,
	// as OpenCRVS answers for events the caller may not see.
	deathReader := h.ClientToken(hubtest.OfficeIbombo, "type=record.read&event=death")
	wantError(t, h.Do("GET", eventPath(birthNotified.ID), deathReader, nil), http.StatusNotFound, birthNotified.ID)
	wantError(t, h.Do("GET", pathEvents+"/by-tracking-id/"+birthNotified.TrackingID, deathReader, nil), http.StatusNotFound)
	// And the right event type with an event option works.
	birthNotifier := h.ClientToken(hubtest.OfficeIbombo, "type=record.create&event=birth", "type=record.notify&event=birth,death")
	res := h.Do("POST", pathNotify, birthNotifier, notifyBody())
	wantOK(t, res)
}

// TestTokenClaims: the token the hub issues over HTTP carries the claims
// OpenCRVS's events service requires.
func TestTokenClaims(t *testing.T) {
	t.Parallel()
	h := start(t)
	id, secret := h.NewClient("claims", hubtest.OfficeIbombo, "record.notify[event=birth|death]", "notification-api")
	tok := h.Token(id, secret)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	var hdr struct{ Alg, Kid string }
	var cl struct {
		Iss      string   `json:"iss"`
		Sub      string   `json:"sub"`
		Aud      []string `json:"aud"`
		Exp, Iat int64
		UserType string   `json:"userType"`
		Scope    []string `json:"scope"`
	}
	for i, v := range []any{&hdr, &cl} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatal(err)
		}
	}
	if hdr.Alg != "RS256" || hdr.Kid != h.App.Keys.KeyID {
		t.Errorf("header alg %q kid %q", hdr.Alg, hdr.Kid)
	}
	if cl.Iss != "opencrvs:auth-service" || cl.Sub != id || cl.UserType != "system" {
		t.Errorf("claims %+v", cl)
	}
	if !slices.Contains(cl.Aud, "opencrvs:events-user") || !slices.Contains(cl.Aud, "opencrvs:gateway-user") {
		t.Errorf("aud %v", cl.Aud)
	}
	if ttl := cl.Exp - cl.Iat; ttl != 600 {
		t.Errorf("lifetime %d s, want 600", ttl)
	}
	// v1.9 bracket and legacy scopes come out in the v2 query form.
	for _, want := range []string{"type=record.notify&event=birth,death", "type=record.create", "type=record.notify"} {
		if !slices.Contains(cl.Scope, want) {
			t.Errorf("scope %v lacks %q", cl.Scope, want)
		}
	}
}
