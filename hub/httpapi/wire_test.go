package httpapi_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/testharness/hubtest"
)

// wireTime is a time as OpenCRVS v2.0 writes it (toISOString).
var wireTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// timesIn collects every createdAt/updatedAt/acceptedAt value of a JSON text.
func timesIn(t *testing.T, body []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && (k == "createdAt" || k == "updatedAt" || k == "acceptedAt") {
					out = append(out, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// TestOpenCRVSWireDetails: what OpenCRVS v2.0 clients read beyond the
// record id: times with three fraction digits, createdByRole left out of
// system actions, the client's annotation kept, assignedTo left out of
// unassigned search results.
func TestOpenCRVSWireDetails(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	ann := map[string]any{"review.comment": "sent by the maternity ward", "review.signed": true}
	res := h.Do("POST", pathNotify, tok, map[string]any{"transactionId": newTx(), "eventType": "birth",
		"createdAtLocation": hubtest.OfficeIbombo, "declaration": hubtest.BirthDeclaration("Wire", "Banda"), "annotation": ann})
	wantOK(t, res)
	ev := res.Event()
	res2 := h.Act(tok, ev.ID, "declare", newTx(), map[string]any{"annotation": map[string]any{"review.comment": "checked"}})
	wantOK(t, res2)
	get := h.Do("GET", eventPath(ev.ID), tok, nil)
	wantOK(t, get)
	sr := h.Do("POST", pathSearch, tok, and(map[string]any{"id": ev.ID}))
	wantOK(t, sr)

	for name, body := range map[string][]byte{"notify": res.Body, "declare": res2.Body, "get": get.Body, "search": sr.Body} {
		ts := timesIn(t, body)
		if len(ts) < 2 {
			t.Errorf("%s: no times found in %s", name, body)
		}
		for _, s := range ts {
			if !wireTime.MatchString(s) {
				t.Errorf("%s: time %q does not have exactly three fraction digits", name, s)
			}
		}
		if strings.Contains(string(body), "createdByRole") {
			t.Errorf("%s: a system client's action carries createdByRole: %s", name, body)
		}
	}
	// the annotations, as sent, in the answer and in the stored record
	stored := stored(t, h, ev.ID)
	for _, doc := range [][]byte{res.Body, get.Body, mustJSON(t, stored)} {
		var d struct {
			Actions []struct {
				Type, Status string
				Annotation   map[string]any
			}
		}
		if err := json.Unmarshal(doc, &d); err != nil {
			t.Fatal(err)
		}
		found := map[string]map[string]any{}
		for _, a := range d.Actions {
			if a.Status == "Requested" {
				found[a.Type] = a.Annotation
			}
		}
		if found["NOTIFY"]["review.comment"] != "sent by the maternity ward" || found["NOTIFY"]["review.signed"] != true {
			t.Errorf("NOTIFY annotation %v, want %v", found["NOTIFY"], ann)
		}
		if a, ok := found["DECLARE"]; ok && a["review.comment"] != "checked" {
			t.Errorf("DECLARE annotation %v", found["DECLARE"])
		}
	}
	if a := stored.Actions[len(stored.Actions)-3]; a.Type != "DECLARE" || string(a.Annotation["review.comment"]) != `"checked"` {
		t.Errorf("stored DECLARE/Requested %+v", a)
	}
	// unassigned: no assignedTo key; assigned: the assignee
	if strings.Contains(string(sr.Body), "assignedTo") {
		t.Errorf("unassigned search result carries assignedTo: %s", sr.Body)
	}
	wantOK(t, h.Act(tok, ev.ID, "assign", newTx(), nil))
	if sr := search(t, h, tok, and(map[string]any{"id": ev.ID})); len(sr.Results) != 1 || sr.Results[0].AssignedTo == nil || *sr.Results[0].AssignedTo != stored.Actions[0].CreatedBy {
		t.Errorf("assigned search result: %+v", sr.Results)
	}
}

// TestErrorData: error bodies carry OpenCRVS v2.0's tRPC data {code,
// httpStatus, path} beside the hub's code and errors.
func TestErrorData(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	notifyOnly := h.ClientToken(hubtest.OfficeIbombo, "type=record.read&event=birth")
	ev := create(t, h, tok)
	tests := []struct {
		name         string
		res          *hubtest.Response
		status       int
		code, path   string
		hubCode      string
		fieldErrorID string
	}{
		{"create, unknown type", h.Do("POST", pathEvents, tok, map[string]any{"type": "marriage", "transactionId": newTx(), "createdAtLocation": hubtest.OfficeIbombo}),
			400, "BAD_REQUEST", "event.create", "INVALID_EVENT_TYPE", ""},
		{"get, unknown id", h.Do("GET", eventPath("00000000-0000-4000-8000-000000000000"), tok, nil), 404, "NOT_FOUND", "event.get", "NOT_FOUND", ""},
		{"get, not a uuid", h.Do("GET", eventPath("nope"), tok, nil), 400, "BAD_REQUEST", "event.get", "INVALID_INPUT", "eventId"},
		{"notify without its scope", h.Act(notifyOnly, ev.ID, "notify", newTx(), nil), 403, "FORBIDDEN", "event.actions.notify.request", "MISSING_SCOPE", ""},
		{"correction request", h.Act(tok, ev.ID, "correction/request", newTx(), nil), 409, "CONFLICT", "event.actions.correction.request.request", "ACTION_NOT_ALLOWED", ""},
		{"print certificate", h.Act(tok, ev.ID, "print-certificate", newTx(), nil), 409, "CONFLICT", "event.actions.printCertificate.request", "ACTION_NOT_ALLOWED", ""},
		{"search, bad body", h.Do("POST", pathSearch, tok, map[string]any{"query": 1}), 400, "BAD_REQUEST", "event.search", "", ""},
		{"hub route", h.Do("GET", "/api/events/ops/pending", notifyOnly, nil), 403, "FORBIDDEN", "/api/events/ops/pending", "MISSING_SCOPE", ""},
		{"no route", h.Do("GET", "/api/events/nothing", tok, nil), 404, "NOT_FOUND", "/api/events/nothing", "NO_ROUTE", ""},
		{"wrong method", h.Do("DELETE", "/api/events/config", tok, nil), 405, "METHOD_NOT_SUPPORTED", "/api/events/config", "METHOD_NOT_ALLOWED", ""},
		{"no token", h.Do("GET", eventPath(ev.ID), "", nil), 401, "UNAUTHORIZED", "event.get", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.res.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", tc.res.Status, tc.status, tc.res.Body)
			}
			var b struct {
				Message, Code string
				Errors        []struct{ ID string }
				Data          *struct {
					Code       string
					HTTPStatus int `json:"httpStatus"`
					Path       string
				}
			}
			tc.res.JSON(&b)
			if b.Data == nil || b.Data.Code != tc.code || b.Data.HTTPStatus != tc.status || b.Data.Path != tc.path {
				t.Errorf("data %+v, want {%s %d %s}: %s", b.Data, tc.code, tc.status, tc.path, tc.res.Body)
			}
			if b.Message == "" || b.Code == "" || (tc.hubCode != "" && b.Code != tc.hubCode) {
				t.Errorf("hub message/code %q/%q, want code %q", b.Message, b.Code, tc.hubCode)
			}
			if tc.fieldErrorID != "" && (len(b.Errors) != 1 || b.Errors[0].ID != tc.fieldErrorID) {
				t.Errorf("errors %+v, want one naming %s", b.Errors, tc.fieldErrorID)
			}
			if tc.res.Status == http.StatusOK {
				t.Fatal("not an error")
			}
		})
	}
}
