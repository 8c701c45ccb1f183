package core_test

import (
	"context"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
	fl "github.com/crvshub/crvshub/testharness/farajaland"
)

// TestCreatedAtLocationBoundToOffice: a client with an office may only
// create, notify and act "at" that office (or, with
// location.facilities-in-area, at a health facility of its office's
// area); anything else is a 403 naming the location, and writes nothing.
// A client without an office may use any office or facility.
func TestCreatedAtLocationBoundToOffice(t *testing.T) {
	ctx := context.Background()
	scopes := append([]string{"record.create"}, allRecordScopes...)
	office := systemClient(t, scopes...)                                                  // Ibombo District Office
	health := systemClient(t, append([]string{core.ScopeFacilitiesInArea}, scopes...)...) // Ibombo, and its area's facilities
	national := systemClient(t, scopes...)
	national.ID, national.Office = "national", ""
	tests := []struct {
		name string
		p    core.Principal
		loc  string
		ok   bool
	}{
		{"office client at its office", office, fl.IbomboOffice, true},
		{"office client, upper-case id", office, strings.ToUpper(fl.IbomboOffice), true},
		{"office client at another district's office", office, fl.IlangaOffice, false},
		{"office client at HQ", office, fl.HQOffice, false},
		{"office client at a facility of its own area", office, fl.IbomboHospital, false},
		{"health client at its office", health, fl.IbomboOffice, true},
		{"health client at a facility of its area", health, fl.IbomboHospital, true},
		{"health client at another facility of its area", health, fl.Chikobo, true},
		{"health client at another district's facility", health, fl.IlangaHospital, false},
		{"health client at another district's office", health, fl.IlangaOffice, false},
		{"client without office anywhere", national, fl.IlangaOffice, true},
		{"client without office at a facility", national, fl.IlangaHospital, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc, st := newService(t, nil)
			check := func(what string, err error) {
				t.Helper()
				if tc.ok {
					if err != nil {
						t.Fatalf("%s: %v", what, err)
					}
					return
				}
				ce := coreErr(t, err)
				if ce.Kind != core.KindForbidden || ce.Code != "LOCATION_NOT_ALLOWED" || !strings.Contains(ce.Message, strings.ToLower(tc.loc)) {
					t.Fatalf("%s: %v (%s), want a 403 naming %s", what, err, ce.Code, tc.loc)
				}
			}
			before := len(st.events)
			_, err := svc.CreateEvent(ctx, tc.p, core.CreateInput{TransactionID: "c", Type: "birth", CreatedAtLocation: tc.loc})
			check("create", err)
			_, _, err = svc.CreateAndNotify(ctx, tc.p, core.CreateAndNotifyInput{TransactionID: "cn", EventType: "birth", CreatedAtLocation: tc.loc,
				Declaration: decl(t, `{"child.name":{"firstname":"Loc","surname":"Banda"}}`)})
			check("create+notify", err)
			if !tc.ok && len(st.events) != before {
				t.Fatalf("a refused create wrote %d events", len(st.events)-before)
			}
			// an action on an event the client created at its own office (a
			// national client: anywhere)
			own := tc.p.Office
			if own == "" {
				own = fl.IbomboOffice
			}
			ev, err := svc.CreateEvent(ctx, tc.p, core.CreateInput{TransactionID: "own", Type: "birth", CreatedAtLocation: own})
			if err != nil {
				t.Fatal(err)
			}
			n := len(ev.Actions)
			ev2, err := svc.Act(ctx, tc.p, ev.ID, core.ActionInput{Type: core.ActionNotify, TransactionID: "n", CreatedAtLocation: tc.loc,
				Declaration: decl(t, `{"child.name":{"firstname":"Loc","surname":"Banda"}}`)})
			check("notify", err)
			if !tc.ok {
				if cur := st.events[ev.ID]; len(cur.Actions) != n {
					t.Fatalf("a refused action wrote %d actions", len(cur.Actions)-n)
				}
			} else if got := ev2.Actions[len(ev2.Actions)-1].CreatedAtLocation; got != strings.ToLower(tc.loc) {
				t.Fatalf("NOTIFY at %s, want %s", got, tc.loc)
			}
		})
	}
	// Reads carry no location: a client reads at its office, and reads
	// records from anywhere its read scopes reach.
	svc, _ := newService(t, nil)
	ev, err := svc.CreateEvent(ctx, national, core.CreateInput{TransactionID: "far", Type: "birth", CreatedAtLocation: fl.IlangaOffice})
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc.Get(ctx, office, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r := got.Actions[len(got.Actions)-1]; r.Type != core.ActionRead || r.CreatedAtLocation != fl.IbomboOffice {
		t.Errorf("READ %+v, want at the reader's office", r)
	}
}
