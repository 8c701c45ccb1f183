package nationalid_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/testharness/hubtest"
	"github.com/crvshub/crvshub/testharness/mosipmock"
)

// TestConfirmationTokenNeedsTheCallersOwnConfirmScopes: minting a
// confirmation token needs, besides ops.manage, the caller's own
// record.confirm-registration and record.reject-registration reaching the
// event (OpenCRVS's token exchange starts from the registrar's own token):
// a missing scope is a 403 naming it, one that does not reach the event a
// 404, and a refused request mints nothing.
func TestConfirmationTokenNeedsTheCallersOwnConfirmScopes(t *testing.T) {
	e := start(t, mosipmock.Profile{NeverCallBack: true}, "")
	ev := e.register(t, "birth", "mint", verifiedBirth("Mint", "Check")) // born at an Ibombo facility
	req := requested(t, ev)
	const (
		confirm = "type=record.confirm-registration"
		reject  = "type=record.reject-registration"
		ops     = "type=ops.manage"
	)
	area := "&placeOfEvent=administrativeArea"
	cases := []struct {
		name       string
		office     string
		scopes     []string
		action     string // "" = the Requested REGISTER
		wantStatus int
		wantInBody string
	}{
		{"ops.manage alone", hubtest.OfficeIlanga, []string{ops}, "", 403, "record.confirm-registration"},
		{"no reject scope", hubtest.OfficeIbombo, []string{ops, confirm}, "", 403, "record.reject-registration"},
		{"no confirm scope", hubtest.OfficeIbombo, []string{ops, reject}, "", 403, "record.confirm-registration"},
		{"confirm scopes without ops.manage", hubtest.OfficeIbombo, []string{confirm, reject}, "", 403, "ops.manage"},
		{"scopes for deaths only", hubtest.OfficeIbombo, []string{ops, confirm + "&event=death", reject + "&event=death"}, "", 403, "event=birth"},
		{"confirm reaches, reject does not", hubtest.OfficeIlanga, []string{ops, confirm, reject + area}, "", 404, "NOT_FOUND"},
		{"another district", hubtest.OfficeIlanga, []string{ops, confirm + area, reject + area}, "", 404, "NOT_FOUND"},
		{"unknown option", hubtest.OfficeIbombo, []string{ops, confirm + "&someday=yes", reject}, "", 404, "NOT_FOUND"},
		{"not a Requested action", hubtest.OfficeIbombo, []string{ops, confirm, reject}, ev.Actions[0].ID, 404, "NOT_FOUND"},
		{"unknown action", hubtest.OfficeIbombo, []string{ops, confirm, reject}, core.NewID(), 404, "NOT_FOUND"},
		{"its district", hubtest.OfficeIbombo, []string{ops, confirm + area, reject + area}, "", 200, "token"},
		{"unrestricted", hubtest.OfficeIlanga, []string{ops, confirm, reject}, "", 200, "token"},
	}
	minted := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			action := c.action
			if action == "" {
				action = req.ID
			}
			id, secret := e.h.NewClient(c.name, c.office, c.scopes...)
			res := e.h.Do("POST", fmt.Sprintf("/api/events/ops/pending/%s/%s/token", ev.ID, action), e.h.Token(id, secret), nil)
			if res.Status != c.wantStatus || !strings.Contains(string(res.Body), c.wantInBody) {
				t.Fatalf("token: %d %.300s, want %d naming %q", res.Status, res.Body, c.wantStatus, c.wantInBody)
			}
			audits := mintAudits(t, e, ev.ID, id)
			if c.wantStatus != http.StatusOK {
				if len(audits) != 0 {
					t.Fatalf("a refused request left %d confirmation.token audit entries", len(audits))
				}
				return
			}
			minted++
			if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			var tr struct {
				Token     string `json:"token"`
				ExpiresIn int    `json:"expiresIn"`
			}
			res.JSON(&tr)
			if sub := tokenSubject(t, tr.Token); sub != id {
				t.Errorf("token sub %q, want the minting client %s", sub, id)
			}
			if len(audits) != 1 || audits[0].ActorType != core.UserTypeSystem {
				t.Fatalf("audit entries %+v, want one by %s", audits, id)
			}
			var detail map[string]any
			if err := json.Unmarshal(audits[0].Detail, &detail); err != nil || detail["actionId"] != req.ID {
				t.Errorf("audit detail %s (%v), want actionId %s", audits[0].Detail, err, req.ID)
			}
			if strings.Contains(string(audits[0].Detail), tr.Token) || strings.Contains(string(audits[0].Detail), "token\"") {
				t.Errorf("the audit entry holds the token: %s", audits[0].Detail)
			}
		})
	}
	if minted != 2 {
		t.Fatalf("%d tokens minted, want 2", minted)
	}

	// once the action is resolved, a token has no purpose any more
	if res := e.h.Do("POST", fmt.Sprintf("/api/events/events/%s/actions/%s/reject", ev.ID, req.ID), e.token, map[string]any{"reason": "never answered"}); res.Status != http.StatusOK {
		t.Fatalf("reject: %d %s", res.Status, res.Body)
	}
	if res := e.h.Do("POST", fmt.Sprintf("/api/events/ops/pending/%s/%s/token", ev.ID, req.ID), e.token, nil); res.Status != http.StatusConflict {
		t.Fatalf("token for a resolved action: %d %.300s", res.Status, res.Body)
	}
}

// TestConfirmationTokenRevokedWithItsClient: a confirmation token is
// issued in the minting client's name, so disabling that client stops its
// tokens at once, like its own; nothing is accepted meanwhile, and
// enabling the client again does not revive them.
func TestConfirmationTokenRevokedWithItsClient(t *testing.T) {
	e := start(t, mosipmock.Profile{NeverCallBack: true}, "")
	ev := e.register(t, "birth", "rvk", verifiedBirth("Revoke", "Me"))
	req := requested(t, ev)
	id, secret := e.h.NewClient("registrar", hubtest.OfficeIbombo, "type=ops.manage", "type=record.confirm-registration", "type=record.reject-registration")
	res := e.h.Do("POST", fmt.Sprintf("/api/events/ops/pending/%s/%s/token", ev.ID, req.ID), e.h.Token(id, secret), nil)
	if res.Status != http.StatusOK {
		t.Fatalf("token: %d %s", res.Status, res.Body)
	}
	var tr struct{ Token string }
	res.JSON(&tr)
	admin := core.Principal{ID: "admin", Type: core.UserTypeSystem}
	// tokens issued before a client's last change are refused, to the
	// second (iat's grain): change it in a later second than the token's
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	if err := e.h.App.Clients.Disable(context.Background(), id, admin); err != nil {
		t.Fatal(err)
	}
	accept := fmt.Sprintf("/api/events/events/%s/actions/%s/accept", ev.ID, req.ID)
	if r := e.h.Do("POST", accept, tr.Token, map[string]any{}); r.Status != http.StatusUnauthorized {
		t.Fatalf("accept with a disabled client's token: %d %.300s", r.Status, r.Body)
	}
	if st := core.Derive(e.stored(t, ev.ID)); st.Status == core.EventRegistered || !st.HasFlag("register:requested") {
		t.Fatalf("the refused accept changed the record: %s %v", st.Status, st.Flags)
	}
	if err := e.h.App.Clients.Enable(context.Background(), id, admin); err != nil {
		t.Fatal(err)
	}
	if r := e.h.Do("POST", accept, tr.Token, map[string]any{}); r.Status != http.StatusUnauthorized {
		t.Fatalf("accept with a token from before the client was disabled, once it is enabled again: %d %.300s (enabling must not revive it)", r.Status, r.Body)
	}
	res = e.h.Do("POST", fmt.Sprintf("/api/events/ops/pending/%s/%s/token", ev.ID, req.ID), e.h.Token(id, secret), nil)
	if res.Status != http.StatusOK {
		t.Fatalf("new token after enable: %d %s", res.Status, res.Body)
	}
	res.JSON(&tr)
	if r := e.h.Do("POST", accept, tr.Token, map[string]any{}); r.Status != http.StatusOK {
		t.Fatalf("accept with a token minted after enable: %d %s", r.Status, r.Body)
	}
	if st := core.Derive(e.stored(t, ev.ID)); st.Status != core.EventRegistered {
		t.Fatalf("after accept: %s", st.Status)
	}
}

func mintAudits(t *testing.T, e *env, eventID, actor string) []core.AuditEntry {
	t.Helper()
	all, err := e.h.App.Store.Audit(context.Background(), core.AuditFilter{ObjectID: eventID})
	if err != nil {
		t.Fatal(err)
	}
	var out []core.AuditEntry
	for _, a := range all {
		if a.Operation == "confirmation.token" && a.ActorID == actor {
			out = append(out, a)
		}
	}
	return out
}

// tokenSubject reads a JWT's sub without verifying it (the hub did).
func tokenSubject(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Sub string }
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.Sub
}
