package mappings

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/testharness/fixtures"
)

// mapFileEdited maps a testdata bundle after edit changed its entries' resources.
func mapFileEdited(t *testing.T, file string, edit func(b map[string]any, res []map[string]any)) *Result {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "bundles", file))
	if err != nil {
		t.Fatal(err)
	}
	var b map[string]any
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	var rs []map[string]any
	for _, e := range b["entry"].([]any) {
		rs = append(rs, e.(map[string]any)["resource"].(map[string]any))
	}
	edit(b, rs)
	body, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	res, err := newMapper(t).Map(body, testNow)
	if err != nil {
		t.Fatalf("Map: %v", err)
	}
	return res
}

func issuesMention(res *Result, s string) bool {
	for _, is := range res.Issues {
		if strings.Contains(is.Diagnostics, s) {
			return true
		}
	}
	return false
}

// TestDeathDateOfUTCInstantIsTheCountrysDay: a death at 23:30 UTC on
// 10 April was at 01:30 on 11 April in Farajaland (Africa/Lusaka); a time
// written with the sender's own offset keeps its date.
func TestDeathDateOfUTCInstantIsTheCountrysDay(t *testing.T) {
	for in, want := range map[string]string{
		"2026-04-10T23:30:00Z":      `"2026-04-11"`,
		"2026-04-10T23:30:00+00:00": `"2026-04-11"`,
		"2026-04-10T23:30:00+01:00": `"2026-04-10"`,
		"2026-04-10T20:00:00Z":      `"2026-04-10"`,
	} {
		res := mapFileEdited(t, "his-transaction-death.json", func(_ map[string]any, rs []map[string]any) {
			for _, r := range rs {
				if r["resourceType"] == "Patient" && r["deceasedDateTime"] != nil {
					r["deceasedDateTime"] = in
				}
			}
		})
		if got := string(res.Declaration["eventDetails.date"]); got != want {
			t.Errorf("deceasedDateTime %s: eventDetails.date %s, want %s", in, got, want)
		}
	}
}

// TestBFDRPluralityValueInteger: BFDR's Observation-plurality (57722-1)
// gives the number of births as valueInteger; the child's
// multipleBirthInteger is its birth order, not the plurality.
func TestBFDRPluralityValueInteger(t *testing.T) {
	for n, want := range map[int]string{1: `"SINGLE"`, 2: `"TWIN"`, 3: `"TRIPLET"`, 4: `"QUADRUPLET"`, 7: `"HIGHER_MULTIPLE_DELIVERY"`} {
		res := mapFileEdited(t, "hl7-bfdr-birth.json", func(b map[string]any, rs []map[string]any) {
			delete(rs[1], "_multipleBirthInteger")
			rs[1]["multipleBirthInteger"] = 1
			b["entry"] = append(b["entry"].([]any), map[string]any{"fullUrl": "urn:uuid:2c000000-0000-4000-8000-0000000000bb", "resource": map[string]any{
				"resourceType": "Observation", "status": "final",
				"meta":         map[string]any{"profile": []any{"http://hl7.org/fhir/us/bfdr/StructureDefinition/Observation-plurality"}},
				"code":         map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "57722-1"}}},
				"subject":      map[string]any{"reference": "urn:uuid:2c000000-0000-4000-8000-000000000003"},
				"valueInteger": n}})
		})
		if got := string(res.Declaration["child.birthType"]); got != want {
			t.Errorf("plurality valueInteger %d: child.birthType %s, want %s", n, got, want)
		}
	}
}

// TestForeignSSNNeverNationalID: the Michigan VRDR submission carries the
// decedent's SSN as the placeholder 000000000 (type SB, system us-ssn). A
// US SSN is not Farajaland's national ID: deceased.nid would be sent to
// MOSIP as the UIN of the person to mark dead.
func TestForeignSSNNeverNationalID(t *testing.T) {
	m := newMapper(t)
	files := []string{filepath.Join("testdata", "bundles", "hl7-vrdr-death.json")}
	if root := fixtures.SharedDir(); root != "" {
		files = append(files, filepath.Join(root, "hl7", "vrdr-death-record-submission-message-michigan.json"))
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		res, err := m.Map(raw, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if res.Declaration["deceased.nid"] != nil || res.Declaration["deceased.idType"] != nil {
			t.Errorf("%s: deceased.nid %s idType %s from a US SSN", filepath.Base(f), res.Declaration["deceased.nid"], res.Declaration["deceased.idType"])
		}
	}
}

// TestRepeatedDigitNationalIDKept: a national ID of one repeated digit
// (a father's 5555555555, all zeros) is legitimate in demo countries and
// possible in real ones: kept, with a warning naming it. One the sender
// marks as absent is left out.
func TestRepeatedDigitNationalIDKept(t *testing.T) {
	for _, v := range []string{"0000000000", "5555555555", "1111111111"} {
		res := mapFileEdited(t, "his-transaction-death.json", func(_ map[string]any, rs []map[string]any) {
			for _, r := range rs {
				if r["resourceType"] == "Patient" {
					r["identifier"] = []any{map[string]any{"type": map[string]any{"coding": []any{map[string]any{"system": "http://opencrvs.org/specs/identifier-type", "code": "NATIONAL_ID"}}}, "value": v}}
				}
			}
		})
		if got := string(res.Declaration["deceased.nid"]); got != `"`+v+`"` || string(res.Declaration["deceased.idType"]) != `"NATIONAL_ID"` {
			t.Errorf("%s: deceased.nid %s idType %s", v, got, res.Declaration["deceased.idType"])
		}
		if !issuesMention(res, "deceased.nid: identifier value "+v+" is one digit repeated") {
			t.Errorf("%s: no warning: %+v", v, res.Issues)
		}
	}
	res := mapFileEdited(t, "his-transaction-death.json", func(_ map[string]any, rs []map[string]any) {
		for _, r := range rs {
			if r["resourceType"] == "Patient" {
				r["identifier"] = []any{map[string]any{"type": map[string]any{"coding": []any{map[string]any{"code": "NATIONAL_ID"}}},
					"_value": map[string]any{"extension": []any{map[string]any{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "asked-unknown"}}}}}
			}
		}
	})
	if res.Declaration["deceased.nid"] != nil || res.Declaration["deceased.idType"] != nil {
		t.Errorf("an identifier marked absent: deceased.nid %s idType %s", res.Declaration["deceased.nid"], res.Declaration["deceased.idType"])
	}
	if !issuesMention(res, "marks this identifier as absent (asked-unknown)") {
		t.Errorf("no issue about the absent identifier: %+v", res.Issues)
	}
}

// TestProvinceOnlyAddressKept: a domestic address naming a province (a
// known area that is not a leaf) keeps it as text and says so.
func TestProvinceOnlyAddressKept(t *testing.T) {
	res := mapFileEdited(t, "his-collection-birth-patient-mother.json", func(_ map[string]any, rs []map[string]any) {
		rs[1]["address"] = []any{map[string]any{"use": "home", "line": []any{"Plot 12"}, "city": "Mpika", "state": "Central", "country": "FAR"}}
	})
	want := `{"addressType":"DOMESTIC","country":"FAR","streetLevelDetails":{"addressLine1":"Plot 12","cityOrTown":"Mpika","state":"Central"}}`
	if got := string(res.Declaration["mother.address"]); got != want {
		t.Errorf("mother.address %s, want %s", got, want)
	}
	found := false
	for _, is := range res.Issues {
		found = found || (strings.Contains(is.Diagnostics, "mother.address: no known district below Central") && len(is.Expression) > 0 && is.Expression[0] == "Bundle.entry[1].resource.address[0]")
	}
	if !found {
		t.Errorf("no warning at Bundle.entry[1].resource.address[0]: %+v", res.Issues)
	}
}

// TestUsualNameWhenOfficialIsEmpty: an unnamed newborn's official name
// (family data-absent) does not hide the usual name the hospital gave.
func TestUsualNameWhenOfficialIsEmpty(t *testing.T) {
	res := mapFileEdited(t, "his-collection-birth-patient-mother.json", func(_ map[string]any, rs []map[string]any) {
		rs[0]["name"] = []any{
			map[string]any{"use": "official", "_family": map[string]any{"extension": []any{map[string]any{
				"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "not-applicable"}}}},
			map[string]any{"use": "usual", "family": "Lungu", "given": []any{"Baby"}},
		}
	})
	if got := string(res.Declaration["child.name"]); got != `{"firstname":"Baby","surname":"Lungu"}` {
		t.Errorf("child.name %s, want Baby Lungu", got)
	}
}

// TestHISMultipleBirth: multipleBirthInteger is the birth order (1 = the
// first twin); the type of birth comes from the multipleBirthTotal
// extension, and an order alone says nothing about it.
func TestHISMultipleBirth(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(child map[string]any)
		want string
	}{
		{"first of twins", func(c map[string]any) {
			c["multipleBirthInteger"] = 1
			c["_multipleBirthInteger"] = map[string]any{"extension": []any{map[string]any{
				"url": "http://hl7.org/fhir/StructureDefinition/patient-multipleBirthTotal", "valuePositiveInt": 2}}}
		}, `"TWIN"`},
		{"order only", func(c map[string]any) { c["multipleBirthInteger"] = 1 }, ""},
		{"single", func(c map[string]any) { c["multipleBirthBoolean"] = false }, `"SINGLE"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := mapFileEdited(t, "his-collection-birth-patient-mother.json", func(_ map[string]any, rs []map[string]any) {
				delete(rs[0], "multipleBirthBoolean")
				delete(rs[0], "multipleBirthInteger")
				tc.edit(rs[0])
			})
			if got := string(res.Declaration["child.birthType"]); got != tc.want {
				t.Errorf("child.birthType %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCompositionFamilyNotRefusedByHISFamilies: an OpenCRVS v1 bundle in a
// transaction or collection shape holds people the catch-all HIS families
// would read as another event (a death's MOTHER informant as a child's
// mother, a birth's deceased father as a decedent); the chosen family
// already holds them in its own roles, so there is no second event.
func TestCompositionFamilyNotRefusedByHISFamilies(t *testing.T) {
	cases := []struct {
		file, event string
		edit        func(b map[string]any)
	}{
		{"opencrvs-v1-death.json", "death", func(b map[string]any) {
			resAt(b, 2)["relationship"] = map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/ValueSet/relatedperson-relationshiptype", "code": "MOTHER"}}}
		}},
		{"opencrvs-v1-birth.json", "birth", func(b map[string]any) { resAt(b, 5)["deceasedBoolean"] = true }},
	}
	for _, c := range cases {
		for _, typ := range []string{"document", "transaction", "collection"} {
			b := loadBundle(t, c.file)
			b["type"] = typ
			c.edit(b)
			res, me := mapEdited(t, b)
			if me != nil {
				t.Errorf("%s as %s: refused: %v", c.file, typ, me)
				continue
			}
			if res.EventType != c.event {
				t.Errorf("%s as %s: mapped as a %s", c.file, typ, res.EventType)
			}
		}
	}
}

// TestHL7PlusZeroIsLocalClock: the HL7 VRDR/BFDR libraries write the local
// clock time with +00:00, so those families keep the date as written (the
// HIS families read UTC as an instant: TestDeathDateOfUTCInstantIsTheCountrysDay).
func TestHL7PlusZeroIsLocalClock(t *testing.T) {
	for _, zone := range []string{"+00:00", "Z"} {
		res := mapFileEdited(t, "hl7-vrdr-death.json", func(b map[string]any, _ []map[string]any) {
			found := false
			var walk func(v any)
			walk = func(v any) {
				switch x := v.(type) {
				case map[string]any:
					if s, _ := x["valueDateTime"].(string); s == "2026-01-17T18:23:00-10:00" {
						x["valueDateTime"] = "2026-01-17T23:30:00" + zone
						found = true
					}
					for _, y := range x {
						walk(y)
					}
				case []any:
					for _, y := range x {
						walk(y)
					}
				}
			}
			walk(b)
			if !found {
				t.Fatal("the fixture's death date is not where the test expects it")
			}
		})
		if got := string(res.Declaration["eventDetails.date"]); got != `"2026-01-17"` {
			t.Errorf("VRDR death 2026-01-17T23:30:00%s: eventDetails.date %s, want \"2026-01-17\"", zone, got)
		}
	}
}

// TestNationalIDOfOtherSystemWarned: an identifier of a national-id type
// (NNFAR) whose system is not in Settings.NIDSystems is not the national
// ID, but it is never dropped silently: a warning names the identifier,
// its system and the setting.
func TestNationalIDOfOtherSystemWarned(t *testing.T) {
	res := mapFileEdited(t, "his-transaction-death.json", func(_ map[string]any, rs []map[string]any) {
		rs[0]["identifier"] = []any{map[string]any{
			"system": "http://registry.farajaland.gov/nid",
			"type":   map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "NNFAR"}}},
			"value":  "5566778899"}}
	})
	if v := res.Declaration["deceased.nid"]; v != nil {
		t.Fatalf("deceased.nid %s from a system not in nidSystems", v)
	}
	is := issueAt(res.Issues, "warning", "Bundle.entry[0].resource.identifier[0]")
	if is == nil || !strings.Contains(is.Diagnostics, "http://registry.farajaland.gov/nid") || !strings.Contains(is.Diagnostics, "nidSystems") {
		t.Errorf("no warning names the skipped national ID's system and nidSystems: %+v", res.Issues)
	}
}

// TestHISBirthWeightLinks: a birth weight with no subject (linked by the
// Encounter only) is the one child's; one charted to someone else (the
// mother) is not the child's, and a warning says so instead of dropping
// it silently.
func TestHISBirthWeightLinks(t *testing.T) {
	res := mapFileEdited(t, "his-transaction-birth.json", func(_ map[string]any, rs []map[string]any) {
		delete(rs[4], "subject")
		rs[4]["encounter"] = map[string]any{"reference": "urn:uuid:6a000000-0000-4000-8000-000000000003"}
	})
	if got := string(res.Declaration["child.weightAtBirth"]); got != "3.402" {
		t.Errorf("subject-less birth weight: child.weightAtBirth %s, want 3.402", got)
	}
	res = mapFileEdited(t, "his-transaction-birth.json", func(_ map[string]any, rs []map[string]any) {
		rs[4]["subject"] = map[string]any{"reference": "urn:uuid:6a000000-0000-4000-8000-000000000002"}
	})
	if v := res.Declaration["child.weightAtBirth"]; v != nil {
		t.Errorf("a birth weight charted to the mother became child.weightAtBirth %s", v)
	}
	if is := issueAt(res.Issues, "warning", "Bundle.entry[4].resource"); is == nil || !strings.Contains(is.Diagnostics, "not the child") {
		t.Errorf("no warning about the birth weight charted to someone else: %+v", res.Issues)
	}
}
