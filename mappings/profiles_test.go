package mappings

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
)

// fullUrls of testdata/bundles/hl7-bfdr-birth.json (child, mother) and of
// the entries the tests add.
const (
	bfdrChild  = "urn:uuid:2c000000-0000-4000-8000-000000000002"
	bfdrMother = "urn:uuid:2c000000-0000-4000-8000-000000000003"
	bfdrRel    = "urn:uuid:2c000000-0000-4000-8000-0000000000a1"
	bfdrObs    = "urn:uuid:2c000000-0000-4000-8000-0000000000a2"
)

func TestProfileName(t *testing.T) {
	const want = "Patient-mother-vr"
	for _, u := range []string{
		"http://hl7.org/fhir/us/vr-common-library/StructureDefinition/Patient-mother-vr",
		"http://hl7.org/fhir/us/vr-common-library/StructureDefinition/Patient-mother-vr|1.0.0",
		"http://hl7.org/fhir/us/vr-common-library/StructureDefinition/Patient-mother-vr|2.0.0-ballot",
		"http://build.fhir.org/ig/HL7/vr-common-library/StructureDefinition-Patient-mother-vr",
		"http://build.fhir.org/ig/HL7/vr-common-library/StructureDefinition-Patient-mother-vr.html",
		"https://build.fhir.org/ig/HL7/vr-common-library/StructureDefinition-Patient-mother-vr.json",
		"http://hl7.org/fhir/us/vr-common-library/StructureDefinition-Patient-mother-vr.html#profile",
		"http://hl7.org/fhir/us/vr-common-library/StructureDefinition/Patient-mother-vr/",
		" Patient-mother-vr ",
		"Patient-mother-vr",
	} {
		if got := profileName(u); got != want {
			t.Errorf("profileName(%q) = %q, want %q", u, got, want)
		}
	}
	// another profile whose name merely ends the same is not this one
	if hasProfile(obj{"meta": obj{"profile": []any{"http://example.org/StructureDefinition/Other-Patient-mother-vr"}}}, []string{want}) {
		t.Error("Other-Patient-mother-vr taken for Patient-mother-vr")
	}
}

// TestMotherFound: the BFDR mother is found and her name kept whatever
// spelling of her profile the sender used, and without a profile the hub
// knows, by the bundle's own evidence of her role; only a bundle with no
// evidence at all says there is no mother.
func TestMotherFound(t *testing.T) {
	const (
		child, mother = bfdrChild, bfdrMother
		rel, obs      = bfdrRel, bfdrObs
	)
	setProfile := func(p string) func(b map[string]any) {
		return func(b map[string]any) {
			if p == "" {
				delete(resAt(b, 2), "meta")
				return
			}
			resAt(b, 2)["meta"] = map[string]any{"profile": []any{p}}
		}
	}
	section := func(code, ref string) map[string]any {
		return map[string]any{"code": map[string]any{"coding": []any{map[string]any{"code": code}}},
			"entry": []any{map[string]any{"reference": ref}}}
	}
	lmp := func(subject string) map[string]any { // last menstrual period: about the mother
		return map[string]any{"resourceType": "Observation", "status": "final",
			"code":          map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "8665-2"}}},
			"subject":       map[string]any{"reference": subject},
			"valueDateTime": "2025-06-01"}
	}
	cases := []struct {
		name     string
		edit     func(b map[string]any)
		noMother bool
	}{
		{name: "canonical", edit: setProfile("http://hl7.org/fhir/us/vr-common-library/StructureDefinition/Patient-mother-vr")},
		{name: "versioned canonical", edit: setProfile("http://hl7.org/fhir/us/vr-common-library/StructureDefinition/Patient-mother-vr|1.0.0")},
		{name: "build.fhir.org page", edit: setProfile("http://build.fhir.org/ig/HL7/vr-common-library/StructureDefinition-Patient-mother-vr")},
		{name: "build.fhir.org page .html", edit: setProfile("http://build.fhir.org/ig/HL7/vr-common-library/StructureDefinition-Patient-mother-vr.html")},
		{name: "unknown profile, subject of an Observation not about the child", edit: func(b map[string]any) {
			setProfile("http://example.org/fhir/StructureDefinition/local-mother")(b)
			addEntry(b, obs, lmp(mother))
		}},
		{name: "no profile, subject of what a mother section lists", edit: func(b map[string]any) {
			setProfile("")(b)
			addEntry(b, obs, lmp(mother))
			resAt(b, 0)["section"] = []any{section("92014-0", obs)}
		}},
		{name: "no profile, listed in a MTH section", edit: func(b map[string]any) {
			setProfile("")(b)
			resAt(b, 0)["section"] = []any{section("MTH", mother)}
		}},
		{name: "no profile, Patient.link to a mother RelatedPerson", edit: func(b map[string]any) {
			setProfile("")(b)
			r := motherRelOf(child)
			delete(r, "name")
			addEntry(b, rel, r)
			resAt(b, 2)["link"] = []any{map[string]any{"other": map[string]any{"reference": rel}, "type": "seealso"}}
		}},
		{name: "no profile and no evidence", edit: setProfile(""), noMother: true},
		{name: "no profile, only Observations about the child", edit: func(b map[string]any) {
			setProfile("")(b)
			addEntry(b, obs, lmp(child))
		}, noMother: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := loadBundle(t, "hl7-bfdr-birth.json")
			c.edit(b)
			res, e := mapEdited(t, b)
			if e != nil {
				t.Fatalf("refused: %v", e)
			}
			missing := false
			for _, is := range res.Issues {
				missing = missing || strings.Contains(is.Diagnostics, "no mother details")
			}
			name := string(res.Declaration["mother.name"])
			if c.noMother {
				if !missing || name != "" {
					t.Errorf("no evidence of a mother: warning %v, mother.name %s", missing, name)
				}
				return
			}
			if missing {
				t.Errorf("mother not found: %+v", res.Issues)
			}
			if name != `{"firstname":"Mercy","surname":"Phiri"}` {
				t.Errorf("mother.name = %s", name)
			}
			if got := string(res.Declaration["child.name"]); got == "" || strings.Contains(got, "Mercy") {
				t.Errorf("child.name = %s", got)
			}
		})
	}
}

// TestMotherEvidenceNeverTheFather: the weak evidence of the mother (the
// subject of an Observation or Encounter not about the child, a Patient
// a mother section lists) never makes the father the mother: a Patient
// linked to the father's RelatedPerson, or listed in a father section,
// is the father. With no other evidence there is no mother.
func TestMotherEvidenceNeverTheFather(t *testing.T) {
	const (
		father    = "urn:uuid:2c000000-0000-4000-8000-000000000004" // RelatedPerson NFTH
		fatherPat = bfdrMother                                      // entry 2, made the father's Patient
		obs       = bfdrObs
	)
	aboutHim := map[string]any{"resourceType": "Observation", "status": "final",
		"code":    map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "87300-0"}}},
		"subject": map[string]any{"reference": fatherPat}}
	section := func(code, ref string) map[string]any {
		return map[string]any{"code": map[string]any{"coding": []any{map[string]any{"code": code}}},
			"entry": []any{map[string]any{"reference": ref}}}
	}
	for _, c := range []struct {
		name string
		edit func(b map[string]any)
	}{
		{name: "Patient linked to the father RelatedPerson, an Observation about him", edit: func(b map[string]any) {
			resAt(b, 2)["link"] = []any{map[string]any{"other": map[string]any{"reference": father}, "type": "seealso"}}
			addEntry(b, obs, deepCopy(aboutHim))
		}},
		{name: "Patient in a father section, an Observation about him", edit: func(b map[string]any) {
			resAt(b, 0)["section"] = []any{section("92013-2", fatherPat)}
			addEntry(b, obs, deepCopy(aboutHim))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := loadBundle(t, "hl7-bfdr-birth.json")
			p := resAt(b, 2) // the mother's Patient becomes the father's
			delete(p, "meta")
			p["name"] = []any{map[string]any{"family": "Phiri", "given": []any{"Daniel"}}}
			c.edit(b)
			res, e := mapEdited(t, b)
			if e != nil {
				t.Fatalf("refused: %v", e)
			}
			if got := string(res.Declaration["mother.name"]); got != "" {
				t.Errorf("the father was taken as the mother: mother.name = %s", got)
			}
			missing := false
			for _, is := range res.Issues {
				missing = missing || strings.Contains(is.Diagnostics, "no mother details")
			}
			if !missing {
				t.Errorf("no 'no mother details' warning: %+v", res.Issues)
			}
		})
	}
}

// TestTwoMothersByEvidence: a Patient linked to a mother RelatedPerson is
// that person, not a reason to ignore another, different mother in the
// bundle: two different mothers are refused (422 naming both), as they
// were before the link was evidence.
func TestTwoMothersByEvidence(t *testing.T) {
	const (
		child, rel  = bfdrChild, bfdrRel
		rel2, other = "urn:uuid:2c000000-0000-4000-8000-0000000000a3", "urn:uuid:2c000000-0000-4000-8000-0000000000a4"
	)
	withCode := func(r map[string]any, code string) map[string]any {
		r["relationship"] = []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": code}}}}
		return r
	}
	linkTo := func(p map[string]any, ref string) {
		p["link"] = []any{map[string]any{"other": map[string]any{"reference": ref}, "type": "seealso"}}
	}
	cases := []struct {
		name string
		edit func(b map[string]any)
		want []string // the resources named as the mothers; nil: accepted
	}{
		{name: "linked Patient and another MTH RelatedPerson", edit: func(b map[string]any) {
			addEntry(b, rel, motherRelOf(child))
			linkTo(resAt(b, 2), rel)
			r2 := motherRelOf(child)
			r2["name"] = []any{map[string]any{"family": "Banda", "given": []any{"Grace"}}}
			addEntry(b, rel2, r2)
		}, want: []string{"Bundle.entry[2].resource", "Bundle.entry[11].resource"}},
		{name: "Patients linked to an MTH and to an NMTH RelatedPerson", edit: func(b map[string]any) {
			addEntry(b, rel, motherRelOf(child))
			linkTo(resAt(b, 2), rel)
			addEntry(b, rel2, withCode(motherRelOf(child), "NMTH"))
			p := map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"family": "Banda", "given": []any{"Grace"}}}}
			linkTo(p, rel2)
			addEntry(b, other, p)
		}, want: []string{"Bundle.entry[2].resource", "Bundle.entry[12].resource"}},
		{name: "linked Patient and its own RelatedPerson only", edit: func(b map[string]any) {
			addEntry(b, rel, motherRelOf(child))
			linkTo(resAt(b, 2), rel)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := loadBundle(t, "hl7-bfdr-birth.json")
			delete(resAt(b, 2), "meta")
			c.edit(b)
			res, e := mapEdited(t, b)
			if c.want == nil {
				if e != nil {
					t.Fatalf("refused: %v", e)
				}
				if got := string(res.Declaration["mother.name"]); got != `{"firstname":"Mercy","surname":"Phiri"}` {
					t.Errorf("mother.name = %s", got)
				}
				return
			}
			if e == nil {
				t.Fatalf("accepted with mother.name %s: two different mothers must be refused", res.Declaration["mother.name"])
			}
			if e.Kind != core.KindUnprocessable {
				t.Errorf("kind %v, want unprocessable (422)", e.Kind)
			}
			for _, want := range c.want {
				if issueAt(e.Issues, "error", want) == nil {
					t.Errorf("no error naming %s: %+v", want, e.Issues)
				}
			}
		})
	}
}

// TestWeakEvidenceHidesNoMother: only explicit evidence (a relationship
// code, a Patient.link) behind the one that found the mother is read for
// a second mother; a weaker alternative (the HIS family's female Patient
// not the child, often the mother's own record beside her RelatedPerson)
// is not, so such bundles are taken as before.
func TestWeakEvidenceHidesNoMother(t *testing.T) {
	res := mapFileEdited(t, "his-transaction-birth.json", func(b map[string]any, _ []map[string]any) {
		addEntry(b, "urn:uuid:6a000000-0000-4000-8000-0000000000f1", map[string]any{"resourceType": "Patient", "gender": "female",
			"name": []any{map[string]any{"family": "Banda", "given": []any{"Esther"}}}})
	})
	if res.Declaration["mother.name"] == nil {
		t.Errorf("no mother.name: %+v", res.Issues)
	}
}

// TestFetalDeathMotherLinkedNMTH: the fetal death family reads a
// Patient.link to the natural mother's RelatedPerson (NMTH) as the birth
// family does: the mother is the linked Patient, with her name, not the
// nameless RelatedPerson.
func TestFetalDeathMotherLinkedNMTH(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "bundles", "hl7-bfdr-fetal-death.json"))
	if err != nil {
		t.Fatal(err)
	}
	var b map[string]any
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	delete(resAt(b, 2), "meta")
	r := motherRelOf(bfdrChild) // entry 1 is the fetus
	delete(r, "name")
	r["relationship"] = []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "NMTH"}}}}
	addEntry(b, bfdrRel, r)
	resAt(b, 2)["link"] = []any{map[string]any{"other": map[string]any{"reference": bfdrRel}, "type": "seealso"}}
	body, _ := json.Marshal(b)
	m := fetalDeathMapper(t)
	res, err := m.Map(body, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Declaration["mother.name"]); got != `{"firstname":"Mercy","surname":"Phiri"}` {
		t.Errorf("mother.name = %s, want the linked Patient's", got)
	}
}
