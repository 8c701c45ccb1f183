package routing_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/countryconfig"
	"github.com/crvshub/crvshub/core/routing"
	"github.com/crvshub/crvshub/core/store/sqlite"
	fl "github.com/crvshub/crvshub/testharness/farajaland"
)

// testNow is the fixed "now" of every test.
var testNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// farajaland returns the embedded default country config and its routing.
func farajaland(t testing.TB) (*core.CountryConfig, *routing.Config) {
	t.Helper()
	cc, rc, err := countryconfig.LoadWithRouting("")
	if err != nil {
		t.Fatalf("load default country config: %v", err)
	}
	return cc, rc
}

// decl builds a Declaration from a JSON object literal.
func decl(t testing.TB, js string) core.Declaration { t.Helper(); return fl.Decl(t, js) }

type fixedRegNums struct{}

func (fixedRegNums) Next(*core.EventDocument) string { return "REG000000042" }

// newService is an engine on a fresh SQLite file with conf as its
// confirmer and fixed clock and registration numbers.
func newService(t *testing.T, cc *core.CountryConfig, conf core.Confirmer) (*core.Service, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &core.Service{Store: st, Config: cc, Confirmer: conf, RegNums: fixedRegNums{},
		Now: func() time.Time { return testNow }}, st
}

func systemClient(t *testing.T, scopes ...string) core.Principal {
	t.Helper()
	sc, err := core.ParseScopes(scopes)
	if err != nil {
		t.Fatal(err)
	}
	return core.Principal{ID: "client-1", Type: core.UserTypeSystem, Scopes: sc, Office: fl.IbomboOffice}
}

var allRecordScopes = []string{"notification-api", "record.read", "record.declare", "record.register", "record.reject",
	"record.archive", "record.print-certified-copies", "record.correct", "record.review-duplicates", "record.edit", "record.search",
	"record.confirm-registration", "record.reject-registration"}

func intp(i int) *int { return &i }

func TestRouteRuleMatch(t *testing.T) {
	verified := routing.Rule{Field: "mother.verified", In: []string{"verified", "authenticated"}}
	young := routing.Rule{Field: "child.dob", MaxAgeYears: intp(10)}
	tests := []struct {
		name string
		rule routing.Rule
		decl string
		want bool
	}{
		{"in: match", verified, `{"mother.verified":"verified"}`, true},
		{"in: other value", verified, `{"mother.verified":"failed"}`, false},
		{"in: absent", verified, `{}`, false},
		{"in: null", verified, `{"mother.verified":null}`, false},
		{"notIn: absent counts as not in", routing.Rule{Field: "informant.relation", NotIn: []string{"SPOUSE"}}, `{}`, true},
		{"notIn: listed", routing.Rule{Field: "informant.relation", NotIn: []string{"SPOUSE"}}, `{"informant.relation":"SPOUSE"}`, false},
		{"present", routing.Rule{Field: "child.nid", Present: true}, `{"child.nid":"123"}`, true},
		{"present: absent", routing.Rule{Field: "child.nid", Present: true}, `{}`, false},
		// today is 2025-06-15 (testNow)
		{"age: 10 years old today", young, `{"child.dob":"2015-06-15"}`, true},
		{"age: 11 tomorrow is still 10", young, `{"child.dob":"2014-06-16"}`, true},
		{"age: 11 today", young, `{"child.dob":"2014-06-15"}`, false},
		{"age: newborn", young, `{"child.dob":"2025-06-14"}`, true},
		{"age: no date", young, `{}`, false},
		{"age: malformed date", young, `{"child.dob":"2015-6-1"}`, false},
		{"all: both", routing.Rule{All: []routing.Rule{young, verified}}, `{"child.dob":"2020-01-01","mother.verified":"authenticated"}`, true},
		{"all: one", routing.Rule{All: []routing.Rule{young, verified}}, `{"child.dob":"2020-01-01"}`, false},
		{"any: one", routing.Rule{Any: []routing.Rule{verified, {Field: "father.verified", In: []string{"verified"}}}}, `{"father.verified":"verified"}`, true},
		{"any: none", routing.Rule{Any: []routing.Rule{verified, {Field: "father.verified", In: []string{"verified"}}}}, `{"father.verified":"pending"}`, false},
		{"not", routing.Rule{Not: &verified}, `{"mother.verified":"failed"}`, true},
	}
	cc, _ := farajaland(t)
	today := cc.Today(testNow)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.rule.Match(decl(t, tc.decl), today); got != tc.want {
				t.Fatalf("Match(%s) = %v, want %v", tc.decl, got, tc.want)
			}
		})
	}
}

func TestRoutingCheck(t *testing.T) {
	cc, _ := farajaland(t)
	good := func() routing.Route {
		return routing.Route{Name: "r", Event: "birth", Actions: []core.ActionType{core.ActionRegister}, Partner: "mosip",
			When: &routing.Rule{Field: "child.dob", MaxAgeYears: intp(10)}}
	}
	tests := []struct {
		name   string
		mutate func(r *routing.Route)
		want   string // "" = valid
	}{
		{"valid", func(*routing.Route) {}, ""},
		{"unknown event", func(r *routing.Route) { r.Event = "marriage" }, `unknown event type "marriage"`},
		{"not routable", func(r *routing.Route) { r.Actions = []core.ActionType{core.ActionDeclare} }, "DECLARE cannot go to a National ID partner"},
		{"no actions", func(r *routing.Route) { r.Actions = nil }, "actions is empty"},
		{"bad mode", func(r *routing.Route) { r.Mode = "later" }, `mode "later"`},
		{"bad partner", func(r *routing.Route) { r.Partner = "mo.sip" }, "partner must be"},
		{"unknown field", func(r *routing.Route) { r.When = &routing.Rule{Field: "child.shoeSize", Present: true} }, `unknown field "child.shoeSize"`},
		{"age of a non-date", func(r *routing.Route) { r.When = &routing.Rule{Field: "child.gender", MaxAgeYears: intp(3)} }, "maxAgeYears needs a DATE"},
		{"two tests", func(r *routing.Route) {
			r.When = &routing.Rule{Field: "child.gender", Present: true, In: []string{"male"}}
		}, "exactly one of in"},
		{"two forms", func(r *routing.Route) {
			r.When = &routing.Rule{Field: "child.gender", Present: true, Any: []routing.Rule{{Field: "child.dob", Present: true}}}
		}, "exactly one of all, any, not, field"},
		{"nested error", func(r *routing.Route) {
			r.When = &routing.Rule{All: []routing.Rule{{Field: "nope", Present: true}}}
		}, `unknown field "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := good()
			tc.mutate(&r)
			rc := routing.Config{Routes: []routing.Route{r}}
			err := rc.Check(cc)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if rc.Routes[0].Mode != routing.ModeAsync {
					t.Errorf("default mode = %q, want async", rc.Routes[0].Mode)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	twice := routing.Config{Routes: []routing.Route{good(), good()}}
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
	cc, defaults := farajaland(t)
	full := `{"child.name":{"firstname":"A","surname":"B"},"child.gender":"male","child.dob":"2024-02-02","child.placeOfBirth":"HEALTH_FACILITY","child.birthLocation":"` + fl.IbomboHospital + `","informant.relation":"MOTHER","mother.name":{"firstname":"M","surname":"B"}`
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
			rc := &routing.Confirmer{Routing: defaults, Country: cc, Partners: tc.partners, Now: func() time.Time { return testNow }}
			svc, st := newService(t, cc, rc)
			pokes := 0
			svc.Enqueued = func() { pokes++ }
			ctx := core.WithRequestMeta(context.Background(), core.RequestMeta{CorrelationID: "corr-1"})
			p := systemClient(t, allRecordScopes...)
			ev, err := svc.CreateEvent(ctx, p, core.CreateInput{TransactionID: "tx-c", Type: "birth", CreatedAtLocation: fl.IbomboOffice})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Act(ctx, p, ev.ID, core.ActionInput{Type: core.ActionDeclare, TransactionID: "tx-d", CreatedAtLocation: fl.IbomboOffice, Declaration: decl(t, tc.decl)}); err != nil {
				t.Fatal(err)
			}
			ev, err = svc.Act(ctx, p, ev.ID, core.ActionInput{Type: core.ActionRegister, TransactionID: "tx-r", CreatedAtLocation: fl.IbomboOffice})
			if err != nil {
				t.Fatal(err)
			}
			s := core.Derive(ev)
			outbox, err := st.PendingOutbox(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.routed {
				if s.Status != core.EventRegistered || len(outbox) != 0 || pokes != 0 {
					t.Fatalf("not routed: status %s, %d messages, %d pokes; want REGISTERED, none", s.Status, len(outbox), pokes)
				}
				return
			}
			if s.Pending == nil || s.Status == core.EventRegistered || !strings.Contains(strings.Join(s.Flags, ","), "register:requested") {
				t.Fatalf("routed REGISTER: status %s flags %v, want it requested", s.Status, s.Flags)
			}
			if s.Pending.RegistrationNumber != "REG000000042" {
				t.Errorf("requested REGISTER carries registration number %q, want the reserved REG000000042", s.Pending.RegistrationNumber)
			}
			if len(outbox) != 1 || pokes != 1 {
				t.Fatalf("%d outbox messages, %d pokes; want 1 and 1", len(outbox), pokes)
			}
			m := outbox[0]
			var rm routing.Message
			if err := json.Unmarshal(m.Payload, &rm); err != nil {
				t.Fatal(err)
			}
			want := routing.Message{Route: "birth-to-mosip", Partner: "mosip", Mode: routing.ModeAsync, EventID: ev.ID, EventType: "birth",
				ActionID: s.Pending.ID, ActionType: core.ActionRegister, RegistrationNumber: "REG000000042", RequestedAt: testNow}
			if m.Topic != "nationalid-mosip" || rm != want || m.Metadata["correlation_id"] != "corr-1" || m.Metadata[core.MetaPartner] != "mosip" || !core.IsUUID(m.ID) {
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
