package core_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
)

func intp(i int) *int { return &i }

func TestRouteRuleMatch(t *testing.T) {
	verified := core.RouteRule{Field: "mother.verified", In: []string{"verified", "authenticated"}}
	young := core.RouteRule{Field: "child.dob", MaxAgeYears: intp(10)}
	tests := []struct {
		name string
		rule core.RouteRule
		decl string
		want bool
	}{
		{"in: match", verified, `{"mother.verified":"verified"}`, true},
		{"in: other value", verified, `{"mother.verified":"failed"}`, false},
		{"in: absent", verified, `{}`, false},
		{"in: null", verified, `{"mother.verified":null}`, false},
		{"notIn: absent counts as not in", core.RouteRule{Field: "informant.relation", NotIn: []string{"SPOUSE"}}, `{}`, true},
		{"notIn: listed", core.RouteRule{Field: "informant.relation", NotIn: []string{"SPOUSE"}}, `{"informant.relation":"SPOUSE"}`, false},
		{"present", core.RouteRule{Field: "child.nid", Present: true}, `{"child.nid":"123"}`, true},
		{"present: absent", core.RouteRule{Field: "child.nid", Present: true}, `{}`, false},
		// today is 2025-06-15 (testNow)
		{"age: 10 years old today", young, `{"child.dob":"2015-06-15"}`, true},
		{"age: 11 tomorrow is still 10", young, `{"child.dob":"2014-06-16"}`, true},
		{"age: 11 today", young, `{"child.dob":"2014-06-15"}`, false},
		{"age: newborn", young, `{"child.dob":"2025-06-14"}`, true},
		{"age: no date", young, `{}`, false},
		{"age: malformed date", young, `{"child.dob":"2015-6-1"}`, false},
		{"all: both", core.RouteRule{All: []core.RouteRule{young, verified}}, `{"child.dob":"2020-01-01","mother.verified":"authenticated"}`, true},
		{"all: one", core.RouteRule{All: []core.RouteRule{young, verified}}, `{"child.dob":"2020-01-01"}`, false},
		{"any: one", core.RouteRule{Any: []core.RouteRule{verified, {Field: "father.verified", In: []string{"verified"}}}}, `{"father.verified":"verified"}`, true},
		{"any: none", core.RouteRule{Any: []core.RouteRule{verified, {Field: "father.verified", In: []string{"verified"}}}}, `{"father.verified":"pending"}`, false},
		{"not", core.RouteRule{Not: &verified}, `{"mother.verified":"failed"}`, true},
	}
	today := farajaland(t).Today(testNow)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.rule.Match(decl(t, tc.decl), today); got != tc.want {
				t.Fatalf("Match(%s) = %v, want %v", tc.decl, got, tc.want)
			}
		})
	}
}

func TestRoutingCheck(t *testing.T) {
	cc := farajaland(t)
	good := func() core.Route {
		return core.Route{Name: "r", Event: "birth", Actions: []core.ActionType{core.ActionRegister}, Partner: "mosip",
			When: &core.RouteRule{Field: "child.dob", MaxAgeYears: intp(10)}}
	}
	tests := []struct {
		name   string
		mutate func(r *core.Route)
		want   string // "" = valid
	}{
		{"valid", func(*core.Route) {}, ""},
		{"unknown event", func(r *core.Route) { r.Event = "marriage" }, `unknown event type "marriage"`},
		{"not routable", func(r *core.Route) { r.Actions = []core.ActionType{core.ActionDeclare} }, "DECLARE cannot go to a National ID partner"},
		{"no actions", func(r *core.Route) { r.Actions = nil }, "actions is empty"},
		{"bad mode", func(r *core.Route) { r.Mode = "later" }, `mode "later"`},
		{"bad partner", func(r *core.Route) { r.Partner = "mo.sip" }, "partner must be"},
		{"unknown field", func(r *core.Route) { r.When = &core.RouteRule{Field: "child.shoeSize", Present: true} }, `unknown field "child.shoeSize"`},
		{"age of a non-date", func(r *core.Route) { r.When = &core.RouteRule{Field: "child.gender", MaxAgeYears: intp(3)} }, "maxAgeYears needs a DATE"},
		{"two tests", func(r *core.Route) {
			r.When = &core.RouteRule{Field: "child.gender", Present: true, In: []string{"male"}}
		}, "exactly one of in"},
		{"two forms", func(r *core.Route) {
			r.When = &core.RouteRule{Field: "child.gender", Present: true, Any: []core.RouteRule{{Field: "child.dob", Present: true}}}
		}, "exactly one of all, any, not, field"},
		{"nested error", func(r *core.Route) {
			r.When = &core.RouteRule{All: []core.RouteRule{{Field: "nope", Present: true}}}
		}, `unknown field "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := good()
			tc.mutate(&r)
			rc := core.RoutingConfig{Routes: []core.Route{r}}
			err := rc.Check(cc)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if rc.Routes[0].Mode != core.ModeAsync {
					t.Errorf("default mode = %q, want async", rc.Routes[0].Mode)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	twice := core.RoutingConfig{Routes: []core.Route{good(), good()}}
	twice.Routes[1].Name = "r2"
	if err := twice.Check(cc); err == nil || !strings.Contains(err.Error(), "both send birth REGISTER to mosip") {
		t.Fatalf("overlapping routes: %v", err)
	}
}

// TestRoutingConfirmer: with the default Farajaland routing, an eligible
// birth's REGISTER stays Requested with a reserved registration number and
// one outbox message naming it; an ineligible one registers at once; a
// route to an unconfigured partner is skipped.
func TestRoutingConfirmer(t *testing.T) {
	cc := farajaland(t)
	full := `{"child.name":{"firstname":"A","surname":"B"},"child.gender":"male","child.dob":"2024-02-02","child.placeOfBirth":"HEALTH_FACILITY","child.birthLocation":"` + locIbomboHosp + `","informant.relation":"MOTHER","mother.name":{"firstname":"M","surname":"B"}`
	tests := []struct {
		name     string
		decl     string
		partners map[string]bool
		routed   bool
	}{
		{"eligible", full + `,"mother.verified":"verified"}`, map[string]bool{"mosip": true}, true},
		{"father verified", full + `,"father.verified":"authenticated"}`, map[string]bool{"mosip": true}, true},
		{"no parent verified", full + `,"mother.verified":"failed"}`, map[string]bool{"mosip": true}, false},
		{"too old", strings.Replace(full, "2024-02-02", "2010-01-01", 1) + `,"mother.verified":"verified"}`, map[string]bool{"mosip": true}, false},
		{"partner not configured", full + `,"mother.verified":"verified"}`, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := &core.RoutingConfirmer{Config: cc, Partners: tc.partners, Now: func() time.Time { return testNow }}
			svc, st := newService(t, rc)
			pokes := 0
			svc.Enqueued = func() { pokes++ }
			ctx := core.WithRequestMeta(context.Background(), core.RequestMeta{CorrelationID: "corr-1"})
			p := systemClient(t, allRecordScopes...)
			ev, err := svc.CreateEvent(ctx, p, core.CreateInput{TransactionID: "tx-c", Type: "birth", CreatedAtLocation: locIbomboOffice})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Act(ctx, p, ev.ID, core.ActionInput{Type: core.ActionDeclare, TransactionID: "tx-d", CreatedAtLocation: locIbomboOffice, Declaration: decl(t, tc.decl)}); err != nil {
				t.Fatal(err)
			}
			ev, err = svc.Act(ctx, p, ev.ID, core.ActionInput{Type: core.ActionRegister, TransactionID: "tx-r", CreatedAtLocation: locIbomboOffice})
			if err != nil {
				t.Fatal(err)
			}
			s := core.Derive(ev)
			if !tc.routed {
				if s.Status != core.EventRegistered || len(st.outbox) != 0 || pokes != 0 {
					t.Fatalf("not routed: status %s, %d messages, %d pokes; want REGISTERED, none", s.Status, len(st.outbox), pokes)
				}
				return
			}
			if s.Pending == nil || s.Status == core.EventRegistered || !strings.Contains(strings.Join(s.Flags, ","), "register:requested") {
				t.Fatalf("routed REGISTER: status %s flags %v, want it requested", s.Status, s.Flags)
			}
			if s.Pending.RegistrationNumber != "REG000000042" {
				t.Errorf("requested REGISTER carries registration number %q, want the reserved REG000000042", s.Pending.RegistrationNumber)
			}
			if len(st.outbox) != 1 || pokes != 1 {
				t.Fatalf("%d outbox messages, %d pokes; want 1 and 1", len(st.outbox), pokes)
			}
			m := st.outbox[0]
			var rm core.RouteMessage
			if err := json.Unmarshal(m.Payload, &rm); err != nil {
				t.Fatal(err)
			}
			want := core.RouteMessage{Route: "birth-to-mosip", Partner: "mosip", Mode: core.ModeAsync, EventID: ev.ID, EventType: "birth",
				ActionID: s.Pending.ID, ActionType: core.ActionRegister, RegistrationNumber: "REG000000042", RequestedAt: testNow}
			if m.Topic != "nationalid-mosip" || rm != want || m.Metadata["correlation_id"] != "corr-1" || !core.IsUUID(m.ID) {
				t.Fatalf("message %s %+v %v, want topic nationalid-mosip, %+v", m.Topic, rm, m.Metadata, want)
			}
			if strings.Contains(string(m.Payload), `"A"`) {
				t.Errorf("the message carries declaration data: %s", m.Payload)
			}
			// the partner's acceptance registers it under the reserved number
			ev, err = svc.Resolve(ctx, p, ev.ID, s.Pending.ID, core.Confirmation{Decision: core.Accept, Declaration: decl(t, `{"child.nid":"5614716359"}`)})
			if err != nil {
				t.Fatal(err)
			}
			if s := core.Derive(ev); s.Status != core.EventRegistered || s.Registered.RegistrationNumber != "REG000000042" || string(s.Declaration["child.nid"]) != `"5614716359"` {
				t.Fatalf("after accept: %s %+v %s", s.Status, s.Registered, s.Declaration["child.nid"])
			}
		})
	}
}

// TestResolveWithRecordScopedPrincipal: a record-scoped principal may
// resolve its own action only.
func TestResolveWithRecordScopedPrincipal(t *testing.T) {
	conf := deferring(core.ActionNotify)
	svc, _ := newService(t, conf)
	ctx := context.Background()
	p := systemClient(t, allRecordScopes...)
	ev, _, err := svc.CreateAndNotify(ctx, p, core.CreateAndNotifyInput{TransactionID: "tx-1", EventType: "birth", CreatedAtLocation: locIbomboOffice,
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
	full := `{"child.name":{"firstname":"A","surname":"B"},"child.gender":"male","child.dob":"2024-02-02","child.placeOfBirth":"HEALTH_FACILITY","child.birthLocation":"` + locIbomboHosp + `","informant.relation":"MOTHER","mother.name":{"firstname":"M","surname":"B"}}`
	ev, err := svc.CreateEvent(ctx, p, core.CreateInput{TransactionID: "c", Type: "birth", CreatedAtLocation: locIbomboOffice})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []core.ActionInput{
		{Type: core.ActionDeclare, TransactionID: "d", Declaration: decl(t, full)},
		{Type: core.ActionRegister, TransactionID: "r"},
		{Type: core.ActionRequestCorrection, TransactionID: "rc", Declaration: decl(t, `{"mother.verified":"verified"}`)},
		{Type: core.ActionApproveCorrection, TransactionID: "ac"},
	} {
		in.CreatedAtLocation = locIbomboOffice
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
