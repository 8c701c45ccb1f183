package mappings

import "testing"

// TestHISChildDateOfBirth: Patient.birthDate is the calendar day of the
// birth and comes first; the birth time (_birthDate patient-birthTime)
// only fills a missing birthDate. A path that holds something the
// transform cannot use (a _birthDate with only another extension) does
// not hide the next path.
func TestHISChildDateOfBirth(t *testing.T) {
	birthTime := func(dt string) map[string]any {
		return map[string]any{"extension": []any{map[string]any{
			"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime", "valueDateTime": dt}}}
	}
	bypassOnly := map[string]any{"extension": []any{map[string]any{
		"url":                  "http://hl7.org/fhir/us/vr-common-library/StructureDefinition/BypassEditFlag",
		"valueCodeableConcept": map[string]any{"coding": []any{map[string]any{"code": "0"}}}}}}
	cases := []struct {
		name      string
		birthDate any // nil = absent
		ext       any // _birthDate; nil = absent
		want      string
	}{
		{"birthDate and a UTC birth time on the next day", "2026-04-10", birthTime("2026-04-11T04:30:00Z"), `"2026-04-10"`},
		{"birthDate only", "2026-04-10", nil, `"2026-04-10"`},
		{"birth time only", nil, birthTime("2026-04-10T23:30:00-05:00"), `"2026-04-10"`},
		{"_birthDate holds only another extension", nil, bypassOnly, ""},
		{"birthDate and a _birthDate with only another extension", "2026-04-10", bypassOnly, `"2026-04-10"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := loadBundle(t, "his-collection-birth-patient-mother.json")
			child := resAt(b, 0)
			delete(child, "birthDate")
			if c.birthDate != nil {
				child["birthDate"] = c.birthDate
			}
			if c.ext != nil {
				child["_birthDate"] = c.ext
			}
			res, me := mapEdited(t, b)
			if me != nil {
				t.Fatalf("refused: %v", me)
			}
			if got := string(res.Declaration["child.dob"]); got != c.want {
				t.Errorf("child.dob = %s, want %s", got, c.want)
			}
		})
	}
}

// TestFieldLaterPathAfterUnusableOne: a rule's paths are tried in order
// until one yields a value; the warnings of a path that yielded nothing
// are dropped when a later one does (a partial deceasedDateTime next to
// a death date Observation), and kept when none does.
func TestFieldLaterPathAfterUnusableOne(t *testing.T) {
	// HIS death: eventDetails.date from [deceased.deceasedDateTime, deathDate.valueDateTime, ...]
	for _, c := range []struct {
		name     string
		obs      bool // add a death date Observation (81956-5) 2026-04-02
		want     string
		wantWarn bool // a warning about the partial date
	}{
		{"partial deceasedDateTime, full Observation", true, `"2026-04-02"`, false},
		{"partial deceasedDateTime only", false, "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := loadBundle(t, "his-transaction-death.json")
			resAt(b, 0)["deceasedDateTime"] = "2026-04"
			if c.obs {
				addEntry(b, "urn:uuid:8d000000-0000-4000-8000-000000000031", map[string]any{"resourceType": "Observation", "status": "final",
					"code":          map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "81956-5"}}},
					"subject":       map[string]any{"reference": hisDead},
					"valueDateTime": "2026-04-02T03:15:00+02:00"})
			}
			res, me := mapEdited(t, b)
			if me != nil {
				t.Fatalf("refused: %v", me)
			}
			if got := string(res.Declaration["eventDetails.date"]); got != c.want {
				t.Errorf("eventDetails.date = %s, want %s", got, c.want)
			}
			if got := issueAt(res.Issues, "warning", "Bundle.entry[0].resource.deceasedDateTime") != nil; got != c.wantWarn {
				t.Errorf("partial date warning %v, want %v: %+v", got, c.wantWarn, res.Issues)
			}
		})
	}
}
