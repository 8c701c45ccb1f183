package core_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/crvshub/crvshub/core"
)

// Run one with: go test -run '^$' -fuzz FuzzValidateDeclaration -fuzztime 20s ./core/
// The seeds below run as ordinary tests.

func FuzzValidateDeclaration(f *testing.F) {
	if raw, err := os.ReadFile("testdata/notify-event-max.json"); err == nil {
		var body struct {
			Declaration json.RawMessage `json:"declaration"`
		}
		if json.Unmarshal(raw, &body) == nil {
			f.Add([]byte(body.Declaration))
		}
	}
	for _, s := range []string{
		`{}`,
		`{"child.name":{"firstname":"A","surname":"B","foo":1}}`,
		`{"child.dob":"2024-02-30","child.gender":"x","unknown":null}`,
		`{"mother.address":{"country":"FAR","administrativeArea":"5b607555-e83d-49f5-a681-d9a4776f70c5","streetLevelDetails":{"a":1}}}`,
		`{"mother.address":{"addressType":"INTERNATIONAL","country":"USA","province":"x"}}`,
		`{"documents.proofOther":[{"path":"a","originalFilename":"b","type":"c","option":"d"},{"path":".."}]}`,
		`{"child.weightAtBirth":1e309,"mother.age":-0,"child.birthLocation":"a60080a9-9ddb-4d93-bfac-9f40239b3219"}`,
		`{"mother.detailsNotAvailable":true,"informant.relation":"GRANDMOTHER","child.placeOfBirth":"HEALTH_FACILITY"}`,
		`{"informant.email":"a@b.c","informant.phoneNo":"+1 (555) 010-0000","child.nid":"-"}`,
		`{"":"","child.name":[],"child.dob":{}}`,
	} {
		f.Add([]byte(s))
	}
	cc := farajaland(f)
	ec := birthForm(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var d core.Declaration
		if json.Unmarshal(data, &d) != nil || d == nil {
			return
		}
		errs := core.ValidateValues(cc, ec, d, testNow)
		if len(errs) == 0 {
			for k, v := range d {
				if !utf8.Valid(v) || !json.Valid(v) {
					t.Fatalf("%s stored as %q: not valid UTF-8 JSON", k, v)
				}
			}
		}
		if again := core.ValidateValues(cc, ec, d, testNow); !reflect.DeepEqual(errs, again) {
			t.Fatalf("ValidateValues is not deterministic: %+v vs %+v", errs, again)
		}
		for _, e := range errs {
			if e.Message == "" {
				t.Fatalf("error without a message: %+v", e)
			}
			if e.ID == "declaration" && len(d) > core.MaxDeclarationFields {
				continue
			}
			named := false
			for k := range d {
				if e.ID == k || (ec.Field(k) != nil && strings.HasPrefix(e.ID, k+".")) {
					named = true
				}
			}
			if !named {
				t.Fatalf("error %+v names no field of the declaration %s", e, data)
			}
			if ec.Field(e.ID) == nil && e.Message != "Unexpected field" && !slices.ContainsFunc(ec.Fields, func(fc core.FieldConfig) bool {
				return strings.HasPrefix(e.ID, fc.ID+".")
			}) {
				t.Fatalf("error %+v on an unknown field must say Unexpected field", e)
			}
		}
		for _, m := range core.MissingRequired(ec, d) {
			fc := ec.Field(m.ID)
			if fc == nil || !fc.Required {
				t.Fatalf("MissingRequired names %q, not a required field", m.ID)
			}
		}
	})
}

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{
		"type=record.notify&event=birth,death",
		"type=record.search&event=birth&placeOfEvent=administrativeArea&registeredIn=location",
		"event=birth&type=record.read",
		"type=record.notify&event=birth%2Cdeath",
		"record.notify[event=birth|death]",
		"search[event=birth,access=all]",
		"record.notify[type=birth]",
		"notification-api",
		"recordsearch",
		"record.declare-birth",
		"record.read",
		"type=",
		"record.notify[event=birth",
		"type=a&b=c&b=d",
		"x[y=z]]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		scs, err := core.ParseScope(s)
		if err != nil {
			if scs != nil {
				t.Fatalf("error %v with scopes %+v", err, scs)
			}
			return
		}
		if len(scs) == 0 {
			t.Fatalf("ParseScope(%q) returned no scope and no error", s)
		}
		for _, sc := range scs {
			str := sc.String()
			again, err := core.ParseScope(str)
			if err != nil {
				t.Fatalf("ParseScope(%q) = %q which does not parse: %v", s, str, err)
			}
			if len(again) != 1 || !reflect.DeepEqual(again[0], sc) {
				t.Fatalf("ParseScope(%q) = %+v; its String %q parses to %+v", s, sc, str, again)
			}
			if again[0].String() != str {
				t.Fatalf("String is not canonical: %q vs %q", again[0].String(), str)
			}
		}
	})
}

func FuzzNormalizeText(f *testing.F) {
	for _, s := range []string{"", "  Zoë   MÜLLER ", "İstanbul", "Ashcraft", "a\u00a0\u0301b", "ǅemal", "ﬀ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := core.NormalizeText(s)
		if core.NormalizeText(n) != n {
			t.Fatalf("NormalizeText(%q) = %q is not a fixed point (%q)", s, n, core.NormalizeText(n))
		}
		if strings.TrimSpace(n) != n || strings.Contains(n, "  ") {
			t.Fatalf("NormalizeText(%q) = %q has stray spaces", s, n)
		}
		for _, r := range n {
			if r >= 'A' && r <= 'Z' {
				t.Fatalf("NormalizeText(%q) = %q keeps upper case", s, n)
			}
		}
		sx := core.Soundex(s)
		if sx != "" && (len(sx) != 4 || sx[0] < 'A' || sx[0] > 'Z' || strings.Trim(sx[1:], "0123456") != "") {
			t.Fatalf("Soundex(%q) = %q", s, sx)
		}
		for _, tok := range core.Tokens(s) {
			if tok == "" || strings.IndexFunc(tok, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) >= 0 {
				t.Fatalf("Tokens(%q) has %q", s, tok)
			}
		}
	})
}
