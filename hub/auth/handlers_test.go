package auth

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/crvshub/crvshub/core"
)

type testServer struct {
	*httptest.Server
	kp       *KeyPair
	clients  *Clients
	store    *fakeStore
	verifier *Verifier
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	gin.SetMode(gin.TestMode)
	kp, _ := testKeys(t)
	clients, st := newTestClients(t)
	iss := &Issuer{Key: kp}
	r := gin.New()
	h := TokenHandler(clients, iss)
	r.POST("/auth/token", h)
	r.POST("/token", h)
	r.GET("/auth/.well-known", WellKnownPEM(kp))
	r.GET("/auth/.well-known/jwks.json", JWKS(kp))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, kp: kp, clients: clients, store: st, verifier: NewVerifier(kp)}
}

type tokenReply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (s *testServer) do(t *testing.T, req *http.Request) tokenReply {
	t.Helper()
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := tokenReply{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	if err := json.Unmarshal(b, &r.body); err != nil {
		t.Fatalf("reply %d is not JSON: %q", resp.StatusCode, b)
	}
	return r
}

func TestTokenHandler(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	id, secret := mustCreate(t, s.clients, "record.notify[event=birth]", "type=record.create")
	disabledID, disabledSecret := mustCreate(t, s.clients, "type=record.read")
	if err := s.clients.Disable(ctx, disabledID, admin); err != nil {
		t.Fatal(err)
	}
	creds := func(grant, cid, csec string) url.Values {
		v := url.Values{}
		for k, val := range map[string]string{"grant_type": grant, "client_id": cid, "client_secret": csec} {
			if val != "" {
				v.Set(k, val)
			}
		}
		return v
	}
	jsonBody := func(v url.Values) string {
		m := map[string]string{}
		for k := range v {
			m[k] = v.Get(k)
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	good := creds("client_credentials", id, secret)
	basic := func(u, p string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(u)+":"+url.QueryEscape(p)))
	}

	tests := []struct {
		name        string
		path        string
		query       string
		contentType string
		body        string
		auth        string
		wantStatus  int
		wantError   string
	}{
		{"json body", "/auth/token", "", "application/json", jsonBody(good), "", 200, ""},
		{"json body with charset", "/auth/token", "", "application/json; charset=utf-8", jsonBody(good), "", 200, ""},
		{"form body", "/auth/token", "", "application/x-www-form-urlencoded", good.Encode(), "", 200, ""},
		{"v1 query with empty json body", "/token", good.Encode(), "application/json", "", "", 200, ""},
		{"query without content type", "/token", good.Encode(), "", "", "", 200, ""},
		{"query with empty json object", "/auth/token", good.Encode(), "application/json", "{}", "", 200, ""},
		{"body and query merged", "/auth/token", creds("client_credentials", "", "").Encode(), "application/x-www-form-urlencoded", creds("", id, secret).Encode(), "", 200, ""},
		{"body wins over query", "/auth/token", creds("client_credentials", id, "wrong").Encode(), "application/json", jsonBody(creds("", "", secret)), "", 200, ""},
		{"json body without content type", "/auth/token", "", "", jsonBody(good), "", 200, ""},
		{"http basic", "/auth/token", "grant_type=client_credentials", "", "", basic(id, secret), 200, ""},

		{"missing grant_type", "/auth/token", "", "application/json", jsonBody(creds("", id, secret)), "", 400, "invalid_request"},
		{"wrong grant_type", "/auth/token", "", "application/json", jsonBody(creds("password", id, secret)), "", 400, "unsupported_grant_type"},
		{"token exchange not served", "/token", creds("urn:opencrvs:oauth:grant-type:token-exchange", id, secret).Encode(), "", "", "", 400, "unsupported_grant_type"},
		{"missing client_secret", "/auth/token", "", "application/x-www-form-urlencoded", creds("client_credentials", id, "").Encode(), "", 400, "invalid_request"},
		{"missing client_id", "/token", creds("client_credentials", "", secret).Encode(), "", "", "", 400, "invalid_request"},
		{"nothing at all", "/auth/token", "", "application/json", "", "", 400, "invalid_request"},
		{"malformed json", "/auth/token", "", "application/json", `{"grant_type":`, "", 400, "invalid_request"},
		{"json number", "/auth/token", "", "application/json", `{"grant_type":"client_credentials","client_id":1,"client_secret":"x"}`, "", 400, "invalid_request"},
		{"json array", "/auth/token", "", "application/json", `[]`, "", 400, "invalid_request"},
		{"json trailing data", "/auth/token", "", "application/json", jsonBody(good) + `{}`, "", 400, "invalid_request"},
		{"malformed form", "/auth/token", "", "application/x-www-form-urlencoded", "grant_type=%zz", "", 400, "invalid_request"},
		{"repeated parameter", "/token", good.Encode() + "&client_id=" + id, "", "", "", 400, "invalid_request"},
		{"unsupported content type", "/auth/token", "", "text/plain", good.Encode(), "", 400, "invalid_request"},
		{"body too large", "/auth/token", "", "application/x-www-form-urlencoded", good.Encode() + "&pad=" + strings.Repeat("a", 70<<10), "", 413, "invalid_request"},

		{"bad secret", "/auth/token", "", "application/json", jsonBody(creds("client_credentials", id, secret+"x")), "", 401, "invalid_client"},
		{"unknown client", "/token", creds("client_credentials", "7d1f0b9e-2c4a-4e8b-9a55-3f7f4f0e1a2b", secret).Encode(), "application/json", "", "", 401, "invalid_client"},
		{"disabled client", "/auth/token", "", "application/json", jsonBody(creds("client_credentials", disabledID, disabledSecret)), "", 401, "invalid_client"},
		{"http basic bad secret", "/auth/token", "grant_type=client_credentials", "", "", basic(id, "nope"), 401, "invalid_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := s.URL + tc.path
			if tc.query != "" {
				u += "?" + tc.query
			}
			req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			r := s.do(t, req)
			if r.status != tc.wantStatus {
				t.Fatalf("status = %d (%s), want %d", r.status, r.raw, tc.wantStatus)
			}
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
				t.Errorf("Cache-Control=%q Pragma=%q", r.header.Get("Cache-Control"), r.header.Get("Pragma"))
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type = %q", r.header.Get("Content-Type"))
			}
			if strings.Contains(r.raw, secret) || strings.Contains(r.raw, disabledSecret) {
				t.Error("reply echoes a secret")
			}
			if tc.wantStatus != 200 {
				if r.body["error"] != tc.wantError {
					t.Errorf("error = %v, want %q (%s)", r.body["error"], tc.wantError, r.raw)
				}
				if d, _ := r.body["error_description"].(string); d == "" {
					t.Error("no error_description")
				}
				if _, ok := r.body["access_token"]; ok {
					t.Error("error reply carries a token")
				}
				if tc.auth != "" && tc.wantStatus == 401 && r.header.Get("WWW-Authenticate") == "" {
					t.Error("401 after Basic auth without WWW-Authenticate")
				}
				return
			}
			if r.body["token_type"] != "Bearer" || r.body["expires_in"] != float64(600) {
				t.Errorf("reply = %s", r.raw)
			}
			tok, _ := r.body["access_token"].(string)
			c, err := s.verifier.Verify(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != id || c.UserType != core.UserTypeSystem {
				t.Errorf("claims = %+v", c)
			}
			if want := []string{"type=record.notify&event=birth", "type=record.create"}; strings.Join(c.Scope, " ") != strings.Join(want, " ") {
				t.Errorf("scope = %v, want %v", c.Scope, want)
			}
		})
	}
}

func TestTokenThenAuthenticate(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	id, secret := mustCreate(t, s.clients, "type=record.read")
	a := &Authenticator{Verifier: s.verifier, Store: s.store}

	getToken := func(sec string) (int, string) {
		q := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {sec}}
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/token?"+q.Encode(), nil)
		req.Header.Set("Content-Type", "application/json")
		r := s.do(t, req)
		tok, _ := r.body["access_token"].(string)
		return r.status, tok
	}
	status, tok := getToken(secret)
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	p, err := a.Authenticate(ctx, "Bearer "+tok)
	if err != nil || p.ID != id {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}

	// Rotation: the old secret gets no new token, the new one does.
	newSecret, err := s.clients.RotateSecret(ctx, id, admin)
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := getToken(secret); status != 401 {
		t.Errorf("old secret after rotation: status %d", status)
	}
	if status, _ := getToken(newSecret); status != 200 {
		t.Errorf("new secret after rotation: status %d", status)
	}

	// Disabling locks out the token already issued at once.
	if err := s.clients.Disable(ctx, id, admin); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, "Bearer "+tok); core.KindOf(err) != core.KindUnauthenticated {
		t.Errorf("token of a disabled client: %v", err)
	}
	if status, _ := getToken(newSecret); status != 401 {
		t.Errorf("disabled client got a token: status %d", status)
	}
}

func TestWellKnownAndJWKS(t *testing.T) {
	s := newTestServer(t)
	id, secret := mustCreate(t, s.clients, "type=record.read")

	get := func(path string) (*http.Response, []byte) {
		resp, err := s.Client().Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return resp, b
	}

	resp, pemBytes := get("/auth/.well-known")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("PEM Content-Type = %q", ct)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatalf("not PEM: %q", pemBytes)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !s.kp.Private.PublicKey.Equal(pub) {
		t.Error("well-known PEM is another key")
	}

	resp, jwksBytes := get("/auth/.well-known/jwks.json")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("JWKS Content-Type = %q", ct)
	}
	set, err := jwk.Parse(jwksBytes)
	if err != nil {
		t.Fatal(err)
	}

	q := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/auth/token", strings.NewReader(q.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r := s.do(t, req)
	tok, _ := r.body["access_token"].(string)

	parsed, err := jwt.Parse([]byte(tok), jwt.WithKeySet(set), jwt.WithIssuer(DefaultIssuer), jwt.WithAudience("opencrvs:events-user"))
	if err != nil {
		t.Fatalf("token does not verify against the published JWKS: %v", err)
	}
	if parsed.Subject() != id {
		t.Errorf("sub = %q", parsed.Subject())
	}

	// And a token by another key does not.
	_, other := testKeys(t)
	bad, _, err := (&Issuer{Key: other}).IssueSystemToken(id, []string{"type=record.read"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Parse([]byte(bad), jwt.WithKeySet(set)); err == nil {
		t.Error("JWKS verified a token signed by another key")
	}
}

func TestTokenHandlerStoreFailure(t *testing.T) {
	s := newTestServer(t)
	id, secret := mustCreate(t, s.clients, "type=record.read")
	s.store.setFailRead(errors.New("database is locked"))
	q := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/token?"+q.Encode(), nil)
	r := s.do(t, req)
	if r.status != http.StatusInternalServerError || r.body["error"] != "server_error" {
		t.Fatalf("store failure answered %d %s, want 500 server_error", r.status, r.raw)
	}
	if strings.Contains(r.raw, "database") || strings.Contains(r.raw, secret) {
		t.Errorf("500 reply leaks details: %s", r.raw)
	}
}
