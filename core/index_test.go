package core_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/crvshub/crvshub/core"
	fl "github.com/crvshub/crvshub/testharness/farajaland"
)

func fieldRows(row *core.IndexRow, id string) []core.IndexField {
	var out []core.IndexField
	for _, f := range row.Fields {
		if f.FieldID == id {
			out = append(out, f)
		}
	}
	return out
}

func registeredBirth(t *testing.T) *history {
	t.Helper()
	h := newHistory("birth").do(core.ActionCreate)
	h.ev.Actions[0].CreatedAtLocation = fl.HQOffice
	h.doDecl(core.ActionNotify, decl(t, fmt.Sprintf(`{
		"child.name":{"firstname":"Mutale","middlename":"Kabwe","surname":"Phiri"},
		"child.gender":"male",
		"child.dob":"2024-02-02",
		"child.placeOfBirth":"HEALTH_FACILITY",
		"child.birthLocation":%q,
		"child.weightAtBirth":3.75,
		"child.reason":"  Late   Registration ",
		"mother.name":{"firstname":"Mwansa","surname":"Phiri"},
		"mother.detailsNotAvailable":false,
		"mother.address":{"country":"FAR","addressType":"DOMESTIC","province":%q,"district":%q,"urbanOrRural":"URBAN"},
		"father.address":{"country":"FAR","addressType":"DOMESTIC","administrativeArea":%q},
		"informant.address":{"country":"USA","addressType":"INTERNATIONAL","streetLevelDetails":{"cityOrTown":"Boston"}},
		"informant.relation":"MOTHER",
		"documents.proofOfBirth":{"path":"a/b.png","originalFilename":"b.png","type":"image/png"},
		"child.nid":null
	}`, upperHex(fl.IbomboHospital), fl.Central, fl.Ibombo, upperHex(fl.Ilanga))))
	decReq := h.request(core.ActionDeclare, nil)
	h.ev.FindAction(decReq).CreatedAtLocation = fl.IbomboOffice
	h.resolve(decReq, core.StatusAccepted, nil)
	regReq := h.request(core.ActionRegister, nil)
	h.ev.FindAction(regReq).CreatedAtLocation = fl.IlangaOffice
	h.resolve(regReq, core.StatusAccepted, nil).RegistrationNumber = "FAR2024000123"
	h.do(core.ActionAssign)
	return h
}

// upperHex upper-cases the hex letters of a UUID.
func upperHex(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestBuildIndexRegistered(t *testing.T) {
	cc := farajaland(t)
	h := registeredBirth(t)
	st := h.state()
	row, err := core.BuildIndex(cc, h.ev, st)
	if err != nil {
		t.Fatal(err)
	}
	regAcc := h.ev.Actions[len(h.ev.Actions)-2]
	if row.EventID != h.ev.ID || row.Type != "birth" || row.Status != "REGISTERED" || row.TrackingID != h.ev.TrackingID {
		t.Errorf("identity: %+v", row)
	}
	if row.RegistrationNumber != "FAR2024000123" || row.RegisteredAt == nil || !row.RegisteredAt.Equal(regAcc.CreatedAt) {
		t.Errorf("registration: %q %v, want FAR2024000123 at %v", row.RegistrationNumber, row.RegisteredAt, regAcc.CreatedAt)
	}
	if row.RegisteredAtLocation != fl.IlangaOffice || row.DeclaredAtLocation != fl.IbomboOffice || row.CreatedAtLocation != fl.HQOffice {
		t.Errorf("locations: registered %s declared %s created %s", row.RegisteredAtLocation, row.DeclaredAtLocation, row.CreatedAtLocation)
	}
	if row.DateOfEvent != "2024-02-02" || row.AssignedTo != "user-1" || row.Deleted || len(row.Flags) != 0 {
		t.Errorf("dateOfEvent %q assignedTo %q deleted %v flags %v", row.DateOfEvent, row.AssignedTo, row.Deleted, row.Flags)
	}
	if !row.CreatedAt.Equal(h.ev.CreatedAt) || !row.UpdatedAt.Equal(h.ev.UpdatedAt) {
		t.Errorf("times %v %v", row.CreatedAt, row.UpdatedAt)
	}

	// name: full text, one token per word, one soundex code per word
	name := fieldRows(row, "child.name")
	want := []core.IndexField{
		{FieldID: "child.name", Kind: core.KindText, Text: "mutale kabwe phiri"},
		{FieldID: "child.name", Kind: core.KindToken, Text: "mutale"},
		{FieldID: "child.name", Kind: core.KindToken, Text: "~" + core.Soundex("Mutale")},
		{FieldID: "child.name", Kind: core.KindToken, Text: "kabwe"},
		{FieldID: "child.name", Kind: core.KindToken, Text: "~" + core.Soundex("Kabwe")},
		{FieldID: "child.name", Kind: core.KindToken, Text: "phiri"},
		{FieldID: "child.name", Kind: core.KindToken, Text: "~" + core.Soundex("Phiri")},
	}
	if !slices.Equal(name, want) {
		t.Errorf("child.name rows = %+v\nwant %+v", name, want)
	}
	if core.Soundex("Phiri") != "P600" {
		t.Errorf("Soundex(Phiri) = %s", core.Soundex("Phiri"))
	}
	one := func(id string, want core.IndexField) {
		t.Helper()
		got := fieldRows(row, id)
		want.FieldID = id
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s rows = %+v, want [%+v]", id, got, want)
		}
	}
	one("child.dob", core.IndexField{Kind: core.KindDate, Text: "2024-02-02"})
	one("child.weightAtBirth", core.IndexField{Kind: core.KindNum, Num: 3.75})
	one("child.birthLocation", core.IndexField{Kind: core.KindText, Text: fl.IbomboHospital})
	one("child.gender", core.IndexField{Kind: core.KindText, Text: "male"})
	one("child.placeOfBirth", core.IndexField{Kind: core.KindText, Text: "health_facility"})
	one("child.reason", core.IndexField{Kind: core.KindText, Text: "late registration"})
	one("mother.detailsNotAvailable", core.IndexField{Kind: core.KindText, Text: "false"})
	one("mother.address", core.IndexField{Kind: core.KindText, Text: fl.Ibombo})    // legacy: the district
	one("father.address", core.IndexField{Kind: core.KindText, Text: fl.Ilanga})    // v2: the area, lower-cased
	one("informant.address", core.IndexField{Kind: core.KindText, Text: "usa"})     // international: the country
	one("informant.relation", core.IndexField{Kind: core.KindText, Text: "mother"}) // select, normalised
	for _, id := range []string{"documents.proofOfBirth", "child.nid"} {
		if rows := fieldRows(row, id); len(rows) != 0 {
			t.Errorf("%s must not be indexed: %+v", id, rows)
		}
	}

	// the EventIndex document
	var doc map[string]any
	if err := json.Unmarshal(row.Doc, &doc); err != nil {
		t.Fatal(err)
	}
	ls, _ := doc["legalStatuses"].(map[string]any)
	reg, _ := ls["REGISTERED"].(map[string]any)
	dec, _ := ls["DECLARED"].(map[string]any)
	if reg["registrationNumber"] != "FAR2024000123" || reg["createdAtLocation"] != fl.IlangaOffice || dec["createdAtLocation"] != fl.IbomboOffice {
		t.Errorf("legalStatuses = %v", ls)
	}
	for k, v := range map[string]any{"id": h.ev.ID, "type": "birth", "status": "REGISTERED", "trackingId": h.ev.TrackingID,
		"dateOfEvent": "2024-02-02", "placeOfEvent": fl.IbomboHospital, "assignedTo": "user-1", "createdAtLocation": fl.HQOffice,
		"createdAt": core.FormatWireTime(h.ev.CreatedAt), "updatedAt": core.FormatWireTime(h.ev.UpdatedAt), "updatedByUserRole": "REGISTRATION_AGENT"} {
		if doc[k] != v {
			t.Errorf("doc[%s] = %v, want %v", k, doc[k], v)
		}
	}
	if f, ok := doc["flags"].([]any); !ok || len(f) != 0 {
		t.Errorf("doc flags = %#v, want []", doc["flags"])
	}
	if d, ok := doc["potentialDuplicates"].([]any); !ok || len(d) != 0 {
		t.Errorf("doc potentialDuplicates = %#v, want []", doc["potentialDuplicates"])
	}
	declDoc, _ := doc["declaration"].(map[string]any)
	if declDoc["child.dob"] != "2024-02-02" || declDoc["child.nid"] != nil {
		t.Errorf("doc declaration = %v", declDoc)
	}
	if _, ok := declDoc["child.nid"]; ok {
		t.Error("a null field must not be in the aggregated declaration")
	}
}

func TestBuildIndexUnregisteredAndDeleted(t *testing.T) {
	cc := farajaland(t)
	h := newHistory("death").do(core.ActionCreate)
	h.doDecl(core.ActionNotify, decl(t, `{"eventDetails.date":"2024-05-01","deceased.name":{"firstname":"Chanda","surname":"Banda"}}`))
	h.do(core.ActionReject)
	row, err := core.BuildIndex(cc, h.ev, h.state())
	if err != nil {
		t.Fatal(err)
	}
	if row.Status != "NOTIFIED" || row.RegistrationNumber != "" || row.RegisteredAt != nil || row.DeclaredAtLocation != "" || row.Deleted {
		t.Errorf("row = %+v", row)
	}
	if !slices.Equal(row.Flags, []string{"incomplete", "rejected"}) || row.DateOfEvent != "2024-05-01" {
		t.Errorf("flags %v dateOfEvent %q", row.Flags, row.DateOfEvent)
	}
	var doc map[string]any
	if err := json.Unmarshal(row.Doc, &doc); err != nil {
		t.Fatal(err)
	}
	if v, ok := doc["assignedTo"]; ok {
		t.Errorf("unassigned doc assignedTo = %#v, want the key omitted (OpenCRVS v2.0)", v)
	}
	if ls := doc["legalStatuses"].(map[string]any); len(ls) != 0 {
		t.Errorf("legalStatuses = %v, want {}", ls)
	}
	if doc["placeOfEvent"] != row.CreatedAtLocation || row.PlaceOfEvent != row.CreatedAtLocation || row.CreatedAtLocation == "" {
		t.Errorf("no place of event was declared: placeOfEvent %v / %q, want the creation location %q", doc["placeOfEvent"], row.PlaceOfEvent, row.CreatedAtLocation)
	}

	d := newHistory("birth").do(core.ActionCreate).do(core.ActionDelete)
	row, err = core.BuildIndex(cc, d.ev, d.state())
	if err != nil || !row.Deleted || row.Status != "CREATED" {
		t.Fatalf("deleted row %+v, %v", row, err)
	}
}

func TestBuildIndexUnknownEventType(t *testing.T) {
	h := newHistory("marriage").do(core.ActionCreate)
	h.doDecl(core.ActionNotify, decl(t, `{"bride.name":{"firstname":"A","surname":"B"}}`))
	row, err := core.BuildIndex(farajaland(t), h.ev, h.state())
	if err != nil {
		t.Fatal(err)
	}
	if len(row.Fields) != 0 || row.DateOfEvent != "" {
		t.Errorf("an unconfigured event type has no field rows: %+v", row.Fields)
	}
}

func TestIndexValues(t *testing.T) {
	_, ec := testTypesConfig(t)
	birth := birthForm(t)
	cases := []struct {
		f    *core.FieldConfig
		raw  string
		want []core.IndexField
	}{
		{ec.Field("weight"), `{"numericValue":3.2,"unit":"kg"}`, []core.IndexField{{FieldID: "weight", Kind: core.KindNum, Num: 3.2}}},
		{ec.Field("weight"), `{"unit":"kg"}`, nil},
		{ec.Field("count"), `0`, []core.IndexField{{FieldID: "count", Kind: core.KindNum, Num: 0}}},
		{ec.Field("count"), `"3"`, nil},
		{ec.Field("office"), `"` + upperHex(fl.IbomboOffice) + `"`, []core.IndexField{{FieldID: "office", Kind: core.KindText, Text: fl.IbomboOffice}}},
		{birth.Field("child.name"), `{"firstname":"Phiri","surname":"Phiri"}`, []core.IndexField{
			{FieldID: "child.name", Kind: core.KindText, Text: "phiri phiri"},
			{FieldID: "child.name", Kind: core.KindToken, Text: "phiri"},
			{FieldID: "child.name", Kind: core.KindToken, Text: "~P600"}}},
		{birth.Field("child.name"), `{"firstname":"Robert","surname":"Rupert"}`, []core.IndexField{
			{FieldID: "child.name", Kind: core.KindText, Text: "robert rupert"},
			{FieldID: "child.name", Kind: core.KindToken, Text: "robert"},
			{FieldID: "child.name", Kind: core.KindToken, Text: "~R163"},
			{FieldID: "child.name", Kind: core.KindToken, Text: "rupert"}}},
		{birth.Field("child.name"), `{"firstname":"  ","surname":""}`, nil},
		{birth.Field("child.name"), `null`, nil},
		{birth.Field("child.reason"), `"   "`, nil},
		{birth.Field("mother.address"), `{"country":"FAR","addressType":"DOMESTIC"}`, []core.IndexField{{FieldID: "mother.address", Kind: core.KindText, Text: "far"}}},
		{birth.Field("documents.proofOther"), `[{"path":"a","originalFilename":"b","type":"c"}]`, nil},
		{birth.Field("mother.detailsNotAvailable"), `true`, []core.IndexField{{FieldID: "mother.detailsNotAvailable", Kind: core.KindText, Text: "true"}}},
		{birth.Field("child.dob"), `20240202`, nil},
	}
	for _, c := range cases {
		if got := core.IndexValues(c.f, json.RawMessage(c.raw)); !slices.Equal(got, c.want) {
			t.Errorf("IndexValues(%s, %s) = %+v, want %+v", c.f.ID, c.raw, got, c.want)
		}
	}
}
