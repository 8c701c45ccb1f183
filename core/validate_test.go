package core_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
	fl "github.com/crvshub/crvshub/testharness/farajaland"
)

// wantErr is one expected field error: the id exactly, the message by a
// substring.
type wantErr struct{ id, msg string }

func checkFieldErrors(t *testing.T, got []core.FieldError, want []wantErr) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d errors %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i, w := range want {
		if got[i].ID != w.id || !strings.Contains(got[i].Message, w.msg) {
			t.Errorf("error %d = {%s: %s}, want {%s: ...%s...}", i, got[i].ID, got[i].Message, w.id, w.msg)
		}
	}
}

// testTypesConfig is a small form with the field types and options the
// default Farajaland forms do not use, on the Farajaland location tree.
func testTypesConfig(t *testing.T) (*core.CountryConfig, *core.EventConfig) {
	t.Helper()
	min, max := 1.0, 5.0
	ec := &core.EventConfig{ID: "test", Label: "Test", Fields: []core.FieldConfig{
		{ID: "weight", Type: core.FieldNumberWithUnit, Units: []string{"kg", "g"}},
		{ID: "length", Type: core.FieldNumberWithUnit},
		{ID: "notes", Type: core.FieldTextArea},
		{ID: "short", Type: core.FieldText, MaxLength: 5},
		{ID: "code", Type: core.FieldID, Pattern: `[0-9]{4}`},
		{ID: "anywhere", Type: core.FieldLocation},
		{ID: "office", Type: core.FieldLocation, LocationTypes: []string{core.LocationCRVSOffice, core.LocationAdminStructure}},
		{ID: "choice", Type: core.FieldRadio, Options: []string{"YES", "NO"}},
		{ID: "count", Type: core.FieldNumber, Min: &min, Max: &max},
		{ID: "free", Type: core.FieldNumber},
		{ID: "when", Type: core.FieldDate},
		{ID: "reason", Type: core.FieldText, Required: true, RequiredIf: &core.Condition{Field: "choice", Equals: "NO"}},
		{ID: "docs", Type: core.FieldFile, Required: true},
		{ID: "flag", Type: core.FieldBoolean, Required: true},
		{ID: "size", Type: core.FieldNumberWithUnit, RequiredIf: &core.Condition{Field: "choice", In: []string{"YES"}}, Required: true},
	}}
	far := farajaland(t)
	cc, err := core.NewCountryConfig(far.Settings, []*core.EventConfig{ec}, slices.Clone(far.Locations))
	if err != nil {
		t.Fatal(err)
	}
	return cc, cc.Event("test")
}

func TestValidateValuesBirth(t *testing.T) {
	cc := farajaland(t)
	ec := birthForm(t)
	long := strings.Repeat("x", 501)
	cases := []struct {
		name string
		decl string
		want []wantErr
	}{
		{"empty", `{}`, nil},
		{"nulls are allowed everywhere", `{"child.name":null,"child.dob":null,"child.gender":null,"mother.address":null,"documents.proofOfBirth":null,"child.weightAtBirth":null}`, nil},
		{"unknown field", `{"child.firstname":"A"}`, []wantErr{{"child.firstname", "Unexpected field"}}},
		{"unknown field even when null", `{"foo.bar":null}`, []wantErr{{"foo.bar", "Unexpected field"}}},
		{"errors sorted by field id", `{"zzz":1,"child.gender":"x","aaa":1}`, []wantErr{{"aaa", "Unexpected field"}, {"child.gender", "not one of"}, {"zzz", "Unexpected field"}}},

		// TEXT
		{"text", `{"child.reason":"Late registration"}`, nil},
		{"text wrong type", `{"child.reason":42}`, []wantErr{{"child.reason", "expected a string"}}},
		{"text too long", fmt.Sprintf(`{"child.reason":%q}`, long), []wantErr{{"child.reason", "longer than 500"}}},
		{"text 500 accented characters", fmt.Sprintf(`{"child.reason":%q}`, strings.Repeat("é", 500)), nil},
		{"text pattern", `{"mother.nationality":"FAR"}`, nil},
		{"text pattern mismatch", `{"mother.nationality":"far"}`, []wantErr{{"mother.nationality", "required format"}}},
		{"text pattern is anchored", `{"mother.nationality":"FARX"}`, []wantErr{{"mother.nationality", "required format"}}},

		// DATE
		{"date", `{"child.dob":"2024-02-02"}`, nil},
		{"date leap day", `{"child.dob":"2024-02-29"}`, nil},
		{"date today", `{"child.dob":"2025-06-15"}`, nil},
		{"date not a leap year", `{"child.dob":"2023-02-29"}`, []wantErr{{"child.dob", "YYYY-MM-DD"}}},
		{"date day 31 in a 30-day month", `{"child.dob":"2024-04-31"}`, []wantErr{{"child.dob", "YYYY-MM-DD"}}},
		{"date month 13", `{"child.dob":"2024-13-01"}`, []wantErr{{"child.dob", "YYYY-MM-DD"}}},
		{"date without zero padding", `{"child.dob":"2024-2-2"}`, []wantErr{{"child.dob", "YYYY-MM-DD"}}},
		{"date other layout", `{"child.dob":"02/02/2024"}`, []wantErr{{"child.dob", "YYYY-MM-DD"}}},
		{"date with time", `{"child.dob":"2024-02-02T00:00:00Z"}`, []wantErr{{"child.dob", "YYYY-MM-DD"}}},
		{"date number", `{"child.dob":20240202}`, []wantErr{{"child.dob", "expected a string"}}},
		{"date in the future", `{"child.dob":"2025-06-16"}`, []wantErr{{"child.dob", "future"}}},
		{"date far in the future", `{"mother.dob":"2999-01-01"}`, []wantErr{{"mother.dob", "future"}}},

		// NAME
		{"name", `{"child.name":{"firstname":"Mutale","surname":"Phiri"}}`, nil},
		{"name with middle name", `{"child.name":{"firstname":"Mutale","middlename":"K","surname":"Phiri"}}`, nil},
		{"name with null part", `{"child.name":{"firstname":"Mutale","surname":null}}`, nil},
		{"name unknown part", `{"child.name":{"firstname":"A","foo":"x"}}`, []wantErr{{"child.name.foo", "Unexpected field"}}},
		{"name v1 part", `{"child.name":{"firstNames":"A","familyName":"B"}}`, []wantErr{{"child.name.familyName", "Unexpected field"}}},
		{"name part not a string", `{"child.name":{"firstname":1,"surname":"B"}}`, []wantErr{{"child.name.firstname", "expected a string"}}},
		{"name as a string", `{"child.name":"Mutale Phiri"}`, []wantErr{{"child.name", "expected a name"}}},
		{"name as an array", `{"child.name":["Mutale","Phiri"]}`, []wantErr{{"child.name", "expected a name"}}},
		{"name part too long", fmt.Sprintf(`{"child.name":{"firstname":"A","surname":%q}}`, strings.Repeat("b", 201)), []wantErr{{"child.name.surname", "longer than 200"}}},
		{"name 200 non-ASCII characters", fmt.Sprintf(`{"child.name":{"firstname":"A","surname":%q}}`, strings.Repeat("ł", 200)), nil},

		// SELECT
		{"select", `{"child.gender":"female","child.placeOfBirth":"HEALTH_FACILITY"}`, nil},
		{"select is case sensitive", `{"child.gender":"MALE"}`, []wantErr{{"child.gender", `"MALE" is not one of male, female, unknown`}}},
		{"select wrong type", `{"child.gender":true}`, []wantErr{{"child.gender", "expected a string"}}},

		// NUMBER
		{"number", `{"child.weightAtBirth":4.5}`, nil},
		{"number at min", `{"child.weightAtBirth":0}`, nil},
		{"number at max", `{"child.weightAtBirth":10}`, nil},
		{"number above max", `{"child.weightAtBirth":10.01}`, []wantErr{{"child.weightAtBirth", "at most 10"}}},
		{"number below min", `{"mother.age":-1}`, []wantErr{{"mother.age", "at least 0"}}},
		{"number as string", `{"child.weightAtBirth":"4.5"}`, []wantErr{{"child.weightAtBirth", "expected a number"}}},
		{"number overflow", `{"child.weightAtBirth":1e400}`, []wantErr{{"child.weightAtBirth", "number out of range"}}},

		// CHECKBOX
		{"checkbox", `{"mother.detailsNotAvailable":true,"father.detailsNotAvailable":false}`, nil},
		{"checkbox as string", `{"mother.detailsNotAvailable":"true"}`, []wantErr{{"mother.detailsNotAvailable", "true or false"}}},
		{"checkbox as number", `{"mother.detailsNotAvailable":1}`, []wantErr{{"mother.detailsNotAvailable", "true or false"}}},

		// ID
		{"id", `{"child.nid":"1234567890","mother.passport":"AB 12/34-5"}`, nil},
		{"id bad characters", `{"child.nid":"12;34"}`, []wantErr{{"child.nid", "not an identifier"}}},
		{"id starting with a dash", `{"child.nid":"-1234"}`, []wantErr{{"child.nid", "not an identifier"}}},
		{"id too long", fmt.Sprintf(`{"child.nid":%q}`, strings.Repeat("1", 65)), []wantErr{{"child.nid", "not an identifier"}}},
		{"id as number", `{"child.nid":1234567890}`, []wantErr{{"child.nid", "expected a string"}}},

		// LOCATION
		{"location health facility", fmt.Sprintf(`{"child.birthLocation":%q}`, fl.IbomboHospital), nil},
		{"location of the wrong type", fmt.Sprintf(`{"child.birthLocation":%q}`, fl.IbomboOffice), []wantErr{{"child.birthLocation", "must be a HEALTH_FACILITY"}}},
		{"location admin area is not a facility", fmt.Sprintf(`{"child.birthLocation":%q}`, fl.Ibombo), []wantErr{{"child.birthLocation", "must be a HEALTH_FACILITY"}}},
		{"location unknown", `{"child.birthLocation":"00000000-0000-4000-8000-000000000000"}`, []wantErr{{"child.birthLocation", "unknown location"}}},
		{"location id in upper case", fmt.Sprintf(`{"child.birthLocation":%q}`, upperHex(fl.IbomboHospital)), nil},
		{"location by name is not an id", `{"child.birthLocation":"Ibombo District Hospital"}`, []wantErr{{"child.birthLocation", "unknown location"}}},

		// EMAIL
		{"email", `{"informant.email":"olivia.johnson@opencrvs.org"}`, nil},
		{"email without domain", `{"informant.email":"olivia"}`, []wantErr{{"informant.email", "email"}}},
		{"email with display name", `{"informant.email":"Olivia <olivia@opencrvs.org>"}`, []wantErr{{"informant.email", "email"}}},

		// PHONE
		{"phone", `{"informant.phoneNo":"+260 977 123456"}`, nil},
		{"phone local", `{"informant.phoneNo":"0977123456"}`, nil},
		{"phone letters", `{"informant.phoneNo":"call me"}`, []wantErr{{"informant.phoneNo", "phone"}}},
		{"phone too short", `{"informant.phoneNo":"12"}`, []wantErr{{"informant.phoneNo", "phone"}}},

		// FILE
		{"file", `{"documents.proofOfBirth":{"path":"docs/abc.png","originalFilename":"birth.png","type":"image/png"}}`, nil},
		{"file list with options", `{"documents.proofOther":[{"path":"a/1.pdf","originalFilename":"1.pdf","type":"application/pdf","option":"MOTHER"},{"path":"a/2.pdf","originalFilename":"2.pdf","type":"application/pdf"}]}`, nil},
		{"file empty list", `{"documents.proofOther":[]}`, nil},
		{"file missing type", `{"documents.proofOfBirth":{"path":"a/1.png","originalFilename":"1.png"}}`, []wantErr{{"documents.proofOfBirth.type", "non-empty string"}}},
		{"file empty path", `{"documents.proofOfBirth":{"path":"","originalFilename":"1.png","type":"image/png"}}`, []wantErr{{"documents.proofOfBirth.path", "non-empty string"}}},
		{"file unknown key", `{"documents.proofOfBirth":{"path":"a/1.png","originalFilename":"1.png","type":"image/png","size":3}}`, []wantErr{{"documents.proofOfBirth.size", "Unexpected field"}}},
		{"file option outside a list", `{"documents.proofOfBirth":{"path":"a/1.png","originalFilename":"1.png","type":"image/png","option":"X"}}`, []wantErr{{"documents.proofOfBirth.option", "Unexpected field"}}},
		{"file option not a string", `{"documents.proofOther":[{"path":"a/1.png","originalFilename":"1.png","type":"image/png","option":1}]}`, []wantErr{{"documents.proofOther.0.option", "expected a string"}}},
		{"file list item missing path", `{"documents.proofOther":[{"path":"a/1.png","originalFilename":"1.png","type":"image/png"},{"originalFilename":"2.png","type":"image/png"}]}`, []wantErr{{"documents.proofOther.1.path", "non-empty string"}}},
		{"file list item not an object", `{"documents.proofOther":["a/1.png"]}`, []wantErr{{"documents.proofOther.0", "expected a file"}}},
		{"file path escaping", `{"documents.proofOfBirth":{"path":"../etc/passwd","originalFilename":"p","type":"text/plain"}}`, []wantErr{{"documents.proofOfBirth.path", "bad path"}}},
		{"file as a string", `{"documents.proofOfBirth":"a/1.png"}`, []wantErr{{"documents.proofOfBirth", "expected a file"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkFieldErrors(t, core.ValidateValues(cc, ec, decl(t, c.decl), testNow), c.want)
		})
	}
}

func TestValidateAddress(t *testing.T) {
	cc := farajaland(t)
	ec := birthForm(t)
	const f = "mother.address"
	cases := []struct {
		name string
		addr string
		want []wantErr
	}{
		{"v2 domestic", fmt.Sprintf(`{"addressType":"DOMESTIC","country":"FAR","administrativeArea":%q}`, fl.Ibombo), nil},
		{"v2 domestic in another district", fmt.Sprintf(`{"addressType":"DOMESTIC","country":"FAR","administrativeArea":%q}`, fl.Embe), nil},
		{"v2 domestic with street details", fmt.Sprintf(`{"addressType":"DOMESTIC","country":"FAR","administrativeArea":%q,"streetLevelDetails":{"town":"Ibombo","street":"Main","number":"11"}}`, fl.Ilanga), nil},
		{"v2 domestic without type", fmt.Sprintf(`{"country":"FAR","administrativeArea":%q}`, fl.Ibombo), nil},
		{"v2 domestic without area", `{"addressType":"DOMESTIC","country":"FAR"}`, nil},
		{"v2 domestic area null", `{"addressType":"DOMESTIC","country":"FAR","administrativeArea":null,"streetLevelDetails":null}`, nil},
		{"v2 domestic area in upper case", fmt.Sprintf(`{"addressType":"DOMESTIC","country":"FAR","administrativeArea":%q}`, upperHex(fl.Ibombo)), nil},
		{"v2 domestic area is a province, not a leaf", fmt.Sprintf(`{"addressType":"DOMESTIC","country":"FAR","administrativeArea":%q}`, fl.Central), []wantErr{{f + ".administrativeArea", "administrative area"}}},
		{"v2 domestic area is an office", fmt.Sprintf(`{"addressType":"DOMESTIC","country":"FAR","administrativeArea":%q}`, fl.IbomboOffice), []wantErr{{f + ".administrativeArea", "unknown administrative area"}}},
		{"v2 domestic area unknown", `{"addressType":"DOMESTIC","country":"FAR","administrativeArea":"00000000-0000-4000-8000-000000000000"}`, []wantErr{{f + ".administrativeArea", "unknown administrative area"}}},
		{"v2 domestic area not a string", `{"addressType":"DOMESTIC","country":"FAR","administrativeArea":5}`, []wantErr{{f + ".administrativeArea", "expected a string"}}},
		{"v2 domestic in another country", fmt.Sprintf(`{"addressType":"DOMESTIC","country":"USA","administrativeArea":%q}`, fl.Ibombo), []wantErr{{f + ".country", "DOMESTIC address must be in FAR"}}},
		{"street details not strings", fmt.Sprintf(`{"addressType":"DOMESTIC","country":"FAR","administrativeArea":%q,"streetLevelDetails":{"number":11}}`, fl.Ibombo), []wantErr{{f + ".streetLevelDetails.number", "expected a string"}}},
		{"street details not an object", `{"addressType":"INTERNATIONAL","country":"USA","streetLevelDetails":"Main street"}`, []wantErr{{f + ".streetLevelDetails", "expected an object"}}},
		{"international", `{"addressType":"INTERNATIONAL","country":"USA","streetLevelDetails":{"state":"MA","cityOrTown":"Boston"}}`, nil},
		{"international without type", `{"country":"GBR"}`, nil},
		{"international in the home country", `{"addressType":"INTERNATIONAL","country":"FAR"}`, nil},
		{"international with an area", fmt.Sprintf(`{"addressType":"INTERNATIONAL","country":"USA","administrativeArea":%q}`, fl.Ibombo), []wantErr{{f + ".administrativeArea", "only a DOMESTIC address"}}},
		{"bad address type", `{"addressType":"LOCAL","country":"FAR"}`, []wantErr{{f + ".addressType", "DOMESTIC or INTERNATIONAL"}}},
		{"address type not a string", `{"addressType":1,"country":"FAR"}`, []wantErr{{f + ".addressType", "expected a string"}}},
		{"no country", `{"addressType":"DOMESTIC"}`, []wantErr{{f + ".country", "ISO 3166-1 alpha-3"}}},
		{"lower-case country", `{"country":"far"}`, []wantErr{{f + ".country", "ISO 3166-1 alpha-3"}}},
		{"two-letter country", `{"country":"FA"}`, []wantErr{{f + ".country", "ISO 3166-1 alpha-3"}}},
		{"unknown key", `{"country":"FAR","postcode":"1"}`, []wantErr{{f + ".postcode", "Unexpected field"}}},
		{"not an object", `"Plot 11, Ibombo"`, []wantErr{{f, "expected an address object"}}},
		{"legacy v1.9 shape", fmt.Sprintf(`{"country":"FAR","province":%q,"district":%q,"urbanOrRural":"URBAN","town":"My town","residentialArea":"My area","street":"My street","number":"11","zipCode":"10000","village":null,"state":null,"district2":null,"cityOrTown":null,"addressLine1":null,"addressLine2":null,"addressLine3":null,"postcodeOrZip":null,"addressType":"DOMESTIC"}`, fl.Central, fl.Ibombo), nil},
		{"legacy rural", fmt.Sprintf(`{"country":"FAR","province":%q,"district":%q,"urbanOrRural":"RURAL","village":"Chibombo"}`, fl.Sulaka, fl.Ilanga), nil},
		{"legacy international", `{"country":"USA","addressType":"INTERNATIONAL","state":"MA","district2":"Suffolk","cityOrTown":"Boston","addressLine1":"1 Main St","postcodeOrZip":"02101"}`, nil},
		{"legacy ids in upper case", fmt.Sprintf(`{"country":"FAR","province":%q,"district":%q}`, upperHex(fl.Central), upperHex(fl.Ibombo)), nil},
		{"legacy district outside the province", fmt.Sprintf(`{"country":"FAR","province":%q,"district":%q}`, fl.Central, fl.Ilanga), []wantErr{{f + ".district", "not in the province"}}},
		{"legacy district without province", fmt.Sprintf(`{"country":"FAR","district":%q}`, fl.Ilanga), nil},
		{"legacy province unknown", fmt.Sprintf(`{"country":"FAR","province":"nowhere","district":%q}`, fl.Ibombo), []wantErr{{f + ".province", "unknown administrative area"}}},
		{"legacy district is a facility", fmt.Sprintf(`{"country":"FAR","province":%q,"district":%q}`, fl.Central, fl.IbomboHospital), []wantErr{{f + ".district", "unknown administrative area"}}},
		{"legacy key not a string", `{"country":"FAR","number":11}`, []wantErr{{f + ".number", "expected a string"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := core.Declaration{f: json.RawMessage(c.addr)}
			checkFieldErrors(t, core.ValidateValues(cc, ec, d, testNow), c.want)
		})
	}
}

func TestValidateOtherTypes(t *testing.T) {
	cc, ec := testTypesConfig(t)
	cases := []struct {
		name string
		decl string
		want []wantErr
	}{
		{"number with unit", `{"weight":{"numericValue":3.2,"unit":"kg"}}`, nil},
		{"number with unit, any unit allowed", `{"length":{"numericValue":50,"unit":"cm"}}`, nil},
		{"number with unit, value only", `{"weight":{"numericValue":3200}}`, nil},
		{"number with unit, unknown unit", `{"weight":{"numericValue":3.2,"unit":"lb"}}`, []wantErr{{"weight.unit", `unit "lb" is not one of kg, g`}}},
		{"number with unit, value as string", `{"weight":{"numericValue":"3.2","unit":"kg"}}`, []wantErr{{"weight.numericValue", "expected a number"}}},
		{"number with unit, unit not a string", `{"weight":{"numericValue":3.2,"unit":1}}`, []wantErr{{"weight.unit", "expected a string"}}},
		{"number with unit, unknown key", `{"weight":{"value":3.2,"unit":"kg"}}`, []wantErr{{"weight.value", "Unexpected field"}}},
		{"number with unit, bare number", `{"weight":3.2}`, []wantErr{{"weight", "numericValue, unit"}}},
		{"textarea allows 5000", fmt.Sprintf(`{"notes":%q}`, strings.Repeat("n", 5000)), nil},
		{"textarea over 5000", fmt.Sprintf(`{"notes":%q}`, strings.Repeat("n", 5001)), []wantErr{{"notes", "longer than 5000"}}},
		{"text max length", `{"short":"abcde"}`, nil},
		{"text over max length", `{"short":"abcdef"}`, []wantErr{{"short", "longer than 5"}}},
		{"text max length counts characters", `{"short":"ééééé"}`, nil},
		{"id pattern", `{"code":"1234"}`, nil},
		{"id pattern mismatch", `{"code":"12345"}`, []wantErr{{"code", "required format"}}},
		{"id pattern replaces the default", `{"code":"abcd"}`, []wantErr{{"code", "required format"}}},
		{"location of any type", fmt.Sprintf(`{"anywhere":%q}`, fl.Central), nil},
		{"location one of two types", fmt.Sprintf(`{"office":%q}`, fl.Ibombo), nil},
		{"location not one of two types", fmt.Sprintf(`{"office":%q}`, fl.IbomboHospital), []wantErr{{"office", "must be a CRVS_OFFICE or ADMIN_STRUCTURE"}}},
		{"radio", `{"choice":"YES"}`, nil},
		{"radio not an option", `{"choice":"MAYBE"}`, []wantErr{{"choice", "not one of YES, NO"}}},
		{"number without bounds", `{"free":-1e9}`, nil},
		{"number bounds", `{"count":1}`, nil},
		{"number under min", `{"count":0.5}`, []wantErr{{"count", "at least 1"}}},
		{"number over max", `{"count":6}`, []wantErr{{"count", "at most 5"}}},
		{"date without notInFuture", `{"when":"2999-12-31"}`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkFieldErrors(t, core.ValidateValues(cc, ec, decl(t, c.decl), testNow), c.want)
		})
	}
}

func TestValidateTooManyFields(t *testing.T) {
	cc := farajaland(t)
	d := core.Declaration{}
	for i := 0; i <= core.MaxDeclarationFields; i++ {
		d[fmt.Sprintf("x.%d", i)] = json.RawMessage("1")
	}
	checkFieldErrors(t, core.ValidateValues(cc, birthForm(t), d, testNow), []wantErr{{"declaration", "too many fields"}})
	delete(d, "x.0")
	if got := core.ValidateValues(cc, birthForm(t), d, testNow); len(got) != core.MaxDeclarationFields {
		t.Fatalf("at the limit every unknown field is reported: got %d errors", len(got))
	}
}

func TestMissingRequired(t *testing.T) {
	birth := birthForm(t)
	death := farajaland(t).Event("death")
	base := `"child.name":{"firstname":"A","surname":"B"},"child.gender":"male","child.dob":"2024-01-01","informant.relation":"MOTHER","mother.name":{"firstname":"M","surname":"B"}`
	cases := []struct {
		name string
		ec   *core.EventConfig
		decl string
		want []string
	}{
		{"empty birth", birth, `{}`, []string{"child.name", "child.gender", "child.dob", "child.placeOfBirth", "informant.relation", "mother.name"}},
		{"complete, born at a facility", birth, `{` + base + `,"child.placeOfBirth":"HEALTH_FACILITY","child.birthLocation":"` + fl.IbomboHospital + `"}`, nil},
		{"facility birth needs the facility", birth, `{` + base + `,"child.placeOfBirth":"HEALTH_FACILITY"}`, []string{"child.birthLocation"}},
		{"home birth needs the address, not the facility", birth, `{` + base + `,"child.placeOfBirth":"PRIVATE_HOME"}`, []string{"child.birthLocation.privateHome"}},
		{"other place needs the other address", birth, `{` + base + `,"child.placeOfBirth":"OTHER"}`, []string{"child.birthLocation.other"}},
		{"mother details not available: no name, a reason", birth, `{"child.name":{"firstname":"A","surname":"B"},"child.gender":"male","child.dob":"2024-01-01","child.placeOfBirth":"OTHER","child.birthLocation.other":{"country":"USA"},"informant.relation":"FATHER","mother.detailsNotAvailable":true}`, []string{"mother.reason"}},
		{"mother details explicitly available", birth, `{"mother.detailsNotAvailable":false}`, []string{"child.name", "child.gender", "child.dob", "child.placeOfBirth", "informant.relation", "mother.name"}},
		{"mother details flag null counts as not true", birth, `{"mother.detailsNotAvailable":null}`, []string{"child.name", "child.gender", "child.dob", "child.placeOfBirth", "informant.relation", "mother.name"}},
		{"mother details flag as string is not true", birth, `{"mother.detailsNotAvailable":"true","mother.reason":"x"}`, []string{"child.name", "child.gender", "child.dob", "child.placeOfBirth", "informant.relation", "mother.name"}},
		{"grandmother informant needs a name", birth, `{` + base + `,"child.placeOfBirth":"OTHER","child.birthLocation.other":{"country":"USA"},"informant.relation":"GRANDMOTHER"}`, []string{"informant.name"}},
		{"father details not available needs a reason", birth, `{` + base + `,"child.placeOfBirth":"OTHER","child.birthLocation.other":{"country":"USA"},"father.detailsNotAvailable":true}`, []string{"father.reason"}},
		{"empty name counts as missing", birth, `{` + base + `,"child.placeOfBirth":"OTHER","child.birthLocation.other":{"country":"USA"},"child.name":{"firstname":" ","surname":""}}`, []string{"child.name"}},
		{"surname alone is a name", birth, `{` + base + `,"child.placeOfBirth":"OTHER","child.birthLocation.other":{"country":"USA"},"child.name":{"surname":"B"}}`, nil},
		{"blank text counts as missing", birth, `{` + base + `,"child.placeOfBirth":"OTHER","child.birthLocation.other":{"country":"USA"},"child.gender":"  "}`, []string{"child.gender"}},
		{"null counts as missing", birth, `{` + base + `,"child.placeOfBirth":"OTHER","child.birthLocation.other":{"country":"USA"},"child.dob":null}`, []string{"child.dob"}},
		{"empty death", death, `{}`, []string{"deceased.name", "deceased.gender", "eventDetails.date", "eventDetails.placeOfDeath", "informant.relation"}},
		{"death at a facility", death, `{"eventDetails.placeOfDeath":"HEALTH_FACILITY"}`, []string{"deceased.name", "deceased.gender", "eventDetails.date", "eventDetails.deathLocation", "informant.relation"}},
		{"death informant spouse needs no name", death, `{"deceased.name":{"firstname":"A","surname":"B"},"deceased.gender":"male","eventDetails.date":"2024-01-01","eventDetails.placeOfDeath":"DECEASED_USUAL_RESIDENCE","informant.relation":"SPOUSE"}`, nil},
		{"death informant son needs a name", death, `{"deceased.name":{"firstname":"A","surname":"B"},"deceased.gender":"male","eventDetails.date":"2024-01-01","eventDetails.placeOfDeath":"DECEASED_USUAL_RESIDENCE","informant.relation":"SON"}`, []string{"informant.name"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := core.MissingRequired(c.ec, decl(t, c.decl))
			var ids []string
			for _, e := range got {
				ids = append(ids, e.ID)
				if e.Message != "Required field is missing" {
					t.Errorf("%s: message %q", e.ID, e.Message)
				}
			}
			if !slices.Equal(ids, c.want) {
				t.Errorf("missing = %v, want %v", ids, c.want)
			}
		})
	}
}

func TestMissingRequiredOtherTypes(t *testing.T) {
	_, ec := testTypesConfig(t)
	cases := []struct {
		decl string
		want []string
	}{
		{`{}`, []string{"docs", "flag"}},
		{`{"docs":{"path":"a","originalFilename":"b","type":"c"},"flag":false}`, nil},
		{`{"docs":{"path":"a","originalFilename":"b","type":"c"},"flag":true,"choice":"NO"}`, []string{"reason"}},
		{`{"docs":{"path":"a","originalFilename":"b","type":"c"},"flag":true,"choice":"YES","size":{"numericValue":0,"unit":"cm"}}`, nil},
		{`{"docs":{"path":"a","originalFilename":"b","type":"c"},"flag":true,"choice":"YES"}`, []string{"size"}},
		{`{"docs":{"path":"a","originalFilename":"b","type":"c"},"flag":true,"choice":"YES","size":{"unit":"cm"}}`, []string{"size"}},
		{`{"docs":{"path":"a","originalFilename":"b","type":"c"},"flag":true,"choice":"YES","size":{"numericValue":null}}`, []string{"size"}},
		{`{"docs":[],"flag":true}`, []string{"docs"}},
		{`{"docs":[{"path":"a","originalFilename":"b","type":"c"}],"flag":true}`, nil},
		{`{"docs":{"path":"a","originalFilename":"b","type":"c"},"flag":true,"choice":"NO","reason":"because"}`, nil},
	}
	for _, c := range cases {
		var ids []string
		for _, e := range core.MissingRequired(ec, decl(t, c.decl)) {
			ids = append(ids, e.ID)
		}
		if !slices.Equal(ids, c.want) {
			t.Errorf("%s: missing = %v, want %v", c.decl, ids, c.want)
		}
	}
}

// TestNotifyFixtureValidates: OpenCRVS's own Farajaland "Notify Event
// (Max)" body must be accepted as it is.
func TestNotifyFixtureValidates(t *testing.T) {
	raw, err := os.ReadFile("testdata/notify-event-max.json")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		EventID           string           `json:"eventId"`
		CreatedAtLocation string           `json:"createdAtLocation"`
		TransactionID     string           `json:"transactionId"`
		Declaration       core.Declaration `json:"declaration"`
		Annotation        core.Declaration `json:"annotation"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Declaration) < 20 {
		t.Fatalf("fixture declaration has only %d fields", len(body.Declaration))
	}
	cc := farajaland(t)
	if !core.IsUUID(body.EventID) || !core.IsUUID(body.TransactionID) || !cc.IsOfficeOrFacility(body.CreatedAtLocation) {
		t.Errorf("fixture placeholders not replaced by valid values: %s %s %s", body.EventID, body.TransactionID, body.CreatedAtLocation)
	}
	if errs := core.ValidateValues(cc, birthForm(t), body.Declaration, testNow); len(errs) > 0 {
		t.Errorf("notify fixture declaration does not validate: %+v", errs)
	}
	if missing := core.MissingRequired(birthForm(t), body.Declaration); len(missing) > 0 {
		t.Errorf("notify fixture declaration is incomplete: %+v", missing)
	}
	// and it is not accepted against the death form
	if errs := core.ValidateValues(cc, cc.Event("death"), body.Declaration, testNow); len(errs) == 0 {
		t.Error("the birth fixture must not validate against the death form")
	}
}

func TestIsUUID(t *testing.T) {
	for s, want := range map[string]bool{
		fl.Ibombo:                               true,
		strings.ToUpper(fl.Ibombo):              true,
		"d71605e6b20e4b2ea6ff4cd2641fb0cb":      false,
		"d71605e6-b20e-4b2e-a6ff-4cd2641fb0c":   false,
		"d71605e6-b20e-4b2e-a6ff-4cd2641fb0cbb": false,
		"g71605e6-b20e-4b2e-a6ff-4cd2641fb0cb":  false,
		"":                                      false,
	} {
		if core.IsUUID(s) != want {
			t.Errorf("IsUUID(%q) = %v", s, !want)
		}
	}
}
