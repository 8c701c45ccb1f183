package core_test

import (
	"context"
	"testing"

	"github.com/crvshub/crvshub/core"
	fl "github.com/crvshub/crvshub/testharness/farajaland"
)

// TestRegistrationNumberReservation: the number a REGISTER waiting for a
// partner carries is the record's from that moment; no other record can be
// registered under it; a rejection frees it; a partner's own number
// replaces it.
func TestRegistrationNumberReservation(t *testing.T) {
	deferRegister := deferring(core.ActionRegister)
	svc, _ := newService(t, deferRegister)
	ctx := context.Background()
	p := systemClient(t, allRecordScopes...)
	full := `{"child.name":{"firstname":"A","surname":"B"},"child.gender":"male","child.dob":"2024-02-02","child.placeOfBirth":"HEALTH_FACILITY","child.birthLocation":"` +
		fl.IbomboHospital + `","informant.relation":"MOTHER","mother.name":{"firstname":"M","surname":"B"}}`
	declared := func(tx string) *core.EventDocument {
		t.Helper()
		ev, _, err := svc.CreateAndNotify(ctx, p, core.CreateAndNotifyInput{TransactionID: tx, EventType: "birth", CreatedAtLocation: fl.IbomboOffice, Declaration: decl(t, full)})
		if err != nil {
			t.Fatal(err)
		}
		if ev, err = svc.Act(ctx, p, ev.ID, core.ActionInput{Type: core.ActionDeclare, TransactionID: tx + "-d", CreatedAtLocation: fl.IbomboOffice}); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	register := func(ev *core.EventDocument, tx, number string) (*core.EventDocument, error) {
		return svc.Act(ctx, p, ev.ID, core.ActionInput{Type: core.ActionRegister, TransactionID: tx, CreatedAtLocation: fl.IbomboOffice, RegistrationNumber: number})
	}
	a, b := declared("a"), declared("b")
	a, err := register(a, "a-r", "")
	if err != nil {
		t.Fatal(err)
	}
	req := core.Derive(a).Pending
	if req == nil || req.RegistrationNumber != "REG000000042" {
		t.Fatalf("pending REGISTER: %+v", req)
	}
	// B may not take A's reserved number, nor does the generator hand it out
	if _, err := register(b, "b-r", req.RegistrationNumber); core.KindOf(err) != core.KindConflict {
		t.Fatalf("B registering under A's reserved number: %v", err)
	}
	if _, err := register(b, "b-r2", ""); core.KindOf(err) != core.KindInternal {
		// the test generator always draws REG000000042: ten draws, all taken
		t.Fatalf("B registering with the generator's only number: %v", err)
	}
	// A is rejected: the number is free again, and B may have it
	if _, err := svc.Resolve(ctx, p, a.ID, req.ID, core.Confirmation{Decision: core.Reject, Reason: "partner refused"}); err != nil {
		t.Fatal(err)
	}
	b, err = register(b, "b-r3", "")
	if err != nil {
		t.Fatal(err)
	}
	breq := core.Derive(b).Pending
	if breq == nil || breq.RegistrationNumber != "REG000000042" {
		t.Fatalf("B's pending REGISTER: %+v", breq)
	}
	// B's partner registers it under its own number: REG000000042 is free again
	if b, err = svc.Resolve(ctx, p, b.ID, breq.ID, core.Confirmation{Decision: core.Accept, RegistrationNumber: "PARTNER-7"}); err != nil {
		t.Fatal(err)
	}
	if st := core.Derive(b); st.Registered == nil || st.Registered.RegistrationNumber != "PARTNER-7" {
		t.Fatalf("B registered as %+v", st.Registered)
	}
	a, err = register(a, "a-r2", "")
	if err != nil {
		t.Fatalf("A again, after B's partner chose its own number: %v", err)
	}
	if n := core.Derive(a).Pending.RegistrationNumber; n != "REG000000042" {
		t.Fatalf("A's number %s", n)
	}
	// and nobody may take PARTNER-7 now
	c := declared("c")
	if _, err := register(c, "c-r", "PARTNER-7"); core.KindOf(err) != core.KindConflict {
		t.Fatalf("C registering under B's number: %v", err)
	}
}
