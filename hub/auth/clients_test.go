package auth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/crvshub/crvshub/core"
)

var admin = core.Principal{ID: "admin-1", Type: core.UserTypeUser}

func newTestClients(t *testing.T) (*Clients, *fakeStore) {
	t.Helper()
	st := newFakeStore()
	return &Clients{Store: st, Now: fixedClock(testNow), Cost: bcrypt.MinCost}, st
}

func mustCreate(t *testing.T, c *Clients, scopes ...string) (string, string) {
	t.Helper()
	id, secret, err := c.Create(context.Background(), "Hospital HIS", scopes, "", admin)
	if err != nil {
		t.Fatal(err)
	}
	return id, secret
}

func wantKind(t *testing.T, err error, kind core.Kind, code string) *core.Error {
	t.Helper()
	var ce *core.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *core.Error", err)
	}
	if ce.Kind != kind || (code != "" && ce.Code != code) {
		t.Fatalf("err kind=%v code=%q (%v), want kind=%v code=%q", ce.Kind, ce.Code, err, kind, code)
	}
	return ce
}

func TestSecrets(t *testing.T) {
	s1, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := NewSecret()
	if len(s1) != 43 || s1 == s2 || strings.ContainsAny(s1, "+/=") {
		t.Fatalf("secrets %q %q are not distinct 43-char base64url", s1, s2)
	}
	h1, err := HashSecretCost(s1, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := HashSecretCost(s1, bcrypt.MinCost)
	if h1 == h2 {
		t.Error("hashes are not salted")
	}
	if !CheckSecret(h1, s1) || !CheckSecret(h2, s1) {
		t.Error("secret does not match its hash")
	}
	if CheckSecret(h1, s2) || CheckSecret(h1, "") || CheckSecret("", s1) || CheckSecret("garbage", s1) {
		t.Error("CheckSecret matched what it should not")
	}
	if CheckSecret(h1, s1+strings.Repeat("x", 40)) {
		t.Error("CheckSecret matched an over-long secret")
	}
	if _, err := HashSecret(strings.Repeat("x", 73)); err == nil {
		t.Error("HashSecret accepted a secret bcrypt would truncate")
	}
	h, err := HashSecret("s")
	if err != nil {
		t.Fatal(err)
	}
	if cost, _ := bcrypt.Cost([]byte(h)); cost != bcrypt.DefaultCost {
		t.Errorf("HashSecret cost = %d, want %d", cost, bcrypt.DefaultCost)
	}
}

func TestClientsCreate(t *testing.T) {
	c, st := newTestClients(t)
	ctx := core.WithRequestMeta(context.Background(), core.RequestMeta{CorrelationID: "corr-1", RemoteAddr: "10.0.0.1"})
	office := uuid.NewString()
	id, secret, err := c.Create(ctx, "  Hospital HIS ", []string{
		"record.notify[event=birth]", "type=record.create", "type=record.create", "recordsearch",
	}, office, admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uuid.Parse(id); err != nil {
		t.Errorf("client id %q is not a UUID", id)
	}
	cl, err := st.Client(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"type=record.notify&event=birth", "type=record.create", "type=record.search"}
	if !slices.Equal(cl.Scopes, want) {
		t.Errorf("stored scopes = %v, want %v", cl.Scopes, want)
	}
	if cl.Name != "Hospital HIS" || cl.Office != office || cl.Status != core.ClientActive ||
		!cl.CreatedAt.Equal(testNow) || !cl.UpdatedAt.Equal(testNow) {
		t.Errorf("stored client = %+v", cl)
	}
	if cl.SecretHash == secret || strings.Contains(cl.SecretHash, secret) || !CheckSecret(cl.SecretHash, secret) {
		t.Error("secret not stored as its hash")
	}

	audit, _ := st.Audit(ctx, core.AuditFilter{ObjectID: id})
	if len(audit) != 1 {
		t.Fatalf("audit = %+v, want one entry", audit)
	}
	a := audit[0]
	if a.Operation != "client.create" || a.ObjectType != "client" || a.ActorID != "admin-1" || a.ActorType != core.UserTypeUser ||
		a.CorrelationID != "corr-1" || a.RemoteAddr != "10.0.0.1" || !a.At.Equal(testNow) {
		t.Errorf("audit entry = %+v", a)
	}
	if strings.Contains(string(a.Detail), secret) || strings.Contains(string(a.Detail), cl.SecretHash) {
		t.Error("audit detail holds the secret or its hash")
	}
	if !strings.Contains(string(a.Detail), "type=record.search") {
		t.Errorf("audit detail %s lacks the scopes", a.Detail)
	}

	list, err := c.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != id {
		t.Errorf("List = %v, %v", list, err)
	}
	got, err := c.Get(ctx, id)
	if err != nil || got.ID != id {
		t.Errorf("Get = %v, %v", got, err)
	}
	_, err = c.Get(ctx, uuid.NewString())
	wantKind(t, err, core.KindNotFound, "CLIENT_NOT_FOUND")
}

func TestClientsCreateInvalid(t *testing.T) {
	tests := []struct {
		name    string
		cname   string
		scopes  []string
		office  string
		code    string
		wantMsg string
	}{
		{"empty name", "", []string{"type=record.read"}, "", "INVALID_NAME", "name is required"},
		{"blank name", "   ", []string{"type=record.read"}, "", "INVALID_NAME", "name is required"},
		{"control char in name", "a\x00b", []string{"type=record.read"}, "", "INVALID_NAME", "control"},
		{"long name", strings.Repeat("n", 201), []string{"type=record.read"}, "", "INVALID_NAME", "at most"},
		{"no scopes", "HIS", nil, "", "INVALID_SCOPE", "at least one scope"},
		{"bad scope", "HIS", []string{"type=record.read", "record.notify[event=birth"}, "", "INVALID_SCOPE", `"record.notify[event=birth"`},
		{"empty scope", "HIS", []string{""}, "", "INVALID_SCOPE", `scope "" is not valid`},
		{"bad jurisdiction", "HIS", []string{"type=record.search&placeOfEvent=everywhere"}, "", "INVALID_SCOPE", "type=record.search&placeOfEvent=everywhere"},
		{"bad office", "HIS", []string{"type=record.read"}, "head office", "INVALID_OFFICE", "head office"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, st := newTestClients(t)
			_, _, err := c.Create(context.Background(), tc.cname, tc.scopes, tc.office, admin)
			ce := wantKind(t, err, core.KindInvalid, tc.code)
			if !strings.Contains(ce.Message, tc.wantMsg) {
				t.Errorf("message %q lacks %q", ce.Message, tc.wantMsg)
			}
			if len(st.clients) != 0 || len(st.audit) != 0 {
				t.Error("a refused create wrote to the store")
			}
		})
	}
}

func TestClientsCreateAtomicWithAudit(t *testing.T) {
	c, st := newTestClients(t)
	st.failAudit = errors.New("audit disk full")
	if _, _, err := c.Create(context.Background(), "HIS", []string{"type=record.read"}, "", admin); err == nil {
		t.Fatal("Create succeeded although the audit write failed")
	}
	if len(st.clients) != 0 {
		t.Fatal("client stored without its audit entry")
	}
}

func TestClientsAuthenticate(t *testing.T) {
	c, st := newTestClients(t)
	ctx := context.Background()
	id, secret := mustCreate(t, c, "type=record.read")
	disabledID, disabledSecret := mustCreate(t, c, "type=record.read")
	if err := c.Disable(ctx, disabledID, admin); err != nil {
		t.Fatal(err)
	}

	cl, err := c.Authenticate(ctx, id, secret)
	if err != nil {
		t.Fatal(err)
	}
	if cl.ID != id || !slices.Equal(cl.Scopes, []string{"type=record.read"}) {
		t.Errorf("client = %+v", cl)
	}

	tests := []struct {
		name, id, secret string
	}{
		{"wrong secret", id, secret + "x"},
		{"empty secret", id, ""},
		{"other client's secret", id, disabledSecret},
		{"unknown id", uuid.NewString(), secret},
		{"not a uuid", "hospital", secret},
		{"empty id", "", secret},
		{"disabled", disabledID, disabledSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Authenticate(ctx, tc.id, tc.secret)
			ce := wantKind(t, err, core.KindUnauthenticated, "INVALID_CLIENT")
			if ce.Message != "invalid client credentials" {
				t.Errorf("message %q reveals which check failed", ce.Message)
			}
		})
	}

	// An unknown id is compared against a dummy hash of the same cost.
	if cost, err := bcrypt.Cost([]byte(c.dummy())); err != nil || cost != bcrypt.MinCost {
		t.Errorf("dummy hash cost = %d, %v; want %d", cost, err, bcrypt.MinCost)
	}

	st.setFailRead(errors.New("database locked"))
	_, err = c.Authenticate(ctx, id, secret)
	if err == nil || core.KindOf(err) == core.KindUnauthenticated {
		t.Errorf("store failure answered %v, want a non-401 error", err)
	}
}

func TestClientsDisableEnableRotate(t *testing.T) {
	c, st := newTestClients(t)
	ctx := context.Background()
	id, secret := mustCreate(t, c, "type=record.read")
	later := testNow.Add(time.Hour)
	c.Now = fixedClock(later)

	if err := c.Disable(ctx, id, admin); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, id, secret); err == nil {
		t.Fatal("disabled client authenticated")
	}
	if err := c.Disable(ctx, id, admin); err != nil { // no-op
		t.Fatal(err)
	}
	cl, _ := st.Client(ctx, id)
	if cl.Status != core.ClientDisabled || !cl.UpdatedAt.Equal(later) {
		t.Errorf("client after disable = %+v", cl)
	}
	if err := c.Enable(ctx, id, admin); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, id, secret); err != nil {
		t.Fatalf("re-enabled client: %v", err)
	}

	newSecret, err := c.RotateSecret(ctx, id, admin)
	if err != nil {
		t.Fatal(err)
	}
	if newSecret == secret {
		t.Fatal("rotation answered the old secret")
	}
	if _, err := c.Authenticate(ctx, id, secret); err == nil {
		t.Error("old secret still works after rotation")
	}
	if _, err := c.Authenticate(ctx, id, newSecret); err != nil {
		t.Errorf("new secret rejected: %v", err)
	}

	audit, _ := st.Audit(ctx, core.AuditFilter{ObjectID: id})
	var ops []string
	for _, a := range audit {
		ops = append(ops, a.Operation)
		if a.ObjectType != "client" || a.ActorID != admin.ID {
			t.Errorf("audit entry = %+v", a)
		}
	}
	want := []string{"client.create", "client.disable", "client.enable", "client.rotate-secret"}
	if !slices.Equal(ops, want) {
		t.Errorf("audit operations = %v, want %v", ops, want)
	}

	unknown := uuid.NewString()
	wantKind(t, c.Disable(ctx, unknown, admin), core.KindNotFound, "CLIENT_NOT_FOUND")
	wantKind(t, c.Enable(ctx, unknown, admin), core.KindNotFound, "CLIENT_NOT_FOUND")
	_, err = c.RotateSecret(ctx, unknown, admin)
	wantKind(t, err, core.KindNotFound, "CLIENT_NOT_FOUND")
}
