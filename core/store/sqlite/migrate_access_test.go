package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestMigration0005Backfill: a database written before migration 0005 gets
// place_of_event, declared_by and registered_by from the EventIndex
// documents it already holds (place falling back to where the event was
// created), so that jurisdiction-limited searches see old events too.
func TestMigration0005Backfill(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 5 || ms[4].version != 5 {
		t.Fatalf("migrations: %d", len(ms))
	}
	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := old.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, conn, ms[:4]); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ id, created, doc string }{
		{"e-place", "office-a", `{"placeOfEvent":"FACILITY-B","legalStatuses":{"DECLARED":{"createdBy":"clerk"},"REGISTERED":{"createdBy":"registrar"}}}`},
		{"e-noplace", "office-a", `{"legalStatuses":{}}`},
	} {
		if _, err := conn.ExecContext(ctx, `INSERT INTO events (id, type, tracking_id, created_at, updated_at) VALUES (?, 'birth', ?, 't', 't')`, r.id, r.id); err != nil {
			t.Fatal(err)
		}
		res, err := conn.ExecContext(ctx, `INSERT INTO events_index (event_id, type, status, tracking_id, created_at, updated_at,
			created_at_location, updated_at_location, declared_at_location, registered_at_location, assigned_to, created_by,
			updated_by, created_by_user_type, date_of_event) VALUES (?, 'birth', 'DECLARED', ?, 't', 't', ?, ?, '', '', '', 'c', 'c', 'system', '')`,
			r.id, r.id, r.created, r.created)
		if err != nil {
			t.Fatal(err)
		}
		rid, _ := res.LastInsertId()
		if _, err := conn.ExecContext(ctx, `INSERT INTO events_index_docs (rid, doc) VALUES (?, ?)`, rid, r.doc); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	old.Close()

	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[string][3]string{
		"e-place":   {"facility-b", "clerk", "registrar"},
		"e-noplace": {"office-a", "", ""},
	}
	for id, w := range want {
		var got [3]string
		if err := s.rdb.QueryRowContext(ctx, `SELECT place_of_event, declared_by, registered_by FROM events_index WHERE event_id = ?`, id).
			Scan(&got[0], &got[1], &got[2]); err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("%s: %v, want %v", id, got, w)
		}
	}
}
