package searchquery_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/searchquery"
	fl "github.com/crvshub/crvshub/testharness/farajaland"
)

// TestSearchMatchesIndex: an exact search for a value compiles to a
// condition that holds the value the index stores for it.
func TestSearchMatchesIndex(t *testing.T) {
	cc := farajaland(t)
	ec := cc.Event("birth")
	cases := []struct{ field, stored, term string }{
		{"child.name", `{"firstname":"Zoë","surname":"Müller"}`, `"  zoe   MULLER"`},
		{"child.gender", `"female"`, `"Female"`},
		{"child.placeOfBirth", `"HEALTH_FACILITY"`, `"HEALTH_FACILITY"`},
		{"child.nid", `"AB 1234"`, `"ab 1234"`},
		{"child.reason", `"Late  registration"`, `"late registration"`},
		{"mother.detailsNotAvailable", `true`, `true`},
		{"child.birthLocation", `"` + fl.IbomboHospital + `"`, `"` + strings.ToUpper(fl.IbomboHospital) + `"`},
		{"mother.address", `{"country":"FAR","administrativeArea":"` + fl.Ibombo + `"}`, `"` + fl.Ibombo + `"`},
		{"informant.address", `{"country":"USA"}`, `"USA"`},
		{"child.dob", `"2024-02-02"`, `"2024-02-02"`},
	}
	for _, c := range cases {
		rows := core.IndexValues(ec.Field(c.field), json.RawMessage(c.stored))
		sf, err := searchquery.Parse([]byte(clause(`{"data.`+c.field+`":{"type":"exact","term":`+c.term+`}}`)), cc, testNow)
		if err != nil {
			t.Fatalf("%s: %v", c.field, err)
		}
		cond := unwrap(sf.Where).Cond
		found := false
		for _, r := range rows {
			found = found || (r.Kind == cond.Kind && slices.Contains(cond.Values, r.Text))
		}
		if !found {
			t.Errorf("%s: index rows %+v do not satisfy search condition %+v", c.field, rows, cond)
		}
	}
	// numbers
	rows := core.IndexValues(ec.Field("child.weightAtBirth"), json.RawMessage(`3.5`))
	sf, err := searchquery.Parse([]byte(clause(`{"data.child.weightAtBirth":{"type":"exact","term":"3.50"}}`)), cc, testNow)
	if err != nil || len(rows) != 1 || !slices.Contains(unwrap(sf.Where).Cond.Nums, rows[0].Num) {
		t.Errorf("number: rows %+v cond %+v err %v", rows, unwrap(sf.Where).Cond, err)
	}
	// within a province finds an address in one of its districts
	rows = core.IndexValues(ec.Field("mother.address"), json.RawMessage(`{"country":"FAR","province":"`+fl.Central+`","district":"`+fl.Isamba+`"}`))
	sf, err = searchquery.Parse([]byte(clause(`{"data.mother.address":{"type":"within","location":"`+fl.Central+`"}}`)), cc, testNow)
	if err != nil || len(rows) != 1 || !slices.Contains(unwrap(sf.Where).Cond.Values, rows[0].Text) {
		t.Errorf("within: rows %+v err %v", rows, err)
	}
	// a fuzzy search for a similar-sounding name hits a soundex row
	rows = core.IndexValues(ec.Field("child.name"), json.RawMessage(`{"firstname":"John","surname":"Smith"}`))
	sf, err = searchquery.Parse([]byte(clause(`{"data.child.name":{"type":"fuzzy","term":"Smyth"}}`)), cc, testNow)
	if err != nil {
		t.Fatal(err)
	}
	hit := false
	for _, alt := range unwrap(sf.Where).Children {
		for _, r := range rows {
			if alt.Cond.Op == core.OpIn && r.Kind == core.KindToken && slices.Contains(alt.Cond.Values, r.Text) {
				hit = true
			}
		}
	}
	if !hit {
		t.Errorf("fuzzy Smyth does not reach Smith's soundex row: %s vs %+v", searchView(sf), rows)
	}
}
