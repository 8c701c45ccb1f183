package auth

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// clock is a test clock moved by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// TestClientChangeRevokesTokens: rotating a client's secret revokes the
// tokens issued before it; disabling revokes them too, and enabling the
// client again does not revive them: only tokens issued after the last
// change work.
func TestClientChangeRevokesTokens(t *testing.T) {
	kp, _ := testKeys(t)
	ctx := context.Background()
	c := &clock{t: testNow.Add(300 * time.Millisecond)}
	clients, st := newTestClients(t)
	clients.Now = c.now
	id, _ := mustCreate(t, clients, "type=record.read")
	iss := &Issuer{Key: kp, Now: c.now}
	a := &Authenticator{Verifier: &Verifier{Key: kp, Now: c.now}, Store: st}
	issue := func() string {
		t.Helper()
		tok, _, err := iss.IssueSystemToken(id, []string{"type=record.read"})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	works := func(name, tok string, want bool) {
		t.Helper()
		_, err := a.Authenticate(ctx, "Bearer "+tok)
		if want && err != nil {
			t.Fatalf("%s: refused: %v", name, err)
		}
		if !want && (err == nil || !strings.Contains(err.Error(), "credentials last changed")) {
			t.Fatalf("%s: err = %v, want refused as issued before the client's last change", name, err)
		}
	}

	// a token issued in the same second as the creation works
	first := issue()
	works("token of the creation's second", first, true)

	c.t = c.t.Add(time.Minute)
	if _, err := clients.RotateSecret(ctx, id, admin); err != nil {
		t.Fatal(err)
	}
	works("token from before rotate-secret", first, false)
	c.t = c.t.Add(time.Second) // TokenHandler mints nothing in the change's second
	second := issue()
	works("token after rotate-secret", second, true)

	c.t = c.t.Add(time.Minute)
	if err := clients.Disable(ctx, id, admin); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(time.Minute)
	if err := clients.Enable(ctx, id, admin); err != nil {
		t.Fatal(err)
	}
	works("token from before disable, after enable", second, false)
	c.t = c.t.Add(time.Second)
	works("token after enable", issue(), true)
}

// TestTokenLifetimeCapped: a token signed with the hub's key but living
// longer than the hub issues is refused: a client's own token beyond
// the system TTL, a record-scoped one beyond ConfirmationTTL, and one
// without iat (its lifetime unknown).
func TestTokenLifetimeCapped(t *testing.T) {
	kp, _ := testKeys(t)
	ctx := context.Background()
	clients, st := newTestClients(t)
	id, _ := mustCreate(t, clients, "type=record.read")
	now := testNow.Add(time.Hour)
	a := &Authenticator{Verifier: &Verifier{Key: kp, Now: fixedClock(now)}, Store: st}
	system := func(ttl time.Duration) map[string]any {
		c := systemClaims(now)
		c["sub"], c["exp"] = id, now.Add(ttl).Unix()
		return c
	}
	record := func(ttl time.Duration) map[string]any {
		c := system(ttl)
		c["scope"], c[ClaimEventID], c[ClaimActionID] = confirmationScopes, uuid.NewString(), uuid.NewString()
		return c
	}
	noIat := system(time.Minute)
	delete(noIat, "iat")
	tests := []struct {
		name   string
		claims map[string]any
		want   string // "" = accepted
	}{
		{"system token of the system TTL", system(DefaultTTL), ""},
		{"system token a second longer", system(DefaultTTL + time.Second), "lifetime is longer"},
		{"system token of a year", system(365 * 24 * time.Hour), "lifetime is longer"},
		{"record-scoped token of ConfirmationTTL", record(ConfirmationTTL), ""},
		{"record-scoped token of 8 days", record(ConfirmationTTL + 24*time.Hour), "lifetime is longer"},
		{"token without iat", noIat, "no iat"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.Authenticate(ctx, "Bearer "+signRS256(t, kp, tc.claims))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// signRS256 signs claims as they are with the hub's key.
func signRS256(t *testing.T, kp *KeyPair, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	b, err := jws.Sign(payload, jws.WithKey(jwa.RS256, kp.JWK))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRotateRevokesTokensOfTheSameSecond: iat has whole seconds, so a
// token minted with the old secret earlier in the second of a rotate (or
// of a disable followed by enable) carries the same iat as the change. It
// must be refused all the same: an attacker holding a stolen secret who
// mints a token every few hundred milliseconds would otherwise always
// hold one that survives the rotate for its whole lifetime.
func TestRotateRevokesTokensOfTheSameSecond(t *testing.T) {
	kp, _ := testKeys(t)
	ctx := context.Background()
	c := &clock{t: testNow.Add(time.Minute + 100*time.Millisecond)}
	clients, st := newTestClients(t)
	created := testNow.Add(-time.Hour)
	clients.Now = func() time.Time { return created }
	id, _ := mustCreate(t, clients, "type=record.read")
	clients.Now = c.now
	iss := &Issuer{Key: kp, Now: c.now}
	a := &Authenticator{Verifier: &Verifier{Key: kp, Now: c.now}, Store: st}

	stolen, _, err := iss.IssueSystemToken(id, []string{"type=record.read"})
	if err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(600 * time.Millisecond) // the same second
	if _, err := clients.RotateSecret(ctx, id, admin); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(2 * time.Second)
	if _, err := a.Authenticate(ctx, "Bearer "+stolen); err == nil || !strings.Contains(err.Error(), "credentials last changed") {
		t.Fatalf("token minted earlier in the rotate's second: err = %v, want refused as issued before the client's last change", err)
	}
	fresh, _, err := iss.IssueSystemToken(id, []string{"type=record.read"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, "Bearer "+fresh); err != nil {
		t.Fatalf("token minted after the rotate's second: refused: %v", err)
	}
}
