package sqlite

import (
	"context"
	"strings"
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
		{"SELECT ei.doc FROM events_index ei WHERE " + where + " ORDER BY " + order + " LIMIT ? OFFSET ?", append(args[:len(args):len(args)], 10, 0)},
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

// loadEvents writes events from..n-1 (see benchEvent) in big batches.
func loadEvents(t testing.TB, s *Store, from, n int) {
	ctx := context.Background()
	const batch = 2000
	for base := from; base < n; base += batch {
		err := s.Write(ctx, func(tx core.Tx) error {
			for i := base; i < min(base+batch, n); i++ {
				if err := benchEvent(tx, i); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestQueryPlans checks that selective searches are answered from indexes:
// no full scan of any table, and the index we expect is the one used. It
// runs without planner statistics (what a store has unless someone runs
// ANALYZE) and with them.
func TestQueryPlans(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	loadEvents(t, s, 0, 1000)
	want := map[string]string{
		"TrackingID":         "events_index_tracking_id (tracking_id=?)",
		"RegistrationNumber": "(registration_number=?)",
		"FieldText":          "event_fields_text (field_id=? AND kind=? AND text=?)",
		"FieldPrefix":        "event_fields_text (field_id=? AND kind=? AND text>? AND text<?)",
		"FieldNumRange":      "event_fields_num (field_id=? AND kind=? AND num>? AND num<?)",
		"Flag":               "event_flags_flag (flag=?)",
		"FlagAllOf":          "event_flags_flag (flag=?)",
		"StatusLocation":     "USING INDEX events_index_",
		"OrOfLookups":        "events_index_tracking_id (tracking_id=?)",
		"LongLocationList":   "events_index_created_at_location (created_at_location=?)",
		"All":                "SCAN ei USING INDEX events_index_created_at",
	}
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
