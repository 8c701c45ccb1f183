package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// TestBadRequests: every malformed request is 400 with a message naming
// the field, and changes nothing (no event, no action).
func TestBadRequests(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	s := states{t, h, tok}
	created := s.created()
	notified := s.notified()
	partial := act(t, h, tok, s.created().ID, "notify", map[string]any{"declaration": map[string]any{"child.dob": "2024-02-02"}})

	// body builders; each call uses a fresh transaction id so a 400 is
	// never an idempotent replay.
	createBody := func(mod func(m map[string]any)) string {
		m := map[string]any{"type": "birth", "transactionId": newTx(), "createdAtLocation": hubtest.OfficeIbombo}
		if mod != nil {
			mod(m)
		}
		return string(mustJSON(t, m))
	}
	notifyBody := func(mod func(m map[string]any)) string {
		m := map[string]any{"transactionId": newTx(), "createdAtLocation": hubtest.OfficeIbombo,
			"declaration": map[string]any{"child.dob": "2024-02-02"}}
		if mod != nil {
			mod(m)
		}
		return string(mustJSON(t, m))
	}
	cnBody := func(mod func(m map[string]any)) string {
		m := map[string]any{"transactionId": newTx(), "eventType": "birth", "createdAtLocation": hubtest.OfficeIbombo,
			"declaration": map[string]any{"child.dob": "2024-02-02"}}
		if mod != nil {
			mod(m)
		}
		return string(mustJSON(t, m))
	}
	decl := func(k string, v any) func(m map[string]any) {
		return func(m map[string]any) { m["declaration"].(map[string]any)[k] = v }
	}
	set := func(k string, v any) func(m map[string]any) { return func(m map[string]any) { m[k] = v } }
	del := func(k string) func(m map[string]any) { return func(m map[string]any) { delete(m, k) } }

	notifyPath := eventPath(created.ID) + "/notify"
	const locRequired = "createdAtLocation is required and must be a valid location id"
	const locInvalid = "createdAtLocation must be a valid location id"
	tests := []struct {
		name  string
		path  string
		body  string
		want  []string
		field string // an errors[].id the body must name, if any
	}{
		// Declaration values.
		{"notify: unknown field", notifyPath, notifyBody(decl("child.favouriteColour", "red")), []string{"child.favouriteColour", "Unexpected field"}, "child.favouriteColour"},
		{"notify: death field on a birth", notifyPath, notifyBody(decl("deceased.name", map[string]string{"firstname": "A", "surname": "B"})), []string{"deceased.name"}, "deceased.name"},
		{"notify: date as a number", notifyPath, notifyBody(decl("child.dob", 12)), []string{"child.dob"}, "child.dob"},
		{"notify: date not a date", notifyPath, notifyBody(decl("child.dob", "2024-13-45")), []string{"child.dob"}, "child.dob"},
		{"notify: date in the future", notifyPath, notifyBody(decl("child.dob", "2999-01-01")), []string{"child.dob", "future"}, "child.dob"},
		{"notify: name as a string", notifyPath, notifyBody(decl("child.name", "x")), []string{"child.name"}, "child.name"},
		{"notify: name with an unknown sub-key", notifyPath, notifyBody(decl("child.name", map[string]string{"firstname": "A", "foo": "B"})), []string{"child.name.foo"}, "child.name.foo"},
		{"notify: name part not a string", notifyPath, notifyBody(decl("child.name", map[string]any{"firstname": 7})), []string{"child.name.firstname"}, "child.name.firstname"},
		{"notify: select not an option", notifyPath, notifyBody(decl("child.gender", "dragon")), []string{"child.gender", "dragon"}, "child.gender"},
		{"notify: number as a string", notifyPath, notifyBody(decl("child.weightAtBirth", "heavy")), []string{"child.weightAtBirth"}, "child.weightAtBirth"},
		{"notify: number out of range", notifyPath, notifyBody(decl("child.weightAtBirth", 99)), []string{"child.weightAtBirth"}, "child.weightAtBirth"},
		{"notify: location of the wrong type", notifyPath, notifyBody(decl("child.birthLocation", hubtest.OfficeIbombo)), []string{"child.birthLocation"}, "child.birthLocation"},
		{"notify: unknown location", notifyPath, notifyBody(decl("child.birthLocation", "00000000-0000-4000-8000-000000000000")), []string{"child.birthLocation"}, "child.birthLocation"},
		{"notify: checkbox as a string", notifyPath, notifyBody(decl("mother.detailsNotAvailable", "yes")), []string{"mother.detailsNotAvailable"}, "mother.detailsNotAvailable"},
		{"notify: address sub-key unknown", notifyPath, notifyBody(decl("mother.address", map[string]any{"country": "FAR", "planet": "Earth"})), []string{"mother.address.planet"}, "mother.address.planet"},
		{"notify: email invalid", notifyPath, notifyBody(decl("informant.email", "not an email")), []string{"informant.email"}, "informant.email"},
		{"notify: declaration not an object", notifyPath, notifyBody(set("declaration", "x")), []string{"declaration"}, "declaration"},
		{"create+notify: unknown field", pathNotify, cnBody(decl("child.favouriteColour", "red")), []string{"child.favouriteColour"}, "child.favouriteColour"},
		{"create+notify: name as a string", pathNotify, cnBody(decl("child.name", "x")), []string{"child.name"}, "child.name"},
		// Body keys and types.
		{"create: unknown body key", pathEvents, createBody(set("colour", "red")), []string{"colour"}, "colour"},
		{"notify: unknown body key", notifyPath, notifyBody(set("colour", "red")), []string{"colour"}, "colour"},
		{"create+notify: unknown body key", pathNotify, cnBody(set("colour", "red")), []string{"colour"}, "colour"},
		{"create: transactionId a number", pathEvents, createBody(set("transactionId", 5)), []string{"transactionId"}, "transactionId"},
		{"create: type an object", pathEvents, createBody(set("type", map[string]any{})), []string{"type"}, "type"},
		{"notify: annotation an array", notifyPath, notifyBody(set("annotation", []int{1})), []string{"annotation"}, "annotation"},
		{"create: body an array", pathEvents, `[{"type":"birth"}]`, []string{"JSON object"}, ""},
		{"create: body a string", pathEvents, `"birth"`, []string{"JSON object"}, ""},
		{"create: broken JSON", pathEvents, `{"type":"birth",`, []string{"JSON"}, ""},
		{"create: trailing data", pathEvents, createBody(nil) + `{}`, []string{"after"}, ""},
		// a stray closing '}' or ']' is trailing data too (json.Decoder.More misses it)
		{"create: trailing }", pathEvents, createBody(nil) + `}`, []string{"after"}, ""},
		{"create: trailing ]", pathEvents, createBody(nil) + `]`, []string{"after"}, ""},
		{"create: trailing }}}]]", pathEvents, createBody(nil) + `}}}]]`, []string{"after"}, ""},
		{"notify: trailing }", notifyPath, notifyBody(nil) + `}`, []string{"after"}, ""},
		{"create+notify: trailing ]", pathNotify, cnBody(nil) + `]`, []string{"after"}, ""},
		{"create: empty body", pathEvents, ``, []string{"empty"}, ""},
		{"create: unknown event type", pathEvents, createBody(set("type", "marriage")), []string{"marriage"}, ""},
		{"create: no type", pathEvents, createBody(del("type")), []string{"type"}, ""},
		{"notify: type of another action", notifyPath, notifyBody(set("type", "DECLARE")), []string{"DECLARE"}, ""},
		{"notify: eventId of another event", notifyPath, notifyBody(set("eventId", notified.ID)), []string{notified.ID}, ""},
		{"notify: registrationNumber", notifyPath, notifyBody(set("registrationNumber", "X1")), []string{"registrationNumber"}, ""},
		{"notify: originalActionId", notifyPath, notifyBody(set("originalActionId", notified.Actions[1].ID)), []string{"originalActionId"}, ""},
		// Transaction ids.
		{"create: no transactionId", pathEvents, createBody(del("transactionId")), []string{"transactionId is required"}, ""},
		{"create: empty transactionId", pathEvents, createBody(set("transactionId", "")), []string{"transactionId is required"}, ""},
		{"create: transactionId with spaces", pathEvents, createBody(set("transactionId", "a b")), []string{"transactionId"}, ""},
		{"notify: no transactionId", notifyPath, notifyBody(del("transactionId")), []string{"transactionId is required"}, ""},
		{"create+notify: no transactionId", pathNotify, cnBody(del("transactionId")), []string{"transactionId is required"}, ""},
		// createdAtLocation for a system client.
		{"create: no createdAtLocation", pathEvents, createBody(del("createdAtLocation")), []string{locRequired}, ""},
		{"create: createdAtLocation not a UUID", pathEvents, createBody(set("createdAtLocation", "Ibombo")), []string{"Input validation failed", "createdAtLocation"}, ""},
		{"create: createdAtLocation unknown", pathEvents, createBody(set("createdAtLocation", "00000000-0000-4000-8000-000000000000")), []string{locInvalid}, ""},
		{"create: createdAtLocation an admin area", pathEvents, createBody(set("createdAtLocation", hubtest.DistrictIbombo)), []string{locInvalid}, ""},
		{"create: createdAtLocation a province", pathEvents, createBody(set("createdAtLocation", hubtest.ProvinceCentral)), []string{locInvalid}, ""},
		{"notify: no createdAtLocation", notifyPath, notifyBody(del("createdAtLocation")), []string{locRequired}, ""},
		{"notify: createdAtLocation an admin area", notifyPath, notifyBody(set("createdAtLocation", hubtest.DistrictIlanga)), []string{locInvalid}, ""},
		{"create+notify: no createdAtLocation", pathNotify, cnBody(del("createdAtLocation")), []string{locRequired}, ""},
		{"create+notify: createdAtLocation an admin area", pathNotify, cnBody(set("createdAtLocation", hubtest.ProvinceCentral)), []string{locInvalid}, ""},
		{"create+notify: no eventType", pathNotify, cnBody(del("eventType")), []string{"eventType"}, ""},
		// DECLARE needs a complete declaration.
		{"declare: required fields missing", eventPath(created.ID) + "/declare", notifyBody(nil),
			[]string{"child.name", "child.gender", "child.placeOfBirth", "informant.relation", "mother.name"}, "child.name"},
		{"declare: conditionally required field missing", eventPath(created.ID) + "/declare", notifyBody(func(m map[string]any) {
			d := hubtest.BirthDeclaration("A", "B")
			delete(d, "child.birthLocation") // required as placeOfBirth is HEALTH_FACILITY
			m["declaration"] = d
		}), []string{"child.birthLocation"}, "child.birthLocation"},
		{"register: required fields missing", eventPath(partial.ID) + "/register", notifyBody(func(m map[string]any) { delete(m, "declaration") }), []string{"child.name", "child.gender"}, "child.name"},
		{"validate: required fields missing", eventPath(partial.ID) + "/validate", notifyBody(decl("child.gender", "male")), []string{"child.name"}, "child.name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := total(t, h, tok)
			actions := map[string][]string{}
			for _, id := range []string{created.ID, notified.ID, partial.ID} {
				actions[id] = shape(stored(t, h, id))
			}
			res := h.Do("POST", tc.path, tok, tc.body)
			b := wantError(t, res, http.StatusBadRequest, tc.want...)
			if tc.field != "" {
				found := false
				for _, fe := range b.Errors {
					found = found || fe.ID == tc.field
				}
				if !found {
					t.Errorf("errors %+v do not name %s", b.Errors, tc.field)
				}
			}
			if after := total(t, h, tok); after != before {
				t.Errorf("event count %d -> %d", before, after)
			}
			for id, want := range actions {
				if got := shape(stored(t, h, id)); strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("event %s actions %v -> %v", id, want, got)
				}
			}
		})
	}
}

// TestNotifyPartialAndNulls: NOTIFY accepts incomplete data and null
// values (which clear a field).
func TestNotifyPartialAndNulls(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	ev := create(t, h, tok)
	act(t, h, tok, ev.ID, "notify", map[string]any{"declaration": map[string]any{"child.dob": "2024-02-02", "child.reason": nil}})
	ix := index(t, h, tok, ev.ID)
	if string(ix.Declaration["child.dob"]) != `"2024-02-02"` {
		t.Errorf("child.dob %s", ix.Declaration["child.dob"])
	}
	if _, ok := ix.Declaration["child.reason"]; ok {
		t.Errorf("a null value is kept in the aggregated declaration: %s", mustJSON(t, ix.Declaration))
	}
	// Edit with null removes a value.
	act(t, h, tok, ev.ID, "edit", map[string]any{"declaration": map[string]any{"child.dob": nil, "child.gender": "male"}})
	ix = index(t, h, tok, ev.ID)
	if _, ok := ix.Declaration["child.dob"]; ok || string(ix.Declaration["child.gender"]) != `"male"` {
		t.Errorf("after edit: %s", mustJSON(t, ix.Declaration))
	}
}

// TestFieldErrorsShape: the field errors carry machine-readable ids
// a client can map back to its form.
func TestFieldErrorsShape(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	res := h.Do("POST", pathNotify, tok, map[string]any{"transactionId": newTx(), "eventType": "birth", "createdAtLocation": hubtest.OfficeIbombo,
		"declaration": map[string]any{"foo.bar": 1, "child.dob": 12, "child.gender": "dragon"}})
	b := wantError(t, res, http.StatusBadRequest, "foo.bar", "child.dob", "child.gender")
	var got []core.FieldError
	var raw struct {
		Errors json.RawMessage `json:"errors"`
	}
	res.JSON(&raw)
	if err := json.Unmarshal(raw.Errors, &got); err != nil {
		t.Fatalf("errors: %v", err)
	}
	ids := map[string]string{}
	for _, e := range got {
		ids[e.ID] = e.Message
	}
	if len(ids) != 3 || ids["foo.bar"] != "Unexpected field" || !strings.HasPrefix(ids["child.dob"], "Invalid input") || !strings.HasPrefix(ids["child.gender"], "Invalid input") {
		t.Errorf("errors %+v (code %s)", got, b.Code)
	}
	if n := total(t, h, tok); n != 0 {
		t.Errorf("a refused create+notify stored %d events", n)
	}
}
