package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/crvshub/crvshub/core"
)

var testNow = time.Date(2026, 3, 4, 10, 20, 30, 0, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func b64(v any) string {
	var b []byte
	switch x := v.(type) {
	case string:
		b = []byte(x)
	default:
		var err error
		if b, err = json.Marshal(x); err != nil {
			panic(err)
		}
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// systemClaims are the claims of a valid system token at testNow.
func systemClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss":      DefaultIssuer,
		"aud":      DefaultAudience,
		"sub":      "0b8f3c1e-5d0e-4f3a-9b1e-2d4c6e8f0a12",
		"userType": "system",
		"scope":    []string{"type=record.read"},
		"iat":      now.Unix(),
		"exp":      now.Add(10 * time.Minute).Unix(),
	}
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	kp, _ := testKeys(t)
	iss := &Issuer{Key: kp, Now: fixedClock(testNow)}
	ver := &Verifier{Key: kp, Now: fixedClock(testNow.Add(time.Minute))}
	clientID := uuid.NewString()

	tok, expiresIn, err := iss.IssueSystemToken(clientID, []string{
		"record.notify[event=birth|death]", // v1.9 bracket form
		"type=record.search&placeOfEvent=all&event=birth",
		"notification-api", // legacy name: create + notify
	})
	if err != nil {
		t.Fatal(err)
	}
	if expiresIn != 600 {
		t.Errorf("expiresIn = %d, want 600", expiresIn)
	}

	// Header: RS256 with the key's kid.
	msg, err := jws.ParseString(tok)
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if h.Algorithm() != jwa.RS256 || h.KeyID() != kp.KeyID {
		t.Errorf("header alg=%q kid=%q, want RS256 %q", h.Algorithm(), h.KeyID(), kp.KeyID)
	}

	// Payload as JSON: scope is an array of canonical v2 strings.
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var payload map[string]any
	if err := json.Unmarshal(raw, &payload); err != nil {
		t.Fatal(err)
	}
	wantScope := []string{
		"type=record.notify&event=birth,death",
		"type=record.search&event=birth&placeOfEvent=all",
		"type=record.create",
		"type=record.notify",
	}
	gotScope, ok := stringList(payload["scope"])
	if !ok || !slices.Equal(gotScope, wantScope) {
		t.Errorf("payload scope = %v, want %v", payload["scope"], wantScope)
	}
	if _, ok := payload["aud"].([]any); !ok {
		t.Errorf("payload aud = %v, want a JSON array", payload["aud"])
	}

	c, err := ver.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != clientID || c.UserType != core.UserTypeSystem || c.Issuer != DefaultIssuer {
		t.Errorf("claims sub=%q userType=%q iss=%q", c.Subject, c.UserType, c.Issuer)
	}
	if !slices.Equal(c.Audience, DefaultAudience) {
		t.Errorf("aud = %v", c.Audience)
	}
	if !slices.Equal(c.Scope, wantScope) {
		t.Errorf("scope = %v, want %v", c.Scope, wantScope)
	}
	if !c.IssuedAt.Equal(testNow) || !c.ExpiresAt.Equal(testNow.Add(600*time.Second)) {
		t.Errorf("iat=%v exp=%v", c.IssuedAt, c.ExpiresAt)
	}
	if _, err := uuid.Parse(c.JwtID); err != nil {
		t.Errorf("jti %q is not a UUID", c.JwtID)
	}
	if len(c.Extra) != 0 {
		t.Errorf("unexpected extra claims %v", c.Extra)
	}

	// Two tokens never share a jti.
	tok2, _, err := iss.IssueSystemToken(clientID, []string{"type=record.read"})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ver.Verify(context.Background(), tok2)
	if err != nil {
		t.Fatal(err)
	}
	if c2.JwtID == c.JwtID {
		t.Error("jti repeated")
	}
}

func TestIssueGeneric(t *testing.T) {
	kp, _ := testKeys(t)
	iss := &Issuer{Key: kp, Now: fixedClock(testNow)}
	ver := &Verifier{Key: kp, Now: fixedClock(testNow)}

	tok, err := iss.Issue(map[string]any{
		"sub":      "client-1",
		"userType": "system",
		"scope":    []string{"type=record.confirm-registration"},
		"eventId":  "ev-1",
		"actionId": "ac-1",
	}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ver.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Extra["eventId"] != "ev-1" || c.Extra["actionId"] != "ac-1" {
		t.Errorf("extra = %v", c.Extra)
	}
	if !c.ExpiresAt.Equal(testNow.Add(time.Hour)) {
		t.Errorf("exp = %v", c.ExpiresAt)
	}

	for _, k := range []string{"iss", "exp", "iat", "nbf", "jti"} {
		if _, err := iss.Issue(map[string]any{k: "x", "sub": "a"}, 0); err == nil {
			t.Errorf("Issue accepted reserved claim %q", k)
		}
	}
	if _, _, err := iss.IssueSystemToken("c", []string{"bad scope"}); err == nil {
		t.Error("IssueSystemToken accepted an unparsable scope")
	}
	if _, _, err := (&Issuer{}).IssueSystemToken("c", nil); err == nil {
		t.Error("Issue without a key succeeded")
	}
}

func TestVerifyRejects(t *testing.T) {
	kp, other := testKeys(t)
	ctx := context.Background()
	ver := &Verifier{Key: kp, Now: fixedClock(testNow)}
	good := &Issuer{Key: kp, Now: fixedClock(testNow)}
	sys := func(i *Issuer) string {
		t.Helper()
		tok, _, err := i.IssueSystemToken(uuid.NewString(), []string{"type=record.read"})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	issue := func(claims map[string]any) string {
		t.Helper()
		tok, err := good.Issue(claims, 0)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	pubPEM := kp.PublicPEM

	hs256 := func() string {
		signing := b64(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kp.KeyID}) + "." + b64(systemClaims(testNow))
		m := hmac.New(sha256.New, pubPEM)
		m.Write([]byte(signing))
		return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	tampered := func() string {
		parts := strings.Split(sys(good), ".")
		cl := systemClaims(testNow)
		cl["scope"] = []string{"type=record.register"}
		return parts[0] + "." + b64(cl) + "." + parts[2]
	}
	rs512 := func() string {
		tk, err := jwt.NewBuilder().Issuer(DefaultIssuer).Audience(DefaultAudience).Subject("x").
			IssuedAt(testNow).Expiration(testNow.Add(time.Minute)).
			Claim("userType", "system").Claim("scope", []string{"type=record.read"}).Build()
		if err != nil {
			t.Fatal(err)
		}
		b, err := jwt.Sign(tk, jwt.WithKey(jwa.RS512, kp.JWK))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	withoutClaim := func(name string) string {
		cl := map[string]any{"sub": "a", "userType": "system", "scope": []string{"type=record.read"}}
		delete(cl, name)
		return issue(cl)
	}

	tests := []struct {
		name    string
		token   string
		wantMsg string
	}{
		{"empty", "", "missing bearer token"},
		{"garbage", "not a token", "token malformed"},
		{"garbage three parts", "a.b.c", "token malformed"},
		{"json serialization", `{"payload":"e30","signatures":[]}`, "token malformed"},
		{"expired", sys(&Issuer{Key: kp, Now: fixedClock(testNow.Add(-11 * time.Minute))}), "token expired"},
		{"expired beyond skew", sys(&Issuer{Key: kp, TTL: time.Minute, Now: fixedClock(testNow.Add(-66 * time.Second))}), "token expired"},
		{"issued in the future", sys(&Issuer{Key: kp, Now: fixedClock(testNow.Add(time.Minute))}), "not valid yet"},
		{"signed by another key", sys(&Issuer{Key: other, Now: fixedClock(testNow)}), "token signature invalid"},
		{"alg none", b64(map[string]any{"alg": "none", "typ": "JWT"}) + "." + b64(systemClaims(testNow)) + ".", "token signature invalid"},
		{"alg none with kid", b64(map[string]any{"alg": "none", "kid": kp.KeyID}) + "." + b64(systemClaims(testNow)) + ".", "token signature invalid"},
		{"HS256 with the public key as secret", hs256(), "token signature invalid"},
		{"RS512 by the right key", rs512(), "token signature invalid"},
		{"tampered payload", tampered(), "token signature invalid"},
		{"wrong issuer", sys(&Issuer{Key: kp, Issuer: "evil", Now: fixedClock(testNow)}), "issuer not accepted"},
		{"wrong audience", sys(&Issuer{Key: kp, Audience: []string{"opencrvs:auth-user", "opencrvs:user-mgnt-user"}, Now: fixedClock(testNow)}), "audience not accepted"},
		{"no audience", sys(&Issuer{Key: kp, Audience: []string{}, Now: fixedClock(testNow)}), "audience not accepted"},
		{"no sub", withoutClaim("sub"), "no sub claim"},
		{"no userType", withoutClaim("userType"), "no userType claim"},
		{"no scope", withoutClaim("scope"), "no scope claim"},
		{"scope is a string", issue(map[string]any{"sub": "a", "userType": "system", "scope": "type=record.read"}), "scope claim is not a list"},
		{"scope holds a number", issue(map[string]any{"sub": "a", "userType": "system", "scope": []any{"type=record.read", 7}}), "scope claim is not a list"},
		{"userType not a string", issue(map[string]any{"sub": "a", "userType": 1, "scope": []string{}}), "userType claim is not a string"},
		{"too long", strings.Repeat("a", 20000) + ".b.c", "token too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ver.Verify(ctx, tc.token)
			if err == nil {
				t.Fatalf("Verify accepted the token: %+v", c)
			}
			var ce *core.Error
			if !errors.As(err, &ce) || ce.Kind != core.KindUnauthenticated {
				t.Fatalf("err = %#v, want a *core.Error of KindUnauthenticated", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %q, want it to contain %q", err, tc.wantMsg)
			}
			if len(tc.token) > 10 {
				for _, part := range strings.Split(tc.token, ".") {
					if len(part) > 10 && strings.Contains(err.Error(), part) {
						t.Errorf("error leaks part of the token: %q", err)
					}
				}
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	kp, _ := testKeys(t)
	ctx := context.Background()
	ver := &Verifier{Key: kp, Now: fixedClock(testNow)}
	tests := []struct {
		name string
		iss  *Issuer
	}{
		{"expired within skew", &Issuer{Key: kp, TTL: time.Minute, Now: fixedClock(testNow.Add(-63 * time.Second))}},
		{"issued slightly in the future", &Issuer{Key: kp, Now: fixedClock(testNow.Add(3 * time.Second))}},
		{"gateway audience only", &Issuer{Key: kp, Audience: []string{"opencrvs:gateway-user"}, Now: fixedClock(testNow)}},
		{"events audience only", &Issuer{Key: kp, Audience: []string{"opencrvs:events-user"}, Now: fixedClock(testNow)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, _, err := tc.iss.IssueSystemToken("c1", []string{"type=record.read"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ver.Verify(ctx, tok); err != nil {
				t.Fatal(err)
			}
			if _, err := ver.Verify(ctx, " "+tok+"\n"); err != nil {
				t.Fatalf("surrounding space: %v", err)
			}
		})
	}
}
