package core_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
	fl "github.com/crvshub/crvshub/testharness/farajaland"
)

func TestPlaceOfEvent(t *testing.T) {
	cc := farajaland(t)
	for _, tc := range []struct {
		name, eventType, field, value, want string
	}{
		{"no place declared: where it was created", "birth", "", "", fl.IbomboOffice},
		{"a facility id", "birth", "child.birthLocation", `"` + strings.ToUpper(fl.Chikobo) + `"`, fl.Chikobo},
		{"not a UUID: where it was created", "birth", "child.birthLocation", `"the river bank"`, fl.IbomboOffice},
		{"a death location", "death", "eventDetails.deathLocation", `"` + fl.IlangaHospital + `"`, fl.IlangaHospital},
		{"another field does not count", "birth", "mother.nid", `"` + fl.IlangaHospital + `"`, fl.IbomboOffice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := core.State{CreatedAtLocation: strings.ToUpper(fl.IbomboOffice), Declaration: core.Declaration{}}
			if tc.field != "" {
				st.Declaration[tc.field] = json.RawMessage(tc.value)
			}
			if got := core.PlaceOfEvent(cc, tc.eventType, st); got != tc.want {
				t.Errorf("PlaceOfEvent = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPlaceOfEventAddress: a country whose place field is an address
// places the event in the address's administrative area (OpenCRVS
// resolvePlaceOfEvent); an international address does not count.
func TestPlaceOfEventAddress(t *testing.T) {
	cc := farajaland(t)
	ec := cc.Event("birth")
	saved := ec.PlaceOfEvent
	ec.PlaceOfEvent = "mother.address"
	t.Cleanup(func() { ec.PlaceOfEvent = saved })
	st := core.State{CreatedAtLocation: fl.IbomboOffice, Declaration: core.Declaration{
		"mother.address": json.RawMessage(`{"addressType":"DOMESTIC","country":"FAR","administrativeArea":"` + fl.Ilanga + `"}`)}}
	if got := core.PlaceOfEvent(cc, "birth", st); got != fl.Ilanga {
		t.Errorf("domestic address: %q, want %q", got, fl.Ilanga)
	}
	st.Declaration["mother.address"] = json.RawMessage(`{"addressType":"INTERNATIONAL","country":"FRA"}`)
	if got := core.PlaceOfEvent(cc, "birth", st); got != fl.IbomboOffice {
		t.Errorf("international address: %q, want the creation location", got)
	}
}

func TestScopeAdmits(t *testing.T) {
	cc := farajaland(t)
	atIbombo := core.Principal{ID: "me", Office: fl.IbomboOffice}
	inIbombo := core.EventAccess{Type: "birth", PlaceOfEvent: fl.Chikobo, DeclaredAt: fl.IbomboOffice, DeclaredBy: "me",
		RegisteredAt: fl.IbomboOffice, RegisteredBy: "registrar"}
	inIlanga := core.EventAccess{Type: "birth", PlaceOfEvent: fl.IlangaHospital, DeclaredAt: fl.IlangaOffice, DeclaredBy: "other"}
	atOffice := core.EventAccess{Type: "birth", PlaceOfEvent: fl.IbomboOffice}
	notDeclared := core.EventAccess{Type: "birth", PlaceOfEvent: fl.Chikobo}
	for _, tc := range []struct {
		scope string
		p     core.Principal
		ev    core.EventAccess
		want  bool
	}{
		{"type=record.read", atIbombo, inIlanga, true},
		{"type=record.read&event=death", atIbombo, inIbombo, false},
		{"type=record.read&placeOfEvent=all", atIbombo, inIlanga, true},
		{"type=record.read&placeOfEvent=administrativeArea", atIbombo, inIbombo, true},
		{"type=record.read&placeOfEvent=administrativeArea", atIbombo, inIlanga, false},
		{"type=record.read&placeOfEvent=location", atIbombo, inIbombo, false}, // a facility is not the office
		{"type=record.read&placeOfEvent=location", atIbombo, atOffice, true},
		{"type=record.read&declaredIn=location", atIbombo, inIbombo, true},
		{"type=record.read&declaredIn=location", atIbombo, inIlanga, false},
		{"type=record.read&declaredIn=administrativeArea", atIbombo, notDeclared, false}, // not declared yet: outside
		{"type=record.read&registeredIn=administrativeArea", atIbombo, inIbombo, true},
		{"type=record.read&registeredIn=location", atIbombo, inIlanga, false},
		{"type=record.read&declaredBy=user", atIbombo, inIbombo, true},
		{"type=record.read&declaredBy=user", atIbombo, inIlanga, false},
		{"type=record.read&registeredBy=user", atIbombo, inIbombo, false},
		{"type=record.read&declaredBy=user", core.Principal{Office: fl.IbomboOffice}, core.EventAccess{Type: "birth"}, false},
		// every option of one scope must hold
		{"type=record.read&event=birth&placeOfEvent=administrativeArea&declaredBy=user", atIbombo, inIbombo, true},
		{"type=record.read&event=birth&placeOfEvent=administrativeArea&registeredBy=user", atIbombo, inIbombo, false},
		// a caller without a known office has no jurisdiction (fail closed)
		{"type=record.read&placeOfEvent=administrativeArea", core.Principal{ID: "me"}, inIbombo, false},
		{"type=record.read&placeOfEvent=administrativeArea", core.Principal{ID: "me", Office: "nowhere"}, inIbombo, false},
		// options that do not narrow, and options the hub does not know
		{"type=record.print-certified-copies&templates=birth-certificate", atIbombo, inIlanga, true},
		{"type=record.read&someFutureLimit=x", atIbombo, inIbombo, false},
	} {
		t.Run(tc.scope, func(t *testing.T) {
			sc, err := core.ParseScope(tc.scope)
			if err != nil || len(sc) != 1 {
				t.Fatal(err)
			}
			if got := sc[0].Admits(cc, tc.p, tc.ev); got != tc.want {
				t.Errorf("Admits = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestServiceJurisdiction: actions on existing events honour the
// jurisdiction and user options of the caller's scopes; an event outside
// them is "not found" (404) and nothing is written.
func TestServiceJurisdiction(t *testing.T) {
	svc, store := newService(t, nil)
	ctx := context.Background()
	hospital := systemClient(t, allRecordScopes...)
	full := func(place string) core.Declaration {
		return decl(t, `{"child.name":{"firstname":"A","surname":"B"},"child.gender":"male","child.dob":"2024-02-02","child.placeOfBirth":"HEALTH_FACILITY","child.birthLocation":"`+
			place+`","informant.relation":"MOTHER","mother.name":{"firstname":"M","surname":"B"}}`)
	}
	declared := func(tx, place string) *core.EventDocument {
		t.Helper()
		ev, err := svc.CreateEvent(ctx, hospital, core.CreateInput{TransactionID: tx, Type: "birth", CreatedAtLocation: fl.IbomboOffice})
		if err != nil {
			t.Fatal(err)
		}
		ev, err = svc.Act(ctx, hospital, ev.ID, core.ActionInput{Type: core.ActionDeclare, TransactionID: tx + "-declare",
			CreatedAtLocation: fl.IbomboOffice, Declaration: full(place)})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	here := declared("born-here", fl.Chikobo)
	there := declared("born-there", fl.IlangaHospital)
	if row := store.index[there.ID]; row == nil || row.PlaceOfEvent != fl.IlangaHospital || row.DeclaredBy != hospital.ID {
		t.Fatalf("index row: %+v", row)
	}

	registrar := core.Principal{ID: "registrar-ibombo", Type: core.UserTypeSystem, Office: fl.IbomboOffice,
		Scopes: mustScopes(t, "type=record.read&event=birth&placeOfEvent=administrativeArea",
			"type=record.register&event=birth&placeOfEvent=administrativeArea")}
	if _, err := svc.Get(ctx, registrar, here.ID); err != nil {
		t.Fatalf("read in jurisdiction: %v", err)
	}
	before := len(store.events[there.ID].Actions)
	for _, typ := range []core.ActionType{core.ActionRead, core.ActionRegister} {
		_, err := svc.Act(ctx, registrar, there.ID, core.ActionInput{Type: typ, TransactionID: "x-" + string(typ), CreatedAtLocation: fl.IbomboOffice})
		if e := coreErr(t, err); e.Kind != core.KindNotFound {
			t.Errorf("%s outside the jurisdiction: %v %q, want not found", typ, e.Kind, e.Message)
		}
	}
	if n := len(store.events[there.ID].Actions); n != before {
		t.Errorf("a refused action wrote %d actions", n-before)
	}
	if _, err := svc.Act(ctx, registrar, here.ID, core.ActionInput{Type: core.ActionRegister, TransactionID: "reg-here", CreatedAtLocation: fl.IbomboOffice}); err != nil {
		t.Errorf("register in jurisdiction: %v", err)
	}
	// a scope that does not admit the event type still names the scope (403)
	_, err := svc.Act(ctx, registrar, there.ID, core.ActionInput{Type: core.ActionArchive, TransactionID: "arch", CreatedAtLocation: fl.IbomboOffice,
		Content: map[string]any{"reason": "r"}})
	if e := coreErr(t, err); e.Kind != core.KindForbidden || !strings.Contains(e.Message, "record.archive") {
		t.Errorf("missing scope: %v %q", e.Kind, e.Message)
	}
	// declaredBy=user: the hospital's own declarations only
	own := core.Principal{ID: "other-client", Type: core.UserTypeSystem, Office: fl.IbomboOffice,
		Scopes: mustScopes(t, "type=record.read&declaredBy=user")}
	if _, err := svc.Get(ctx, own, here.ID); core.KindOf(err) != core.KindNotFound {
		t.Errorf("declaredBy=user read of another's declaration: %v", err)
	}
	own.ID = hospital.ID
	if _, err := svc.Get(ctx, own, here.ID); err != nil {
		t.Errorf("declaredBy=user read of its own declaration: %v", err)
	}
	// one admitting scope among several is enough
	both := core.Principal{ID: "r2", Type: core.UserTypeSystem, Office: fl.IbomboOffice,
		Scopes: mustScopes(t, "type=record.read&placeOfEvent=location", "type=record.read&declaredIn=administrativeArea")}
	if _, err := svc.Get(ctx, both, there.ID); err != nil {
		t.Errorf("declared in Ibombo, born in Ilanga, read under declaredIn: %v", err)
	}
}

// TestServiceResolveAccess: accepting or rejecting a deferred action needs
// a confirm/reject scope that reaches the record (event type and
// jurisdiction), like any other action on it.
func TestServiceResolveAccess(t *testing.T) {
	conf := deferring(core.ActionNotify)
	svc, _ := newService(t, conf)
	ctx := context.Background()
	p := systemClient(t, allRecordScopes...)
	p.Office = "" // a national client, not bound to one office
	// notified from a hospital in Ilanga (the deferred NOTIFY's data is not
	// the record's yet: the place is where the record was created)
	ev, _, err := svc.CreateAndNotify(ctx, p, core.CreateAndNotifyInput{TransactionID: "tx-1", EventType: "birth", CreatedAtLocation: fl.IlangaHospital,
		Declaration: decl(t, `{"child.birthLocation":"`+fl.IlangaHospital+`"}`)})
	if err != nil {
		t.Fatal(err)
	}
	reqID := core.Derive(ev).Pending.ID
	confirmer := func(scopes ...string) core.Principal {
		return core.Principal{ID: "registry", Type: core.UserTypeSystem, Office: fl.IbomboOffice, Scopes: mustScopes(t, scopes...)}
	}
	for _, tc := range []struct {
		name   string
		p      core.Principal
		want   core.Kind
		reject bool
	}{
		{"deaths only", confirmer("type=record.confirm-registration&event=death"), core.KindForbidden, false},
		{"outside the jurisdiction", confirmer("type=record.confirm-registration&placeOfEvent=administrativeArea"), core.KindNotFound, false},
		{"reject outside the jurisdiction", confirmer("type=record.reject-registration&placeOfEvent=location"), core.KindNotFound, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := core.Confirmation{Decision: core.Accept}
			if tc.reject {
				c = core.Confirmation{Decision: core.Reject, Reason: "no"}
			}
			if _, err := svc.Resolve(ctx, tc.p, ev.ID, reqID, c); core.KindOf(err) != tc.want {
				t.Errorf("Resolve: %v, want %v", err, tc.want)
			}
		})
	}
	// born in Ilanga: the Ilanga registry may accept it
	ilanga := confirmer("type=record.confirm-registration&placeOfEvent=administrativeArea")
	ilanga.Office = fl.IlangaOffice
	if _, err := svc.Resolve(ctx, ilanga, ev.ID, reqID, core.Confirmation{Decision: core.Accept}); err != nil {
		t.Errorf("accept in the jurisdiction: %v", err)
	}
}
