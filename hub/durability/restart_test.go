package durability_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// snapshot is everything a restart must keep, read straight from the store.
type snapshot struct {
	events  map[string][]byte // event id -> EventDocument JSON
	clients []byte            // every client, secret hashes included
	audit   []core.AuditEntry
	jwks    []byte
	search  map[string]string // event id -> status, from a search over HTTP
}

func takeSnapshot(t *testing.T, ph *phase, h *hubtest.Hub, c *caller, ids []string) snapshot {
	t.Helper()
	ctx := ph.ctx
	s := snapshot{events: map[string][]byte{}, search: map[string]string{}}
	for _, id := range ids {
		ev, err := h.App.Store.Event(ctx, id)
		if err != nil {
			t.Fatalf("store: event %s: %v", id, ph.check(err))
		}
		s.events[id] = mustJSON(t, ev)
	}
	cls, err := h.App.Store.Clients(ctx)
	if err != nil {
		t.Fatalf("store: clients: %v", ph.check(err))
	}
	type clientWithHash struct {
		core.Client
		Hash string
	}
	withHash := make([]clientWithHash, len(cls))
	for i, cl := range cls {
		withHash[i] = clientWithHash{cl, cl.SecretHash}
	}
	s.clients = mustJSON(t, withHash)
	au, err := h.App.Store.Audit(ctx, core.AuditFilter{})
	if err != nil {
		t.Fatalf("store: audit: %v", ph.check(err))
	}
	s.audit = au
	status, jwks, err := c.do(ctx, "GET", "/auth/.well-known/jwks.json", nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("jwks: %d %v", status, ph.check(err))
	}
	s.jwks = jwks
	sa, err := c.search(ctx, `{"query":{"type":"or","clauses":[{"eventType":"birth"},{"eventType":"death"}]},"limit":1000}`)
	if err != nil {
		t.Fatal(ph.check(err))
	}
	for _, r := range sa.Results {
		s.search[r.ID] = r.Status
	}
	if sa.Total != len(ids) {
		t.Fatalf("search total %d before restart, want %d", sa.Total, len(ids))
	}
	return s
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRestartKeepsEverything: stop the hub and start it again on the same
// data folder; every event with all its actions, every client (secret
// hashes and statuses included), the audit trail and the signing key are
// still there, a token issued before the restart still verifies, and
// transaction ids used before the restart are still idempotent.
func TestRestartKeepsEverything(t *testing.T) {
	// a generous limit: two hub starts and ~50 requests take seconds on an
	// idle machine; errors from running out of it say "timeout"
	ph := startPhase(t, "restart keeps everything", 4*time.Minute)
	ctx := ph.ctx
	dir := t.TempDir()
	h1 := hubtest.Start(t, hubtest.Options{DataDir: dir})

	allID, allSecret := h1.NewClient("registrar system", hubtest.OfficeIbombo, hubtest.AllScopes...)
	offID, offSecret := h1.NewClient("retired system", hubtest.OfficeIlanga, "type=record.notify", "type=record.create")
	if err := h1.App.Clients.Disable(ctx, offID, core.Principal{ID: "test", Type: core.UserTypeSystem}); err != nil {
		t.Fatal(err)
	}
	token := h1.Token(allID, allSecret) // issued before the restart
	c1 := newCaller(h1.URL, token)
	defer c1.close()

	// Births in several states, and a death.
	var ids []string
	txOf := map[string]string{}
	for i := range 12 {
		tx := fmt.Sprintf("restart-birth-%02d", i)
		ev := h1.Notify(token, "birth", tx, hubtest.BirthDeclaration(firstName(i), surname(i)))
		ids = append(ids, ev.ID)
		txOf[ev.ID] = tx
		steps := []string{"declare", "validate", "register"}[:i%4]
		for _, slug := range steps {
			if res := h1.Act(token, ev.ID, slug, fmt.Sprintf("%s-%s", tx, slug), nil); res.Status != http.StatusOK {
				t.Fatalf("%s %s: %d %s", slug, ev.ID, res.Status, res.Body)
			}
		}
	}
	death := h1.Notify(token, "death", "restart-death", hubtest.DeathDeclaration("Joseph", "Banda"))
	ids = append(ids, death.ID)
	txOf[death.ID] = "restart-death"

	before := takeSnapshot(t, ph, h1, c1, ids)
	var registered int
	for _, st := range before.search {
		if st == string(core.EventRegistered) {
			registered++
		}
	}
	if registered != 3 {
		t.Fatalf("%d registered events before the restart, want 3", registered)
	}

	h1.Stop()
	h2 := hubtest.Start(t, hubtest.Options{DataDir: dir})
	c2 := newCaller(h2.URL, token)
	defer c2.close()
	after := takeSnapshot(t, ph, h2, c2, ids)

	for _, id := range ids {
		if !bytes.Equal(before.events[id], after.events[id]) {
			t.Errorf("event %s changed across the restart:\nbefore %s\nafter  %s", id, before.events[id], after.events[id])
		}
		if before.search[id] != after.search[id] {
			t.Errorf("event %s: search status %q before the restart, %q after", id, before.search[id], after.search[id])
		}
	}
	if !bytes.Equal(before.clients, after.clients) {
		t.Errorf("clients changed across the restart:\nbefore %s\nafter  %s", before.clients, after.clients)
	}
	// Every row written before the restart is still there, unchanged and in
	// order; the only row added since is the audit of the first snapshot's
	// own search (searches are audited), which must have survived too.
	if len(after.audit) != len(before.audit)+1 {
		t.Errorf("audit trail has %d rows after the restart, want the %d from before plus the first snapshot's search",
			len(after.audit), len(before.audit))
	} else {
		if b, a := mustJSON(t, before.audit), mustJSON(t, after.audit[:len(before.audit)]); !bytes.Equal(b, a) {
			t.Errorf("audit trail changed across the restart:\nbefore %s\nafter  %s", b, a)
		}
		if op := after.audit[len(before.audit)].Operation; op != "search" {
			t.Errorf("audit row added across the restart is %q, want the snapshot's search", op)
		}
	}
	if !bytes.Equal(before.jwks, after.jwks) {
		t.Errorf("signing key changed across the restart:\nbefore %s\nafter  %s", before.jwks, after.jwks)
	}

	// The token issued before the restart still verifies.
	status, b, err := c2.do(ctx, "GET", eventsPath+ids[0], nil)
	if err != nil || status != http.StatusOK {
		t.Errorf("GET with a token issued before the restart: %d %v %.200s", status, ph.check(err), b)
	}
	// Secrets still work; the disabled client is still disabled.
	h2.Token(allID, allSecret)
	res := h2.Do("POST", "/auth/token", "", map[string]string{"grant_type": "client_credentials", "client_id": offID, "client_secret": offSecret})
	if res.Status != http.StatusUnauthorized {
		t.Errorf("token for the client disabled before the restart: %d %s, want 401", res.Status, res.Body)
	}
	// Idempotency keys survive: a replayed create+notify answers the same
	// event and adds nothing.
	for _, id := range []string{ids[0], ids[5]} {
		i := 0
		fmt.Sscanf(txOf[id], "restart-birth-%d", &i)
		ev := h2.Notify(token, "birth", txOf[id], hubtest.BirthDeclaration(firstName(i), surname(i)))
		if ev.ID != id {
			t.Errorf("replay of %s after the restart answered event %s, want %s", txOf[id], ev.ID, id)
		}
	}
	// And the hub keeps working.
	h2.Notify(token, "birth", "restart-new", hubtest.BirthDeclaration("Nandi", "Phiri"))
	sa, err := c2.search(ctx, `{"query":{"type":"or","clauses":[{"eventType":"birth"},{"eventType":"death"}]},"limit":1}`)
	if err != nil {
		t.Fatal(ph.check(err))
	}
	if sa.Total != len(ids)+1 {
		t.Errorf("search total %d after the restart and one new event, want %d", sa.Total, len(ids)+1)
	}
}
