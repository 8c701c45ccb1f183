package mappings

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/countryconfig"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testNow is "today" for every test: all test data lies before it.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func farajaland(t testing.TB) *core.CountryConfig {
	t.Helper()
	cc, err := countryconfig.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

func newMapper(t testing.TB) *Mapper {
	t.Helper()
	m, err := New(farajaland(t), "")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fetalDeathMapper maps with Farajaland plus a fetal-death event type
// (date and mother's name), which the embedded BFDR fetal death family
// needs.
func fetalDeathMapper(t *testing.T) *Mapper {
	t.Helper()
	cc := farajaland(t)
	ec := &core.EventConfig{ID: "fetal-death", Label: "Fetal death", Fields: []core.FieldConfig{
		{ID: "eventDetails.date", Type: core.FieldDate},
		{ID: "mother.name", Type: core.FieldName},
	}}
	cc2, err := core.NewCountryConfig(cc.Settings, append(cc.Events, ec), cc.Locations)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cc2, "")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// golden compares got (JSON-encoded, indented) with testdata/<name>, or
// rewrites it with -update.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != string(b) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", p, b, want)
	}
}

// Helpers for tests that edit a testdata bundle before mapping it.

// loadBundle decodes testdata/bundles/<file>.
func loadBundle(t *testing.T, file string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "bundles", file))
	if err != nil {
		t.Fatal(err)
	}
	var b map[string]any
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func entryList(b map[string]any) []any { return b["entry"].([]any) }

// entryAt is entry i; resAt its resource.
func entryAt(b map[string]any, i int) map[string]any { return entryList(b)[i].(map[string]any) }
func resAt(b map[string]any, i int) map[string]any {
	return entryAt(b, i)["resource"].(map[string]any)
}

// deepCopy copies decoded JSON.
func deepCopy(v any) map[string]any {
	raw, _ := json.Marshal(v)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// addEntry appends an entry (fullUrl url) holding the resource.
func addEntry(b map[string]any, url string, res map[string]any) {
	b["entry"] = append(entryList(b), map[string]any{"fullUrl": url, "resource": res})
}

// mapEdited maps the bundle: a result, or the *Error that refused it.
func mapEdited(t *testing.T, b map[string]any) (*Result, *Error) {
	t.Helper()
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	res, err := newMapper(t).Map(raw, testNow)
	if err == nil {
		return res, nil
	}
	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("non-*Error error (a bug): %v", err)
	}
	return nil, me
}

func birthWeightObs(subject string, grams float64) map[string]any {
	return map[string]any{"resourceType": "Observation", "status": "final",
		"code":          map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "8339-4"}}},
		"subject":       map[string]any{"reference": subject},
		"valueQuantity": map[string]any{"value": grams, "unit": "g", "code": "g", "system": "http://unitsofmeasure.org"}}
}

func bodyWeightObs(subject string, kg float64) map[string]any {
	return map[string]any{"resourceType": "Observation", "status": "final",
		"code":          map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "3141-9"}}},
		"subject":       map[string]any{"reference": subject},
		"valueQuantity": map[string]any{"value": kg, "unit": "kg", "code": "kg", "system": "http://unitsofmeasure.org"}}
}

func motherRelOf(patient string) map[string]any {
	return map[string]any{"resourceType": "RelatedPerson",
		"patient":      map[string]any{"reference": patient},
		"relationship": []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "MTH"}}}},
		"name":         []any{map[string]any{"family": "Daka", "given": []any{"Ruth"}}}}
}

// Fixed fullUrls of the HIS testdata bundles.
const (
	hisChild   = "urn:uuid:7c000000-0000-4000-8000-000000000001" // his-collection-birth-patient-mother: Natasha
	hisMother  = "urn:uuid:7c000000-0000-4000-8000-000000000002" // Beatrice, a Patient
	hisTxChild = "urn:uuid:6a000000-0000-4000-8000-000000000001" // his-transaction-birth: Mapalo
	hisTxRel   = "urn:uuid:6a000000-0000-4000-8000-000000000002" // Esther, RelatedPerson MTH
	hisDead    = "urn:uuid:8d000000-0000-4000-8000-000000000001" // his-transaction-death: Joseph Daka
)

// issueAt finds an issue with the severity naming the expression.
func issueAt(issues []Issue, severity, expr string) *Issue {
	for i, is := range issues {
		if is.Severity == severity && slices.Contains(is.Expression, expr) {
			return &issues[i]
		}
	}
	return nil
}
