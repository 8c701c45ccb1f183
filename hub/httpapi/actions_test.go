package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// states builds events in a given state through the HTTP API.
type states struct {
	t   *testing.T
	h   *hubtest.Hub
	tok string
}

func (s states) created() *core.EventDocument { return create(s.t, s.h, s.tok) }

func (s states) notified() *core.EventDocument {
	return s.h.Notify(s.tok, "birth", newTx(), hubtest.BirthDeclaration("Alice", "Banda"))
}

func (s states) declared() *core.EventDocument {
	ev := s.notified()
	return act(s.t, s.h, s.tok, ev.ID, "declare", nil)
}

func (s states) registered() *core.EventDocument {
	ev := s.declared()
	return act(s.t, s.h, s.tok, ev.ID, "register", nil)
}

func (s states) assigned() *core.EventDocument {
	ev := s.notified()
	return act(s.t, s.h, s.tok, ev.ID, "assign", nil)
}

// potentialDuplicate is a notified event with a DUPLICATE_DETECTED action
// (no route creates one: deduplication is internal), written through the
// engine as the hub's deduplication would.
func (s states) potentialDuplicate() *core.EventDocument {
	other := s.notified()
	ev := s.notified()
	sc, err := core.ParseScopes([]string{"type=record.review-duplicates"})
	if err != nil {
		s.t.Fatal(err)
	}
	p := core.Principal{ID: "deduplication", Type: core.UserTypeSystem, Scopes: sc, Office: hubtest.OfficeIbombo}
	out, err := s.h.App.Service.Act(context.Background(), p, ev.ID, core.ActionInput{
		Type: core.ActionDuplicateDetected, TransactionID: newTx(), CreatedAtLocation: hubtest.OfficeIbombo,
		Content: map[string]any{"duplicates": []any{map[string]any{"id": other.ID, "trackingId": other.TrackingID}}}})
	if err != nil {
		s.t.Fatalf("duplicate detected: %v", err)
	}
	return out
}

func (s states) correctionRequested() *core.EventDocument {
	ev := s.registered()
	return act(s.t, s.h, s.tok, ev.ID, "correction/request", map[string]any{
		"declaration": map[string]any{"child.name": map[string]string{"firstname": "Alicia", "surname": "Banda"}}})
}

// index answers the search projection of one event.
func index(t *testing.T, h *hubtest.Hub, tok, id string) indexDoc {
	t.Helper()
	sr := search(t, h, tok, and(map[string]any{"id": id}))
	if sr.Total != 1 {
		t.Fatalf("search by id %s: total %d", id, sr.Total)
	}
	return sr.Results[0]
}

func last(ev *core.EventDocument) core.Action { return ev.Actions[len(ev.Actions)-1] }

// TestActions runs every action route's happy path.
func TestActions(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	s := states{t, h, tok}
	clientID := func() string { // the admin client's id: the CREATE action's author
		return s.created().Actions[0].CreatedBy
	}()
	newName := map[string]string{"firstname": "Alicia", "surname": "Banda"}

	tests := []struct {
		slug  string
		setup func() *core.EventDocument
		extra map[string]any
		// tail is the expected shape of the actions the request adds.
		tail  []string
		check func(t *testing.T, ev *core.EventDocument, ix indexDoc)
	}{
		{"notify", s.created, map[string]any{"declaration": map[string]any{"child.dob": "2024-02-02"}},
			[]string{"NOTIFY/Requested", "NOTIFY/Accepted"}, func(t *testing.T, ev *core.EventDocument, ix indexDoc) {
				if ix.Status != "NOTIFIED" || !slices.Contains(ix.Flags, "incomplete") {
					t.Errorf("status %s flags %v", ix.Status, ix.Flags)
				}
			}},
		{"declare", s.created, map[string]any{"declaration": hubtest.BirthDeclaration("Alice", "Banda")},
			[]string{"DECLARE/Requested", "DECLARE/Accepted"}, func(t *testing.T, ev *core.EventDocument, ix indexDoc) {
				if ix.Status != "DECLARED" || ix.LegalStatuses["DECLARED"] == nil {
					t.Errorf("status %s legalStatuses %v", ix.Status, ix.LegalStatuses)
				}
			}},
		{"declare", s.notified, nil, // the notified data is complete: nothing more to send
			[]string{"DECLARE/Requested", "DECLARE/Accepted"}, func(t *testing.T, ev *core.EventDocument, ix indexDoc) {
				if ix.Status != "DECLARED" || slices.Contains(ix.Flags, "incomplete") {
					t.Errorf("status %s flags %v", ix.Status, ix.Flags)
				}
			}},
		{"validate", s.declared, nil,
			[]string{"VALIDATE/Requested", "VALIDATE/Accepted"}, func(t *testing.T, ev *core.EventDocument, ix indexDoc) {
				if ix.Status != "VALIDATED" {
					t.Errorf("status %s", ix.Status)
				}
			}},
		{"register", s.declared, nil,
			[]string{"REGISTER/Requested", "REGISTER/Accepted"}, func(t *testing.T, ev *core.EventDocument, ix indexDoc) {
				rn := last(ev).RegistrationNumber
				if len(rn) != 12 {
					t.Fatalf("registrationNumber %q, want 12 characters", rn)
				}
				if ix.Status != "REGISTERED" {
					t.Errorf("status %s", ix.Status)
				}
				var reg struct {
					RegistrationNumber string `json:"registrationNumber"`
				}
				if err := json.Unmarshal(ix.LegalStatuses["REGISTERED"], &reg); err != nil || reg.RegistrationNumber != rn {
					t.Errorf("legalStatuses.REGISTERED %s, want registrationNumber %s", ix.LegalStatuses["REGISTERED"], rn)
				}
				sr := search(t, h, tok, and(map[string]any{"legalStatuses.REGISTERED.registrationNumber": map[string]any{"type": "exact", "term": rn}}))
				if sr.Total != 1 || sr.Results[0].ID != ev.ID {
					t.Errorf("search by registration number: %+v", sr)
				}
				if sr := search(t, h, tok, and(map[string]any{"legalStatuses.REGISTERED.registrationNumber": "NOSUCHNUMBER"})); sr.Total != 0 {
					t.Errorf("search by an unknown registration number: total %d", sr.Total)
				}
			}},
		{"register", s.declared, map[string]any{"registrationNumber": "FAR-2024-0001"},
			[]string{"REGISTER/Requested", "REGISTER/Accepted"}, func(t *testing.T, ev *core.EventDocument, ix indexDoc) {
				if rn := last(ev).RegistrationNumber; rn != "FAR-2024-0001" {
					t.Errorf("registrationNumber %q, want the one sent", rn)
				}
			}},
		{"reject", s.notified, map[string]any{"content": map[string]any{"reason": "Wrong child"}},
			[]string{"REJECT/Requested", "REJECT/Accepted"}, func(t *testing.T, ev *core.EventDocument, ix indexDoc) {
				if !slices.Contains(ix.Flags, "rejected") || ix.Status != "NOTIFIED" {
					t.Errorf("status %s flags %v", ix.Status, ix.Flags)
				}
				if r := ev.Actions[len(ev.Actions)-2].Content["reason"]; r != "Wrong child" {
					t.Errorf("reason %v", r)
				}
			}},
		{"archive", s.notified, map[string]any{"content": map[string]any{"reason": "Duplicate paper record"}},
			[]string{"ARCHIVE/Requested", "ARCHIVE/Accepted"}, func(t *testing.T, ev *core.EventDocument, ix indexDoc) {
				if ix.Status != "ARCHIVED" {
					t.Errorf("status %s", ix.Status)
				}
			}},
		{"print-certificate", s.registered, map[string]any{"content": map[string]any{"templateId": "birth-certificate"}},
			[]string{"PRINT_CERTIFICATE/Requested", "PRINT_CERTIFICATE/Accepted"}, func(t *testing.T, ev *core.EventDocument, ix indexDoc) {
				if !slices.Contains(ix.Flags, "printed") || ix.Status != "REGISTERED" {
					t.Errorf("status %s flags %v", ix.Status, ix.Flags)
				}
			}},
		{"assign", s.notified, nil,
			[]string{"ASSIGN/Accepted"}, func(t *testing.T, ev *core.EventDocument, ix indexDoc) {
				if last(ev).AssignedTo != clientID || ix.AssignedTo == nil || *ix.AssignedTo != clientID {
					t.Errorf("assignedTo %q / %v, want %s", last(ev).AssignedTo, ix.AssignedTo, clientID)
				}
			}},
		{"unassign", s.assigned, nil,
			[]string{"UNASSIGN/Accepted"}, func(t *testing.T, ev *core.EventDocument, ix indexDoc) {
				if ix.AssignedTo != nil {
					t.Errorf("assignedTo %v after unassign", *ix.AssignedTo)
				}
			}},
		{"edit", s.notified, map[string]any{"declaration": map[string]any{"child.name": newName}, "content": map[string]any{"comment": "typo"}},
			[]string{"EDIT/Requested", "EDIT/Accepted"}, func(t *testing.T, ev *core.EventDocument, ix indexDoc) {
				if !jsonEqual(t, ix.Declaration["child.name"], mustJSON(t, newName)) {
					t.Errorf("child.name %s after edit", ix.Declaration["child.name"])
				}
			}},
		{"mark-as-duplicate", s.potentialDuplicate, nil,
			[]string{"MARK_AS_DUPLICATE/Accepted"}, func(t *testing.T, ev *core.EventDocument, ix indexDoc) {
				if slices.Contains(ix.Flags, "potential-duplicate") || !slices.Contains(ix.Flags, "rejected") {
					t.Errorf("flags %v", ix.Flags)
				}
			}},
		{"mark-as-not-duplicate", s.potentialDuplicate, nil,
			[]string{"MARK_AS_NOT_DUPLICATE/Accepted"}, func(t *testing.T, ev *core.EventDocument, ix indexDoc) {
				if slices.Contains(ix.Flags, "potential-duplicate") || slices.Contains(ix.Flags, "rejected") {
					t.Errorf("flags %v", ix.Flags)
				}
			}},
		{"correction/request", s.registered, map[string]any{"declaration": map[string]any{"child.name": newName}},
			[]string{"REQUEST_CORRECTION/Requested", "REQUEST_CORRECTION/Accepted"}, func(t *testing.T, ev *core.EventDocument, ix indexDoc) {
				if !slices.Contains(ix.Flags, "correction-requested") {
					t.Errorf("flags %v", ix.Flags)
				}
				// Not applied until approved.
				if jsonEqual(t, ix.Declaration["child.name"], mustJSON(t, newName)) {
					t.Errorf("correction applied before approval")
				}
			}},
		{"correction/approve", s.correctionRequested, nil,
			[]string{"APPROVE_CORRECTION/Requested", "APPROVE_CORRECTION/Accepted"}, func(t *testing.T, ev *core.EventDocument, ix indexDoc) {
				if slices.Contains(ix.Flags, "correction-requested") || ix.Status != "REGISTERED" {
					t.Errorf("status %s flags %v", ix.Status, ix.Flags)
				}
				if !jsonEqual(t, ix.Declaration["child.name"], mustJSON(t, newName)) {
					t.Errorf("child.name %s, want the corrected %v", ix.Declaration["child.name"], newName)
				}
				var req *core.Action
				for i := range ev.Actions {
					if ev.Actions[i].Type == core.ActionRequestCorrection && ev.Actions[i].Status == core.StatusAccepted {
						req = &ev.Actions[i]
					}
				}
				// Both rows of the approval name the request.
				for _, appr := range ev.Actions[len(ev.Actions)-2:] {
					if req == nil || appr.RequestID != req.ID {
						t.Errorf("%s/%s requestId %q does not name the request", appr.Type, appr.Status, appr.RequestID)
					}
				}
				// The corrected value is what lookups answer.
				res := h.Do("GET", pathEvents+"/by-tracking-id/"+ev.TrackingID+"/fields/child.name", tok, nil)
				wantOK(t, res)
				if !strings.Contains(string(res.Body), `"Alicia"`) {
					t.Errorf("field lookup after approval: %s", res.Body)
				}
			}},
		{"correction/reject", s.correctionRequested, map[string]any{"content": map[string]any{"reason": "No evidence"}},
			[]string{"REJECT_CORRECTION/Requested", "REJECT_CORRECTION/Accepted"}, func(t *testing.T, ev *core.EventDocument, ix indexDoc) {
				if slices.Contains(ix.Flags, "correction-requested") {
					t.Errorf("flags %v", ix.Flags)
				}
				if jsonEqual(t, ix.Declaration["child.name"], mustJSON(t, newName)) {
					t.Errorf("rejected correction was applied")
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.slug, func(t *testing.T) {
			ev := tc.setup()
			before := len(ev.Actions)
			got := act(t, h, tok, ev.ID, tc.slug, tc.extra)
			if got.ID != ev.ID {
				t.Fatalf("answered event %s, want %s", got.ID, ev.ID)
			}
			if tail := shape(got)[before:]; strings.Join(tail, ",") != strings.Join(tc.tail, ",") {
				t.Fatalf("added actions %v, want %v", tail, tc.tail)
			}
			if st := stored(t, h, ev.ID); len(st.Actions) != len(got.Actions) {
				t.Errorf("store holds %d actions, answer %d", len(st.Actions), len(got.Actions))
			}
			tc.check(t, got, index(t, h, tok, ev.ID))
		})
	}

	t.Run("delete", func(t *testing.T) {
		ev := s.created()
		got := act(t, h, tok, ev.ID, "delete", nil)
		if l := last(got); l.Type != core.ActionDelete || l.Status != core.StatusAccepted {
			t.Errorf("last action %s/%s", l.Type, l.Status)
		}
		wantError(t, h.Do("GET", eventPath(ev.ID), tok, nil), http.StatusNotFound, ev.ID)
		wantError(t, h.Do("GET", pathEvents+"/by-tracking-id/"+ev.TrackingID, tok, nil), http.StatusNotFound)
		if sr := search(t, h, tok, and(map[string]any{"id": ev.ID})); sr.Total != 0 {
			t.Errorf("deleted event still found by search")
		}
		wantError(t, h.Act(tok, ev.ID, "notify", newTx(), nil), http.StatusNotFound, ev.ID)
	})
}

// TestActionsRequireContent: reject and correction/reject need a reason.
func TestActionsRequireContent(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	s := states{t, h, tok}
	tests := []struct {
		slug  string
		setup func() *core.EventDocument
		extra map[string]any
	}{
		{"reject", s.notified, nil},
		{"reject", s.notified, map[string]any{"content": map[string]any{"reason": "   "}}},
		{"reject", s.notified, map[string]any{"content": map[string]any{"reason": 12}}},
		{"correction/reject", s.correctionRequested, nil},
	}
	for _, tc := range tests {
		t.Run(tc.slug, func(t *testing.T) {
			ev := tc.setup()
			wantError(t, h.Act(tok, ev.ID, tc.slug, newTx(), tc.extra), http.StatusBadRequest, "content.reason")
			if n := len(stored(t, h, ev.ID).Actions); n != len(ev.Actions) {
				t.Errorf("a refused action changed the event: %d actions, had %d", n, len(ev.Actions))
			}
		})
	}
}

// TestArchiveRequiresReason: OpenCRVS v2's ArchiveActionInput has a
// required content: {reason} (commons/src/events/ActionInput.ts), like
// REJECT; without it the request is 400.
func TestArchiveRequiresReason(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	ev := states{t, h, tok}.notified()
	wantError(t, h.Act(tok, ev.ID, "archive", newTx(), nil), http.StatusBadRequest, "content.reason")
	if n := len(stored(t, h, ev.ID).Actions); n != len(ev.Actions) {
		t.Errorf("a refused archive changed the event: %d actions, had %d", n, len(ev.Actions))
	}
}

// TestActionsNotAllowed: each action in a state that does not allow it is
// 409 naming the action and the state, and changes nothing.
func TestActionsNotAllowed(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	s := states{t, h, tok}
	reason := map[string]any{"content": map[string]any{"reason": "r"}}
	tests := []struct {
		slug, action, state string
		setup               func() *core.EventDocument
		extra               map[string]any
	}{
		{"notify", "NOTIFY", "NOTIFIED", s.notified, nil},
		{"declare", "DECLARE", "DECLARED", s.declared, nil},
		{"validate", "VALIDATE", "CREATED", s.created, nil},
		{"register", "REGISTER", "CREATED", s.created, nil},
		{"register", "REGISTER", "REGISTERED", s.registered, nil},
		{"reject", "REJECT", "CREATED", s.created, reason},
		{"archive", "ARCHIVE", "CREATED", s.created, nil},
		{"archive", "ARCHIVE", "REGISTERED", s.registered, nil},
		{"print-certificate", "PRINT_CERTIFICATE", "DECLARED", s.declared, nil},
		{"delete", "DELETE", "NOTIFIED", s.notified, nil},
		{"edit", "EDIT", "CREATED", s.created, nil},
		{"mark-as-duplicate", "MARK_AS_DUPLICATE", "NOTIFIED", s.notified, nil},
		{"mark-as-not-duplicate", "MARK_AS_NOT_DUPLICATE", "DECLARED", s.declared, nil},
		{"correction/request", "REQUEST_CORRECTION", "DECLARED", s.declared, nil},
		{"correction/approve", "APPROVE_CORRECTION", "REGISTERED", s.registered, nil},
		{"correction/reject", "REJECT_CORRECTION", "REGISTERED", s.registered, reason},
		{"validate", "VALIDATE", "potential-duplicate", s.potentialDuplicate, nil},
		{"correction/request", "REQUEST_CORRECTION", "correction-requested", s.correctionRequested, nil},
	}
	for _, tc := range tests {
		t.Run(tc.slug+" in "+tc.state, func(t *testing.T) {
			ev := tc.setup()
			res := h.Act(tok, ev.ID, tc.slug, newTx(), tc.extra)
			b := wantError(t, res, http.StatusConflict, "'"+tc.action+"'", tc.state)
			if b.Code != "ACTION_NOT_ALLOWED" {
				t.Errorf("code %q", b.Code)
			}
			if n := len(stored(t, h, ev.ID).Actions); n != len(ev.Actions) {
				t.Errorf("a refused action changed the event: %d actions, had %d", n, len(ev.Actions))
			}
		})
	}
}

// TestAssignment: ASSIGN and UNASSIGN are allowed in every state; the
// conflicts are about who holds the event.
func TestAssignment(t *testing.T) {
	t.Parallel()
	h := start(t)
	owner := adminToken(h)
	s := states{t, h, owner}
	ev := s.assigned()
	ownerID := last(ev).AssignedTo
	otherID, otherSecret := h.NewClient("other", hubtest.OfficeIbombo, "type=record.archive", "type=record.read", "type=record.search")
	other := h.Token(otherID, otherSecret)

	// Another client cannot take an assigned event...
	wantError(t, h.Act(other, ev.ID, "assign", newTx(), nil), http.StatusConflict, "already assigned", ownerID)
	// ...nor act on it...
	wantError(t, h.Act(other, ev.ID, "archive", newTx(), nil), http.StatusConflict, "assigned event")
	// ...nor unassign the owner without record.unassign-others.
	wantError(t, h.Act(other, ev.ID, "unassign", newTx(), nil), http.StatusForbidden, "record.unassign-others")
	if n := len(stored(t, h, ev.ID).Actions); n != len(ev.Actions) {
		t.Fatalf("refused requests changed the event: %d actions, had %d", n, len(ev.Actions))
	}
	// Assigning to someone else needs record.unassign-others too.
	wantError(t, h.Act(other, s.notified().ID, "assign", newTx(), map[string]any{"assignedTo": ownerID}), http.StatusForbidden, "record.unassign-others")

	// Once the owner lets go, the other client may act.
	act(t, h, owner, ev.ID, "unassign", nil)
	got := act(t, h, other, ev.ID, "archive", map[string]any{"content": map[string]any{"reason": "duplicate notification"}})
	if l := last(got); l.Type != core.ActionArchive || l.Status != core.StatusAccepted {
		t.Errorf("archive after unassign: %s/%s", l.Type, l.Status)
	}
	// An archived event still allows assignment.
	act(t, h, owner, ev.ID, "assign", nil)
	act(t, h, owner, ev.ID, "unassign", nil)
}

// TestResolvedRowsCarryTypeFields: in OpenCRVS v2 every row of an action
// is a full ActionDocument of its type (commons/src/events/ActionDocument.ts:
// RejectAction and ArchiveAction require content.reason,
// ApprovedCorrectionAction requires requestId, RejectedCorrectionAction
// requestId and content.reason), the Accepted row included: a client that
// validates EventDocuments with OpenCRVS's schema rejects rows without them.
func TestResolvedRowsCarryTypeFields(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	s := states{t, h, tok}
	reason := map[string]any{"content": map[string]any{"reason": "Because"}}
	tests := []struct {
		slug    string
		setup   func() *core.EventDocument
		extra   map[string]any
		request bool // the row must carry requestId
		content bool // the row must carry content.reason
	}{
		{"reject", s.notified, reason, false, true},
		{"archive", s.notified, reason, false, true},
		{"correction/approve", s.correctionRequested, nil, true, false},
		{"correction/reject", s.correctionRequested, reason, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.slug, func(t *testing.T) {
			ev := act(t, h, tok, tc.setup().ID, tc.slug, tc.extra)
			for _, a := range ev.Actions[len(ev.Actions)-2:] {
				if tc.request && a.RequestID == "" {
					t.Errorf("%s/%s row has no requestId", a.Type, a.Status)
				}
				if r, _ := a.Content["reason"].(string); tc.content && r != "Because" {
					t.Errorf("%s/%s row has content %v, want the reason", a.Type, a.Status, a.Content)
				}
			}
		})
	}
}

// TestLifecycle follows one record through a resubmission and a
// correction, checking status and flags in search after each step.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	ev := h.Notify(tok, "birth", newTx(), map[string]any{"child.dob": "2024-02-02"})
	steps := []struct {
		slug   string
		extra  map[string]any
		status string
		flags  []string
	}{
		{"reject", map[string]any{"content": map[string]any{"reason": "Incomplete"}}, "NOTIFIED", []string{"incomplete", "rejected"}},
		{"notify", map[string]any{"declaration": hubtest.BirthDeclaration("Alice", "Banda")}, "NOTIFIED", []string{"incomplete"}},
		{"declare", nil, "DECLARED", []string{}},
		{"validate", nil, "VALIDATED", []string{}},
		{"register", nil, "REGISTERED", []string{}},
		{"print-certificate", nil, "REGISTERED", []string{"printed"}},
		{"correction/request", map[string]any{"declaration": map[string]any{"child.gender": "male"}}, "REGISTERED", []string{"correction-requested", "printed"}},
		{"correction/approve", nil, "REGISTERED", []string{}},
		{"print-certificate", nil, "REGISTERED", []string{"printed"}},
	}
	for i, st := range steps {
		act(t, h, tok, ev.ID, st.slug, st.extra)
		ix := index(t, h, tok, ev.ID)
		if ix.Status != st.status || strings.Join(ix.Flags, ",") != strings.Join(st.flags, ",") {
			t.Fatalf("step %d %s: status %s flags %v, want %s %v", i, st.slug, ix.Status, ix.Flags, st.status, st.flags)
		}
	}
	ix := index(t, h, tok, ev.ID)
	if string(ix.Declaration["child.gender"]) != `"male"` || string(ix.Declaration["child.dob"]) != `"2024-02-02"` {
		t.Errorf("final declaration %s", mustJSON(t, ix.Declaration))
	}
	if ix.LegalStatuses["DECLARED"] == nil || ix.LegalStatuses["REGISTERED"] == nil {
		t.Errorf("legalStatuses %v", ix.LegalStatuses)
	}
	// Every write is in the audit trail, in order.
	var ops []string
	for _, e := range audits(t, h, ev.ID, "") {
		if len(ops) == 0 || ops[len(ops)-1] != e.Operation {
			ops = append(ops, e.Operation)
		}
	}
	want := []string{"event.create", "action.NOTIFY", "action.REJECT", "action.NOTIFY", "action.DECLARE", "action.VALIDATE", "action.REGISTER",
		"action.PRINT_CERTIFICATE", "action.REQUEST_CORRECTION", "action.APPROVE_CORRECTION", "action.PRINT_CERTIFICATE"}
	if strings.Join(ops, ",") != strings.Join(want, ",") {
		t.Errorf("audit trail %v, want %v", ops, want)
	}
}
