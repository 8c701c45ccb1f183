package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/crvshub/crvshub/core"
)

// TestMigration0009LatestReadPerReader: a database written before
// migration 0009, whose events hold every READ ever made, keeps each
// reader's latest READ per event and every other action.
func TestMigration0009LatestReadPerReader(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	action := func(ev, id, typ, by string) string {
		return fmt.Sprintf(`INSERT INTO event_actions (event_id, id, type, status, transaction_id, doc) VALUES ('%s', '%s', '%s', 'Accepted', '%s',
			'{"id":"%s","type":"%s","status":"Accepted","transactionId":"%s","createdBy":"%s","createdByUserType":"system","createdAt":"2024-01-01T00:00:00.5Z","createdAtLocation":"office-of-%s","declaration":{}}')`,
			ev, id, typ, by+"\x1f"+id, id, typ, id, by, by)
	}
	stmts := []string{
		`INSERT INTO events (id, type, transaction_id, tracking_id, created_at, updated_at) VALUES ('ev-1', 'birth', NULL, 'TRK0001', '2024-01-01T00:00:00.000000000Z', '2024-01-01T00:00:00.000000000Z')`,
		`INSERT INTO events (id, type, transaction_id, tracking_id, created_at, updated_at) VALUES ('ev-2', 'birth', NULL, 'TRK0002', '2024-01-01T00:00:00.000000000Z', '2024-01-01T00:00:00.000000000Z')`,
		action("ev-1", "c-1", "CREATE", "hospital"),
		action("ev-2", "c-2", "CREATE", "hospital"),
	}
	for i := range 300 {
		stmts = append(stmts, action("ev-1", fmt.Sprintf("r-a-%d", i), "READ", "reader-a"))
		if i%3 == 0 {
			stmts = append(stmts, action("ev-1", fmt.Sprintf("r-b-%d", i), "READ", "reader-b"))
		}
		if i == 150 {
			stmts = append(stmts, action("ev-1", "n-1", "NOTIFY", "hospital"))
		}
	}
	stmts = append(stmts, action("ev-2", "r-a-ev2", "READ", "reader-a"))
	oldDatabase(t, path, 8, execAll(stmts...))

	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for id, want := range map[string][]string{
		"ev-1": {"c-1", "n-1", "r-b-297", "r-a-299"},
		"ev-2": {"c-2", "r-a-ev2"},
	} {
		ev, err := s.Event(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range ev.Actions {
			got = append(got, a.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: actions %v, want %v", id, got, want)
		}
	}

	// every READ dropped keeps its row in the audit log, whole: audit
	// entries of older hubs hold no createdAtLocation of a read
	entries, err := s.Audit(ctx, core.AuditFilter{ObjectID: "ev-1"})
	if err != nil {
		t.Fatal(err)
	}
	pruned := map[string]bool{}
	for _, e := range entries {
		if e.Operation != "action.READ.pruned" {
			continue
		}
		var d struct {
			Action core.Action `json:"action"`
		}
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			t.Fatalf("pruned READ audit detail %s: %v", e.Detail, err)
		}
		if e.ActorID != d.Action.CreatedBy || d.Action.CreatedAtLocation != "office-of-"+e.ActorID || !e.At.Equal(d.Action.CreatedAt) {
			t.Fatalf("pruned READ audit entry %+v does not hold its action (by, where, when)", e)
		}
		pruned[d.Action.ID] = true
	}
	if want := 300 + 100 - 2; len(pruned) != want {
		t.Fatalf("%d dropped READs in the audit log, want %d", len(pruned), want)
	}
	if pruned["r-a-299"] || pruned["r-b-297"] || !pruned["r-a-0"] {
		t.Fatalf("audit of dropped READs names the kept ones or misses the oldest")
	}
}
