package core_test

import (
	"context"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
	fl "github.com/crvshub/crvshub/testharness/farajaland"
)

// TestResolveWithRecordScopedPrincipal: a record-scoped principal may
// resolve its own action only.
func TestResolveWithRecordScopedPrincipal(t *testing.T) {
	conf := deferring(core.ActionNotify)
	svc, _ := newService(t, conf)
	ctx := context.Background()
	p := systemClient(t, allRecordScopes...)
	ev, _, err := svc.CreateAndNotify(ctx, p, core.CreateAndNotifyInput{TransactionID: "tx-1", EventType: "birth", CreatedAtLocation: fl.IbomboOffice,
		Declaration: decl(t, `{"child.gender":"female"}`)})
	if err != nil {
		t.Fatal(err)
	}
	pending := core.Derive(ev).Pending
	rp := core.Principal{ID: "crvshub", Type: core.UserTypeSystem, Scopes: mustScopes(t, "record.confirm-registration", "record.reject-registration")}
	for _, g := range []core.RecordGrant{{EventID: ev.ID, ActionID: core.NewID()}, {EventID: core.NewID(), ActionID: pending.ID}} {
		rp.Record = &g
		if _, err := svc.Resolve(ctx, rp, ev.ID, pending.ID, core.Confirmation{Decision: core.Accept}); core.KindOf(err) != core.KindForbidden {
			t.Fatalf("grant %+v resolving another action: %v, want 403", g, err)
		}
	}
	rp.Record = &core.RecordGrant{EventID: strings.ToUpper(ev.ID), ActionID: pending.ID}
	if _, err := svc.Resolve(ctx, rp, ev.ID, pending.ID, core.Confirmation{Decision: core.Accept}); err != nil {
		t.Fatalf("own action: %v", err)
	}
	if _, err := svc.Act(ctx, rp, ev.ID, core.ActionInput{Type: core.ActionDeclare, TransactionID: "x"}); core.KindOf(err) != core.KindForbidden {
		t.Fatalf("a record-scoped principal declared: %v", err)
	}
}

// TestApproveCorrectionAdditions: what a confirmer adds when it accepts an
// APPROVE_CORRECTION (a VID) is part of the record, and the routing rules
// see the corrected declaration before the approval is accepted.
func TestApproveCorrectionAdditions(t *testing.T) {
	var seen core.Declaration
	conf := core.ConfirmerFunc(func(_ context.Context, ev *core.EventDocument, a *core.Action) (core.Confirmation, error) {
		if a.Type == core.ActionApproveCorrection {
			seen = core.DeclarationIfAccepted(ev, a)
			return core.Confirmation{Decision: core.Accept, Declaration: decl(t, `{"child.nid":"5614716359"}`)}, nil
		}
		return core.Confirmation{Decision: core.Accept}, nil
	})
	svc, _ := newService(t, conf)
	ctx := context.Background()
	p := systemClient(t, allRecordScopes...)
	full := `{"child.name":{"firstname":"A","surname":"B"},"child.gender":"male","child.dob":"2024-02-02","child.placeOfBirth":"HEALTH_FACILITY","child.birthLocation":"` + fl.IbomboHospital + `","informant.relation":"MOTHER","mother.name":{"firstname":"M","surname":"B"}}`
	ev, err := svc.CreateEvent(ctx, p, core.CreateInput{TransactionID: "c", Type: "birth", CreatedAtLocation: fl.IbomboOffice})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []core.ActionInput{
		{Type: core.ActionDeclare, TransactionID: "d", Declaration: decl(t, full)},
		{Type: core.ActionRegister, TransactionID: "r"},
		{Type: core.ActionRequestCorrection, TransactionID: "rc", Declaration: decl(t, `{"mother.verified":"verified"}`)},
		{Type: core.ActionApproveCorrection, TransactionID: "ac"},
	} {
		in.CreatedAtLocation = fl.IbomboOffice
		if ev, err = svc.Act(ctx, p, ev.ID, in); err != nil {
			t.Fatalf("%s: %v", in.Type, err)
		}
	}
	if string(seen["mother.verified"]) != `"verified"` || string(seen["child.name"]) == "" {
		t.Fatalf("the confirmer saw %v, want the corrected declaration", seen)
	}
	st := core.Derive(ev)
	if string(st.Declaration["child.nid"]) != `"5614716359"` || string(st.Declaration["mother.verified"]) != `"verified"` {
		t.Fatalf("after the approval: %s", st.Declaration)
	}
}
