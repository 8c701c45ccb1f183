package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
)

// deletingTx stores benchEvent's index row of an event already stored,
// as deleted.
type deletingTx struct{ core.Tx }

func (deletingTx) InsertEvent(*core.EventDocument) error { return nil }
func (d deletingTx) PutIndex(row *core.IndexRow) error {
	row.Deleted = true
	return d.Tx.PutIndex(row)
}

func tokenF(op core.Op, vals ...string) core.Filter {
	return core.Filter{Cond: &core.Cond{Column: core.ColField, FieldID: "child.name", Kind: core.KindToken, Op: op, Values: vals}}
}

// TestSearchDenseFieldPaths checks that a search by field values gives the
// same page and total whichever way Search answers it (count from
// event_fields or from events_index; page by rid lookups or by an ordered
// walk) as the plain page and count queries of compileSearch, deleted
// events included in the data.
func TestSearchDenseFieldPaths(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	const n = 600
	loadEvents(t, s, 0, n)
	err := s.Write(context.Background(), func(tx core.Tx) error {
		for i := 0; i < n; i += 11 {
			if err := benchEvent(deletingTx{tx}, i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var deletedFields int
	if err := s.rdb.QueryRow("SELECT count(*) FROM event_fields WHERE rid IN (SELECT rid FROM events_index WHERE deleted <> 0)").Scan(&deletedFields); err != nil {
		t.Fatal(err)
	}
	if deletedFields != 0 {
		t.Fatalf("%d field rows of deleted events", deletedFields)
	}
	weight := func(lo, hi float64) core.Filter {
		return core.Filter{Cond: &core.Cond{Column: core.ColField, FieldID: "child.weight", Kind: core.KindNum, Op: core.OpRange, NumLo: &lo, NumHi: &hi}}
	}
	or := func(fs ...core.Filter) core.Filter { return core.Filter{Op: "or", Children: fs} }
	and := func(fs ...core.Filter) core.Filter { return core.Filter{Op: "and", Children: fs} }
	filters := map[string]core.Filter{
		"Token":          tokenF(core.OpIn, "smith"),
		"Rare":           and(tokenF(core.OpIn, "smith"), tokenF(core.OpIn, "anna")),
		"Fuzzy":          and(or(tokenF(core.OpPrefix, "sm"), tokenF(core.OpIn, "mensah")), or(tokenF(core.OpPrefix, "a"), tokenF(core.OpIn, "kofi"))),
		"PrefixMany":     tokenF(core.OpPrefix, "a", "o"),
		"Range":          weight(2.5, 3.5),
		"FieldAndStatus": and(tokenF(core.OpIn, "owusu"), leafF(core.ColStatus, core.OpIn, "DECLARED", "REGISTERED")),
		"FieldOrStatus":  or(tokenF(core.OpIn, "owusu"), leafF(core.ColStatus, core.OpIn, "DECLARED")),
		"NotIn":          and(tokenF(core.OpIn, "addo"), core.Filter{Cond: &core.Cond{Column: core.ColField, FieldID: "child.name", Kind: core.KindToken, Op: core.OpNotIn, Values: []string{"ali"}}}),
		"None":           tokenF(core.OpIn, "nobody"),
	}
	sorts := map[string][]core.SortKey{
		"Default":    nil,
		"CreatedAsc": {{Column: core.ColCreatedAt}},
		"Status":     {{Column: core.ColStatus}, {Column: core.ColCreatedAt, Desc: true}},
		"Tracking":   {{Column: core.ColTrackingID, Desc: true}},
	}
	defer func(d func(total, rows, end int64) bool) { denseEnough = d }(denseEnough)
	for _, mode := range []string{"Walk", "Lookup"} {
		walk := mode == "Walk"
		denseEnough = func(total, rows, end int64) bool { return walk }
		for fname, w := range filters {
			for sname, sort := range sorts {
				f := core.SearchFilter{Where: w, Sort: sort}
				wantIDs, wantTotal := referenceSearch(t, s, f)
				for _, lo := range [][2]int{{10, 0}, {7, 21}, {10, wantTotal - 3}, {10, wantTotal}, {5, wantTotal + 4}, {1000, 0}} {
					if lo[1] < 0 {
						continue
					}
					t.Run(fmt.Sprintf("%s/%s/%s/%d+%d", mode, fname, sname, lo[1], lo[0]), func(t *testing.T) {
						f.Limit, f.Offset = lo[0], lo[1]
						p, err := s.Search(context.Background(), f)
						if err != nil {
							t.Fatal(err)
						}
						got := []string{}
						for _, d := range p.Results {
							var v struct{ ID string }
							if err := json.Unmarshal(d, &v); err != nil {
								t.Fatal(err)
							}
							got = append(got, v.ID)
						}
						want := wantIDs[min(lo[1], len(wantIDs)):min(lo[1]+lo[0], len(wantIDs))]
						if !reflect.DeepEqual(got, want) || p.Total != wantTotal {
							t.Errorf("page %v total %d, want %v total %d", got, p.Total, want, wantTotal)
						}
					})
				}
			}
		}
	}
}

// referenceSearch runs compileSearch's page query without a limit, and its
// count query.
func referenceSearch(t *testing.T, s *Store, f core.SearchFilter) ([]string, int) {
	t.Helper()
	where, args, order, err := compileSearch(f)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.rdb.Query("SELECT ei.event_id FROM events_index ei WHERE "+where+" ORDER BY "+order, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	var total int
	if err := s.rdb.QueryRow("SELECT count(*) FROM events_index ei WHERE "+where, args...).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != len(ids) {
		t.Fatalf("count %d, %d rows", total, len(ids))
	}
	if strings.Contains(where, "+ei.rid") {
		t.Fatal("compileSearch wrote a walk query")
	}
	return ids, total
}

// TestDenseQueryPlans checks the plans of the queries Search adds for
// field searches: the count from event_fields reads only primary-key
// ranges of event_fields, and the walk follows the ORDER BY index
// (stopping at the page's end) and tests the rids against the subqueries
// without a scan of any table.
func TestDenseQueryPlans(t *testing.T) {
	s := openLoaded(t, 1000)
	or := func(fs ...core.Filter) core.Filter { return core.Filter{Op: "or", Children: fs} }
	and := func(fs ...core.Filter) core.Filter { return core.Filter{Op: "and", Children: fs} }
	f := core.SearchFilter{Where: and(or(tokenF(core.OpPrefix, "sm"), tokenF(core.OpIn, "~S530")),
		or(tokenF(core.OpPrefix, "an"), tokenF(core.OpIn, "~A500"))), Limit: 10}
	plan := func(query string, args []any) string {
		rows, err := s.rdb.Query("EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, detail)
		}
		return strings.Join(lines, "\n")
	}
	for _, stats := range []bool{false, true} {
		if stats {
			if _, err := s.wconn.ExecContext(context.Background(), "ANALYZE"); err != nil {
				t.Fatal(err)
			}
			s.rdb.SetMaxIdleConns(0)
			s.rdb.SetMaxIdleConns(s.opts.ReadConns)
		}
		countSQL, args, ok := compileFieldCount(f)
		if !ok {
			t.Fatal("no field count")
		}
		p := plan(countSQL, args)
		if strings.Count(p, "SEARCH event_fields USING PRIMARY KEY") != 4 {
			t.Errorf("count plan does not search event_fields by primary key:\n%s", p)
		}
		for _, l := range strings.Split(p, "\n") {
			if strings.HasPrefix(l, "SCAN ") && !strings.HasPrefix(l, "SCAN (subquery") {
				t.Errorf("count plan scans a table (%q):\n%s", l, p)
			}
		}
		q, order, err := compileQuery(f, true)
		if err != nil {
			t.Fatal(err)
		}
		p = plan("SELECT ei.rid FROM events_index ei WHERE "+q.sb.String()+" ORDER BY "+order+" LIMIT ? OFFSET ?", append(q.args, 10, 0))
		if !strings.Contains(p, "SCAN ei USING COVERING INDEX events_index_created_at") && !strings.Contains(p, "SCAN ei USING INDEX events_index_created_at") {
			t.Errorf("walk plan does not follow events_index_created_at:\n%s", p)
		}
		if strings.Contains(p, "TEMP B-TREE FOR ORDER BY") || strings.Count(p, "SEARCH event_fields USING PRIMARY KEY") != 4 {
			t.Errorf("walk plan sorts, or reads event_fields otherwise than by primary key:\n%s", p)
		}
		t.Logf("stats %v:\n%s", stats, p)
	}
}
