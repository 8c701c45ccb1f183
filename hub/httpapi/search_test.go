package httpapi_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// TestSearch runs SearchQuery clauses over four events and checks that
// each finds exactly the events it should.
func TestSearch(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)

	// a: notified (incomplete), Alice Banda, born 2024-02-02, 3.2 kg.
	a := h.Notify(tok, "birth", newTx(), hubtest.BirthDeclaration("Alice", "Banda"))
	// b: declared, Bwalya Zulu, born 2023-06-10, 2.1 kg.
	bd := hubtest.BirthDeclaration("Bwalya", "Zulu")
	bd["child.dob"], bd["child.weightAtBirth"] = "2023-06-10", 2.1
	b := h.Notify(tok, "birth", newTx(), bd)
	act(t, h, tok, b.ID, "declare", nil)
	// c: created only.
	c := create(t, h, tok)
	// d: a notified death.
	d := h.Notify(tok, "death", newTx(), hubtest.DeathDeclaration("Old", "Man"))

	data := func(field string, match any) map[string]any {
		return map[string]any{"data": map[string]any{field: match}}
	}
	tests := []struct {
		name  string
		query map[string]any
		want  []string
	}{
		{"tracking id", and(map[string]any{"trackingId": map[string]any{"type": "exact", "term": b.TrackingID}}), []string{b.ID}},
		{"id", and(map[string]any{"id": map[string]any{"type": "exact", "term": c.ID}}), []string{c.ID}},
		{"event type", and(map[string]any{"eventType": "death"}), []string{d.ID}},
		{"name exact", and(data("child.name", map[string]any{"type": "exact", "term": "Alice Banda"})), []string{a.ID}},
		{"name exact, other case and spacing", and(data("child.name", map[string]any{"type": "exact", "term": "  alice   BANDA "})), []string{a.ID}},
		{"name exact, one word only", and(data("child.name", map[string]any{"type": "exact", "term": "Alice"})), nil},
		{"name fuzzy, misspelt", and(data("child.name", map[string]any{"type": "fuzzy", "term": "Alyce"})), []string{a.ID}},
		{"name fuzzy, prefix", and(data("child.name", map[string]any{"type": "fuzzy", "term": "Ban"})), []string{a.ID}},
		{"name fuzzy, two words", and(data("child.name", map[string]any{"type": "fuzzy", "term": "Bwalia Zulu"})), []string{b.ID}},
		{"name fuzzy, no match", and(data("child.name", map[string]any{"type": "fuzzy", "term": "Xavier"})), nil},
		{"mother's name fuzzy finds both", and(data("mother.name", map[string]any{"type": "fuzzy", "term": "Mary"})), []string{a.ID, b.ID}},
		{"data.<field> key form", and(map[string]any{"data.child.gender": map[string]any{"type": "exact", "term": "female"}}), []string{a.ID, b.ID}},
		{"date exact", and(data("child.dob", map[string]any{"type": "exact", "term": "2024-02-02"})), []string{a.ID}},
		{"date range, one year", and(data("child.dob", map[string]any{"type": "range", "gte": "2024-01-01", "lte": "2024-12-31"})), []string{a.ID}},
		{"date range, open end", and(data("child.dob", map[string]any{"type": "range", "gte": "2023-01-01"})), []string{a.ID, b.ID}},
		{"date range, inclusive bounds", and(data("child.dob", map[string]any{"type": "range", "gte": "2023-06-10", "lte": "2023-06-10"})), []string{b.ID}},
		{"date range, none", and(data("child.dob", map[string]any{"type": "range", "lte": "2000-01-01"})), nil},
		{"death date exact", and(data("eventDetails.date", map[string]any{"type": "exact", "term": "2024-03-01"})), []string{d.ID}},
		{"number range, gte", and(data("child.weightAtBirth", map[string]any{"type": "range", "gte": 3})), []string{a.ID}},
		{"number range, lte", and(data("child.weightAtBirth", map[string]any{"type": "range", "lte": 2.5})), []string{b.ID}},
		{"number range, both", and(data("child.weightAtBirth", map[string]any{"type": "range", "gte": 2, "lte": 4})), []string{a.ID, b.ID}},
		{"number exact", and(data("child.weightAtBirth", map[string]any{"type": "exact", "term": 3.2})), []string{a.ID}},
		{"status exact", and(map[string]any{"status": map[string]any{"type": "exact", "term": "NOTIFIED"}}), []string{a.ID, d.ID}},
		{"status anyOf", and(map[string]any{"status": map[string]any{"type": "anyOf", "terms": []string{"CREATED", "DECLARED"}}}), []string{b.ID, c.ID}},
		{"status and type", and(map[string]any{"status": "NOTIFIED"}, map[string]any{"eventType": "birth"}), []string{a.ID}},
		{"flags anyOf", and(map[string]any{"flags": map[string]any{"anyOf": []string{"incomplete"}}}), []string{a.ID, d.ID}},
		{"flags noneOf", and(map[string]any{"flags": map[string]any{"noneOf": []string{"incomplete"}}}), []string{b.ID, c.ID}},
		{"flags allOf, none has both", and(map[string]any{"flags": map[string]any{"allOf": []string{"incomplete", "rejected"}}}), nil},
		{"or group", map[string]any{"query": map[string]any{"type": "or", "clauses": []any{
			map[string]any{"trackingId": a.TrackingID}, map[string]any{"trackingId": c.TrackingID}}}}, []string{a.ID, c.ID}},
		{"query as a JSON string", map[string]any{"query": `{"type":"and","clauses":[{"trackingId":{"type":"exact","term":"` + d.TrackingID + `"}}]}`}, []string{d.ID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sr := search(t, h, tok, tc.query)
			got := ids(sr)
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) || sr.Total != len(want) {
				t.Errorf("got %v (total %d), want %v", got, sr.Total, want)
			}
		})
	}

	t.Run("limit and offset page through the total", func(t *testing.T) {
		all := map[string]bool{}
		for off := 0; off < 4; off += 2 {
			q := and(map[string]any{"eventType": map[string]any{"type": "anyOf", "terms": []string{"birth", "death"}}})
			q["limit"], q["offset"] = 2, off
			q["sort"] = []map[string]string{{"field": "createdAt", "direction": "asc"}}
			sr := search(t, h, tok, q)
			if sr.Total != 4 || len(sr.Results) != 2 {
				t.Fatalf("offset %d: total %d, %d results", off, sr.Total, len(sr.Results))
			}
			for _, r := range sr.Results {
				all[r.ID] = true
			}
		}
		if len(all) != 4 {
			t.Errorf("pages held %d distinct events, want 4", len(all))
		}
	})

	bad := []struct {
		name  string
		query any
		want  string
	}{
		{"unknown field", and(data("child.favouriteColour", "red")), "child.favouriteColour"},
		{"unknown status", and(map[string]any{"status": "DONE"}), "DONE"},
		{"bad date", and(data("child.dob", map[string]any{"type": "exact", "term": "02/02/2024"})), "02/02/2024"},
		{"bad number", and(data("child.weightAtBirth", map[string]any{"type": "range", "gte": "heavy"})), "gte"},
		{"unknown key", and(map[string]any{"colour": "red"}), "colour"},
		{"empty clauses", map[string]any{"query": map[string]any{"type": "and", "clauses": []any{}}}, "clauses"},
		{"no query", map[string]any{"limit": 5}, "query"},
		{"limit too large", map[string]any{"query": and(map[string]any{"eventType": "birth"})["query"], "limit": 100000}, "limit"},
		{"unknown body key", map[string]any{"query": and(map[string]any{"eventType": "birth"})["query"], "page": 2}, "page"},
	}
	for _, tc := range bad {
		t.Run("400 "+tc.name, func(t *testing.T) {
			wantError(t, h.Do("POST", pathSearch, tok, tc.query), http.StatusBadRequest, tc.want)
		})
	}
}

// TestSearchScopeLimits checks that a record.search scope limited to
// death events never returns a birth event, whatever the query.
func TestSearchScopeLimits(t *testing.T) {
	t.Parallel()
	h := start(t)
	admin := adminToken(h)
	birth := h.Notify(admin, "birth", newTx(), hubtest.BirthDeclaration("Alice", "Banda"))
	death := h.Notify(admin, "death", newTx(), hubtest.DeathDeclaration("Alice", "Banda"))
	deathOnly := h.ClientToken(hubtest.OfficeIbombo, "type=record.search&event=death")
	birthOnly := h.ClientToken(hubtest.OfficeIbombo, "type=record.search&event=birth")

	queries := []struct {
		name  string
		query map[string]any
	}{
		{"both types", and(map[string]any{"eventType": map[string]any{"type": "anyOf", "terms": []string{"birth", "death"}}})},
		{"birth explicitly", and(map[string]any{"eventType": "birth"})},
		{"birth tracking id", and(map[string]any{"trackingId": birth.TrackingID})},
		{"birth id", and(map[string]any{"id": birth.ID})},
		{"status", and(map[string]any{"status": "NOTIFIED"})},
		{"flags", and(map[string]any{"flags": map[string]any{"anyOf": []string{"incomplete"}}})},
		{"or of everything", map[string]any{"query": map[string]any{"type": "or", "clauses": []any{
			map[string]any{"eventType": "birth"}, map[string]any{"eventType": "death"}, map[string]any{"trackingId": birth.TrackingID}}}}},
	}
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			for _, r := range search(t, h, deathOnly, q.query).Results {
				if r.Type != "death" || r.ID != death.ID {
					t.Errorf("death-only client saw %s event %s", r.Type, r.ID)
				}
			}
			for _, r := range search(t, h, birthOnly, q.query).Results {
				if r.Type != "birth" || r.ID != birth.ID {
					t.Errorf("birth-only client saw %s event %s", r.Type, r.ID)
				}
			}
		})
	}
	// The limit filters; it does not hide everything.
	if sr := search(t, h, deathOnly, queries[0].query); sr.Total != 1 || sr.Results[0].ID != death.ID {
		t.Errorf("death-only client: %+v, want the death event only", sr)
	}
	if sr := search(t, h, admin, queries[0].query); sr.Total != 2 {
		t.Errorf("unrestricted client: total %d, want 2", sr.Total)
	}
	// Without record.search at all: 403 naming the scope.
	none := h.ClientToken(hubtest.OfficeIbombo, "type=record.read")
	wantError(t, h.Do("POST", pathSearch, none, queries[0].query), http.StatusForbidden, "record.search")
}

// TestSearchDuplicateKeys: a search body with a key given twice is a 400
// naming it, not a search decided by whichever key the decoder keeps.
func TestSearchDuplicateKeys(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	body := `{"query":{"type":"and","clauses":[{"eventType":"death"}]},"query":{"type":"and","clauses":[{"eventType":"birth"}]}}`
	wantError(t, h.Do("POST", pathSearch, tok, body), http.StatusBadRequest, "query")
}

// TestSearchPersonalDataNeedsRead: a search result shows the whole
// declaration only to a caller whose record.read scopes reach the record;
// a search-only caller gets the event type's search-result fields (names,
// dates, places), never a national id. Every search leaves an audit row.
func TestSearchPersonalDataNeedsRead(t *testing.T) {
	t.Parallel()
	h := start(t)
	admin := adminToken(h)
	hereDecl := hubtest.BirthDeclaration("Here", "Banda")
	thereDecl := hubtest.BirthDeclaration("There", "Banda")
	thereDecl["child.birthLocation"] = hubtest.FacilityIlanga // another district
	here := h.Notify(admin, "birth", newTx(), hereDecl)
	there := h.Notify(admin, "birth", newTx(), thereDecl)
	death := h.Notify(admin, "death", newTx(), hubtest.DeathDeclaration("Old", "Man"))
	q := and(map[string]any{"eventType": map[string]any{"type": "anyOf", "terms": []string{"birth", "death"}}})
	full := map[string]map[string]json.RawMessage{}
	for _, r := range search(t, h, admin, q).Results {
		full[r.ID] = r.Declaration
	}
	if len(full) != 3 || full[here.ID]["mother.nid"] == nil {
		t.Fatalf("admin search: %v, want 3 whole declarations", full)
	}
	shown := map[string][]string{ // the default search-result fields the declarations hold
		"birth": {"child.birthLocation", "child.dob", "child.name", "child.placeOfBirth", "mother.name"},
		"death": {"deceased.name", "eventDetails.date", "eventDetails.deathLocation", "eventDetails.placeOfDeath"},
	}
	searchOnlyID, secret := h.NewClient("search only", hubtest.OfficeIbombo, "record.search")
	searchOnly := h.Token(searchOnlyID, secret)
	tests := []struct {
		name  string
		tok   string
		whole []string // events shown whole; the others are cut
	}{
		{"search only", searchOnly, nil},
		{"read everything", h.ClientToken(hubtest.OfficeIbombo, "record.search", "record.read"), []string{here.ID, there.ID, death.ID}},
		{"read deaths", h.ClientToken(hubtest.OfficeIbombo, "record.search", "type=record.read&event=death"), []string{death.ID}},
		{"read in the office's district", h.ClientToken(hubtest.OfficeIbombo, "record.search",
			"type=record.read&placeOfEvent=administrativeArea"), []string{here.ID, death.ID}},
		{"read elsewhere", h.ClientToken(hubtest.OfficeIlanga, "record.search",
			"type=record.read&event=birth&placeOfEvent=administrativeArea"), []string{there.ID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sr := search(t, h, tc.tok, q)
			if sr.Total != 3 {
				t.Fatalf("total %d, want 3", sr.Total)
			}
			for _, r := range sr.Results {
				if slices.Contains(tc.whole, r.ID) {
					if !jsonEqual(t, mustJSON(t, r.Declaration), mustJSON(t, full[r.ID])) {
						t.Errorf("%s %s: declaration %v, want the whole one", r.Type, r.ID, r.Declaration)
					}
					continue
				}
				got := slices.Sorted(maps.Keys(r.Declaration))
				if !slices.Equal(got, shown[r.Type]) {
					t.Errorf("%s %s: fields %v, want only %v", r.Type, r.ID, got, shown[r.Type])
				}
				for _, id := range got {
					if !jsonEqual(t, r.Declaration[id], full[r.ID][id]) {
						t.Errorf("%s %s: %s = %s, want %s", r.Type, r.ID, id, r.Declaration[id], full[r.ID][id])
					}
				}
			}
		})
	}
	// GET by id still refuses the search-only client.
	wantError(t, h.Do("GET", eventPath(here.ID), searchOnly, nil), http.StatusForbidden, "record.read")

	// Every search above left one audit row naming who, the query and the count.
	var mine []core.AuditEntry
	for _, e := range allAudits(t, h, core.AuditSearch) {
		if e.ActorID == searchOnlyID {
			mine = append(mine, e)
		}
	}
	if n := len(allAudits(t, h, core.AuditSearch)); n != 1+len(tests) {
		t.Errorf("%d search audit rows, want %d", n, 1+len(tests))
	}
	if len(mine) != 1 {
		t.Fatalf("%d audit rows for the search-only client, want 1", len(mine))
	}
	var detail struct {
		Query   json.RawMessage `json:"query"`
		Results int             `json:"results"`
		Total   int             `json:"total"`
	}
	if err := json.Unmarshal(mine[0].Detail, &detail); err != nil {
		t.Fatalf("audit detail %s: %v", mine[0].Detail, err)
	}
	if !jsonEqual(t, detail.Query, mustJSON(t, q)) || detail.Results != 3 || detail.Total != 3 {
		t.Errorf("audit detail %s, want the query and 3 results", mine[0].Detail)
	}
}

// TestSearchDeepFuzzyTree: a valid query five and/or levels deep with 32
// fuzzy name leaves (the most conditions a query may hold) is answered,
// not a 500 from the SQL planner.
func TestSearchDeepFuzzyTree(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	names := []string{"Alice", "Bwalya", "Chanda", "Daliso"}
	for _, n := range names {
		h.Notify(tok, "birth", newTx(), hubtest.BirthDeclaration(n, "Banda"))
	}
	leaf := 0
	var tree func(depth int) any
	tree = func(depth int) any {
		if depth == 5 {
			leaf++
			return map[string]any{"data.child.name": map[string]any{"type": "fuzzy", "term": names[leaf%len(names)][:2+leaf%3]}}
		}
		typ := "or" // an "or" at the top is what the planner could not solve
		if depth%2 == 1 {
			typ = "and"
		}
		return map[string]any{"type": typ, "clauses": []any{tree(depth + 1), tree(depth + 1)}}
	}
	q := map[string]any{"query": tree(0), "limit": 1}
	if leaf != 32 {
		t.Fatalf("%d leaves, want 32", leaf)
	}
	res := h.Do("POST", pathSearch, tok, q)
	if res.Status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", res.Status, res.Body)
	}
	// The same shape with leaves that all match Alice finds her.
	leaf = 0
	names = []string{"Alice"}
	if sr := search(t, h, tok, map[string]any{"query": tree(0)}); sr.Total != 1 {
		t.Errorf("total %d, want 1", sr.Total)
	}
}
