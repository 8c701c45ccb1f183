package nationalid_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/routing"
	"github.com/crvshub/crvshub/hub/nationalid"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// fakeID answers every registration with a fixed outcome or error.
type fakeID struct {
	out   adapters.Outcome
	err   error
	calls int
}

func (f *fakeID) Name() string { return "fake" }
func (f *fakeID) Register(context.Context, adapters.Registration) (adapters.Outcome, error) {
	f.calls++
	return f.out, f.err
}
func (f *fakeID) Verify(context.Context, adapters.IdentityClaim) (adapters.Verification, error) {
	return adapters.Verification{}, errors.New("not supported")
}

// TestDispatcherOutcomes: a partner that answers at once (accept with a
// number and additions, or reject with a reason) resolves the action in
// the same handling; a permanent error is reported as permanent; a
// message for an action already resolved does not call the partner.
func TestDispatcherOutcomes(t *testing.T) {
	h := hubtest.Start(t, hubtest.Options{})
	tok := h.ClientToken(hubtest.OfficeIbombo, officeScopes...)
	// a REGISTER left Requested, as a routed one is
	requestedRegister := func(tx string) (*core.EventDocument, *core.Action) {
		ev := h.Notify(tok, "birth", tx, hubtest.BirthDeclaration("Fake", "Partner"))
		svc := *h.App.Service
		svc.Confirmer = core.ConfirmerFunc(func(_ context.Context, _ *core.EventDocument, a *core.Action) (core.Confirmation, error) {
			if a.Type == core.ActionRegister {
				return core.Confirmation{Decision: core.Defer}, nil
			}
			return core.Confirmation{Decision: core.Accept}, nil
		})
		p := core.Principal{ID: "t", Type: core.UserTypeSystem, Scopes: mustScopes(t, hubtest.AllScopes...), Office: hubtest.OfficeIbombo}
		if _, err := svc.Act(context.Background(), p, ev.ID, core.ActionInput{Type: core.ActionDeclare, TransactionID: tx + "-d", CreatedAtLocation: hubtest.OfficeIbombo}); err != nil {
			t.Fatal(err)
		}
		out, err := svc.Act(context.Background(), p, ev.ID, core.ActionInput{Type: core.ActionRegister, TransactionID: tx + "-r", CreatedAtLocation: hubtest.OfficeIbombo})
		if err != nil {
			t.Fatal(err)
		}
		return out, core.Derive(out).Pending
	}
	msg := func(ev *core.EventDocument, a *core.Action) []byte {
		b, _ := json.Marshal(routing.Message{Partner: "fake", EventID: ev.ID, EventType: ev.Type, ActionID: a.ID, ActionType: a.Type})
		return b
	}
	ctx := context.Background()

	t.Run("accepted at once", func(t *testing.T) {
		f := &fakeID{out: adapters.Outcome{Kind: adapters.Accepted, RegistrationNumber: "FAKE-0001",
			Declaration: core.Declaration{"child.nid": json.RawMessage(`"7777777777"`)}}}
		d := &nationalid.Dispatcher{Service: h.App.Service, Partners: map[string]adapters.NationalID{"fake": f}}
		ev, req := requestedRegister("acc")
		if err := d.Handle(ctx, msg(ev, req)); err != nil {
			t.Fatal(err)
		}
		got, _ := h.App.Store.Event(ctx, ev.ID)
		st := core.Derive(got)
		if st.Status != core.EventRegistered || st.Registered.RegistrationNumber != "FAKE-0001" || string(st.Declaration["child.nid"]) != `"7777777777"` {
			t.Fatalf("after an immediate accept: %s %+v %s", st.Status, st.Registered, st.Declaration["child.nid"])
		}
		// redelivered: the partner is not called again
		if err := d.Handle(ctx, msg(ev, req)); err != nil || f.calls != 1 {
			t.Fatalf("redelivery: %v, %d partner calls", err, f.calls)
		}
	})
	t.Run("rejected at once", func(t *testing.T) {
		f := &fakeID{out: adapters.Outcome{Kind: adapters.Rejected, Reason: "person already registered"}}
		d := &nationalid.Dispatcher{Service: h.App.Service, Partners: map[string]adapters.NationalID{"fake": f}}
		ev, req := requestedRegister("rej")
		if err := d.Handle(ctx, msg(ev, req)); err != nil {
			t.Fatal(err)
		}
		got, _ := h.App.Store.Event(ctx, ev.ID)
		last := got.Actions[len(got.Actions)-1]
		if last.Status != core.StatusRejected || last.OriginalActionID != req.ID || last.Content["reason"] != "person already registered" {
			t.Fatalf("after an immediate reject: %+v", last)
		}
		if st := core.Derive(got); st.Status == core.EventRegistered || st.Pending != nil {
			t.Fatalf("rejected REGISTER left %s pending=%v", st.Status, st.Pending)
		}
	})
	t.Run("an outcome contradicting the record is kept for operators", func(t *testing.T) {
		d := &nationalid.Dispatcher{Service: h.App.Service, Partners: map[string]adapters.NationalID{"fake": &fakeID{}}, DeadLetters: h.App.Store}
		ev, req := requestedRegister("contra")
		op := core.Principal{ID: "operator", Type: core.UserTypeSystem, Scopes: mustScopes(t, officeScopes...), Office: hubtest.OfficeIbombo}
		if _, err := h.App.Service.Resolve(ctx, op, ev.ID, req.ID, core.Confirmation{Decision: core.Reject, Reason: "waited too long"}); err != nil {
			t.Fatal(err)
		}
		accept := adapters.Outcome{Kind: adapters.Accepted, Reference: "PKT-1", Declaration: core.Declaration{"child.nid": json.RawMessage(`"7777777777"`)}}
		for range 2 { // a repeated delivery updates the one dead letter
			if err := d.Resolver("fake").Resolve(ctx, ev.ID, req.ID, accept); err != nil {
				t.Fatalf("contradicting accept: %v", err)
			}
		}
		// a reject of a rejected action contradicts nothing
		if err := d.Resolver("fake").Resolve(ctx, ev.ID, req.ID, adapters.Outcome{Kind: adapters.Rejected}); err != nil {
			t.Fatal(err)
		}
		dls, err := h.App.Store.DeadLetters(ctx, core.DeadLetterFilter{Status: core.DeadLetterDead})
		if err != nil {
			t.Fatal(err)
		}
		var mine []core.DeadLetter
		for _, dl := range dls {
			if dl.Metadata["event_id"] == ev.ID {
				mine = append(mine, dl)
			}
		}
		if len(mine) != 1 || mine[0].Attempts != 2 || mine[0].Handler != "nationalid-fake" || mine[0].Metadata["reference"] != "PKT-1" ||
			!strings.Contains(mine[0].Error, "already been rejected") {
			t.Fatalf("dead letters of the contradicted action: %+v", mine)
		}
		if strings.Contains(mine[0].Error, "7777777777") || strings.Contains(string(mine[0].Payload), "7777777777") {
			t.Fatalf("the dead letter carries the partner's identity number: %+v", mine[0])
		}
		if got, _ := h.App.Store.Event(ctx, ev.ID); core.Derive(got).Status == core.EventRegistered {
			t.Fatal("a contradicting accept registered the record")
		}
		// not stored: the delivery is refused (the partner comes back), not dropped
		d.DeadLetters = failingSink{}
		if err := d.Resolver("fake").Resolve(ctx, ev.ID, req.ID, accept); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("with the dead letter store failing: %v, want the error", err)
		}
	})
	t.Run("permanent error", func(t *testing.T) {
		f := &fakeID{err: errors.Join(adapters.ErrPermanent, errors.New("MOSIP: KER-PUT-002 invalid fields"))}
		d := &nationalid.Dispatcher{Service: h.App.Service, Partners: map[string]adapters.NationalID{"fake": f}}
		ev, req := requestedRegister("perm")
		err := d.Handle(ctx, msg(ev, req))
		if !adapters.IsPermanent(err) || !strings.Contains(err.Error(), "KER-PUT-002") {
			t.Fatalf("Handle = %v, want a permanent error naming MOSIP's code", err)
		}
	})
	t.Run("bad messages are permanent", func(t *testing.T) {
		d := &nationalid.Dispatcher{Service: h.App.Service, Partners: map[string]adapters.NationalID{"fake": &fakeID{}}}
		for name, payload := range map[string]string{
			"not json":        `{`,
			"unknown partner": `{"partner":"osia","eventId":"x","actionId":"y"}`,
			"unknown event":   `{"partner":"fake","eventId":"` + core.NewID() + `","actionId":"y"}`,
		} {
			if err := d.Handle(ctx, []byte(payload)); !adapters.IsPermanent(err) {
				t.Errorf("%s: %v, want permanent", name, err)
			}
		}
	})
}

type failingSink struct{}

func (failingSink) PutDeadLetter(context.Context, core.DeadLetter) error {
	return errors.New("disk full")
}

func mustScopes(t *testing.T, s ...string) core.Scopes {
	t.Helper()
	sc, err := core.ParseScopes(s)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}
