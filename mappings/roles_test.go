package mappings

import (
	"slices"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
)

// TestHISBirthOrDeath: the HIS death family takes any Patient with
// deceased*, and outranks the birth family; a birth notification whose
// mother or newborn died must stay a birth (the death is a warning that
// names the person), a death notification naming the decedent's mother
// stays a death, and a bundle with a birth and someone else's death that
// carries no birth evidence is refused naming both.
func TestHISBirthOrDeath(t *testing.T) {
	cases := []struct {
		name   string
		file   string
		edit   func(b map[string]any)
		event  string   // "" = refused 422
		warnAt string   // a warning names this resource (event != "")
		errAt  []string // the refusal names these resources
		say    string   // the refusal says this (default: names both events)
		want   map[string]string
	}{
		{name: "maternal death, Patient mother", file: "his-collection-birth-patient-mother.json",
			edit:  func(b map[string]any) { resAt(b, 1)["deceasedDateTime"] = "2026-04-10T09:15:00+02:00" },
			event: "birth", warnAt: "Bundle.entry[1].resource",
			want: map[string]string{"child.name": `{"firstname":"Natasha","surname":"Lungu"}`, "child.dob": `"2026-04-10"`, "mother.name": `{"firstname":"Beatrice","surname":"Lungu"}`}},
		{name: "maternal death, deceasedBoolean", file: "his-collection-birth-patient-mother.json",
			edit:  func(b map[string]any) { resAt(b, 1)["deceasedBoolean"] = true },
			event: "birth", warnAt: "Bundle.entry[1].resource"},
		// the birth evidence is about the person who died: a death report
		{name: "neonatal death in a birth-shaped bundle (RelatedPerson mother)", file: "his-transaction-birth.json",
			edit:  func(b map[string]any) { resAt(b, 0)["deceasedDateTime"] = "2026-03-02T06:00:00+02:00" },
			event: "death", want: map[string]string{"deceased.name": `{"firstname":"Mapalo","surname":"Tembo"}`, "eventDetails.date": `"2026-03-02"`}},
		{name: "neonatal death notification with the baby's birth weight", file: "his-transaction-death.json",
			edit: func(b map[string]any) {
				resAt(b, 0)["birthDate"] = "2026-03-30"
				addEntry(b, "urn:uuid:8d000000-0000-4000-8000-0000000000b1", birthWeightObs(hisDead, 2100))
			},
			event: "death", want: map[string]string{"deceased.dob": `"2026-03-30"`}},
		{name: "neonatal death with a child-profiled decedent", file: "his-transaction-death.json",
			edit: func(b map[string]any) {
				resAt(b, 0)["meta"] = map[string]any{"profile": []any{"http://hl7.org/fhir/us/vr-common-library/StructureDefinition/Patient-child-vr"}}
			},
			event: "death"},
		// a death and another person's birth, no maternal link: two events
		{name: "death with a birth weight of another person", file: "his-transaction-death.json",
			edit: func(b map[string]any) {
				addEntry(b, "urn:uuid:8d000000-0000-4000-8000-000000000011", map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"family": "Daka", "given": []any{"Chanda"}}}, "gender": "female", "birthDate": "2026-04-01"})
				addEntry(b, "urn:uuid:8d000000-0000-4000-8000-000000000012", birthWeightObs("urn:uuid:8d000000-0000-4000-8000-000000000011", 3000))
			},
			errAt: []string{"Bundle.entry[0].resource", "Bundle.entry[5].resource"}},
		// mother and newborn both died: neither may become a mere warning
		{name: "maternal and neonatal death", file: "his-collection-birth-patient-mother.json",
			edit: func(b map[string]any) {
				resAt(b, 0)["deceasedDateTime"] = "2026-04-10T10:00:00+02:00"
				resAt(b, 1)["deceasedDateTime"] = "2026-04-10T09:15:00+02:00"
			},
			errAt: []string{"Bundle.entry[0].resource", "Bundle.entry[1].resource"}, say: "2 subjects of a death"},
		{name: "infant death naming the decedent's mother", file: "his-transaction-death.json",
			edit: func(b map[string]any) {
				addEntry(b, "urn:uuid:8d000000-0000-4000-8000-000000000012", motherRelOf(hisDead))
			},
			event: "death", want: map[string]string{"deceased.name": `{"firstname":"Joseph","middlename":"Mumba","surname":"Daka"}`}},
		{name: "death and another child's mother, no birth evidence", file: "his-transaction-death.json",
			edit: func(b map[string]any) {
				addEntry(b, "urn:uuid:8d000000-0000-4000-8000-000000000011", map[string]any{"resourceType": "Patient", "birthDate": "2026-04-01"})
				addEntry(b, "urn:uuid:8d000000-0000-4000-8000-000000000012", motherRelOf("urn:uuid:8d000000-0000-4000-8000-000000000011"))
			},
			errAt: []string{"Bundle.entry[0].resource", "Bundle.entry[5].resource"}},
		{name: "plain death", file: "his-transaction-death.json", edit: func(map[string]any) {}, event: "death"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := loadBundle(t, c.file)
			c.edit(b)
			res, me := mapEdited(t, b)
			if c.event == "" {
				if me == nil || me.Kind != core.KindUnprocessable {
					t.Fatalf("want a 422 naming both events, got %v / %+v", me, res)
				}
				for _, e := range c.errAt {
					if issueAt(me.Issues, "error", e) == nil {
						t.Errorf("no error issue names %s: %+v", e, me.Issues)
					}
				}
				if d := me.Issues[0].Diagnostics; c.say != "" {
					if !strings.Contains(d, c.say) {
						t.Errorf("the refusal does not say %q: %s", c.say, d)
					}
				} else if !strings.Contains(d, "birth") || !strings.Contains(d, "death") {
					t.Errorf("the refusal does not name both events: %s", d)
				}
				return
			}
			if me != nil {
				t.Fatalf("refused: %v", me)
			}
			if res.EventType != c.event {
				t.Fatalf("mapped as a %s (family %s), want a %s", res.EventType, res.Family, c.event)
			}
			if c.warnAt != "" {
				if is := issueAt(res.Issues, "warning", c.warnAt); is == nil || !strings.Contains(is.Diagnostics, "deceased") || !strings.Contains(is.Diagnostics, "not part of this birth record") {
					t.Errorf("no warning says %s died: %+v", c.warnAt, res.Issues)
				}
			}
			for id, want := range c.want {
				if got := string(res.Declaration[id]); got != want {
					t.Errorf("%s = %s, want %s", id, got, want)
				}
			}
		})
	}
}

// TestOnePersonPerRole: a role keeps its first match, so the mapper
// refuses a bundle where the subject (twins) or a person role (two
// different mothers) matches more than one resource, naming every one;
// the same resource reached twice, or an identical copy, is one person.
func TestOnePersonPerRole(t *testing.T) {
	const child2 = "urn:uuid:7c000000-0000-4000-8000-000000000009"
	secondChild := func(b map[string]any) map[string]any {
		c := deepCopy(resAt(b, 0))
		c["name"] = []any{map[string]any{"use": "official", "family": "Lungu", "given": []any{"Natalia"}}}
		return c
	}
	cases := []struct {
		name  string
		file  string
		edit  func(b map[string]any)
		errAt []string // nil = accepted
		say   string
	}{
		{name: "twins by birth weight", file: "his-collection-birth-patient-mother.json", edit: func(b map[string]any) {
			addEntry(b, child2, secondChild(b))
			addEntry(b, "urn:uuid:7c000000-0000-4000-8000-00000000000a", birthWeightObs(child2, 2900))
		}, errAt: []string{"Bundle.entry[0].resource", "Bundle.entry[4].resource"}, say: "2 subjects"},
		{name: "unnamed twins by mother RelatedPerson, alike but for the fullUrl", file: "his-transaction-birth.json", edit: func(b map[string]any) {
			delete(resAt(b, 0), "name")
			delete(resAt(b, 0), "identifier")
			addEntry(b, "urn:uuid:6a000000-0000-4000-8000-000000000009", deepCopy(resAt(b, 0)))
			rel := deepCopy(resAt(b, 1))
			rel["patient"] = map[string]any{"reference": "urn:uuid:6a000000-0000-4000-8000-000000000009"}
			addEntry(b, "urn:uuid:6a000000-0000-4000-8000-00000000000a", rel)
		}, errAt: []string{"Bundle.entry[0].resource", "Bundle.entry[5].resource"}, say: "twins"},
		{name: "one child, two birth weights", file: "his-collection-birth-patient-mother.json", edit: func(b map[string]any) {
			addEntry(b, "urn:uuid:7c000000-0000-4000-8000-00000000000a", birthWeightObs(hisChild, 3100))
		}},
		{name: "two different mothers (BFDR)", file: "hl7-bfdr-birth.json", edit: func(b map[string]any) {
			m2 := deepCopy(entryAt(b, 2))
			m2["fullUrl"] = "urn:uuid:2c000000-0000-4000-8000-0000000000ff"
			r := m2["resource"].(map[string]any)
			r["id"] = "2c000000-0000-4000-8000-0000000000ff"
			r["name"] = []any{map[string]any{"use": "official", "family": "Other", "given": []any{"Woman"}}}
			b["entry"] = append(entryList(b), m2)
		}, errAt: []string{"Bundle.entry[2].resource", "Bundle.entry[10].resource"}, say: "mother"},
		{name: "the mother twice, same id (BFDR)", file: "hl7-bfdr-birth.json", edit: func(b map[string]any) {
			m2 := deepCopy(entryAt(b, 2))
			m2["fullUrl"] = "urn:uuid:2c000000-0000-4000-8000-0000000000ff"
			b["entry"] = append(entryList(b), m2)
		}},
		{name: "two different spouses (HIS death)", file: "his-transaction-death.json", edit: func(b map[string]any) {
			for i, n := range []string{"Mary", "Grace"} {
				addEntry(b, "urn:uuid:8d000000-0000-4000-8000-00000000002"+string(rune('0'+i)), map[string]any{"resourceType": "RelatedPerson",
					"patient":      map[string]any{"reference": hisDead},
					"relationship": []any{map[string]any{"coding": []any{map[string]any{"code": "WIFE"}}}},
					"name":         []any{map[string]any{"family": "Daka", "given": []any{n}}}})
			}
		}, errAt: []string{"Bundle.entry[5].resource", "Bundle.entry[6].resource"}, say: "spouse"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := loadBundle(t, c.file)
			c.edit(b)
			res, me := mapEdited(t, b)
			if c.errAt == nil {
				if me != nil {
					t.Fatalf("refused: %v", me)
				}
				return
			}
			if me == nil || me.Kind != core.KindUnprocessable {
				t.Fatalf("accepted as one (%+v); want a 422 naming %v", res, c.errAt)
			}
			is := me.Issues[0]
			if is.Severity != "error" || !slices.Equal(is.Expression, c.errAt) || !strings.Contains(is.Diagnostics, c.say) {
				t.Errorf("issue %+v, want an error naming %v and saying %q", is, c.errAt, c.say)
			}
		})
	}
}

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
				if me == nil || me.Kind != core.KindUnprocessable {
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
