package searchquery_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/searchquery"
	fl "github.com/crvshub/crvshub/testharness/farajaland"
)

// filterView is a readable rendering of a compiled filter for the golden
// files: empty parts left out.
func filterView(f core.Filter) any {
	if f.Cond != nil {
		c := f.Cond
		m := map[string]any{"column": c.Column, "op": c.Op}
		if c.FieldID != "" {
			m["field"] = c.FieldID
		}
		if c.Kind != "" {
			m["kind"] = c.Kind
		}
		if c.Values != nil {
			m["values"] = c.Values
		}
		if c.Nums != nil {
			m["nums"] = c.Nums
		}
		if c.Lo != "" {
			m["lo"] = c.Lo
		}
		if c.Hi != "" {
			m["hi"] = c.Hi
		}
		if c.NumLo != nil {
			m["numLo"] = *c.NumLo
		}
		if c.NumHi != nil {
			m["numHi"] = *c.NumHi
		}
		return m
	}
	children := make([]any, 0, len(f.Children))
	for _, ch := range f.Children {
		children = append(children, filterView(ch))
	}
	return map[string]any{f.Op: children}
}

func searchView(sf core.SearchFilter) []byte {
	v := map[string]any{"where": filterView(sf.Where), "limit": sf.Limit, "offset": sf.Offset}
	if sf.Sort != nil {
		var s []string
		for _, k := range sf.Sort {
			d := "asc"
			if k.Desc {
				d = "desc"
			}
			s = append(s, string(k.Column)+" "+d)
		}
		v["sort"] = s
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// checkFilterShape asserts structural invariants of a compiled filter.
func checkFilterShape(t testing.TB, f core.Filter, path string) {
	t.Helper()
	if f.Cond != nil {
		if f.Op != "" || len(f.Children) > 0 {
			t.Errorf("%s: a leaf with op %q and %d children", path, f.Op, len(f.Children))
		}
		return
	}
	if f.Op != "and" && f.Op != "or" {
		t.Errorf("%s: group op %q", path, f.Op)
	}
	if len(f.Children) == 0 {
		t.Errorf("%s: empty %s group (matches everything or nothing by accident)", path, f.Op)
	}
	for i, c := range f.Children {
		checkFilterShape(t, c, fmt.Sprintf("%s.%d", path, i))
	}
}

func TestParseSearchGolden(t *testing.T) {
	cc := farajaland(t)
	inputs, err := filepath.Glob("testdata/search/*.json")
	if err != nil || len(inputs) < 20 {
		t.Fatalf("search inputs: %v %v", inputs, err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			sf, err := searchquery.Parse(body, cc, testNow)
			if err != nil {
				t.Fatalf("ParseSearch: %v", err)
			}
			checkFilterShape(t, sf.Where, "where")
			golden(t, filepath.Join("search", name+".golden"), searchView(sf))
		})
	}
}

func parseOK(t *testing.T, body string) core.SearchFilter {
	t.Helper()
	sf, err := searchquery.Parse([]byte(body), farajaland(t), testNow)
	if err != nil {
		t.Fatalf("ParseSearch(%s): %v", body, err)
	}
	return sf
}

// unwrap drops the single-child groups around the part under test.
func unwrap(f core.Filter) core.Filter {
	for f.Cond == nil && len(f.Children) == 1 {
		f = f.Children[0]
	}
	return f
}

func leafOf(t *testing.T, sf core.SearchFilter) *core.Cond {
	t.Helper()
	f := unwrap(sf.Where)
	if f.Cond == nil {
		t.Fatalf("want a single condition, got %s", searchView(sf))
	}
	return f.Cond
}

func clause(c string) string { return `{"query":{"type":"and","clauses":[` + c + `]}}` }

// TestParseSearchSemantics asserts the meaning of compiled conditions
// directly, independent of the golden files.
func TestParseSearchSemantics(t *testing.T) {
	cc := farajaland(t)
	t.Run("defaults", func(t *testing.T) {
		sf := parseOK(t, clause(`{"eventType":"birth"}`))
		if sf.Limit != core.DefaultSearchLimit || sf.Offset != 0 || sf.Sort != nil {
			t.Errorf("limit %d offset %d sort %v", sf.Limit, sf.Offset, sf.Sort)
		}
		c := leafOf(t, sf)
		if c.Column != core.ColType || c.Op != core.OpIn || !slices.Equal(c.Values, []string{"birth"}) {
			t.Errorf("eventType: %+v", c)
		}
	})
	t.Run("tracking id is trimmed and upper-cased", func(t *testing.T) {
		c := leafOf(t, parseOK(t, clause(`{"trackingId":{"type":"exact","term":" b7test2 "}}`)))
		if c.Column != core.ColTrackingID || !slices.Equal(c.Values, []string{"B7TEST2"}) {
			t.Errorf("%+v", c)
		}
	})
	t.Run("within expands to the whole subtree", func(t *testing.T) {
		c := leafOf(t, parseOK(t, clause(`{"createdAtLocation":{"type":"within","location":"`+strings.ToUpper(fl.Central)+`"}}`)))
		if c.Column != core.ColCreatedAtLocation || c.Op != core.OpIn {
			t.Fatalf("%+v", c)
		}
		for _, id := range []string{fl.Central, fl.Ibombo, fl.Isamba, fl.IbomboOffice, fl.IbomboHospital, fl.Chikobo, fl.Chilochabalenje} {
			if !slices.Contains(c.Values, id) {
				t.Errorf("within Central lacks %s", id)
			}
		}
		for _, id := range []string{fl.Sulaka, fl.Ilanga, fl.IlangaOffice, fl.HQOffice, fl.Pualula} {
			if slices.Contains(c.Values, id) {
				t.Errorf("within Central holds %s", id)
			}
		}
		if len(c.Values) != len(cc.Subtree(fl.Central)) {
			t.Errorf("%d ids, subtree has %d", len(c.Values), len(cc.Subtree(fl.Central)))
		}
	})
	t.Run("within a leaf office is the office", func(t *testing.T) {
		c := leafOf(t, parseOK(t, clause(`{"legalStatuses.REGISTERED.createdAtLocation":{"type":"within","location":"`+fl.IbomboOffice+`"}}`)))
		if c.Column != core.ColRegisteredAtLocation || !slices.Equal(c.Values, []string{fl.IbomboOffice}) {
			t.Errorf("%+v", c)
		}
	})
	t.Run("exact date covers the whole day", func(t *testing.T) {
		c := leafOf(t, parseOK(t, clause(`{"createdAt":{"type":"exact","term":"2024-02-29"}}`)))
		if c.Op != core.OpRange || c.Lo != "2024-02-29T00:00:00.000000000Z" || c.Hi != "2024-02-29T23:59:59.999999999Z" {
			t.Errorf("%+v", c)
		}
	})
	t.Run("datetime is converted to UTC", func(t *testing.T) {
		c := leafOf(t, parseOK(t, clause(`{"updatedAt":{"type":"range","gte":"2024-03-01T01:00:00+03:00"}}`)))
		if c.Column != core.ColUpdatedAt || c.Lo != "2024-02-29T22:00:00.000000000Z" || c.Hi != "" {
			t.Errorf("%+v", c)
		}
	})
	t.Run("time period counts back from now", func(t *testing.T) {
		for term, days := range map[string]int{"last7Days": 7, "last30Days": 30, "last90Days": 90, "last365Days": 365} {
			c := leafOf(t, parseOK(t, clause(`{"legalStatuses.REGISTERED.acceptedAt":{"type":"timePeriod","term":"`+term+`"}}`)))
			if c.Column != core.ColRegisteredAt || c.Lo != core.FormatTime(testNow.AddDate(0, 0, -days)) || c.Hi != "" {
				t.Errorf("%s: %+v", term, c)
			}
		}
	})
	t.Run("registration number is upper-cased", func(t *testing.T) {
		c := leafOf(t, parseOK(t, clause(`{"legalStatuses.REGISTERED.registrationNumber":"abc123"}`)))
		if c.Column != core.ColRegistrationNumber || !slices.Equal(c.Values, []string{"ABC123"}) {
			t.Errorf("%+v", c)
		}
	})
	t.Run("flags", func(t *testing.T) {
		sf := parseOK(t, clause(`{"flags":{"noneOf":["rejected"],"allOf":["printed"]}}`))
		w := unwrap(sf.Where)
		if w.Op != "and" || len(w.Children) != 2 {
			t.Fatalf("%s", searchView(sf))
		}
		none, all := w.Children[0].Cond, w.Children[1].Cond
		if none.Column != core.ColFlag || none.Op != core.OpNotIn || !slices.Equal(none.Values, []string{"rejected"}) ||
			all.Op != core.OpAllOf || !slices.Equal(all.Values, []string{"printed"}) {
			t.Errorf("%+v %+v", none, all)
		}
	})
	t.Run("fuzzy name matches each word by prefix or soundex", func(t *testing.T) {
		sf := parseOK(t, clause(`{"data":{"child.name":{"type":"fuzzy","term":"Rupert Ashcraft"}}}`))
		where := unwrap(sf.Where)
		if where.Op != "and" || len(where.Children) != 2 {
			t.Fatalf("%s", searchView(sf))
		}
		want := [][2]string{{"ashcraft", "~A261"}, {"rupert", "~R163"}}
		for i, w := range want {
			or := where.Children[i]
			if or.Op != "or" || len(or.Children) != 2 {
				t.Fatalf("word %d: %s", i, searchView(sf))
			}
			p, s := or.Children[0].Cond, or.Children[1].Cond
			if p.Kind != core.KindToken || p.Op != core.OpPrefix || p.FieldID != "child.name" || !slices.Equal(p.Values, []string{w[0]}) {
				t.Errorf("prefix %+v", p)
			}
			if s.Kind != core.KindToken || s.Op != core.OpIn || !slices.Equal(s.Values, []string{w[1]}) {
				t.Errorf("soundex %+v", s)
			}
		}
	})
	t.Run("exact name is normalised like the index", func(t *testing.T) {
		c := leafOf(t, parseOK(t, clause(`{"data.mother.name":{"type":"exact","term":"  Zoë   MÜLLER "}}`)))
		if c.Kind != core.KindText || !slices.Equal(c.Values, []string{"zoe muller"}) {
			t.Errorf("%+v", c)
		}
	})
	t.Run("number fields compare numbers", func(t *testing.T) {
		c := leafOf(t, parseOK(t, clause(`{"data.child.weightAtBirth":{"type":"range","gte":"2.5"}}`)))
		if c.Kind != core.KindNum || c.Op != core.OpRange || c.NumLo == nil || *c.NumLo != 2.5 || c.NumHi != nil {
			t.Errorf("%+v", c)
		}
		c = leafOf(t, parseOK(t, clause(`{"data.mother.age":30}`)))
		if c.Kind != core.KindNum || c.Op != core.OpIn || !slices.Equal(c.Nums, []float64{30}) {
			t.Errorf("%+v", c)
		}
	})
	t.Run("date fields compare dates", func(t *testing.T) {
		c := leafOf(t, parseOK(t, clause(`{"data.child.dob":{"type":"range","gte":"2024-01-01"}}`)))
		if c.Kind != core.KindDate || c.Op != core.OpRange || c.Lo != "2024-01-01" || c.Hi != "" {
			t.Errorf("%+v", c)
		}
	})
	t.Run("both data key forms compile alike", func(t *testing.T) {
		a := parseOK(t, clause(`{"data":{"child.dob":{"type":"exact","term":"2024-02-02"}}}`))
		b := parseOK(t, clause(`{"data.child.dob":{"type":"exact","term":"2024-02-02"}}`))
		if string(searchView(a)) != string(searchView(b)) {
			t.Errorf("data: {...} %s != data.x %s", searchView(a), searchView(b))
		}
	})
	t.Run("query and sort as JSON strings", func(t *testing.T) {
		a := parseOK(t, `{"query":"{\"type\":\"and\",\"clauses\":[{\"eventType\":\"death\"}]}","sort":"[{\"field\":\"updatedAt\",\"direction\":\"desc\"}]"}`)
		b := parseOK(t, `{"query":{"type":"and","clauses":[{"eventType":"death"}]},"sort":[{"field":"updatedAt","direction":"desc"}]}`)
		if string(searchView(a)) != string(searchView(b)) || len(a.Sort) != 1 || a.Sort[0] != (core.SortKey{Column: core.ColUpdatedAt, Desc: true}) {
			t.Errorf("%s vs %s", searchView(a), searchView(b))
		}
	})
	t.Run("limit and offset bounds", func(t *testing.T) {
		sf := parseOK(t, `{"query":{"type":"and","clauses":[{"eventType":"birth"}]},"limit":1,"offset":0}`)
		if sf.Limit != 1 {
			t.Error(sf.Limit)
		}
		sf = parseOK(t, fmt.Sprintf(`{"query":{"type":"and","clauses":[{"eventType":"birth"}]},"limit":%d,"offset":%d}`, core.MaxSearchLimit, core.MaxSearchOffset))
		if sf.Limit != core.MaxSearchLimit || sf.Offset != core.MaxSearchOffset {
			t.Error(sf.Limit, sf.Offset)
		}
	})
	t.Run("null sort is no sort", func(t *testing.T) {
		if sf := parseOK(t, `{"query":{"type":"and","clauses":[{"eventType":"birth"}]},"sort":null}`); sf.Sort != nil {
			t.Error(sf.Sort)
		}
	})
}

func TestParseSearchErrors(t *testing.T) {
	cc := farajaland(t)
	deep := `{"eventType":"birth"}`
	for range 7 {
		deep = `{"type":"and","clauses":[` + deep + `]}`
	}
	var many []string
	for i := range 65 {
		many = append(many, fmt.Sprintf(`{"trackingId":"T%d"}`, i))
	}
	var terms []string
	for i := range 201 {
		terms = append(terms, fmt.Sprintf(`"t%d"`, i))
	}
	cases := []struct {
		name, body, msg string
	}{
		{"not JSON", `{query`, "Invalid search body"},
		{"empty body", ``, "Invalid search body"},
		{"array body", `[]`, "Invalid search body"},
		{"unknown top-level key", `{"query":{"eventType":"birth"},"page":2}`, `unknown field "page"`},
		{"trailing object", `{"query":{"type":"and","clauses":[{"eventType":"birth"}]}} {}`, "after the JSON value"},
		{"trailing brace", `{"query":{"type":"and","clauses":[{"eventType":"birth"}]}}}`, "after the JSON value"},
		{"trailing bracket", `{"query":{"type":"and","clauses":[{"eventType":"birth"}]}}]`, "after the JSON value"},
		{"limit zero", `{"query":{"eventType":"birth"},"limit":0}`, "limit must be between 1 and 1000"},
		{"limit too big", `{"query":{"eventType":"birth"},"limit":1001}`, "limit must be between 1 and 1000"},
		{"limit not a number", `{"query":{"eventType":"birth"},"limit":"10"}`, "Invalid search body"},
		{"limit fractional", `{"query":{"eventType":"birth"},"limit":1.5}`, "Invalid search body"},
		{"offset negative", `{"query":{"eventType":"birth"},"offset":-1}`, "offset must be between 0 and 100000"},
		{"offset too big", `{"query":{"eventType":"birth"},"offset":100001}`, "offset must be between 0 and 100000"},
		{"no query", `{"limit":5}`, "query is required"},
		{"null query", `{"query":null}`, "query is required"},
		{"query not an object", `{"query":[1]}`, "query: expected an object"},
		{"query string not JSON", `{"query":"type=and"}`, "query: expected an object"},
		{"group type", `{"query":{"type":"xor","clauses":[{"eventType":"birth"}]}}`, "query.type must be 'and' or 'or'"},
		{"group without type", `{"query":{"clauses":[{"eventType":"birth"}]}}`, "query.type must be 'and' or 'or'"},
		{"empty clauses", `{"query":{"type":"and","clauses":[]}}`, "query.clauses must not be empty"},
		{"null clauses", `{"query":{"type":"and","clauses":null}}`, "query.clauses must not be empty"},
		{"group with an extra key", `{"query":{"type":"and","clauses":[{"eventType":"birth"}],"eventType":"birth"}}`, "query: a group is {type, clauses}"},
		{"type without clauses", `{"query":{"type":"and"}}`, "query.type: unknown search key 'type'"},
		{"empty expression", clause(`{}`), "query.clauses[0]: an expression needs at least one key"},
		{"expression not an object", clause(`"birth"`), "query.clauses[0]: expected an object"},
		{"unknown key", clause(`{"eventType":"birth"},{"colour":"red"}`), "query.clauses[1].colour: unknown search key 'colour'"},
		{"v1 key", clause(`{"childFirstNames":"John"}`), "unknown search key 'childFirstNames'"},
		{"bad status", clause(`{"status":{"type":"exact","term":"CERTIFIED"}}`), "query.clauses[0].status: unknown status 'CERTIFIED'"},
		{"bad status in anyOf", clause(`{"status":{"type":"anyOf","terms":["REGISTERED","registered"]}}`), "unknown status 'registered'"},
		{"status empty terms", clause(`{"status":{"type":"anyOf","terms":[]}}`), "query.clauses[0].status.terms must not be empty"},
		{"status term object", clause(`{"status":{"type":"exact","term":{"a":1}}}`), "query.clauses[0].status.term must be a string"},
		{"tracking id null", clause(`{"trackingId":null}`), "query.clauses[0].trackingId.term must be a string"},
		{"exact term null", clause(`{"data.child.reason":{"type":"exact","term":null}}`), "query.clauses[0].data.child.reason.term must be a string"},
		{"anyOf term null", clause(`{"id":{"type":"anyOf","terms":["a",null]}}`), "query.clauses[0].id.terms[1] must be a string"},
		{"status term missing", clause(`{"status":{"type":"exact"}}`), "query.clauses[0].status.term must be a string"},
		{"anyOf term not a string", clause(`{"eventType":{"type":"anyOf","terms":["birth",["death"]]}}`), "query.clauses[0].eventType.terms[1] must be a string"},
		{"fuzzy tracking id", clause(`{"trackingId":{"type":"fuzzy","term":"B7"}}`), "query.clauses[0].trackingId: type must be exact or anyOf, not 'fuzzy'"},
		{"empty registration number", clause(`{"legalStatuses.REGISTERED.registrationNumber":{"type":"exact","term":" "}}`), "query.clauses[0].legalStatuses.REGISTERED.registrationNumber: the term must not be empty"},
		{"empty tracking id", clause(`{"trackingId":""}`), "query.clauses[0].trackingId: the term must not be empty"},
		{"match with unknown key", clause(`{"trackingId":{"type":"exact","value":"B7"}}`), "query.clauses[0].trackingId: expected {type, term|terms|gte|lte|location}"},
		{"too many terms", clause(`{"eventType":{"type":"anyOf","terms":[` + strings.Join(terms, ",") + `]}}`), "at most 200 terms"},
		{"created at bad date", clause(`{"createdAt":{"type":"exact","term":"2024-02-30"}}`), "query.clauses[0].createdAt.term must be a date"},
		{"created at bad gte", clause(`{"createdAt":{"type":"range","gte":"yesterday"}}`), "query.clauses[0].createdAt.gte must be a date"},
		{"created at bad lte", clause(`{"createdAt":{"type":"range","lte":"2024-13-01"}}`), "query.clauses[0].createdAt.lte must be a date"},
		{"range without bounds", clause(`{"updatedAt":{"type":"range"}}`), "query.clauses[0].updatedAt: a range needs gte or lte"},
		{"bad time period", clause(`{"createdAt":{"type":"timePeriod","term":"last2Days"}}`), "query.clauses[0].createdAt.term must be one of last7Days"},
		{"time with anyOf", clause(`{"createdAt":{"type":"anyOf","terms":["2024-01-01"]}}`), "query.clauses[0].createdAt: type must be exact, range or timePeriod"},
		{"within unknown location", clause(`{"createdAtLocation":{"type":"within","location":"00000000-0000-4000-8000-000000000000"}}`), "query.clauses[0].createdAtLocation.location: unknown location"},
		{"within without location", clause(`{"createdAtLocation":{"type":"within"}}`), "query.clauses[0].createdAtLocation.location: unknown location"},
		{"location range", clause(`{"updatedAtLocation":{"type":"range","gte":"a"}}`), "query.clauses[0].updatedAtLocation: type must be exact, anyOf or within"},
		{"flags empty", clause(`{"flags":{}}`), "query.clauses[0].flags: give anyOf, noneOf or allOf"},
		{"flags unknown key", clause(`{"flags":{"oneOf":["x"]}}`), "query.clauses[0].flags: expected {anyOf?, noneOf?, allOf?}"},
		{"flags as list", clause(`{"flags":["rejected"]}`), "query.clauses[0].flags: expected {anyOf?, noneOf?, allOf?}"},
		{"data not an object", clause(`{"data":["child.dob"]}`), "query.clauses[0].data: expected an object"},
		{"data empty", clause(`{"data":{}}`), "query.clauses[0].data"},
		{"data empty beside another key", clause(`{"eventType":"birth","data":{}}`), "query.clauses[0].data"},
		{"data unknown field", clause(`{"data":{"child.firstname":"John"}}`), "query.clauses[0].data.child.firstname: unknown field 'data.child.firstname'"},
		{"dotted unknown field", clause(`{"data.child.colour":"red"}`), "query.clauses[0].data.child.colour: unknown field 'data.child.colour'"},
		{"data date not a date", clause(`{"data.child.dob":"02/02/2024"}`), "query.clauses[0].data.child.dob: '02/02/2024' is not a date YYYY-MM-DD"},
		{"data date range bad bound", clause(`{"data.child.dob":{"type":"range","lte":"2024-02-30"}}`), "query.clauses[0].data.child.dob.lte must be a date YYYY-MM-DD"},
		{"data date range without bounds", clause(`{"data.child.dob":{"type":"range"}}`), "query.clauses[0].data.child.dob: a range needs gte or lte"},
		{"data date fuzzy", clause(`{"data.child.dob":{"type":"fuzzy","term":"2024"}}`), "query.clauses[0].data.child.dob: match type 'fuzzy' is not supported for a DATE field"},
		{"data number not a number", clause(`{"data.child.weightAtBirth":{"type":"exact","term":"heavy"}}`), "query.clauses[0].data.child.weightAtBirth.term must be a number"},
		{"data number range bad bound", clause(`{"data.child.weightAtBirth":{"type":"range","lte":"x"}}`), "query.clauses[0].data.child.weightAtBirth.lte must be a number"},
		{"data number range without bounds", clause(`{"data.mother.age":{"type":"range"}}`), "query.clauses[0].data.mother.age: a range needs gte or lte"},
		{"data number within", clause(`{"data.mother.age":{"type":"within","location":"x"}}`), "match type 'within' is not supported for a NUMBER field"},
		{"data text within", clause(`{"data.child.reason":{"type":"within","location":"` + fl.Central + `"}}`), "match type 'within' is not supported for a TEXT field"},
		{"data text range", clause(`{"data.child.reason":{"type":"range","gte":"a"}}`), "match type 'range' is not supported for a TEXT field"},
		{"data location fuzzy", clause(`{"data.child.birthLocation":{"type":"fuzzy","term":"Ibombo"}}`), "match type 'fuzzy' is not supported for a LOCATION field"},
		{"data location within unknown", clause(`{"data.child.birthLocation":{"type":"within","location":"Ibombo"}}`), "query.clauses[0].data.child.birthLocation.location: unknown location 'ibombo'"},
		{"fuzzy name empty", clause(`{"data.child.name":{"type":"fuzzy","term":" - "}}`), "query.clauses[0].data.child.name.term must be a non-empty name"},
		{"fuzzy name too many words", clause(`{"data.child.name":{"type":"fuzzy","term":"a b c d e f g h i"}}`), "query.clauses[0].data.child.name.term has too many words"},
		{"fuzzy text empty", clause(`{"data.informant.email":{"type":"fuzzy","term":"  "}}`), "query.clauses[0].data.informant.email.term must be a non-empty string"},
		{"nested error path", `{"query":{"type":"or","clauses":[{"eventType":"birth"},{"type":"and","clauses":[{"status":"DECLARED"},{"status":"BOGUS"}]}]}}`, "query.clauses[1].clauses[1].status: unknown status 'BOGUS'"},
		{"too deep", `{"query":` + deep + `}`, "queries nest at most 6 deep"},
		{"too many conditions", clause(strings.Join(many, ",")), "at most 64 conditions"},
		{"sort bad field", `{"query":{"eventType":"birth"},"sort":[{"field":"declaration.child.name"}]}`, "sort[0].field: cannot sort by 'declaration.child.name'"},
		{"sort bad direction", `{"query":{"eventType":"birth"},"sort":[{"field":"createdAt"},{"field":"updatedAt","direction":"up"}]}`, "sort[1].direction must be asc or desc"},
		{"sort not a list", `{"query":{"eventType":"birth"},"sort":{"field":"createdAt"}}`, "sort must be a list"},
		{"sort unknown key", `{"query":{"eventType":"birth"},"sort":[{"field":"createdAt","order":"asc"}]}`, "sort must be a list"},
		{"sort too many keys", `{"query":{"eventType":"birth"},"sort":[{"field":"createdAt"},{"field":"createdAt"},{"field":"createdAt"},{"field":"createdAt"},{"field":"createdAt"},{"field":"createdAt"}]}`, "at most 5 keys"},
		{"sort string trailing data", `{"query":{"eventType":"birth"},"sort":"[{\"field\":\"createdAt\"}]]"}`, "sort must be a list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sf, err := searchquery.Parse([]byte(c.body), cc, testNow)
			if err == nil {
				t.Fatalf("ParseSearch(%s) = %s, want an error", c.body, searchView(sf))
			}
			e := coreErr(t, err)
			if e.Kind != core.KindInvalid || e.Code != "INVALID_SEARCH" {
				t.Errorf("kind %v code %s, want KindInvalid INVALID_SEARCH", e.Kind, e.Code)
			}
			if !strings.Contains(e.Message, c.msg) {
				t.Errorf("message %q, want it to contain %q", e.Message, c.msg)
			}
		})
	}
}

func TestParseSearchSortKeys(t *testing.T) {
	for field, col := range map[string]core.Column{
		"createdAt": core.ColCreatedAt, "updatedAt": core.ColUpdatedAt, "trackingId": core.ColTrackingID,
		"dateOfEvent": core.ColDateOfEvent, "legalStatuses.REGISTERED.acceptedAt": core.ColRegisteredAt,
		"status": core.ColStatus, "type": core.ColType, "eventType": core.ColType,
	} {
		for dir, desc := range map[string]bool{"": false, "asc": false, "desc": true} {
			sf := parseOK(t, `{"query":{"eventType":"birth"},"sort":[{"field":"`+field+`","direction":"`+dir+`"}]}`)
			if want := []core.SortKey{{Column: col, Desc: desc}}; !slices.Equal(sf.Sort, want) {
				t.Errorf("sort %s %q = %+v, want %+v", field, dir, sf.Sort, want)
			}
		}
	}
	if sf := parseOK(t, `{"query":{"eventType":"birth"},"sort":[]}`); len(sf.Sort) != 0 {
		t.Errorf("empty sort = %+v", sf.Sort)
	}
}
