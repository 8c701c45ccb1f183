package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
)

// TestMigration0005Backfill: a database written before migration 0005 gets
// place_of_event, declared_by and registered_by from the EventIndex
// documents it already holds (place falling back to where the event was
// created), so that jurisdiction-limited searches see old events too.
func TestMigration0005Backfill(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	oldDatabase(t, path, 4, func(ctx context.Context, conn *sql.Conn) error {
		for _, r := range []struct{ id, created, doc string }{
			{"e-place", "office-a", `{"placeOfEvent":"FACILITY-B","legalStatuses":{"DECLARED":{"createdBy":"clerk"},"REGISTERED":{"createdBy":"registrar"}}}`},
			{"e-noplace", "office-a", `{"legalStatuses":{}}`},
		} {
			if _, err := conn.ExecContext(ctx, `INSERT INTO events (id, type, tracking_id, created_at, updated_at) VALUES (?, 'birth', ?, 't', 't')`, r.id, r.id); err != nil {
				return err
			}
			res, err := conn.ExecContext(ctx, `INSERT INTO events_index (event_id, type, status, tracking_id, created_at, updated_at,
				created_at_location, updated_at_location, declared_at_location, registered_at_location, assigned_to, created_by,
				updated_by, created_by_user_type, date_of_event) VALUES (?, 'birth', 'DECLARED', ?, 't', 't', ?, ?, '', '', '', 'c', 'c', 'system', '')`,
				r.id, r.id, r.created, r.created)
			if err != nil {
				return err
			}
			rid, _ := res.LastInsertId()
			if _, err := conn.ExecContext(ctx, `INSERT INTO events_index_docs (rid, doc) VALUES (?, ?)`, rid, r.doc); err != nil {
				return err
			}
		}
		return nil
	})

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

// TestMigration0006TransactionKeys: events and actions stored before
// migration 0006 are found by their creator and transaction id after it,
// and another caller's same transaction id no longer collides with them.
func TestMigration0006TransactionKeys(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	oldDatabase(t, path, 5, execAll(
		`INSERT INTO events (id, type, transaction_id, tracking_id, created_at, updated_at) VALUES ('ev-1', 'birth', 'tx-1', 'TRK0001', '2024-01-01T00:00:00.000000000Z', '2024-01-01T00:00:00.000000000Z')`,
		`INSERT INTO event_actions (event_id, id, type, status, transaction_id, doc) VALUES ('ev-1', 'a-1', 'CREATE', 'Accepted', 'tx-1',
			'{"id":"a-1","type":"CREATE","status":"Accepted","transactionId":"tx-1","createdBy":"hospital-a","createdAt":"2024-01-01T00:00:00Z","declaration":{}}')`,
		`INSERT INTO event_actions (event_id, id, type, status, transaction_id, doc) VALUES ('ev-1', 'a-2', 'NOTIFY', 'Accepted', 'tx-2',
			'{"id":"a-2","type":"NOTIFY","status":"Accepted","transactionId":"tx-2","createdBy":"hospital-a","createdAt":"2024-01-01T00:00:00Z","declaration":{}}')`,
	))

	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Write(ctx, func(tx core.Tx) error {
		ev, err := tx.EventByTransaction("hospital-a", "tx-1", "birth")
		if err != nil || ev.ID != "ev-1" {
			t.Errorf("old event by its creator's key: %v, %v", ev, err)
		}
		if _, err := tx.EventByTransaction("hospital-b", "tx-1", "birth"); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("old event found by another caller: %v", err)
		}
		// hospital-a repeating tx-2 on a NOTIFY collides; hospital-b does not
		a := core.Action{ID: "a-3", Type: core.ActionNotify, Status: core.StatusAccepted, TransactionID: "tx-2",
			CreatedBy: "hospital-b", CreatedAt: time.Now(), Declaration: core.Declaration{}}
		if err := tx.AppendActions("ev-1", time.Now(), a); err != nil {
			t.Errorf("another caller's action with tx-2: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Write(ctx, func(tx core.Tx) error {
		a := core.Action{ID: "a-4", Type: core.ActionNotify, Status: core.StatusAccepted, TransactionID: "tx-2",
			CreatedBy: "hospital-a", CreatedAt: time.Now(), Declaration: core.Declaration{}}
		return tx.AppendActions("ev-1", time.Now(), a)
	})
	if !errors.Is(err, core.ErrDuplicate) {
		t.Errorf("the creator repeating its old action key: %v, want ErrDuplicate", err)
	}
}

// TestMigration0007RegistrationNumbers: numbers in use before migration
// 0007 (registered, or carried by a REGISTER still waiting) stay their
// events' own after it; a rejected request's number is free; a number a
// registered record holds wins over another record's waiting request.
func TestMigration0007RegistrationNumbers(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	type act struct{ event, id, doc string }
	oldDatabase(t, path, 6, func(ctx context.Context, conn *sql.Conn) error {
		for _, a := range []act{
			// ev-1: registered under R-1
			{"ev-1", "a1", `{"type":"REGISTER","status":"Requested","registrationNumber":"R-1"}`},
			{"ev-1", "a2", `{"type":"REGISTER","status":"Accepted","registrationNumber":"R-1","originalActionId":"a1"}`},
			// ev-2: waiting with R-2
			{"ev-2", "b1", `{"type":"REGISTER","status":"Requested","registrationNumber":"R-2"}`},
			// ev-3: asked for R-2 too (the clash 0007 is for): the first keeps it
			{"ev-3", "c1", `{"type":"REGISTER","status":"Requested","registrationNumber":"R-2"}`},
			// ev-4: rejected with R-4: free
			{"ev-4", "d1", `{"type":"REGISTER","status":"Requested","registrationNumber":"R-4"}`},
			{"ev-4", "d2", `{"type":"REGISTER","status":"Rejected","originalActionId":"d1"}`},
			// ev-5: requested R-6, registered under a redrawn R-5: R-6 is free
			{"ev-5", "e1", `{"type":"REGISTER","status":"Requested","registrationNumber":"R-6"}`},
			{"ev-5", "e2", `{"type":"REGISTER","status":"Accepted","registrationNumber":"R-5","originalActionId":"e1"}`},
			// ev-6: waiting with R-5, which ev-5 is registered under: ev-5 keeps it
			{"ev-6", "f1", `{"type":"REGISTER","status":"Requested","registrationNumber":"R-5"}`},
			{"ev-7", "g1", `{"type":"NOTIFY","status":"Accepted","registrationNumber":"R-9"}`},
		} {
			if _, err := conn.ExecContext(ctx, `INSERT INTO event_actions (event_id, id, type, status, doc)
				VALUES (?, ?, json_extract(?, '$.type'), json_extract(?, '$.status'), ?)`, a.event, a.id, a.doc, a.doc, a.doc); err != nil {
				return err
			}
		}
		for _, r := range [][2]string{{"ev-1", "R-1"}, {"ev-5", "R-5"}} {
			if _, err := conn.ExecContext(ctx, `INSERT INTO events_index (event_id, type, status, tracking_id, registration_number, created_at, updated_at,
				created_at_location, updated_at_location, declared_at_location, registered_at_location, assigned_to, created_by,
				updated_by, created_by_user_type, date_of_event) VALUES (?, 'birth', 'REGISTERED', ?, ?, 't', 't', 'l', 'l', '', '', '', 'c', 'c', 'system', '')`,
				r[0], r[0], r[1]); err != nil {
				return err
			}
		}
		return nil
	})
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Write(ctx, func(tx core.Tx) error {
		for number, owner := range map[string]string{"R-1": "ev-1", "R-2": "ev-2", "R-5": "ev-5"} {
			if err := tx.ReserveRegistrationNumber(number, owner); err != nil {
				t.Errorf("%s for its owner %s: %v", number, owner, err)
			}
			if err := tx.ReserveRegistrationNumber(number, "someone-else"); !errors.Is(err, core.ErrRegistrationNumberTaken) {
				t.Errorf("%s for another event: %v", number, err)
			}
		}
		for _, free := range []string{"R-4", "R-6", "R-9"} {
			if err := tx.ReserveRegistrationNumber(free, "someone-else"); err != nil {
				t.Errorf("%s should be free: %v", free, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// oldDatabase makes a database file at path with the first n migrations
// only (as an older hub left it) and runs stmts on it.
func oldDatabase(t *testing.T, path string, n int, stmts ...func(ctx context.Context, c *sql.Conn) error) {
	t.Helper()
	ctx := context.Background()
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < n+1 || ms[n].version != n+1 {
		t.Fatalf("migrations: %d, want more than %d", len(ms), n)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := migrate(ctx, conn, ms[:n]); err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		if err := st(ctx, conn); err != nil {
			t.Fatal(err)
		}
	}
}

// execAll runs SQL statements in order.
func execAll(qs ...string) func(context.Context, *sql.Conn) error {
	return func(ctx context.Context, c *sql.Conn) error {
		for _, q := range qs {
			if _, err := c.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	}
}

// TestNoMigrate: Options.NoMigrate opens a current database and refuses an
// outdated one (ErrSchemaOutdated) without changing it.
func TestNoMigrate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	oldDatabase(t, path, 6)
	if _, err := Open(ctx, path, Options{NoMigrate: true}); !errors.Is(err, ErrSchemaOutdated) {
		t.Fatalf("NoMigrate on an outdated database: %v, want ErrSchemaOutdated", err)
	}
	// nothing was applied: a normal open still migrates from version 6
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rows := migrationRows(t, s)
	s.Close()
	ms, _ := loadMigrations(migrationFiles, "migrations")
	if len(rows) != len(ms) {
		t.Fatalf("schema_migrations %v", rows)
	}
	s, err = Open(ctx, path, Options{NoMigrate: true})
	if err != nil {
		t.Fatalf("NoMigrate on a current database: %v", err)
	}
	s.Close()
}
