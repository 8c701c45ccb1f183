package httpapi_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/crvshub/crvshub/testharness/hubtest"
)

// TestJurisdiction: record scopes limited to a jurisdiction (OpenCRVS
// placeOfEvent / declaredIn / registeredIn) or to the caller's own records
// (declaredBy=user) reach only those records, through every door: get by
// id, get by tracking id, a field by tracking id, actions, search. A
// record outside them is "not found", as if it did not exist.
func TestJurisdiction(t *testing.T) {
	t.Parallel()
	h := start(t)
	admin := adminToken(h)
	hereDecl := hubtest.BirthDeclaration("Here", "Banda")
	thereDecl := hubtest.BirthDeclaration("There", "Banda")
	thereDecl["child.birthLocation"] = hubtest.FacilityIlanga // a hospital in another district
	here := h.Notify(admin, "birth", newTx(), hereDecl)
	there := h.Notify(admin, "birth", newTx(), thereDecl)

	// A registrar of the Ibombo office: births that happened in Ibombo.
	ibombo := h.ClientToken(hubtest.OfficeIbombo,
		"type=record.read&event=birth&placeOfEvent=administrativeArea",
		"type=record.search&event=birth&placeOfEvent=administrativeArea",
		"type=record.declare&event=birth&placeOfEvent=administrativeArea")
	// The same rules seen from the Ilanga office.
	ilanga := h.ClientToken(hubtest.OfficeIlanga,
		"type=record.read&event=birth&placeOfEvent=administrativeArea",
		"type=record.search&event=birth&placeOfEvent=administrativeArea")

	wantOK(t, h.Do("GET", eventPath(here.ID), ibombo, nil))
	wantOK(t, h.Do("GET", eventPath(there.ID), ilanga, nil))
	before := len(stored(t, h, there.ID).Actions)
	wantError(t, h.Do("GET", eventPath(there.ID), ibombo, nil), http.StatusNotFound, there.ID)
	wantError(t, h.Do("GET", pathEvents+"/by-tracking-id/"+there.TrackingID, ibombo, nil), http.StatusNotFound, there.TrackingID)
	wantError(t, h.Do("GET", pathEvents+"/by-tracking-id/"+there.TrackingID+"/fields/child.name", ibombo, nil), http.StatusNotFound)
	wantError(t, h.Act(ibombo, there.ID, "declare", newTx(), map[string]any{"declaration": thereDecl}), http.StatusNotFound, there.ID)
	if n := len(stored(t, h, there.ID).Actions); n != before {
		t.Errorf("refused requests wrote %d actions", n-before)
	}
	act(t, h, ibombo, here.ID, "declare", map[string]any{"declaration": hereDecl})

	q := and(map[string]any{"eventType": "birth"})
	if got := ids(search(t, h, ibombo, q)); !slices.Equal(got, []string{here.ID}) {
		t.Errorf("Ibombo search: %v, want only %s", got, here.ID)
	}
	if got := ids(search(t, h, ilanga, q)); !slices.Equal(got, []string{there.ID}) {
		t.Errorf("Ilanga search: %v, want only %s", got, there.ID)
	}
	if sr := search(t, h, admin, q); sr.Total != 2 {
		t.Errorf("unrestricted search: total %d, want 2", sr.Total)
	}

	// declaredIn: where the declaration was made, once there is one.
	declaredHere := h.ClientToken(hubtest.OfficeIbombo, "type=record.read&declaredIn=location")
	wantOK(t, h.Do("GET", eventPath(here.ID), declaredHere, nil))
	wantError(t, h.Do("GET", eventPath(there.ID), declaredHere, nil), http.StatusNotFound) // notified, never declared

	// A scope option the hub does not know reaches nothing.
	unknown := h.ClientToken(hubtest.OfficeIbombo, "type=record.read&event=birth&someFutureLimit=x",
		"type=record.search&someFutureLimit=x")
	wantError(t, h.Do("GET", eventPath(here.ID), unknown, nil), http.StatusNotFound)
	if sr := search(t, h, unknown, q); sr.Total != 0 {
		t.Errorf("unknown option: search total %d, want 0", sr.Total)
	}

	// A v1.9 search[access=my-jurisdiction] scope is limited the same way.
	legacy := h.ClientToken(hubtest.OfficeIlanga, "search[event=birth,access=my-jurisdiction]")
	if got := ids(search(t, h, legacy, q)); !slices.Equal(got, []string{there.ID}) {
		t.Errorf("v1.9 my-jurisdiction search: %v, want only %s", got, there.ID)
	}
}

// TestFieldByTrackingIDUnknownFieldWritesNothing: asking for a field the
// event type does not have is a 404 naming it, and records no READ (a
// request that fails writes nothing).
func TestFieldByTrackingIDUnknownFieldWritesNothing(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	ev := h.Notify(tok, "birth", newTx(), hubtest.BirthDeclaration("Field", "Banda"))
	before := len(stored(t, h, ev.ID).Actions)
	wantError(t, h.Do("GET", pathEvents+"/by-tracking-id/"+ev.TrackingID+"/fields/child.colour", tok, nil), http.StatusNotFound, "child.colour")
	if n := len(stored(t, h, ev.ID).Actions); n != before {
		t.Errorf("a failed field lookup recorded %d actions", n-before)
	}
	wantOK(t, h.Do("GET", pathEvents+"/by-tracking-id/"+ev.TrackingID+"/fields/child.name", tok, nil))
	if n := len(stored(t, h, ev.ID).Actions); n != before+1 {
		t.Errorf("a field lookup recorded %d actions, want one READ", n-before)
	}
}
