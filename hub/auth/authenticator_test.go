package auth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/crvshub/crvshub/core"
)

func TestAuthenticator(t *testing.T) {
	kp, _ := testKeys(t)
	ctx := context.Background()
	clients, st := newTestClients(t)
	office := uuid.NewString()
	id, _, err := clients.Create(ctx, "HIS", []string{"record.notify[event=birth]", "type=record.create"}, office, admin)
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := st.Client(ctx, id)
	iss := &Issuer{Key: kp}
	tok, _, err := iss.IssueSystemToken(cl.ID, cl.Scopes)
	if err != nil {
		t.Fatal(err)
	}
	a := &Authenticator{Verifier: NewVerifier(kp), Store: st}

	for _, bearer := range []string{"Bearer " + tok, "bearer " + tok, tok, "  Bearer   " + tok + " "} {
		p, err := a.Authenticate(ctx, bearer)
		if err != nil {
			t.Fatalf("Authenticate(%.20q…): %v", bearer, err)
		}
		if p.ID != id || p.Type != core.UserTypeSystem || p.Office != office || p.Role != "" {
			t.Errorf("principal = %+v", p)
		}
		if got := p.Scopes.Strings(); !slices.Equal(got, []string{"type=record.notify&event=birth", "type=record.create"}) {
			t.Errorf("principal scopes = %v", got)
		}
		if !p.Scopes.Allows(core.ScopeRecordNotify, "birth") || p.Scopes.Allows(core.ScopeRecordNotify, "death") {
			t.Error("parsed scopes do not keep the event option")
		}
	}

	// The client is read on every call.
	before := st.clientReads.Load()
	for range 3 {
		if _, err := a.Authenticate(ctx, "Bearer "+tok); err != nil {
			t.Fatal(err)
		}
	}
	if got := st.clientReads.Load() - before; got != 3 {
		t.Errorf("3 calls read the client %d times, want 3", got)
	}

	fail := func(t *testing.T, bearer, wantMsg string) {
		t.Helper()
		_, err := a.Authenticate(ctx, bearer)
		var ce *core.Error
		if !errors.As(err, &ce) || ce.Kind != core.KindUnauthenticated {
			t.Fatalf("err = %v, want KindUnauthenticated", err)
		}
		if !strings.Contains(err.Error(), wantMsg) {
			t.Errorf("err = %q, want %q", err, wantMsg)
		}
	}

	t.Run("disabled through the service", func(t *testing.T) {
		if err := clients.Disable(ctx, id, admin); err != nil {
			t.Fatal(err)
		}
		fail(t, "Bearer "+tok, "client disabled")
		if err := clients.Enable(ctx, id, admin); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, "Bearer "+tok); err != nil {
			t.Fatalf("re-enabled: %v", err)
		}
	})
	t.Run("disabled by another process", func(t *testing.T) {
		st.setStatus(id, core.ClientDisabled)
		fail(t, "Bearer "+tok, "client disabled")
		st.setStatus(id, core.ClientActive)
	})
	t.Run("unknown client", func(t *testing.T) {
		other, _, err := iss.IssueSystemToken(uuid.NewString(), []string{"type=record.read"})
		if err != nil {
			t.Fatal(err)
		}
		fail(t, "Bearer "+other, "client not found")
	})
	t.Run("empty", func(t *testing.T) { fail(t, "", "missing bearer token") })
	t.Run("bearer without token", func(t *testing.T) { fail(t, "Bearer ", "missing bearer token") })
	t.Run("basic credentials", func(t *testing.T) { fail(t, "Basic dXNlcjpwYXNz", "token malformed") })
	t.Run("unparsable scope", func(t *testing.T) {
		bad, err := iss.Issue(map[string]any{"sub": id, "userType": "system", "scope": []string{"type=record.read", "not a scope!"}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		fail(t, "Bearer "+bad, "scope not understood")
	})
	t.Run("user token", func(t *testing.T) {
		u, err := iss.Issue(map[string]any{"sub": "user-1", "userType": "user", "scope": []string{"type=record.read"}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		fail(t, "Bearer "+u, "user tokens are not accepted")
		withUsers := &Authenticator{Verifier: a.Verifier, Store: st,
			Users: func(_ context.Context, c *Claims, s core.Scopes) (core.Principal, error) {
				return core.Principal{ID: c.Subject, Type: core.UserTypeUser, Scopes: s}, nil
			}}
		p, err := withUsers.Authenticate(ctx, "Bearer "+u)
		if err != nil || p.ID != "user-1" || p.Type != core.UserTypeUser {
			t.Errorf("Users resolver: %+v, %v", p, err)
		}
	})
	t.Run("unknown userType", func(t *testing.T) {
		u, err := iss.Issue(map[string]any{"sub": id, "userType": "robot", "scope": []string{}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		fail(t, "Bearer "+u, "userType not accepted")
	})
	t.Run("deleted client", func(t *testing.T) {
		st.deleteClient(id)
		fail(t, "Bearer "+tok, "client not found")
	})
	t.Run("store failure is not a 401", func(t *testing.T) {
		st.setFailRead(errors.New("disk on fire"))
		defer st.setFailRead(nil)
		_, err := a.Authenticate(ctx, "Bearer "+tok)
		if core.KindOf(err) != core.KindUnavailable {
			t.Errorf("err = %v, want KindUnavailable", err)
		}
	})
}
