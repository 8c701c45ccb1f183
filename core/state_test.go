package core_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
	fl "github.com/crvshub/crvshub/testharness/farajaland"
)

func TestActionFlag(t *testing.T) {
	for _, c := range []struct {
		t    core.ActionType
		s    core.ActionStatus
		want string
	}{
		{core.ActionRegister, core.StatusRequested, "register:requested"},
		{core.ActionNotify, core.StatusRejected, "notify:rejected"},
		{core.ActionRequestCorrection, core.StatusRequested, "request_correction:requested"},
	} {
		if got := core.ActionFlag(c.t, c.s); got != c.want {
			t.Errorf("ActionFlag(%s, %s) = %q, want %q", c.t, c.s, got, c.want)
		}
	}
}

// TestDeriveStatusAndFlags folds real action histories and checks the
// derived status and flags.
func TestDeriveStatusAndFlags(t *testing.T) {
	A := func(types ...core.ActionType) func(*history) {
		return func(h *history) {
			for _, ty := range types {
				h.do(ty)
			}
		}
	}
	const (
		create, notify, declare, validate, register = core.ActionCreate, core.ActionNotify, core.ActionDeclare, core.ActionValidate, core.ActionRegister
		reject, archive, print, reqCorr, apprCorr   = core.ActionReject, core.ActionArchive, core.ActionPrintCertificate, core.ActionRequestCorrection, core.ActionApproveCorrection
		rejCorr, dupDet, markDup, markNotDup, edit  = core.ActionRejectCorrection, core.ActionDuplicateDetected, core.ActionMarkAsDuplicate, core.ActionMarkAsNotDuplicate, core.ActionEdit
		read, assign, unassign, del                 = core.ActionRead, core.ActionAssign, core.ActionUnassign, core.ActionDelete
	)
	cases := []struct {
		name   string
		build  func(*history)
		status core.EventStatus
		flags  []string
	}{
		{"create", A(create), core.EventCreated, nil},
		{"notify sets incomplete", A(create, notify), core.EventNotified, []string{"incomplete"}},
		{"declare", A(create, declare), core.EventDeclared, nil},
		{"declare clears incomplete", A(create, notify, declare), core.EventDeclared, nil},
		{"validate clears incomplete", A(create, notify, validate), core.EventValidated, nil},
		{"register clears incomplete", A(create, notify, register), core.EventRegistered, nil},
		{"archive clears incomplete", A(create, notify, archive), core.EventArchived, nil},
		{"create clears incomplete", A(create, notify, create), core.EventCreated, nil},
		{"full path", A(create, notify, declare, validate, register), core.EventRegistered, nil},
		{"reject keeps status", A(create, declare, reject), core.EventDeclared, []string{"rejected"}},
		{"reject on notified", A(create, notify, reject), core.EventNotified, []string{"incomplete", "rejected"}},
		{"notify clears rejected", A(create, notify, reject, notify), core.EventNotified, []string{"incomplete"}},
		{"declare clears rejected", A(create, declare, reject, declare), core.EventDeclared, nil},
		{"validate clears rejected", A(create, declare, reject, validate), core.EventValidated, nil},
		{"register clears rejected", A(create, declare, reject, register), core.EventRegistered, nil},
		{"edit clears rejected", A(create, declare, reject, edit), core.EventDeclared, nil},
		{"archive keeps rejected", A(create, declare, reject, archive), core.EventArchived, []string{"rejected"}},
		{"duplicate detected", A(create, declare, dupDet), core.EventDeclared, []string{"potential-duplicate"}},
		{"mark as duplicate rejects", A(create, declare, dupDet, markDup), core.EventDeclared, []string{"rejected"}},
		{"mark as not duplicate", A(create, declare, dupDet, markNotDup), core.EventDeclared, nil},
		{"print", A(create, declare, register, print), core.EventRegistered, []string{"printed"}},
		{"request correction", A(create, declare, register, print, reqCorr), core.EventRegistered, []string{"correction-requested", "printed"}},
		{"approve correction clears printed", A(create, declare, register, print, reqCorr, apprCorr), core.EventRegistered, nil},
		{"reject correction keeps printed", A(create, declare, register, print, reqCorr, rejCorr), core.EventRegistered, []string{"printed"}},
		{"read assign unassign keep state", A(create, notify, read, assign, unassign, read), core.EventNotified, []string{"incomplete"}},
		{"delete keeps status", A(create, del), core.EventCreated, nil},
		{"pending notify does not count", func(h *history) {
			h.do(create)
			h.request(notify, decl(t, `{"child.gender":"male"}`))
		}, core.EventCreated, []string{"notify:requested"}},
		{"rejected notify does not count", func(h *history) {
			h.do(create)
			h.resolve(h.request(notify, nil), core.StatusRejected, nil)
		}, core.EventCreated, []string{"notify:rejected"}},
		{"a rejected request leaves its flag until the type is accepted", func(h *history) {
			h.do(create)
			h.do(declare)
			h.resolve(h.request(register, nil), core.StatusRejected, nil)
			h.do(read)
			h.do(validate)
		}, core.EventValidated, []string{"register:rejected"}},
		{"an accepted retry clears the rejected request flag", func(h *history) {
			h.do(create)
			h.do(declare)
			h.resolve(h.request(register, nil), core.StatusRejected, nil)
			h.do(register)
		}, core.EventRegistered, nil},
		{"requested then accepted leaves no action flag", func(h *history) {
			h.do(create)
			h.resolve(h.request(declare, nil), core.StatusAccepted, nil)
		}, core.EventDeclared, nil},
		{"pending correction request", func(h *history) {
			A(create, declare, register)(h)
			h.request(reqCorr, nil)
		}, core.EventRegistered, []string{"request_correction:requested"}},
		{"pending reject on a declared event", func(h *history) {
			A(create, declare)(h)
			h.request(reject, nil)
		}, core.EventDeclared, []string{"reject:requested"}},
		{"rejected archive keeps status", func(h *history) {
			A(create, notify)(h)
			h.resolve(h.request(archive, nil), core.StatusRejected, nil)
		}, core.EventNotified, []string{"archive:rejected", "incomplete"}},
		{"only the latest resolution per type counts", func(h *history) {
			h.do(create)
			h.resolve(h.request(notify, nil), core.StatusRejected, nil)
			h.request(notify, nil)
		}, core.EventCreated, []string{"notify:requested"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHistory("birth")
			c.build(h)
			st := h.state()
			if st.Status != c.status {
				t.Errorf("status = %s, want %s (history %s)", st.Status, c.status, h.types())
			}
			want := c.flags
			if want == nil {
				want = []string{}
			}
			if !slices.Equal(st.Flags, want) {
				t.Errorf("flags = %q, want %q (history %s)", st.Flags, want, h.types())
			}
			if !slices.IsSorted(st.Flags) {
				t.Errorf("flags not sorted: %q", st.Flags)
			}
			pendingFlag := false
			for _, f := range st.Flags {
				pendingFlag = pendingFlag || strings.HasSuffix(f, ":requested")
			}
			if pendingFlag != (st.Pending != nil) {
				t.Errorf("Pending = %v but flags %q", st.Pending, st.Flags)
			}
		})
	}
}

func TestDeriveDeleted(t *testing.T) {
	h := newHistory("birth").do(core.ActionCreate)
	if h.state().Deleted {
		t.Fatal("a new event is not deleted")
	}
	h.do(core.ActionDelete)
	st := h.state()
	if !st.Deleted {
		t.Fatal("DELETE must mark the event deleted")
	}
	if got := core.AllowedActions(st); len(got) != 0 {
		t.Fatalf("no action is allowed on a deleted event, got %v", got)
	}
	for _, a := range core.AllActionTypes {
		err := core.CheckAllowed(st, a)
		if err == nil {
			t.Fatalf("%s allowed on a deleted event", a)
		}
		if e := coreErr(t, err); e.Kind != core.KindConflict || !strings.Contains(e.Message, "deleted") {
			t.Errorf("%s on a deleted event: %v (kind %v); want a conflict that says the event is deleted", a, e, e.Kind)
		}
	}
}

func TestDerivePending(t *testing.T) {
	h := newHistory("birth").do(core.ActionCreate)
	id := h.request(core.ActionNotify, decl(t, `{"child.gender":"female"}`))
	st := h.state()
	if st.Pending == nil || st.Pending.ID != id || st.Pending.Type != core.ActionNotify {
		t.Fatalf("Pending = %+v, want the NOTIFY request %s", st.Pending, id)
	}
	if _, ok := st.Declaration["child.gender"]; ok {
		t.Fatal("a requested action's declaration must not count before it is accepted")
	}
	h.resolve(id, core.StatusAccepted, nil)
	st = h.state()
	if st.Pending != nil {
		t.Fatalf("Pending after acceptance = %+v", st.Pending)
	}
	if string(st.Declaration["child.gender"]) != `"female"` {
		t.Fatalf("accepted declaration not applied: %s", st.Declaration)
	}
}

func TestDeriveDeclarationAggregation(t *testing.T) {
	h := newHistory("birth").do(core.ActionCreate)
	h.doDecl(core.ActionNotify, decl(t, `{"child.gender":"male","child.reason":"late","child.dob":"2024-01-01"}`))
	// a rejected NOTIFY changes nothing
	h.resolve(h.request(core.ActionNotify, decl(t, `{"child.gender":"female"}`)), core.StatusRejected, nil)
	// the confirmer adds child.nid and removes child.reason from the request
	req := h.request(core.ActionDeclare, decl(t, `{"child.dob":"2024-01-02","child.reason":"later","child.birthType":"SINGLE"}`))
	acc := h.resolve(req, core.StatusAccepted, decl(t, `{"child.nid":"1234567890","child.reason":null}`))
	// a null in a request clears a field of the aggregate
	h.doDecl(core.ActionValidate, decl(t, `{"child.birthType":null}`))
	st := h.state()
	want := map[string]string{
		"child.gender": `"male"`,
		"child.dob":    `"2024-01-02"`,
		"child.nid":    `"1234567890"`,
		// child.reason: the accepted row's null removes it from the DECLARE's
		// effective declaration, so the NOTIFY value stays.
		"child.reason": `"late"`,
	}
	got := map[string]string{}
	for k, v := range st.Declaration {
		got[k] = string(v)
	}
	if len(got) != len(want) {
		t.Errorf("declaration = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("declaration[%s] = %s, want %s", k, got[k], v)
		}
	}
	eff := core.Effective(h.ev, h.ev.FindAction(acc.ID))
	if eff.Type != core.ActionDeclare || eff.Status != core.StatusAccepted || eff.ID != acc.ID || eff.OriginalActionID != req {
		t.Errorf("Effective identity = %s/%s/%s/%s", eff.Type, eff.Status, eff.ID, eff.OriginalActionID)
	}
	if _, ok := eff.Declaration["child.reason"]; ok {
		t.Errorf("null in the accepted row must remove the key from the effective declaration: %v", eff.Declaration)
	}
	if string(eff.Declaration["child.nid"]) != `"1234567890"` || string(eff.Declaration["child.birthType"]) != `"SINGLE"` {
		t.Errorf("effective declaration = %v", eff.Declaration)
	}
	// the rows themselves are untouched
	if _, ok := h.ev.FindAction(req).Declaration["child.nid"]; ok {
		t.Error("Effective modified the Requested row")
	}
}

func TestEffectiveContentAndRegistrationNumber(t *testing.T) {
	h := newHistory("birth").do(core.ActionCreate).do(core.ActionDeclare)
	req := h.request(core.ActionRegister, nil)
	h.ev.FindAction(req).Content = map[string]any{"a": "request", "b": "request"}
	h.ev.FindAction(req).Annotation = decl(t, `{"review.comment":"ok","x":1}`)
	acc := h.resolve(req, core.StatusAccepted, nil)
	acc.Content = map[string]any{"b": "accepted"}
	acc.Annotation = decl(t, `{"x":null}`)
	acc.RegistrationNumber = "ABC123"
	eff := core.Effective(h.ev, acc)
	if eff.Content["a"] != "request" || eff.Content["b"] != "accepted" {
		t.Errorf("content = %v, want request overlaid by accepted", eff.Content)
	}
	if _, ok := eff.Annotation["x"]; ok || string(eff.Annotation["review.comment"]) != `"ok"` {
		t.Errorf("annotation = %v", eff.Annotation)
	}
	if eff.RegistrationNumber != "ABC123" || !eff.CreatedAt.Equal(acc.CreatedAt) {
		t.Errorf("registration number %q, createdAt %v", eff.RegistrationNumber, eff.CreatedAt)
	}
	// a row without a request is its own effective action
	plain := h.ev.Actions[0]
	if got := core.Effective(h.ev, &plain); got.ID != plain.ID || got.Type != core.ActionCreate {
		t.Errorf("Effective(CREATE) = %+v", got)
	}
	// a dangling originalActionId falls back to the row itself
	dangling := core.Action{ID: "x", Type: core.ActionNotify, Status: core.StatusAccepted, OriginalActionID: "nope", Declaration: decl(t, `{"a":1}`)}
	if got := core.Effective(h.ev, &dangling); string(got.Declaration["a"]) != "1" {
		t.Errorf("Effective(dangling) = %+v", got)
	}
}

func TestMergeDeclaration(t *testing.T) {
	base := decl(t, `{"a":1,"b":2,"c":{"x":1}}`)
	upd := decl(t, `{"b":null,"c":{"y":2},"d":"new","e":null}`)
	got := core.MergeDeclaration(base, upd)
	js, _ := json.Marshal(got)
	if string(js) != `{"a":1,"c":{"y":2},"d":"new"}` {
		t.Errorf("merge = %s", js)
	}
	if len(base) != 3 || len(upd) != 4 {
		t.Error("MergeDeclaration modified its inputs")
	}
	if got := core.MergeDeclaration(nil, nil); got == nil || len(got) != 0 {
		t.Errorf("merge of nils = %v, want an empty map", got)
	}
}

func TestDeriveCorrection(t *testing.T) {
	h := newHistory("birth").do(core.ActionCreate)
	h.doDecl(core.ActionDeclare, decl(t, `{"child.gender":"male","child.dob":"2024-01-01"}`))
	h.do(core.ActionRegister)
	req := h.request(core.ActionRequestCorrection, decl(t, `{"child.gender":"female"}`))
	h.resolve(req, core.StatusAccepted, decl(t, `{"child.dob":"2024-01-03"}`))
	st := h.state()
	if st.CorrectionRequest == nil || !st.HasFlag(core.FlagCorrectionRequested) {
		t.Fatalf("correction request not derived: %+v %v", st.CorrectionRequest, st.Flags)
	}
	if string(st.Declaration["child.gender"]) != `"male"` {
		t.Fatal("a correction request must not change the declaration before approval")
	}
	h.do(core.ActionRejectCorrection)
	if st = h.state(); st.CorrectionRequest != nil || st.HasFlag(core.FlagCorrectionRequested) || string(st.Declaration["child.gender"]) != `"male"` {
		t.Fatalf("after REJECT_CORRECTION: %+v %v %s", st.CorrectionRequest, st.Flags, st.Declaration)
	}
	req = h.request(core.ActionRequestCorrection, decl(t, `{"child.gender":"female"}`))
	h.resolve(req, core.StatusAccepted, decl(t, `{"child.dob":"2024-01-03"}`))
	h.do(core.ActionApproveCorrection)
	st = h.state()
	if st.CorrectionRequest != nil || st.HasFlag(core.FlagCorrectionRequested) {
		t.Fatalf("approval must clear the request: %v", st.Flags)
	}
	if string(st.Declaration["child.gender"]) != `"female"` || string(st.Declaration["child.dob"]) != `"2024-01-03"` {
		t.Fatalf("approval must apply the request's effective declaration: %s", st.Declaration)
	}
	if st.Status != core.EventRegistered {
		t.Fatalf("status = %s", st.Status)
	}
}

func TestDeriveMetadata(t *testing.T) {
	h := newHistory("birth").do(core.ActionCreate)
	h.ev.Actions[0].CreatedBy = "client-1"
	h.ev.Actions[0].CreatedByUserType = core.UserTypeSystem
	h.ev.Actions[0].CreatedAtLocation = fl.HQOffice
	decReq := h.request(core.ActionDeclare, nil)
	decAcc := h.resolve(decReq, core.StatusAccepted, nil)
	regReq := h.request(core.ActionRegister, nil)
	h.ev.FindAction(regReq).CreatedAtLocation = fl.IlangaOffice
	regAcc := h.resolve(regReq, core.StatusAccepted, nil)
	regAcc.RegistrationNumber = "NUM1"
	h.do(core.ActionAssign)
	h.do(core.ActionRead)
	h.ev.Actions[len(h.ev.Actions)-1].CreatedBy = "reader"
	st := h.state()
	if st.CreatedBy != "client-1" || st.CreatedByUserType != core.UserTypeSystem || st.CreatedAtLocation != fl.HQOffice {
		t.Errorf("created* = %s %s %s", st.CreatedBy, st.CreatedByUserType, st.CreatedAtLocation)
	}
	if st.UpdatedBy != "user-1" || st.UpdatedBy == "reader" {
		t.Errorf("READ must not count as an update: updatedBy %s", st.UpdatedBy)
	}
	assign := h.ev.Actions[len(h.ev.Actions)-2]
	if !st.UpdatedAt.Equal(assign.CreatedAt) {
		t.Errorf("updatedAt = %v, want the ASSIGN time %v", st.UpdatedAt, assign.CreatedAt)
	}
	if st.AssignedTo != "user-1" {
		t.Errorf("assignedTo = %q", st.AssignedTo)
	}
	if st.Declared == nil || !st.Declared.CreatedAt.Equal(h.ev.FindAction(decReq).CreatedAt) || !st.Declared.AcceptedAt.Equal(decAcc.CreatedAt) {
		t.Errorf("declared legal status = %+v", st.Declared)
	}
	if st.Registered == nil || st.Registered.RegistrationNumber != "NUM1" || st.Registered.CreatedAtLocation != fl.IlangaOffice ||
		!st.Registered.AcceptedAt.Equal(regAcc.CreatedAt) || !st.Registered.CreatedAt.Equal(h.ev.FindAction(regReq).CreatedAt) {
		t.Errorf("registered legal status = %+v", st.Registered)
	}
	h.do(core.ActionUnassign)
	if st := h.state(); st.AssignedTo != "" {
		t.Errorf("assignedTo after UNASSIGN = %q", st.AssignedTo)
	}
}

// VALIDATE without DECLARE (NOTIFY -> VALIDATE) records the DECLARED
// legal status; a second VALIDATE does not move it.
func TestDeriveValidateSetsDeclaredOnce(t *testing.T) {
	h := newHistory("birth").do(core.ActionCreate).do(core.ActionNotify).do(core.ActionValidate)
	st := h.state()
	if st.Declared == nil {
		t.Fatal("VALIDATE of a notified event must record the DECLARED legal status")
	}
	first := st.Declared.AcceptedAt
	h.do(core.ActionValidate)
	if st := h.state(); !st.Declared.AcceptedAt.Equal(first) {
		t.Error("a second VALIDATE must not move the DECLARED legal status")
	}
}
