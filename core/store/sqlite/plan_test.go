package sqlite

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/crvshub/crvshub/core"
)

// explain returns the EXPLAIN QUERY PLAN lines of the page and count
// queries a filter compiles to.
func explain(t *testing.T, s *Store, f core.SearchFilter) []string {
	t.Helper()
	where, args, order, err := compileSearch(f)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"SELECT ei.rid FROM events_index ei WHERE " + where + " ORDER BY " + order + " LIMIT ? OFFSET ?", append(args[:len(args):len(args)], 10, 0)},
		{"SELECT count(*) FROM events_index ei WHERE " + where, args},
	} {
		rows, err := s.rdb.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q.sql, q.args...)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return plan
}

// loadEvents writes events from..n-1 (see benchEvent): several writers,
// each Write storing a few events, so that group commit makes big batches
// of small savepoints (one Write storing thousands of events would be
// slower, see Store.Write).
func loadEvents(t testing.TB, s *Store, from, n int) {
	const perWrite, writers = 20, 8
	next := make(chan int)
	go func() {
		for base := from; base < n; base += perWrite {
			next <- base
		}
		close(next)
	}()
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	for range writers {
		wg.Go(func() {
			for base := range next {
				err := s.Write(context.Background(), func(tx core.Tx) error {
					for i := base; i < min(base+perWrite, n); i++ {
						if err := benchEvent(tx, i); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					failed.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatal(*err)
	}
}

// TestQueryPlans checks that selective searches are answered from indexes:
// no full scan of any table, and the index we expect is the one used. It
// runs without planner statistics (what a store has unless someone runs
// ANALYZE) and with them.
func TestQueryPlans(t *testing.T) {
	s := openLoaded(t, 1000)
	want := map[string]string{
		"TrackingID":         "events_index_tracking_id (tracking_id=?)",
		"RegistrationNumber": "(registration_number=?)",
		"FieldText":          "SEARCH event_fields USING PRIMARY KEY (field_id=? AND kind=? AND text=?)",
		"FieldPrefix":        "SEARCH event_fields USING PRIMARY KEY (field_id=? AND kind=? AND text>? AND text<?)",
		"FieldNumRange":      "SEARCH event_fields USING PRIMARY KEY (field_id=? AND kind=? AND text=? AND num>? AND num<?)",
		"Flag":               "SEARCH event_flags USING PRIMARY KEY (flag=?)",
		"FlagAllOf":          "SEARCH event_flags USING PRIMARY KEY (flag=?)",
		"StatusLocation":     "USING INDEX events_index_",
		// Status, deleted and membership all from the index: no row reads.
		"StatusAndField":   "SEARCH ei USING COVERING INDEX events_index_status (status=?)",
		"OrOfLookups":      "events_index_tracking_id (tracking_id=?)",
		"LongLocationList": "events_index_created_at_location (created_at_location=?)",
		"OrOfFields":       "SEARCH event_fields USING PRIMARY KEY (field_id=? AND kind=? AND text=?)",
		"All":              "SCAN ei USING COVERING INDEX events_index_created_at",
		// The partial indexes of sparse columns (migration 0002).
		"DeclaredLocation":       "events_index_declared_at_location (declared_at_location=?)",
		"RegisteredLocation":     "events_index_registered_at_location (registered_at_location=?)",
		"AssignedTo":             "events_index_assigned_to (assigned_to=?)",
		"RegisteredAtRange":      "events_index_registered_at (registered_at>? AND registered_at<?)",
		"OrOfSparse":             "events_index_registered_at_location (registered_at_location=?)",
		"DeclaredLocationPrefix": "events_index_declared_at_location (declared_at_location>? AND declared_at_location<?)",
		"PlaceOfEvent":           "events_index_place_of_event (place_of_event=?)",
		"DeclaredBy":             "events_index_declared_by (declared_by=?)",
		"ScopedField":            "SEARCH event_fields USING PRIMARY KEY (field_id=? AND kind=? AND text=?)",
		"TypeAndField":           "SEARCH event_fields USING PRIMARY KEY (field_id=? AND kind=? AND text=?)",
		"ScopedTrackingID":       "events_index_tracking_id (tracking_id=?)",
		"TypeOnly":               "events_index_type (type=?)",
	}
	// Cases whose plan must not walk an index of events_index: a field
	// lookup finds the few rows, each read by rowid.
	byRowid := map[string]bool{"ScopedField": true, "TypeAndField": true}
	for _, stats := range []bool{false, true} {
		if stats {
			if _, err := s.wconn.ExecContext(context.Background(), "ANALYZE"); err != nil {
				t.Fatal(err)
			}
			// New connections load the statistics.
			s.rdb.SetMaxIdleConns(0)
			s.rdb.SetMaxIdleConns(s.opts.ReadConns)
		}
		for _, pc := range planCases() {
			t.Run(map[bool]string{false: "NoStats/", true: "Stats/"}[stats]+pc.name, func(t *testing.T) {
				plan := explain(t, s, pc.f)
				text := strings.Join(plan, "\n")
				if !strings.Contains(text, want[pc.name]) {
					t.Errorf("plan does not use %q:\n%s", want[pc.name], text)
				}
				if byRowid[pc.name] && !strings.Contains(text, "SEARCH ei USING INTEGER PRIMARY KEY (rowid=?)") {
					t.Errorf("plan does not read the matching events by rowid:\n%s", text)
				}
				if byRowid[pc.name] && strings.Contains(text, "events_index_type") {
					t.Errorf("plan walks the events of a type:\n%s", text)
				}
				if pc.name == "All" {
					return // listing everything is a scan, in index order
				}
				for _, l := range plan {
					// json_each is the parameter list of a long IN, not a table.
					if strings.HasPrefix(l, "SCAN ") && !strings.HasPrefix(l, "SCAN json_each") {
						t.Errorf("plan scans a table (%q):\n%s", l, text)
					}
				}
			})
		}
	}
}
