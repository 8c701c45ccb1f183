package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// TestHappyPath walks token -> create -> notify -> get -> search over HTTP,
// the flow of an OpenCRVS v2 notification client.
func TestHappyPath(t *testing.T) {
	t.Parallel()
	h := start(t)
	id, secret := h.NewClient("health facility", hubtest.OfficeIbombo, "type=record.create", "type=record.notify", "type=record.read", "type=record.search")

	// Token over HTTP, as a v2 client does it.
	res := h.Do("POST", "/auth/token", "", map[string]string{"grant_type": "client_credentials", "client_id": id, "client_secret": secret})
	wantOK(t, res)
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	res.JSON(&tr)
	if tr.AccessToken == "" || tr.TokenType != "Bearer" {
		t.Fatalf("token answer %s", res.Body)
	}
	tok := tr.AccessToken

	// Create.
	tx := newTx()
	res = h.Do("POST", pathEvents, tok, map[string]any{"type": "birth", "transactionId": tx, "createdAtLocation": hubtest.OfficeIbombo})
	wantOK(t, res)
	ev := res.Event()
	if !core.IsUUID(ev.ID) || ev.Type != "birth" || len(ev.TrackingID) != core.TrackingIDLength {
		t.Fatalf("created event %s", res.Body)
	}
	wantShape(t, ev, "CREATE/Accepted")
	if a := ev.Actions[0]; a.TransactionID != tx || a.CreatedBy != id || a.CreatedByUserType != core.UserTypeSystem || a.CreatedAtLocation != hubtest.OfficeIbombo {
		t.Errorf("CREATE action %+v", a)
	}

	// Notify.
	decl := hubtest.BirthDeclaration("Alice", "Banda")
	res = h.Act(tok, ev.ID, "notify", newTx(), map[string]any{"declaration": decl, "annotation": map[string]any{"review.comment": "from the hospital"}})
	wantOK(t, res)
	ev = res.Event()
	wantShape(t, ev, "CREATE/Accepted", "NOTIFY/Requested", "NOTIFY/Accepted")
	if ev.Actions[2].OriginalActionID != ev.Actions[1].ID {
		t.Errorf("NOTIFY/Accepted originalActionId %q, want %q", ev.Actions[2].OriginalActionID, ev.Actions[1].ID)
	}
	if !jsonEqual(t, mustJSON(t, ev.Actions[1].Declaration), mustJSON(t, decl)) {
		t.Errorf("NOTIFY declaration %s, want %s", mustJSON(t, ev.Actions[1].Declaration), mustJSON(t, decl))
	}
	if string(ev.Actions[1].Annotation["review.comment"]) != `"from the hospital"` {
		t.Errorf("annotation %s", mustJSON(t, ev.Actions[1].Annotation))
	}

	// Get appends an accepted READ.
	res = h.Do("GET", eventPath(ev.ID), tok, nil)
	wantOK(t, res)
	got := res.Event()
	wantShape(t, got, "CREATE/Accepted", "NOTIFY/Requested", "NOTIFY/Accepted", "READ/Accepted")
	if r := got.Actions[3]; r.CreatedBy != id {
		t.Errorf("READ by %q, want %q", r.CreatedBy, id)
	}
	wantShape(t, stored(t, h, ev.ID), "CREATE/Accepted", "NOTIFY/Requested", "NOTIFY/Accepted", "READ/Accepted")

	// Search by tracking id finds it with status and flags.
	sr := search(t, h, tok, and(map[string]any{"trackingId": map[string]any{"type": "exact", "term": ev.TrackingID}}))
	if sr.Total != 1 || len(sr.Results) != 1 || sr.Results[0].ID != ev.ID {
		t.Fatalf("search by tracking id: %+v", sr)
	}
	r := sr.Results[0]
	if r.Status != "NOTIFIED" || !slices.Contains(r.Flags, core.FlagIncomplete) || r.TrackingID != ev.TrackingID || r.Type != "birth" {
		t.Errorf("index %+v", r)
	}
	if string(r.Declaration["child.dob"]) != `"2024-02-02"` {
		t.Errorf("index declaration child.dob = %s", r.Declaration["child.dob"])
	}
	// Lower case tracking ids are found too.
	if sr := search(t, h, tok, and(map[string]any{"trackingId": strings.ToLower(ev.TrackingID)})); sr.Total != 1 {
		t.Errorf("lower-case tracking id: total %d", sr.Total)
	}
}

// TestByTrackingID covers GET /events/by-tracking-id/{tid} and its
// /fields/{fieldId} lookup.
func TestByTrackingID(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	ev := h.Notify(tok, "birth", newTx(), hubtest.BirthDeclaration("Chanda", "Mwale"))

	res := h.Do("GET", pathEvents+"/by-tracking-id/"+ev.TrackingID, tok, nil)
	wantOK(t, res)
	got := res.Event()
	if got.ID != ev.ID {
		t.Fatalf("by tracking id: got %s, want %s", got.ID, ev.ID)
	}
	wantShape(t, got, "CREATE/Accepted", "NOTIFY/Requested", "NOTIFY/Accepted", "READ/Accepted")

	tests := []struct {
		name, tid, field string
		status           int
		value            string // JSON
	}{
		{"date field", ev.TrackingID, "child.dob", 200, `"2024-02-02"`},
		{"name field", ev.TrackingID, "child.name", 200, `{"firstname":"Chanda","surname":"Mwale"}`},
		{"lower-case tracking id", strings.ToLower(ev.TrackingID), "child.gender", 200, `"female"`},
		{"field of the form not set", ev.TrackingID, "child.reason", 200, `null`},
		{"unknown field", ev.TrackingID, "child.favouriteColour", 404, ""},
		{"death field on a birth", ev.TrackingID, "deceased.name", 404, ""},
		{"unknown tracking id", "ZZZZZZ", "child.dob", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := h.Do("GET", pathEvents+"/by-tracking-id/"+tc.tid+"/fields/"+tc.field, tok, nil)
			if tc.status != 200 {
				wantError(t, res, tc.status)
				return
			}
			wantOK(t, res)
			var fv struct {
				EventID    string          `json:"eventId"`
				TrackingID string          `json:"trackingId"`
				FieldID    string          `json:"fieldId"`
				Value      json.RawMessage `json:"value"`
			}
			res.JSON(&fv)
			if fv.EventID != ev.ID || fv.TrackingID != ev.TrackingID || fv.FieldID != tc.field {
				t.Errorf("field answer %s", res.Body)
			}
			if !jsonEqual(t, fv.Value, []byte(tc.value)) {
				t.Errorf("value %s, want %s", fv.Value, tc.value)
			}
		})
	}

	wantError(t, h.Do("GET", pathEvents+"/by-tracking-id/ZZZZZZ", tok, nil), http.StatusNotFound, "ZZZZZZ")
	// A client without record.read may not look up by tracking id.
	noRead := h.ClientToken(hubtest.OfficeIbombo, "type=record.search")
	wantError(t, h.Do("GET", pathEvents+"/by-tracking-id/"+ev.TrackingID, noRead, nil), http.StatusForbidden, "record.read")
}

// TestCreateAndNotify covers POST /events/notify: one call creates and
// notifies; the event carries the incomplete flag in search.
func TestCreateAndNotify(t *testing.T) {
	t.Parallel()
	h := start(t)
	// a hospital system: its office, and the facilities of its office's area
	tok := h.ClientToken(hubtest.OfficeIbombo, "type=record.create", "type=record.notify", "type=record.search", "type="+core.ScopeFacilitiesInArea)
	tx := newTx()
	decl := map[string]any{"child.name": map[string]string{"firstname": "Dora", "surname": "Phiri"}, "child.dob": "2024-01-15"}
	res := h.Do("POST", pathNotify, tok, map[string]any{"transactionId": tx, "eventType": "birth", "createdAtLocation": hubtest.FacilityIbombo, "declaration": decl})
	wantOK(t, res)
	ev := res.Event()
	wantShape(t, ev, "CREATE/Accepted", "NOTIFY/Requested", "NOTIFY/Accepted")
	if ev.Actions[0].TransactionID != tx+":create" || ev.Actions[1].TransactionID != tx {
		t.Errorf("transaction ids %q, %q; want %q, %q", ev.Actions[0].TransactionID, ev.Actions[1].TransactionID, tx+":create", tx)
	}
	if ev.Actions[0].CreatedAtLocation != hubtest.FacilityIbombo {
		t.Errorf("createdAtLocation %q", ev.Actions[0].CreatedAtLocation)
	}
	sr := search(t, h, tok, and(map[string]any{"flags": map[string]any{"anyOf": []string{"incomplete"}}}))
	if sr.Total != 1 || sr.Results[0].ID != ev.ID || sr.Results[0].Status != "NOTIFIED" {
		t.Fatalf("search incomplete: %+v", sr)
	}
	// "type" is accepted as an alias of eventType.
	res = h.Do("POST", pathNotify, tok, map[string]any{"transactionId": newTx(), "type": "death", "createdAtLocation": hubtest.OfficeIbombo,
		"declaration": map[string]any{"deceased.name": map[string]string{"firstname": "Old", "surname": "Man"}}})
	wantOK(t, res)
	if ev := res.Event(); ev.Type != "death" {
		t.Errorf("type alias: event type %q", ev.Type)
	}
}

// TestTrackingIDLookupHidesEvents: a tracking id lookup the caller may
// not read answers exactly as one for a tracking id that does not exist:
// it neither confirms the event nor reveals its id.
func TestTrackingIDLookupHidesEvents(t *testing.T) {
	t.Parallel()
	h := start(t)
	admin := adminToken(h)
	birth := h.Notify(admin, "birth", newTx(), hubtest.BirthDeclaration("Alice", "Banda"))
	deleted := create(t, h, admin)
	act(t, h, admin, deleted.ID, "delete", nil)
	deathReader := h.ClientToken(hubtest.OfficeIbombo, "type=record.read&event=death")

	tests := []struct {
		name, tok, tid, hidden string
	}{
		{"birth event, death-only reader", deathReader, birth.TrackingID, birth.ID},
		{"deleted event", admin, deleted.TrackingID, deleted.ID},
		{"no such tracking id", deathReader, "ZZZZZZZ", ""},
	}
	for _, tc := range tests {
		for _, suffix := range []string{"", "/fields/child.dob"} {
			t.Run(tc.name+suffix, func(t *testing.T) {
				res := h.Do("GET", pathEvents+"/by-tracking-id/"+tc.tid+suffix, tc.tok, nil)
				b := wantError(t, res, http.StatusNotFound, "Event not found with tracking ID: "+tc.tid)
				if b.Code != "NOT_FOUND" {
					t.Errorf("code %q", b.Code)
				}
				if tc.hidden != "" && strings.Contains(string(res.Body), tc.hidden) {
					t.Errorf("the 404 reveals the event id: %s", res.Body)
				}
			})
		}
	}
	// The hidden reads recorded nothing.
	wantShape(t, stored(t, h, birth.ID), "CREATE/Accepted", "NOTIFY/Requested", "NOTIFY/Accepted")
}
