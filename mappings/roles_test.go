package mappings

import (
	"strings"
	"testing"
)

// TestHISBirthWeightIsTheChilds: only a birth weight (8339-4) whose
// subject is the child fills child.weightAtBirth, and only a birth
// weight names the child: someone's body weight (3141-9, the mother's)
// never makes that person the child, and a Patient profiled as the
// mother is never the child.
func TestHISBirthWeightIsTheChilds(t *testing.T) {
	cases := []struct {
		name string
		file string
		edit func(b map[string]any)
		want map[string]string // "" = left out
	}{
		{name: "mother's body weight first (Patient mother)", file: "his-collection-birth-patient-mother.json", edit: func(b map[string]any) {
			b["entry"] = append([]any{map[string]any{"fullUrl": "urn:uuid:7c000000-0000-4000-8000-0000000000aa", "resource": bodyWeightObs(hisMother, 62)}}, entryList(b)...)
		}, want: map[string]string{"child.name": `{"firstname":"Natasha","surname":"Lungu"}`, "child.weightAtBirth": "3.1", "mother.name": `{"firstname":"Beatrice","surname":"Lungu"}`}},
		{name: "mother's body weight first (RelatedPerson mother)", file: "his-transaction-birth.json", edit: func(b map[string]any) {
			b["entry"] = append([]any{map[string]any{"fullUrl": "urn:uuid:6a000000-0000-4000-8000-0000000000aa", "resource": bodyWeightObs(hisTxRel, 62)}}, entryList(b)...)
		}, want: map[string]string{"child.weightAtBirth": "3.402"}},
		{name: "a birth weight about another Patient first", file: "his-transaction-birth.json", edit: func(b map[string]any) {
			addEntry(b, "urn:uuid:6a000000-0000-4000-8000-0000000000bb", map[string]any{"resourceType": "Patient", "birthDate": "2025-01-01"})
			b["entry"] = append([]any{map[string]any{"fullUrl": "urn:uuid:6a000000-0000-4000-8000-0000000000aa", "resource": birthWeightObs("urn:uuid:6a000000-0000-4000-8000-0000000000bb", 2000)}}, entryList(b)...)
		}, want: map[string]string{"child.name": `{"firstname":"Mapalo","surname":"Tembo"}`, "child.weightAtBirth": "3.402"}},
		{name: "only a body weight: no birth weight", file: "his-transaction-birth.json", edit: func(b map[string]any) {
			w := resAt(b, 4)
			w["code"] = map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "3141-9"}}}
		}, want: map[string]string{"child.name": `{"firstname":"Mapalo","surname":"Tembo"}`, "child.weightAtBirth": ""}},
		{name: "birth weight names a Patient profiled as the mother", file: "his-collection-birth-patient-mother.json", edit: func(b map[string]any) {
			resAt(b, 1)["meta"] = map[string]any{"profile": []any{"http://hl7.org/fhir/us/vr-common-library/StructureDefinition/Patient-mother-vr"}}
			resAt(b, 3)["subject"] = map[string]any{"reference": hisMother}
		}, want: map[string]string{"child.name": "", "child.weightAtBirth": ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := loadBundle(t, c.file)
			c.edit(b)
			res, me := mapEdited(t, b)
			if strings.Contains(c.name, "profiled as the mother") {
				// no child left: refused (no family finds a birth), never the mother as the child
				if me == nil || me.Status != 422 {
					t.Fatalf("want a 422, got %v / %+v", me, res)
				}
				return
			}
			if me != nil {
				t.Fatalf("refused: %v", me)
			}
			for id, want := range c.want {
				if got := string(res.Declaration[id]); got != want {
					t.Errorf("%s = %s, want %s", id, got, want)
				}
			}
		})
	}
}
