package mappings

import (
	"strings"
	"testing"
)

func TestCompilePathErrors(t *testing.T) {
	for _, p := range []string{"", "a..b", "a.b[x]", "a.extension()", "a.where()", "a.b(", "a.b-c", "a.name[-1]"} {
		if _, err := compilePath(p); err == nil {
			t.Errorf("%q: want an error", p)
		}
	}
	for _, p := range []string{"a", "a.b[0].c", "a.extension(http://x.org/y).valueString", "a.telecom.where(system=phone).value", "a.location.location.resolve().name", "a._birthDate"} {
		if _, err := compilePath(p); err != nil {
			t.Errorf("%q: %v", p, err)
		}
	}
}

func TestEvalPaths(t *testing.T) {
	raw := `{"resourceType":"Bundle","type":"collection","entry":[
 {"fullUrl":"urn:uuid:11111111-1111-4111-8111-111111111111","resource":{"resourceType":"Patient","id":"p",
  "name":[{"given":["A","B"],"family":"C"},{"given":["D"]}],
  "telecom":[{"system":"email","value":"a@b.c"},{"system":"phone","value":"+260"}],
  "extension":[{"url":"http://x.org/StructureDefinition/nationality","valueString":"FAR"}],
  "relationship":{"coding":[{"code":"MTH"}]},
  "link":[{"other":{"reference":"Location/l1"}}]}},
 {"fullUrl":"http://h/fhir/Location/l1","resource":{"resourceType":"Location","id":"l1","name":"Here"}}]}`
	v, err := decodeJSON([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	var issues []Issue
	b := parseBundle(v.(obj), "Bundle", nil, &issues)
	p := b.Resources[0]
	cases := map[string]string{
		"name.given":                            "A,B,D",
		"name[1].given":                         "D",
		"name[0].given[1]":                      "B",
		"telecom.where(system=phone).value":     "+260",
		"extension(nationality).valueString":    "FAR",
		"relationship.coding.code":              "MTH", // STU3 single object counts as [0]
		"link.other.resolve().name":             "Here",
		"name.where(family).given":              "A,B",
		"telecom.where(system='email').value":   "a@b.c",
		"extension(http://other/x).valueString": "",
	}
	for src, want := range cases {
		segs, err := compileSegs(src)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range eval(b, []node{{p.Data, p.Path}}, segs) {
			got = append(got, str(n.v))
		}
		if g := strings.Join(got, ","); g != want {
			t.Errorf("%s = %q, want %q", src, g, want)
		}
	}
	// expressions name where a value came from
	segs, _ := compileSegs("name[1].given")
	if n := eval(b, []node{{p.Data, p.Path}}, segs); len(n) != 1 || n[0].path != "Bundle.entry[0].resource.name[1].given[0]" {
		t.Errorf("path %+v", n)
	}
}

func TestReferences(t *testing.T) {
	raw := `{"resourceType":"Bundle","type":"collection","entry":[
 {"fullUrl":"urn:uuid:11111111-1111-4111-8111-111111111111","resource":{"resourceType":"Patient"}},
 {"fullUrl":"http://example.org/fhir/Patient/p2","resource":{"resourceType":"Patient","id":"p2"}},
 {"fullUrl":"/fhir/Patient/p3/_history/1","resource":{"resourceType":"Patient","id":"p3"}},
 {"fullUrl":"22222222-2222-4222-8222-222222222222","resource":{"resourceType":"Location"}},
 {"resource":{"resourceType":"Observation","id":"o1"}},
 {"resource":{"resourceType":"CustomThing"}}]}`
	v, _ := decodeJSON([]byte(raw))
	var issues []Issue
	b := parseBundle(v.(obj), "Bundle", nil, &issues)
	for ref, want := range map[string]int{
		"urn:uuid:11111111-1111-4111-8111-111111111111": 0,
		"Patient/p2": 1, "http://other.org/fhir/Patient/p2": 1, "http://example.org/fhir/Patient/p2": 1,
		"Patient/p3": 2, "/fhir/Patient/p3/_history/7": 2, "Patient/p3/_history/1": 2,
		"urn:uuid:22222222-2222-4222-8222-222222222222": 3, "22222222-2222-4222-8222-222222222222": 3,
		"Observation/o1": 4, "Patient/nope": -1, "urn:uuid:nope": -1, "": -1,
	} {
		r := b.resolve(ref)
		got := -1
		if r != nil {
			got = r.Index
		}
		if got != want {
			t.Errorf("resolve(%q) = entry %d, want %d", ref, got, want)
		}
	}
	if len(issues) != 1 || !strings.Contains(issues[0].Diagnostics, "CustomThing") || issues[0].Severity != "information" {
		t.Errorf("want one information issue about CustomThing, got %+v", issues)
	}
}
