package mappings

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
)

// run applies a named transform to JSON node values for a field of the
// birth or death form.
func run(t *testing.T, m *Mapper, event, fieldID, name string, args map[string]any, values ...string) (string, []Issue) {
	t.Helper()
	var nodes []node
	for i, v := range values {
		x, err := decodeJSON([]byte(v))
		if err != nil {
			t.Fatalf("bad test value %s: %v", v, err)
		}
		nodes = append(nodes, node{x, "X[" + string(rune('0'+i)) + "]"})
	}
	if args == nil {
		args = map[string]any{}
	}
	args = normaliseArgs(args).(obj)
	tr, ok := transforms[name]
	if !ok {
		t.Fatalf("no transform %s", name)
	}
	if tr.check != nil {
		if err := tr.check(args); err != nil {
			t.Fatalf("args: %v", err)
		}
	}
	ec := m.cc.Event(event)
	c := &tctx{m: m, fieldID: fieldID, field: ec.Field(fieldID), args: args, now: testNow, utc: true}
	v, issues := tr.forward(c, nodes)
	if v == nil {
		return "", issues
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), issues
}

type tcase struct {
	name    string
	field   string
	args    map[string]any
	in      []string
	want    string // JSON, "" = nothing
	issue   string // substring of an issue message, "" = none
	isError bool
}

func runCases(t *testing.T, transform, event string, cases []tcase) {
	t.Helper()
	m := newMapper(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, issues := run(t, m, event, c.field, transform, c.args, c.in...)
			if got != c.want {
				t.Errorf("got %s, want %s (issues %+v)", got, c.want, issues)
			}
			if c.issue == "" && len(issues) > 0 {
				t.Errorf("unexpected issues %+v", issues)
			}
			if c.issue != "" {
				if len(issues) == 0 || !strings.Contains(issues[0].Diagnostics, c.issue) {
					t.Errorf("want an issue with %q, got %+v", c.issue, issues)
				} else if (issues[0].Severity == "error") != c.isError {
					t.Errorf("severity %s, want error=%v", issues[0].Severity, c.isError)
				}
			}
		})
	}
}

func TestTransformName(t *testing.T) {
	runCases(t, "name", "birth", []tcase{
		{name: "given and family", field: "child.name", in: []string{`{"use":"official","given":["Ada"],"family":"Banda"}`}, want: `{"firstname":"Ada","surname":"Banda"}`},
		{name: "middle names", field: "child.name", in: []string{`{"given":["Ada","Grace","Mwila"],"family":"Banda"}`}, want: `{"firstname":"Ada","middlename":"Grace Mwila","surname":"Banda"}`},
		{name: "STU3 family list", field: "child.name", in: []string{`{"given":["Ada"],"family":["Van","Dyk"]}`}, want: `{"firstname":"Ada","surname":"Van Dyk"}`},
		{name: "official beats maiden and en", field: "mother.name", in: []string{`{"use":"maiden","family":"Zulu"}`, `{"use":"en","given":["R"],"family":"P"}`, `{"use":"official","given":["Ruth"],"family":"Phiri"}`}, want: `{"firstname":"Ruth","surname":"Phiri"}`},
		{name: "text only", field: "child.name", in: []string{`{"text":"Ada Grace Banda"}`}, want: `{"firstname":"Ada","middlename":"Grace","surname":"Banda"}`},
		{name: "absent family", field: "child.name", in: []string{`{"_family":{"extension":[]}}`}, want: ``},
		{name: "empty official does not hide usual", field: "child.name", in: []string{`{"use":"official","_family":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"not-applicable"}]}}`, `{"use":"usual","family":"Lungu","given":["Baby"]}`}, want: `{"firstname":"Baby","surname":"Lungu"}`},
		{name: "empty official does not hide a name without use", field: "child.name", in: []string{`{"use":"official","given":[" "]}`, `{"given":["Ada"],"family":"Banda"}`}, want: `{"firstname":"Ada","surname":"Banda"}`},
		{name: "usual does not beat a usable official", field: "child.name", in: []string{`{"use":"usual","given":["Baby"],"family":"Lungu"}`, `{"use":"official","given":["Natasha"],"family":"Lungu"}`}, want: `{"firstname":"Natasha","surname":"Lungu"}`},
		{name: "temp placeholder does not replace an empty official", field: "child.name", in: []string{`{"use":"official","_family":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"not-applicable"}]}}`, `{"use":"temp","family":"Tembo","given":["Baby","Boy"]}`}, want: ``},
		{name: "anonymous, nickname, old, maiden do not replace an empty official", field: "mother.name", in: []string{`{"use":"official","given":[" "]}`, `{"use":"anonymous","family":"X"}`, `{"use":"nickname","given":["Bee"]}`, `{"use":"old","family":"Zulu"}`, `{"use":"maiden","family":"Mwale"}`}, want: ``},
		{name: "without an official name, a temp name is kept", field: "child.name", in: []string{`{"use":"temp","family":"Tembo","given":["Baby"]}`}, want: `{"firstname":"Baby","surname":"Tembo"}`},
		{name: "suffix on the surname", field: "child.name", in: []string{`{"use":"official","given":["Clyde"],"family":"Bashirian","suffix":["II"]}`}, want: `{"firstname":"Clyde","surname":"Bashirian"}`, issue: "name suffix II"},
		{name: "a qualification is not the surname", field: "deceased.name", in: []string{`{"use":"official","given":["Joseph"],"family":"Daka","suffix":["MD"]}`}, want: `{"firstname":"Joseph","surname":"Daka"}`, issue: "name suffix MD"},
		{name: "suffixes", field: "deceased.name", in: []string{`{"given":["Carl"],"family":"Lineberry","suffix":["Jr.","III"]}`}, want: `{"firstname":"Carl","surname":"Lineberry"}`, issue: "name suffix Jr. III"},
	})
}

func TestTransformGender(t *testing.T) {
	runCases(t, "gender", "birth", []tcase{
		{name: "code", field: "child.gender", in: []string{`"female"`}, want: `"female"`},
		{name: "birthsex F", field: "child.gender", in: []string{`"F"`}, want: `"female"`},
		{name: "codeable", field: "child.gender", in: []string{`{"coding":[{"code":"male"}]}`}, want: `"male"`},
		{name: "other", field: "child.gender", in: []string{`"other"`}, want: `"unknown"`},
		{name: "nonsense", field: "child.gender", in: []string{`"x-ray"`}, want: ``, issue: "unknown sex code"},
	})
}

func TestTransformDate(t *testing.T) {
	runCases(t, "date", "birth", []tcase{
		{name: "date", field: "child.dob", in: []string{`"2024-02-02"`}, want: `"2024-02-02"`},
		{name: "datetime keeps its own day", field: "child.dob", in: []string{`"2024-02-02T23:30:00-10:00"`}, want: `"2024-02-02"`},
		{name: "birthTime extension", field: "child.dob", in: []string{`{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"2024-01-01T10:25:00+00:00"}]}`}, want: `"2024-01-01"`},
		{name: "VRCL partial date complete", field: "child.dob", in: []string{`{"extension":[{"url":"http://hl7.org/fhir/us/vr-common-library/StructureDefinition/Extension-partial-date-vr","extension":[{"url":"year","valueUnsignedInt":1940},{"url":"month","valueUnsignedInt":9},{"url":"day","valueUnsignedInt":9}]}]}`}, want: `"1940-09-09"`},
		{name: "old VRDR PartialDateTime", field: "child.dob", in: []string{`{"extension":[{"url":"http://hl7.org/fhir/us/vrdr/StructureDefinition/PartialDateTime","extension":[{"url":"http://hl7.org/fhir/us/vrdr/StructureDefinition/Date-Year","valueUnsignedInt":2022},{"url":"http://hl7.org/fhir/us/vrdr/StructureDefinition/Date-Month","valueUnsignedInt":9},{"url":"http://hl7.org/fhir/us/vrdr/StructureDefinition/Date-Day","valueUnsignedInt":23},{"url":"http://hl7.org/fhir/us/vrdr/StructureDefinition/Date-Time","valueTime":"09:09:00"}]}]}`}, want: `"2022-09-23"`},
		{name: "partial: day unknown", field: "child.dob", in: []string{`{"extension":[{"url":"Extension-partial-date-time-vr","extension":[{"url":"year","valueUnsignedInt":2021},{"url":"month","valueUnsignedInt":2},{"url":"day","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]}]}]}`}, want: ``, issue: "partial date 2021-02-??"},
		{name: "year-month string", field: "child.dob", in: []string{`"2021-02"`}, want: ``, issue: "partial date 2021-02"},
		{name: "impossible day", field: "child.dob", in: []string{`"2024-02-30"`}, want: ``, issue: "not a valid date", isError: true},
		{name: "a number", field: "child.dob", in: []string{`20240202`}, want: ``, issue: "not a valid date", isError: true},
		{name: "not a date", field: "child.dob", in: []string{`"yesterday"`}, want: ``, issue: "not a valid date", isError: true},
		{name: "first alternative wins", field: "child.dob", in: []string{`"2020-01-01"`, `"2021-01-01"`}, want: `"2020-01-01"`},
		{name: "BypassEditFlag only: nothing", field: "child.dob", in: []string{`{"extension":[{"url":"http://x/BypassEditFlag","valueCodeableConcept":{}}]}`}, want: ``},
		// Farajaland is Africa/Lusaka (+02:00): a UTC instant's day is
		// the country's; a time with its own offset keeps its date
		{name: "UTC instant: the country's day", field: "child.dob", in: []string{`"2026-04-10T23:30:00Z"`}, want: `"2026-04-11"`},
		{name: "+00:00 is UTC", field: "child.dob", in: []string{`"2026-04-10T22:00:00.250+00:00"`}, want: `"2026-04-11"`},
		{name: "-00:00 is UTC", field: "child.dob", in: []string{`"2026-04-10T23:59-00:00"`}, want: `"2026-04-11"`},
		{name: "UTC instant, same day", field: "child.dob", in: []string{`"2026-04-10T21:59:59Z"`}, want: `"2026-04-10"`},
		{name: "explicit offset kept as written", field: "child.dob", in: []string{`"2026-04-10T23:30:00+02:00"`}, want: `"2026-04-10"`},
		{name: "no offset kept as written", field: "child.dob", in: []string{`"2026-04-10T23:30:00"`}, want: `"2026-04-10"`},
		{name: "birthTime in UTC", field: "child.dob", in: []string{`{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"2024-01-01T23:25:00Z"}]}`}, want: `"2024-01-02"`},
		{name: "leap second", field: "child.dob", in: []string{`"2016-12-31T23:59:60Z"`}, want: `"2017-01-01"`},
		{name: "leap second, local time", field: "child.dob", in: []string{`"2016-12-31T23:59:60.5+02:00"`}, want: `"2016-12-31"`},
		{name: "second 61", field: "child.dob", in: []string{`"2016-12-31T23:59:61Z"`}, want: ``, issue: "not a valid date", isError: true},
		{name: "impossible hour", field: "child.dob", in: []string{`"2026-04-10T25:00:00Z"`}, want: ``, issue: "not a valid date", isError: true},
	})
}

// TestTransformDateUTCInCountryZone: the calendar day of a UTC instant is
// the configured country's (Settings.TimeZone), west of UTC too; without
// a zone it is UTC's.
func TestTransformDateUTCInCountryZone(t *testing.T) {
	for _, c := range []struct{ zone, in, want string }{
		{"", `"2026-04-10T23:30:00Z"`, `"2026-04-10"`},
		{"America/Bogota", `"2026-04-11T03:00:00Z"`, `"2026-04-10"`},
		{"America/Bogota", `"2026-04-11T03:00:00-05:00"`, `"2026-04-11"`},
		{"Pacific/Kiritimati", `"2026-04-10T10:00:00Z"`, `"2026-04-11"`},
	} {
		t.Run(c.zone+" "+c.in, func(t *testing.T) {
			cc := farajaland(t)
			settings := cc.Settings
			settings.TimeZone = c.zone
			cc2, err := core.NewCountryConfig(settings, cc.Events, cc.Locations)
			if err != nil {
				t.Fatal(err)
			}
			m, err := New(cc2, "")
			if err != nil {
				t.Fatal(err)
			}
			if got, issues := run(t, m, "death", "eventDetails.date", "date", nil, c.in); got != c.want {
				t.Errorf("got %s, want %s (%+v)", got, c.want, issues)
			}
		})
	}
}

func TestTransformDateTime(t *testing.T) {
	runCases(t, "datetime", "birth", []tcase{
		{name: "offset kept", field: "child.reason", in: []string{`"2022-01-17T18:23:00-10:00"`}, want: `"2022-01-17T18:23:00-10:00"`},
		{name: "UTC kept as written", field: "child.reason", in: []string{`"2026-04-10T23:30:00Z"`}, want: `"2026-04-10T23:30:00Z"`},
		{name: "birthTime", field: "child.reason", in: []string{`{"extension":[{"url":"patient-birthTime","valueDateTime":"2024-01-01T10:25:00+05:30"}]}`}, want: `"2024-01-01T10:25:00+05:30"`},
		{name: "partial with time", field: "child.reason", in: []string{`{"extension":[{"url":"PartialDateTime","extension":[{"url":"Date-Year","valueUnsignedInt":2022},{"url":"Date-Month","valueUnsignedInt":9},{"url":"Date-Day","valueUnsignedInt":23},{"url":"Date-Time","valueTime":"09:09:00"}]}]}`}, want: `"2022-09-23T09:09:00"`},
		{name: "bad", field: "child.reason", in: []string{`"2022-13-01T00:00:00Z"`}, want: ``, issue: "not a valid dateTime", isError: true},
	})
}

func TestTransformQuantity(t *testing.T) {
	kg := map[string]any{"unit": "kg"}
	runCases(t, "quantity", "birth", []tcase{
		{name: "g to kg", field: "child.weightAtBirth", args: kg, in: []string{`{"value":2277,"unit":"g","code":"g"}`}, want: `2.277`},
		{name: "kg", field: "child.weightAtBirth", args: kg, in: []string{`{"value":4,"unit":"kg"}`}, want: `4`},
		{name: "pounds UCUM", field: "child.weightAtBirth", args: kg, in: []string{`{"value":7.5,"code":"[lb_av]"}`}, want: `3.402`},
		{name: "string value", field: "child.weightAtBirth", args: kg, in: []string{`{"value":"3.1","code":"kg"}`}, want: `3.1`},
		{name: "assumed unit", field: "child.weightAtBirth", args: map[string]any{"unit": "kg", "assume": "kg"}, in: []string{`{"value":3}`}, want: `3`},
		{name: "no unit", field: "child.weightAtBirth", args: kg, in: []string{`{"value":3}`}, want: ``, issue: "without a unit"},
		{name: "unknown unit", field: "child.weightAtBirth", args: kg, in: []string{`{"value":7,"code":"[stone_av]"}`}, want: ``, issue: "unknown unit"},
		{name: "wrong dimension", field: "child.weightAtBirth", args: kg, in: []string{`{"value":36,"code":"wk"}`}, want: ``, issue: "not a mass unit"},
		{name: "no value", field: "child.weightAtBirth", args: kg, in: []string{`{"code":"g"}`}, want: ``, issue: "without a value"},
		{name: "not a number", field: "child.weightAtBirth", args: kg, in: []string{`{"value":"SINGLE"}`}, want: ``, issue: "not a number"},
		{name: "age in years", field: "mother.age", args: map[string]any{"unit": "a"}, in: []string{`{"value":18,"code":"mo"}`}, want: `1.5`},
	})
}

func TestTransformQuantityWithUnitField(t *testing.T) {
	m := newMapper(t)
	c := &tctx{m: m, fieldID: "w", field: &core.FieldConfig{ID: "w", Type: core.FieldNumberWithUnit}, args: obj{"unit": "kg"}}
	v, _ := tQuantity(c, []node{{obj{"value": 2500.0, "code": "g"}, "x"}})
	if b, _ := json.Marshal(v); string(b) != `{"numericValue":2.5,"unit":"kg"}` {
		t.Errorf("got %s", b)
	}
	if r, _ := json.Marshal(rQuantity(c, map[string]any{"numericValue": 2.5, "unit": "kg"})); string(r) != `{"code":"kg","system":"http://unitsofmeasure.org","unit":"kg","value":2.5}` {
		t.Errorf("reverse %s", r)
	}
}

func TestTransformIdentifier(t *testing.T) {
	ids := []string{
		`{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"value":"MR1"}`,
		`{"type":{"coding":[{"code":"PPN"}]},"value":"P123"}`,
		`{"type":{"coding":[{"system":"http://opencrvs.org/specs/identifier-type","code":"NATIONAL_ID"}]},"value":"1234567890"}`,
	}
	runCases(t, "identifier", "birth", []tcase{
		{name: "national id", field: "mother.nid", args: map[string]any{"kind": "nid"}, in: ids, want: `"1234567890"`},
		{name: "passport PPN", field: "mother.passport", args: map[string]any{"kind": "passport"}, in: ids, want: `"P123"`},
		{name: "none", field: "mother.brn", args: map[string]any{"kind": "brn"}, in: ids, want: ``},
		// a US SSN is not Farajaland's national ID, whatever its type
		{name: "SSN by v2 SS: not a nid", field: "mother.nid", args: map[string]any{"kind": "nid"}, in: []string{`{"type":{"coding":[{"code":"SS"}]},"value":"888888888"}`}, want: ``},
		{name: "SSN by system only: not a nid", field: "mother.nid", args: map[string]any{"kind": "nid"}, in: []string{`{"system":"http://hl7.org/fhir/sid/us-ssn","value":"123456789"}`}, want: ``},
		{name: "NI of the SSN system: not a nid", field: "mother.nid", args: map[string]any{"kind": "nid"}, in: []string{`{"type":{"coding":[{"code":"NI"}]},"system":"http://hl7.org/fhir/sid/us-ssn","value":"123456789"}`}, want: ``, issue: "has system http://hl7.org/fhir/sid/us-ssn, which is not one of this country's national ID systems (setting nidSystems"},
		{name: "NATIONAL_ID of another register: not a nid", field: "mother.nid", args: map[string]any{"kind": "nid"}, in: []string{`{"type":{"coding":[{"code":"NATIONAL_ID"}]},"system":"urn:oid:2.16.894.1","value":"123456789"}`}, want: ``, issue: "system urn:oid:2.16.894.1"},
		{name: "v2 NI without a system", field: "mother.nid", args: map[string]any{"kind": "nid"}, in: []string{`{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"NI"}]},"value":"1234567890"}`}, want: `"1234567890"`},
		{name: "v2 NNFAR", field: "mother.nid", args: map[string]any{"kind": "nid"}, in: []string{`{"type":{"coding":[{"code":"NNFAR"}]},"value":"1234567890"}`}, want: `"1234567890"`},
		{name: "v2 NNUSA: another country's", field: "mother.nid", args: map[string]any{"kind": "nid"}, in: []string{`{"type":{"coding":[{"code":"NNUSA"}]},"value":"1234567890"}`}, want: ``},
		// every well-formed value is kept; one digit repeated is warned about
		{name: "repeated digit kept", field: "father.nid", args: map[string]any{"kind": "nid"}, in: []string{`{"type":{"coding":[{"code":"NATIONAL_ID"}]},"value":"5555555555"}`}, want: `"5555555555"`, issue: "identifier value 5555555555 is one digit repeated, which often stands for an unknown number; kept as sent"},
		{name: "informant's 1111111111 kept", field: "informant.nid", args: map[string]any{"kind": "nid"}, in: []string{`{"type":{"coding":[{"code":"NATIONAL_ID"}]},"value":"1111111111"}`}, want: `"1111111111"`, issue: "kept as sent"},
		{name: "all zeros kept", field: "mother.nid", args: map[string]any{"kind": "nid"}, in: []string{`{"type":{"coding":[{"code":"NATIONAL_ID"}]},"value":"000000000"}`, `{"type":{"coding":[{"code":"NATIONAL_ID"}]},"value":"1234567890"}`}, want: `"000000000"`, issue: "kept as sent"},
		// only the sender says a number is unknown
		{name: "data-absent on _value", field: "mother.nid", args: map[string]any{"kind": "nid"}, in: []string{`{"type":{"coding":[{"code":"NATIONAL_ID"}]},"_value":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]}}`, `{"type":{"coding":[{"code":"NATIONAL_ID"}]},"value":"1234567890"}`}, want: `"1234567890"`, issue: "the sender marks this identifier as absent (unknown)"},
		{name: "data-absent masked on the identifier", field: "mother.nid", args: map[string]any{"kind": "nid"}, in: []string{`{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"masked"}],"type":{"coding":[{"code":"NATIONAL_ID"}]},"value":"5555555555"}`}, want: ``, issue: "absent (masked)"},
		{name: "masked with stars", field: "mother.nid", args: map[string]any{"kind": "nid"}, in: []string{`{"type":{"coding":[{"code":"NATIONAL_ID"}]},"value":"******7890"}`}, want: ``, issue: "masked by the sender"},
		{name: "masked with X", field: "mother.nid", args: map[string]any{"kind": "nid"}, in: []string{`{"type":{"coding":[{"code":"NATIONAL_ID"}]},"value":"XXX-XX-7890"}`}, want: ``, issue: "masked by the sender"},
		{name: "masked with #", field: "mother.nid", args: map[string]any{"kind": "nid"}, in: []string{`{"type":{"coding":[{"code":"NATIONAL_ID"}]},"value":"###-##-7890"}`}, want: ``, issue: "masked by the sender"},
		{name: "masked with lower-case x", field: "mother.nid", args: map[string]any{"kind": "nid"}, in: []string{`{"type":{"coding":[{"code":"NATIONAL_ID"}]},"value":"xxxxxx7890"}`}, want: ``, issue: "masked by the sender"},
		// letters beside the X or the # are an identifier's own: kept
		{name: "passport starting with XXX kept", field: "mother.passport", args: map[string]any{"kind": "passport"}, in: []string{`{"type":{"coding":[{"code":"PPN"}]},"value":"XXXL12345B"}`}, want: `"XXXL12345B"`},
		{name: "MRN with a # kept", field: "mother.brn", args: map[string]any{"types": []any{"MR"}}, in: []string{`{"type":{"coding":[{"code":"MR"}]},"value":"MRN#20231"}`}, want: `"MRN#20231"`},
		{name: "old plain string type", field: "mother.nid", args: map[string]any{"kind": "nid"}, in: []string{`{"type":"NATIONAL_ID","value":"42"}`}, want: `"42"`},
		{name: "custom types", field: "mother.brn", args: map[string]any{"types": []any{"MR"}}, in: ids, want: `"MR1"`},
	})
	runCases(t, "idType", "birth", []tcase{
		{name: "nid first", field: "mother.idType", in: ids, want: `"NATIONAL_ID"`},
		{name: "passport", field: "mother.idType", in: ids[:2], want: `"PASSPORT"`},
		{name: "none", field: "mother.idType", in: ids[:1], want: ``},
		{name: "a US SSN is no national id", field: "mother.idType", in: []string{`{"type":{"coding":[{"code":"SS"}]},"system":"http://hl7.org/fhir/sid/us-ssn","value":"987654321"}`}, want: ``},
		{name: "a repeated digit is an id", field: "mother.idType", in: []string{`{"type":{"coding":[{"code":"NATIONAL_ID"}]},"value":"0000000000"}`}, want: `"NATIONAL_ID"`},
		{name: "a masked value is no id", field: "mother.idType", in: []string{`{"type":{"coding":[{"code":"NATIONAL_ID"}]},"value":"**********"}`}, want: ``},
	})
}

// TestTransformIdentifierCountryNIDSystems: the country's settings name
// its national ID register (nidSystems) and type codes (nidTypes).
func TestTransformIdentifierCountryNIDSystems(t *testing.T) {
	cc := farajaland(t)
	settings := cc.Settings
	settings.NIDSystems = []string{"urn:farajaland:nid"}
	settings.NIDTypes = []string{"NATIONAL_ID"}
	cc2, err := core.NewCountryConfig(settings, cc.Events, cc.Locations)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cc2, "")
	if err != nil {
		t.Fatal(err)
	}
	nid := map[string]any{"kind": "nid"}
	for _, c := range []struct {
		name, in, want string
	}{
		{"the register's system, any type", `{"system":"urn:farajaland:nid","type":{"coding":[{"code":"MR"}]},"value":"42"}`, `"42"`},
		{"the register's system, no type", `{"system":"urn:farajaland:nid","value":"43"}`, `"43"`},
		{"a listed type, no system", `{"type":{"coding":[{"code":"NATIONAL_ID"}]},"value":"44"}`, `"44"`},
		{"a listed type of another system", `{"system":"urn:elsewhere:nid","type":{"coding":[{"code":"NATIONAL_ID"}]},"value":"45"}`, ``},
		{"a type the country does not list", `{"type":{"coding":[{"code":"NI"}]},"value":"46"}`, ``},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, issues := run(t, m, "birth", "mother.nid", "identifier", nid, c.in); got != c.want {
				t.Errorf("got %s, want %s (%+v)", got, c.want, issues)
			}
		})
	}
}

func TestTransformAddress(t *testing.T) {
	runCases(t, "address", "birth", []tcase{
		{name: "district by uuid", field: "mother.address", in: []string{`{"line":["12","Street"],"city":"Town","district":"d71605e6-b20e-4b2e-a6ff-4cd2641fb0cb","state":"5b607555-e83d-49f5-a681-d9a4776f70c5","country":"FAR"}`},
			want: `{"addressType":"DOMESTIC","administrativeArea":"d71605e6-b20e-4b2e-a6ff-4cd2641fb0cb","country":"FAR","streetLevelDetails":{"addressLine1":"12","addressLine2":"Street","cityOrTown":"Town"}}`},
		{name: "district by name, no country", field: "mother.address", in: []string{`{"district":"isamba"}`}, want: `{"addressType":"DOMESTIC","administrativeArea":"f8fca9cc-ac9b-422a-9aad-cdd5fd9b5151","country":"FAR"}`},
		{name: "district by external id", field: "mother.address", in: []string{`{"district":"tbjsHaUNyNo","country":"FAR"}`}, want: `{"addressType":"DOMESTIC","administrativeArea":"4c0d2619-69b7-4489-93a0-915340c590c9","country":"FAR"}`},
		{name: "province only: kept as text", field: "mother.address", in: []string{`{"line":["Plot 12"],"city":"Mpika","state":"Central","country":"FAR"}`},
			want: `{"addressType":"DOMESTIC","country":"FAR","streetLevelDetails":{"addressLine1":"Plot 12","cityOrTown":"Mpika","state":"Central"}}`, issue: "no known district below Central"},
		{name: "province by id, unknown district", field: "mother.address", in: []string{`{"district":"Nowhere","state":"5b607555-e83d-49f5-a681-d9a4776f70c5","country":"FAR"}`},
			want: `{"addressType":"DOMESTIC","country":"FAR","streetLevelDetails":{"district2":"Nowhere","state":"Central"}}`, issue: "no known district below Central"},
		{name: "international", field: "mother.address", in: []string{`{"use":"home","line":["999 N College"],"city":"Tempe","district":"Maricopa","state":"AZ","postalCode":"85281","country":"US"}`},
			want: `{"addressType":"INTERNATIONAL","country":"USA","streetLevelDetails":{"addressLine1":"999 N College","cityOrTown":"Tempe","district2":"Maricopa","postcodeOrZip":"85281","state":"AZ"}}`},
		{name: "home beats billing", field: "mother.address", in: []string{`{"use":"billing","country":"MX"}`, `{"use":"home","country":"US"}`}, want: `{"addressType":"INTERNATIONAL","country":"USA"}`},
		{name: "unknown domestic area kept as text", field: "mother.address", in: []string{`{"district":"c443761b-22ba-43a0-8279-586421f57b9d","country":"FAR"}`}, want: `{"addressType":"DOMESTIC","country":"FAR","streetLevelDetails":{"district2":"c443761b-22ba-43a0-8279-586421f57b9d"}}`, issue: "not in the country's location list"},
		{name: "unknown country", field: "mother.address", in: []string{`{"country":"Atlantis"}`}, want: ``, issue: "unknown country"},
		{name: "no country, unknown area", field: "mother.address", in: []string{`{"city":"Springfield"}`}, want: ``, issue: "without a country"},
	})
}

func TestTransformLocation(t *testing.T) {
	hf := map[string]any{"types": []any{"HEALTH_FACILITY"}}
	runCases(t, "location", "birth", []tcase{
		{name: "reference by uuid", field: "child.birthLocation", args: hf, in: []string{`{"reference":"Location/a60080a9-9ddb-4d93-bfac-9f40239b3219"}`}, want: `"a60080a9-9ddb-4d93-bfac-9f40239b3219"`},
		{name: "resource by identifier", field: "child.birthLocation", args: hf, in: []string{`{"resourceType":"Location","identifier":[{"value":"di3U5u7F8Y3"}]}`}, want: `"cfa64051-dd26-49e6-8295-e4e202ce495b"`},
		{name: "resource by name", field: "child.birthLocation", args: hf, in: []string{`{"resourceType":"Location","name":"ilanga district hospital"}`}, want: `"c2a44b74-dc4d-4b37-9df2-8d513652caa1"`},
		{name: "display", field: "child.birthLocation", args: hf, in: []string{`{"display":"Ibombo District Hospital"}`}, want: `"a60080a9-9ddb-4d93-bfac-9f40239b3219"`},
		{name: "unknown facility", field: "child.birthLocation", args: hf, in: []string{`{"resourceType":"Location","name":"Mountain Vista"}`}, want: ``, issue: "unknown location"},
		{name: "an office is not a facility", field: "child.birthLocation", args: hf, in: []string{`"58325d6c-dc50-4779-aa42-06daa5712756"`}, want: ``, issue: "not a HEALTH_FACILITY"},
	})
	m := newMapper(t)
	l := rLocation(&tctx{m: m}, "a60080a9-9ddb-4d93-bfac-9f40239b3219").(obj)
	if l["id"] != "a60080a9-9ddb-4d93-bfac-9f40239b3219" || l["name"] != "Ibombo District Hospital" {
		t.Errorf("reverse location %v", l)
	}
}

func TestTransformLookupAndFriends(t *testing.T) {
	mm := map[string]any{"map": map[string]any{"38605008": "MANNER_NATURAL", "NATURAL_CAUSES": "MANNER_NATURAL"}}
	runCases(t, "lookup", "death", []tcase{
		{name: "coding", field: "eventDetails.mannerOfDeath", args: mm, in: []string{`{"coding":[{"system":"http://snomed.info/sct","code":"38605008"}]}`}, want: `"MANNER_NATURAL"`},
		{name: "case-insensitive string", field: "eventDetails.mannerOfDeath", args: mm, in: []string{`"natural_causes"`}, want: `"MANNER_NATURAL"`},
		{name: "quantity value (OpenCRVS plurality)", field: "eventDetails.mannerOfDeath", args: mm, in: []string{`{"value":"NATURAL_CAUSES"}`}, want: `"MANNER_NATURAL"`},
		{name: "unknown", field: "eventDetails.mannerOfDeath", args: mm, in: []string{`{"coding":[{"code":"999"}]}`}, want: ``, issue: "unknown code"},
		{name: "default", field: "eventDetails.mannerOfDeath", args: map[string]any{"map": map[string]any{}, "default": "MANNER_UNDETERMINED"}, in: []string{`"x"`}, want: `"MANNER_UNDETERMINED"`},
	})
	runCases(t, "const", "birth", []tcase{
		{name: "present", field: "child.placeOfBirth", args: map[string]any{"value": "HEALTH_FACILITY"}, in: []string{`{}`}, want: `"HEALTH_FACILITY"`},
	})
	runCases(t, "country", "birth", []tcase{
		{name: "iso3", field: "mother.nationality", in: []string{`{"coding":[{"code":"FAR"}]}`}, want: `"FAR"`},
		{name: "iso2", field: "mother.nationality", in: []string{`"MX"`}, want: `"MEX"`},
		{name: "unknown", field: "mother.nationality", in: []string{`"Q"`}, want: ``, issue: "unknown country"},
	})
	runCases(t, "boolean", "death", []tcase{
		{name: "true code", field: "eventDetails.causeOfDeathEstablished", in: []string{`{"coding":[{"code":"true"}]}`}, want: `true`},
		{name: "Y", field: "eventDetails.causeOfDeathEstablished", in: []string{`"N"`}, want: `false`},
	})
	runCases(t, "number", "death", []tcase{
		{name: "quantity", field: "deceased.age", in: []string{`{"value":79}`}, want: `79`},
		{name: "bad", field: "deceased.age", in: []string{`"old"`}, want: ``, issue: "not a number"},
	})
	runCases(t, "text", "death", []tcase{
		{name: "joined", field: "eventDetails.description", in: []string{`{"text":"Pneumonia"}`, `{"coding":[{"display":"Sepsis"}]}`, `{"text":"Pneumonia"}`}, want: `"Pneumonia; Sepsis"`},
	})
	runCases(t, "string", "birth", []tcase{
		{name: "string", field: "mother.occupation", in: []string{`"Teacher"`}, want: `"Teacher"`},
	})
}

func TestReverseTransforms(t *testing.T) {
	m := newMapper(t)
	c := &tctx{m: m, args: obj{"kind": "passport"}}
	if b, _ := json.Marshal(rIdentifier(c, "P1")); !strings.Contains(string(b), `"code":"PASSPORT"`) {
		t.Errorf("identifier %s", b)
	}
	if b, _ := json.Marshal(rName(c, map[string]any{"firstname": "A", "middlename": "B C", "surname": "D"})); string(b) != `[{"family":"D","given":["A","B","C"],"use":"official"}]` {
		t.Errorf("name %s", b)
	}
	lc := &tctx{m: m, args: obj{"map": obj{"M": "MARRIED", "MARRIED": "MARRIED"}, "reverse": obj{"MARRIED": "M"}, "system": "http://s"}}
	if b, _ := json.Marshal(rLookup(lc, "MARRIED")); string(b) != `{"coding":[{"code":"M","system":"http://s"}]}` {
		t.Errorf("lookup %s", b)
	}
	addr := rAddress(c, map[string]any{"country": "FAR", "addressType": "DOMESTIC", "administrativeArea": "d71605e6-b20e-4b2e-a6ff-4cd2641fb0cb"})
	if b, _ := json.Marshal(addr); !strings.Contains(string(b), `"state":"5b607555-e83d-49f5-a681-d9a4776f70c5"`) {
		t.Errorf("address %s", b)
	}
}

func TestLocationNoLongerInUse(t *testing.T) {
	cc := farajaland(t)
	locs := append([]core.Location(nil), cc.Locations...)
	past := testNow.AddDate(-1, 0, 0)
	for i := range locs {
		if locs[i].ID == "a60080a9-9ddb-4d93-bfac-9f40239b3219" {
			locs[i].ValidUntil = &past
		}
	}
	cc2, err := core.NewCountryConfig(cc.Settings, cc.Events, locs)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cc2, "")
	if err != nil {
		t.Fatal(err)
	}
	got, issues := run(t, m, "birth", "child.birthLocation", "location", nil, `{"reference":"Location/a60080a9-9ddb-4d93-bfac-9f40239b3219"}`)
	if got != "" || len(issues) != 1 || !strings.Contains(issues[0].Diagnostics, "no longer in use") {
		t.Errorf("got %s %+v", got, issues)
	}
}
