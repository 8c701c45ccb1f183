package auth

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/crvshub/crvshub/core"
)

// TestConfirmationToken: a record-scoped token authenticates as a
// principal limited to its event and action, in the name of the client
// that minted it, holds only the confirmation scopes, and is refused when
// malformed, when it names no client (the hub's own name, as earlier
// versions issued it) or when its client is disabled.
func TestConfirmationToken(t *testing.T) {
	kp, _ := testKeys(t)
	ctx := context.Background()
	clients, st := newTestClients(t)
	iss := &Issuer{Key: kp}
	a := &Authenticator{Verifier: NewVerifier(kp), Store: st}
	ev, act := uuid.NewString(), uuid.NewString()
	minter, _, err := clients.Create(ctx, "Registrar", []string{"ops.manage", "record.confirm-registration", "record.reject-registration"}, "", admin)
	if err != nil {
		t.Fatal(err)
	}

	tok, expiresIn, err := iss.IssueConfirmationToken(minter, ev, act)
	if err != nil {
		t.Fatal(err)
	}
	if expiresIn != 7*24*3600 {
		t.Errorf("expiresIn = %d, want 7 days", expiresIn)
	}
	p, err := a.Authenticate(ctx, "Bearer "+tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Record == nil || p.Record.EventID != ev || p.Record.ActionID != act || p.ID != minter || p.Type != core.UserTypeSystem {
		t.Fatalf("principal = %+v (record %+v)", p, p.Record)
	}
	if !p.Scopes.Has(core.ScopeConfirmRegistration) || !p.Scopes.Has(core.ScopeRejectRegistration) || p.Scopes.Has(core.ScopeRecordRegister) {
		t.Fatalf("scopes = %v", p.Scopes.Strings())
	}
	if _, _, err := iss.IssueConfirmationToken(minter, "not-a-uuid", act); err == nil {
		t.Fatal("a token for a malformed event id was issued")
	}
	if _, _, err := iss.IssueConfirmationToken("", ev, act); err == nil {
		t.Fatal("a token in no client's name was issued")
	}

	refused := func(t *testing.T, claims map[string]any, want string) {
		t.Helper()
		tok, err := iss.Issue(claims, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Authenticate(ctx, tok)
		if core.KindOf(err) != core.KindUnauthenticated || !strings.Contains(err.Error(), want) {
			t.Fatalf("Authenticate = %v, want 401 containing %q", err, want)
		}
	}
	const hubSubject = "crvshub" // earlier versions' sub: no client, so no way to revoke
	t.Run("hub subject", func(t *testing.T) {
		refused(t, map[string]any{"sub": hubSubject, "userType": "system", "scope": []string{"record.confirm-registration", "record.reject-registration"},
			ClaimEventID: ev, ClaimActionID: act}, "client not found")
	})
	t.Run("extra scope", func(t *testing.T) {
		refused(t, map[string]any{"sub": minter, "userType": "system", "scope": []string{"record.confirm-registration", "record.register"},
			ClaimEventID: ev, ClaimActionID: act}, "only hold the confirmation scopes")
	})
	t.Run("event without action", func(t *testing.T) {
		refused(t, map[string]any{"sub": hubSubject, "userType": "system", "scope": []string{"record.confirm-registration"},
			ClaimEventID: ev}, "eventId and actionId")
	})
	t.Run("hub subject without record claims", func(t *testing.T) {
		refused(t, map[string]any{"sub": hubSubject, "userType": "system", "scope": []string{"record.confirm-registration"}}, "client not found")
	})
	t.Run("disabled client", func(t *testing.T) {
		id, _, err := clients.Create(ctx, "Partner", []string{"record.confirm-registration"}, "", admin)
		if err != nil {
			t.Fatal(err)
		}
		claims := map[string]any{"sub": id, "userType": "system", "scope": []string{"record.confirm-registration"}, ClaimEventID: ev, ClaimActionID: act}
		tok, err := iss.Issue(claims, 0)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := a.Authenticate(ctx, tok); err != nil || p.ID != id || p.Record == nil {
			t.Fatalf("active client's record token: %+v, %v", p, err)
		}
		if err := clients.Disable(ctx, id, admin); err != nil {
			t.Fatal(err)
		}
		refused(t, claims, "client disabled")
	})
}
