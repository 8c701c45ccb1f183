package sqlite

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/crvshub/crvshub/core"
)

var benchEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	benchFirst = []string{"anna", "maria", "john", "peter", "sara", "ali", "fatima", "kofi", "ama", "yaw", "esi", "kwame"}
	benchLast  = []string{"smith", "mensah", "owusu", "boateng", "asante", "osei", "addo", "danso", "appiah", "amoah"}
	benchStat  = []string{"CREATED", "NOTIFIED", "DECLARED", "VALIDATED", "REGISTERED", "ARCHIVED"}
)

func benchTrackingID(i int) string { return fmt.Sprintf("B%07d", i) }
func benchNID(i int) string        { return fmt.Sprintf("%010d", i*7919%10000000000) }

// benchEvent writes event i (a birth with three actions) and its index row.
func benchEvent(tx core.Tx, i int) error {
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
	created := benchEpoch.Add(time.Duration(i) * time.Minute)
	first, last := benchFirst[i%len(benchFirst)], benchLast[(i/len(benchFirst))%len(benchLast)]
	decl := core.Declaration{
		"child.name":    json.RawMessage(fmt.Sprintf(`{"firstname":%q,"surname":%q}`, first, last)),
		"child.dob":     json.RawMessage(`"` + created.Format(time.DateOnly) + `"`),
		"mother.nid":    json.RawMessage(`"` + benchNID(i) + `"`),
		"child.weight":  json.RawMessage(fmt.Sprintf("%d.%d", 2+i%3, i%10)),
		"child.address": json.RawMessage(`{"country":"FAR","district":"d-` + fmt.Sprint(i%50) + `"}`),
	}
	ev := &core.EventDocument{ID: id, Type: "birth", TrackingID: benchTrackingID(i), CreatedAt: created, UpdatedAt: created}
	for k, typ := range []core.ActionType{core.ActionCreate, core.ActionDeclare, core.ActionValidate} {
		a := core.Action{ID: fmt.Sprintf("%s-%d", id, k), Type: typ, Status: core.StatusAccepted,
			TransactionID: fmt.Sprintf("tx-%d-%d", i, k), CreatedBy: "user-1", CreatedByUserType: core.UserTypeUser,
			CreatedAt: created, CreatedAtLocation: fmt.Sprintf("loc-%d", i%200), Declaration: core.Declaration{}}
		if typ != core.ActionCreate {
			a.Declaration = decl
		}
		ev.Actions = append(ev.Actions, a)
	}
	if err := tx.InsertEvent(ev); err != nil {
		return err
	}
	status := benchStat[i%len(benchStat)]
	row := &core.IndexRow{
		EventID: id, Type: "birth", Status: status, TrackingID: ev.TrackingID,
		CreatedAt: created, UpdatedAt: created, CreatedAtLocation: fmt.Sprintf("loc-%d", i%200),
		UpdatedAtLocation: fmt.Sprintf("loc-%d", i%200), DeclaredAtLocation: fmt.Sprintf("loc-%d", i%200),
		CreatedBy: "user-1", UpdatedBy: "user-1", CreatedByUserType: "user",
		DateOfEvent: created.Format(time.DateOnly), PlaceOfEvent: fmt.Sprintf("fac-%d", i%300),
		DeclaredBy: fmt.Sprintf("user-%d", i%50),
		Fields: []core.IndexField{
			{FieldID: "child.name", Kind: core.KindText, Text: first + " " + last},
			{FieldID: "child.name", Kind: core.KindToken, Text: first},
			{FieldID: "child.name", Kind: core.KindToken, Text: last},
			{FieldID: "child.dob", Kind: core.KindDate, Text: created.Format(time.DateOnly)},
			{FieldID: "mother.nid", Kind: core.KindText, Text: benchNID(i)},
			{FieldID: "child.weight", Kind: core.KindNum, Num: float64(2+i%3) + float64(i%10)/10},
		},
	}
	if status == "REGISTERED" {
		row.RegistrationNumber = fmt.Sprintf("R%09d", i)
		row.RegisteredAt = &created
		row.RegisteredAtLocation = "loc-r"
		row.Flags = []string{"validated"}
	}
	if i%7 == 0 {
		row.Flags = append(row.Flags, "printed")
	}
	doc, _ := json.Marshal(map[string]any{"id": id, "type": "birth", "status": status, "trackingId": ev.TrackingID,
		"createdAt": created, "declaration": decl})
	row.Doc = doc
	return tx.PutIndex(row)
}

type planCase struct {
	name string
	f    core.SearchFilter
}

func leafF(col core.Column, op core.Op, vals ...string) core.Filter {
	return core.Filter{Cond: &core.Cond{Column: col, Op: op, Values: vals}}
}

func planCases() []planCase {
	return []planCase{
		{"TrackingID", core.SearchFilter{Where: leafF(core.ColTrackingID, core.OpIn, benchTrackingID(42)), Limit: 10}},
		{"RegistrationNumber", core.SearchFilter{Where: leafF(core.ColRegistrationNumber, core.OpIn, "R000000004"), Limit: 10}},
		{"FieldText", core.SearchFilter{Where: core.Filter{Cond: &core.Cond{Column: core.ColField, FieldID: "mother.nid",
			Kind: core.KindText, Op: core.OpIn, Values: []string{benchNID(42)}}}, Limit: 10}},
		{"FieldPrefix", core.SearchFilter{Where: core.Filter{Cond: &core.Cond{Column: core.ColField, FieldID: "child.name",
			Kind: core.KindToken, Op: core.OpPrefix, Values: []string{"fat"}}}, Limit: 10}},
		{"FieldNumRange", core.SearchFilter{Where: core.Filter{Cond: &core.Cond{Column: core.ColField, FieldID: "child.weight",
			Kind: core.KindNum, Op: core.OpRange, NumLo: ptr(3.0), NumHi: ptr(3.1)}}, Limit: 10}},
		{"Flag", core.SearchFilter{Where: leafF(core.ColFlag, core.OpIn, "printed"), Limit: 10}},
		{"FlagAllOf", core.SearchFilter{Where: leafF(core.ColFlag, core.OpAllOf, "printed", "validated"), Limit: 10}},
		{"StatusAndField", core.SearchFilter{Where: core.Filter{Op: "and", Children: []core.Filter{
			leafF(core.ColStatus, core.OpIn, "REGISTERED"),
			{Cond: &core.Cond{Column: core.ColField, FieldID: "child.name", Kind: core.KindToken, Op: core.OpPrefix, Values: []string{"fat"}}},
		}}, Limit: 10}},
		{"StatusLocation", core.SearchFilter{Where: core.Filter{Op: "and", Children: []core.Filter{
			leafF(core.ColStatus, core.OpIn, "REGISTERED"), leafF(core.ColCreatedAtLocation, core.OpIn, "loc-7", "loc-8")}}, Limit: 10}},
		{"OrOfLookups", core.SearchFilter{Where: core.Filter{Op: "or", Children: []core.Filter{
			leafF(core.ColTrackingID, core.OpIn, benchTrackingID(1)), leafF(core.ColRegistrationNumber, core.OpIn, "R000000004")}}, Limit: 10}},
		{"LongLocationList", core.SearchFilter{Where: leafF(core.ColCreatedAtLocation, core.OpIn, manyLocations(100)...), Limit: 10}},
		{"OrOfFields", core.SearchFilter{Where: core.Filter{Op: "or", Children: []core.Filter{
			{Cond: &core.Cond{Column: core.ColField, FieldID: "mother.nid", Kind: core.KindText, Op: core.OpIn, Values: []string{benchNID(1)}}},
			leafF(core.ColTrackingID, core.OpIn, benchTrackingID(1)),
		}}, Limit: 10}},
		{"All", core.SearchFilter{Limit: 10}},
		// Sparse columns have partial indexes (deleted = 0 AND a value).
		{"DeclaredLocation", core.SearchFilter{Where: leafF(core.ColDeclaredAtLocation, core.OpIn, "loc-7", "loc-8"), Limit: 10}},
		{"RegisteredLocation", core.SearchFilter{Where: leafF(core.ColRegisteredAtLocation, core.OpIn, "loc-r"), Limit: 10}},
		{"AssignedTo", core.SearchFilter{Where: leafF(core.ColAssignedTo, core.OpIn, "user-9"), Limit: 10}},
		{"RegisteredAtRange", core.SearchFilter{Where: core.Filter{Cond: &core.Cond{Column: core.ColRegisteredAt,
			Op: core.OpRange, Lo: "2024-01-01", Hi: "2024-01-02"}}, Limit: 10}},
		{"OrOfSparse", core.SearchFilter{Where: core.Filter{Op: "or", Children: []core.Filter{
			leafF(core.ColAssignedTo, core.OpIn, "user-9"),
			leafF(core.ColRegisteredAtLocation, core.OpIn, "loc-r"),
		}}, Limit: 10}},
		// Jurisdiction and user limits of record scopes (migration 0005).
		{"PlaceOfEvent", core.SearchFilter{Where: leafF(core.ColPlaceOfEvent, core.OpIn, "fac-7", "fac-8"), Limit: 10}},
		{"DeclaredBy", core.SearchFilter{Where: leafF(core.ColDeclaredBy, core.OpIn, "user-7"), Limit: 10}},
		{"DeclaredLocationPrefix", core.SearchFilter{Where: leafF(core.ColDeclaredAtLocation, core.OpPrefix, "loc-7"), Limit: 10}},
		// A field searched by a client whose scope names event types (the
		// access filter core adds), and with an eventType clause: the
		// field rows drive the search, not a walk of every event of the
		// type.
		{"ScopedField", core.SearchFilter{Where: core.Filter{Op: "and", Children: []core.Filter{
			{Cond: &core.Cond{Column: core.ColField, FieldID: "mother.nid", Kind: core.KindText, Op: core.OpIn, Values: []string{benchNID(42)}}},
			{Op: "or", Children: []core.Filter{{Op: "and", Children: []core.Filter{leafF(core.ColType, core.OpIn, "birth")}}}},
		}}, Limit: 100}},
		{"ScopedTrackingID", core.SearchFilter{Where: core.Filter{Op: "and", Children: []core.Filter{
			leafF(core.ColTrackingID, core.OpIn, benchTrackingID(42)),
			{Op: "or", Children: []core.Filter{{Op: "and", Children: []core.Filter{leafF(core.ColType, core.OpIn, "birth")}}}},
		}}, Limit: 100}},
		{"TypeOnly", core.SearchFilter{Where: leafF(core.ColType, core.OpIn, "birth"), Limit: 10}},
		{"TypeAndField", core.SearchFilter{Where: core.Filter{Op: "and", Children: []core.Filter{
			leafF(core.ColType, core.OpIn, "birth", "death"),
			{Cond: &core.Cond{Column: core.ColField, FieldID: "mother.nid", Kind: core.KindText, Op: core.OpIn, Values: []string{benchNID(42)}}},
		}}, Limit: 100}},
	}
}

func manyLocations(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("loc-%d", i*3)
	}
	return out
}

func ptr[T any](v T) *T { return &v }
