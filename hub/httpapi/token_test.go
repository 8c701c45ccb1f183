package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/crvshub/crvshub/core/store/sqlite"
	"github.com/crvshub/crvshub/hub/auth"
	"github.com/crvshub/crvshub/hub/httpapi"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

type tokenAnswer struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// TestTokenEndpoint: the credentials may come in a JSON body, a form
// body, the query string (OpenCRVS v1: Content-Type application/json and
// an empty body) or HTTP Basic, on /auth/token or its alias /token.
func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	h := start(t)
	id, secret := h.NewClient("token client", hubtest.OfficeIbombo, "type=record.search")
	q := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	jsonBody := `{"grant_type":"client_credentials","client_id":"` + id + `","client_secret":"` + secret + `"}`
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))

	tests := []struct {
		name, path, query, ct, body, authz string
	}{
		{"JSON body", "/auth/token", "", "application/json", jsonBody, ""},
		{"JSON body, charset", "/auth/token", "", "application/json; charset=utf-8", jsonBody, ""},
		{"form body", "/auth/token", "", "application/x-www-form-urlencoded", q.Encode(), ""},
		{"query, JSON type, empty body", "/auth/token", q.Encode(), "application/json", "", ""},
		{"query, no type, no body", "/auth/token", q.Encode(), "", "", ""},
		{"alias /token with the query (v1)", "/token", q.Encode(), "application/json", "", ""},
		{"alias /token with a form body", "/token", "", "application/x-www-form-urlencoded", q.Encode(), ""},
		{"grant in the query, credentials in Basic", "/auth/token", "grant_type=client_credentials", "", "", basic},
		{"JSON body without Content-Type", "/auth/token", "", "", jsonBody, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.path
			if tc.query != "" {
				u += "?" + tc.query
			}
			hdr := map[string]string{}
			if tc.ct != "" {
				hdr["Content-Type"] = tc.ct
			}
			if tc.authz != "" {
				hdr["Authorization"] = tc.authz
			}
			res := h.Send(request(t, h, "POST", u, strings.NewReader(tc.body), hdr))
			wantOK(t, res)
			var ta tokenAnswer
			res.JSON(&ta)
			if ta.AccessToken == "" || ta.TokenType != "Bearer" || ta.ExpiresIn != 600 {
				t.Errorf("answer %s", res.Body)
			}
			if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			// The token works.
			wantOK(t, h.Do("POST", pathSearch, ta.AccessToken, and(map[string]any{"eventType": "birth"})))
		})
	}
}

// TestTokenErrors: OAuth2 error answers {error, error_description}.
func TestTokenErrors(t *testing.T) {
	t.Parallel()
	h := start(t)
	id, secret := h.NewClient("token client", hubtest.OfficeIbombo, "type=record.search")
	js := func(m map[string]string) string { return string(mustJSON(t, m)) }
	tests := []struct {
		name, query, ct, body, authz string
		status                       int
		code                         string
	}{
		{"no grant_type", "", "application/json", js(map[string]string{"client_id": id, "client_secret": secret}), "", 400, "invalid_request"},
		{"empty request", "", "", "", "", 400, "invalid_request"},
		{"password grant", "", "application/json", js(map[string]string{"grant_type": "password", "client_id": id, "client_secret": secret}), "", 400, "unsupported_grant_type"},
		{"token exchange grant", "grant_type=urn:opencrvs:oauth:grant-type:token-exchange&subject_token=x", "", "", "", 400, "unsupported_grant_type"},
		{"no client_secret", "", "application/json", js(map[string]string{"grant_type": "client_credentials", "client_id": id}), "", 400, "invalid_request"},
		{"no client_id", "", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_secret=" + url.QueryEscape(secret), "", 400, "invalid_request"},
		{"malformed JSON", "", "application/json", `{"grant_type":`, "", 400, "invalid_request"},
		{"JSON with a trailing }", "", "application/json", js(map[string]string{"grant_type": "client_credentials", "client_id": id, "client_secret": secret}) + "}", "", 400, "invalid_request"},
		{"JSON with a trailing ]", "", "application/json", js(map[string]string{"grant_type": "client_credentials", "client_id": id, "client_secret": secret}) + "]", "", 400, "invalid_request"},
		{"JSON values not strings", "", "application/json", `{"grant_type":"client_credentials","client_id":1,"client_secret":2}`, "", 400, "invalid_request"},
		{"text/plain body", "", "text/plain", "grant_type=client_credentials", "", 400, "invalid_request"},
		{"parameter repeated", "grant_type=client_credentials&client_id=" + id + "&client_id=" + id + "&client_secret=" + url.QueryEscape(secret), "", "", "", 400, "invalid_request"},
		{"wrong secret", "", "application/json", js(map[string]string{"grant_type": "client_credentials", "client_id": id, "client_secret": secret + "x"}), "", 401, "invalid_client"},
		{"unknown client", "", "application/json", js(map[string]string{"grant_type": "client_credentials", "client_id": uuid.NewString(), "client_secret": secret}), "", 401, "invalid_client"},
		{"client id not a UUID", "", "application/json", js(map[string]string{"grant_type": "client_credentials", "client_id": "admin", "client_secret": secret}), "", 401, "invalid_client"},
		{"wrong Basic secret", "grant_type=client_credentials", "", "", "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":nope")), 401, "invalid_client"},
		{"body over 64 KiB", "", "application/json", `{"grant_type":"client_credentials","client_id":"` + strings.Repeat("a", 70<<10) + `"}`, "", 413, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := "/auth/token"
			if tc.query != "" {
				u += "?" + tc.query
			}
			hdr := map[string]string{}
			if tc.ct != "" {
				hdr["Content-Type"] = tc.ct
			}
			if tc.authz != "" {
				hdr["Authorization"] = tc.authz
			}
			res := h.Send(request(t, h, "POST", u, strings.NewReader(tc.body), hdr))
			if res.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.Status, tc.status, res.Body)
			}
			var ta tokenAnswer
			res.JSON(&ta)
			if ta.Error != tc.code || ta.AccessToken != "" {
				t.Errorf("answer %s, want error %s", res.Body, tc.code)
			}
			if strings.Contains(string(res.Body), secret) {
				t.Errorf("the answer quotes the secret")
			}
			if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			if strings.HasPrefix(tc.authz, "Basic") && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("WWW-Authenticate %q after a Basic failure", res.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// TestPublicKeys: GET /auth/.well-known (PEM) and the JWKS both verify a
// token issued over HTTP, and neither verifies a token of another key.
func TestPublicKeys(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := h.ClientToken(hubtest.OfficeIbombo, "type=record.search")
	foreignTok, _, err := (&auth.Issuer{Key: foreignKey(t)}).IssueSystemToken(uuid.NewString(), []string{"type=record.search"})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("PEM", func(t *testing.T) {
		res := h.Do("GET", "/auth/.well-known", "", nil)
		wantOK(t, res)
		block, rest := pem.Decode(res.Body)
		if block == nil || block.Type != "PUBLIC KEY" || len(strings.TrimSpace(string(rest))) != 0 {
			t.Fatalf("not one PUBLIC KEY PEM block: %q", res.Body)
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		rsaPub, ok := pub.(*rsa.PublicKey)
		if !ok {
			t.Fatalf("public key is %T", pub)
		}
		if _, err := jwt.ParseString(tok, jwt.WithKey(jwa.RS256, rsaPub)); err != nil {
			t.Errorf("the PEM does not verify an issued token: %v", err)
		}
		if _, err := jwt.ParseString(foreignTok, jwt.WithKey(jwa.RS256, rsaPub)); err == nil {
			t.Errorf("the PEM verifies a token of another key")
		}
	})
	t.Run("JWKS", func(t *testing.T) {
		res := h.Do("GET", "/auth/.well-known/jwks.json", "", nil)
		wantOK(t, res)
		var raw struct {
			Keys []map[string]any `json:"keys"`
		}
		res.JSON(&raw)
		if len(raw.Keys) != 1 {
			t.Fatalf("%d keys", len(raw.Keys))
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := raw.Keys[0][private]; ok {
				t.Errorf("the JWKS publishes the private member %q", private)
			}
		}
		set, err := jwk.Parse(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jwt.ParseString(tok, jwt.WithKeySet(set)); err != nil {
			t.Errorf("the JWKS does not verify an issued token: %v", err)
		}
		if _, err := jwt.ParseString(foreignTok, jwt.WithKeySet(set)); err == nil {
			t.Errorf("the JWKS verifies a token of another key")
		}
		var hdr struct{ Kid string }
		seg, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
		_ = json.Unmarshal(seg, &hdr)
		if raw.Keys[0]["kid"] != hdr.Kid || hdr.Kid == "" {
			t.Errorf("JWKS kid %v, token kid %q", raw.Keys[0]["kid"], hdr.Kid)
		}
	})
}

// TestTokenSlowBodies: clients that send a token request's headers and
// then trickle (or never send) the body hold no concurrency slot: more of
// them than there are slots, on both token routes, do not make valid
// token requests wait or fail; each slow one is answered 408 once
// httpapi.TokenBodyTimeout has passed, and its connection closed.
func TestTokenSlowBodies(t *testing.T) {
	t.Parallel()
	h := start(t)
	id, secret := h.NewClient("victim", hubtest.OfficeIbombo, "type=record.read")
	addr := strings.TrimPrefix(h.URL, "http://")
	n := 2*runtime.GOMAXPROCS(0) + 2 // more than the token routes' slots
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	began := time.Now()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		path := []string{"/auth/token", "/token"}[i%2]
		if _, err := fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", path); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // let the server take them in
	for i := 0; i < 3; i++ {
		start := time.Now()
		res := h.Do("POST", "/auth/token", "", map[string]string{"grant_type": "client_credentials", "client_id": id, "client_secret": secret})
		if res.Status != 200 {
			t.Fatalf("valid token request %d with %d slow bodies pending: %d %s", i, n, res.Status, res.Body)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("valid token request %d took %v", i, d)
		}
	}
	// the slow ones are answered 408, not held until the server's read timeout
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(httpapi.TokenBodyTimeout + 5*time.Second))
		b, err := io.ReadAll(c)
		if !strings.HasPrefix(string(b), "HTTP/1.1 408") || !strings.Contains(string(b), "invalid_request") {
			t.Errorf("slow body %d: %v %q", i, err, b)
		}
	}
	if d := time.Since(began); d < httpapi.TokenBodyTimeout || d > httpapi.TokenBodyTimeout+5*time.Second {
		t.Errorf("slow bodies answered after %v, want about %v", d, httpapi.TokenBodyTimeout)
	}
}

// lockedBuffer is a bytes.Buffer the server goroutine writes and the test
// reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestTokenServerErrorLogged: when the token endpoint cannot read its
// store (here it is closed) it answers a bare 503 temporarily_unavailable
// with Retry-After (the client may try again; a 500 would say the request
// was wrong), and the access log line of that request, at level error,
// carries the cause; neither the answer nor the log quotes the secret.
func TestTokenServerErrorLogged(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil { // every read fails from here on
		t.Fatal(err)
	}
	var logs lockedBuffer
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{
		Log:   slog.New(slog.NewJSONHandler(&logs, nil)),
		Token: auth.TokenHandler(&auth.Clients{Store: st, Cost: 4}, &auth.Issuer{Key: foreignKey(t)}),
	}).Handler())
	defer srv.Close()
	const secret = "s3cret-never-logged"
	res, err := http.Post(srv.URL+"/auth/token", "application/json", strings.NewReader(
		`{"grant_type":"client_credentials","client_id":"`+uuid.NewString()+`","client_secret":"`+secret+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "temporarily_unavailable") ||
		res.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d %s (Retry-After %q), want 503 temporarily_unavailable with Retry-After",
			res.StatusCode, body, res.Header.Get("Retry-After"))
	}
	var line struct {
		Level, Msg, Route string
		Status            int
		Errors            []string
	}
	deadline := time.Now().Add(2 * time.Second)
	for line.Msg == "" && time.Now().Before(deadline) {
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, `"msg":"http"`) {
				_ = json.Unmarshal([]byte(l), &line)
			}
		}
		if line.Msg == "" {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if line.Level != "ERROR" || line.Status != 503 || line.Route != "/auth/token" || len(line.Errors) != 1 || !strings.Contains(line.Errors[0], "read client") {
		t.Errorf("access log line %+v, want level ERROR with the cause; log:\n%s", line, logs.String())
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(string(body), secret) {
		t.Errorf("the secret is in the log or the answer")
	}
}
