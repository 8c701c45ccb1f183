package auth

import (
	"context"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/store/sqlite"
)

// TestSQLiteDisableFromAnotherProcess runs the client service and the
// authenticator on two separate handles of one SQLite file, as the server
// and the "crvshub clients" CLI would: a disable written through one
// handle locks the client's token out through the other at once.
func TestSQLiteDisableFromAnotherProcess(t *testing.T) {
	ctx := context.Background()
	kp, _ := testKeys(t)
	path := filepath.Join(t.TempDir(), "hub.db")
	server, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	cli, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	cliClients := &Clients{Store: cli, Cost: bcrypt.MinCost}
	serverClients := &Clients{Store: server, Cost: bcrypt.MinCost}
	id, secret, err := cliClients.Create(ctx, "HIS", []string{"record.notify[event=birth]"}, "", admin)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := serverClients.Authenticate(ctx, id, secret)
	if err != nil {
		t.Fatalf("server does not see the client the CLI created: %v", err)
	}
	tok, _, err := (&Issuer{Key: kp}).IssueSystemToken(cl.ID, cl.Scopes)
	if err != nil {
		t.Fatal(err)
	}
	a := &Authenticator{Verifier: NewVerifier(kp), Store: server}
	if _, err := a.Authenticate(ctx, "Bearer "+tok); err != nil {
		t.Fatal(err)
	}

	if err := cliClients.Disable(ctx, id, admin); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, "Bearer "+tok); core.KindOf(err) != core.KindUnauthenticated {
		t.Fatalf("token of a client disabled by another handle: err = %v, want 401", err)
	}
	if _, err := serverClients.Authenticate(ctx, id, secret); err == nil {
		t.Fatal("secret of a disabled client still accepted")
	}

	newSecret, err := cliClients.RotateSecret(ctx, id, admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := cliClients.Enable(ctx, id, admin); err != nil {
		t.Fatal(err)
	}
	if _, err := serverClients.Authenticate(ctx, id, secret); err == nil {
		t.Error("old secret accepted after rotation")
	}
	if _, err := serverClients.Authenticate(ctx, id, newSecret); err != nil {
		t.Errorf("new secret rejected: %v", err)
	}

	audit, err := server.Audit(ctx, core.AuditFilter{ObjectID: id})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, e := range audit {
		ops = append(ops, e.Operation)
	}
	want := []string{OpClientCreate, OpClientDisable, OpClientRotateSecret, OpClientEnable}
	if len(ops) != len(want) {
		t.Fatalf("audit = %v, want %v", ops, want)
	}
	for i := range want {
		if ops[i] != want[i] {
			t.Fatalf("audit = %v, want %v", ops, want)
		}
	}
}
