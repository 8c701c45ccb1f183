package core_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/crvshub/crvshub/core"
	fl "github.com/crvshub/crvshub/testharness/farajaland"
)

// sendersBytes is a declaration in the form a sender may write it (escapes,
// white space), which the engine stores re-encoded.
const sendersBytes = `{"child.name": { "firstname" : "\u0045ve", "surname":"Banda" }, "child.gender":"female"}`

// TestValidationNeverChangesTheCallersDeclaration: validation stores the
// re-encoded values in a copy; the map the caller passed in keeps the
// sender's bytes (benchmarks and integrations share one declaration
// between goroutines, and a rewrite in place raced with the writer
// marshalling it: "concurrent map iteration and map write").
func TestValidationNeverChangesTheCallersDeclaration(t *testing.T) {
	d := decl(t, sendersBytes)
	orig := maps.Clone(d)
	same := func(stage string) {
		t.Helper()
		if !maps.EqualFunc(d, orig, func(a, b json.RawMessage) bool { return string(a) == string(b) }) {
			t.Fatalf("%s changed the caller's declaration: %q, was %q", stage, d, orig)
		}
	}
	cc, ec := farajaland(t), birthForm(t)
	if errs := core.ValidateValues(cc, ec, d, testNow); len(errs) > 0 {
		t.Fatal(errs)
	}
	same("ValidateValues")
	canon, errs := core.CanonicalValues(cc, ec, d, testNow)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	same("CanonicalValues")
	if got := string(canon["child.name"]); got != `{"firstname":"Eve","surname":"Banda"}` {
		t.Errorf("canonical child.name = %s", got)
	}

	// the engine stores the canonical form and leaves the caller's map alone
	svc, _ := newService(t, nil)
	ctx := context.Background()
	p := systemClient(t, allRecordScopes...)
	ev, _, err := svc.CreateAndNotify(ctx, p, core.CreateAndNotifyInput{TransactionID: "nm-1", EventType: "birth",
		CreatedAtLocation: fl.IbomboOffice, Declaration: d})
	if err != nil {
		t.Fatal(err)
	}
	same("CreateAndNotify")
	var stored string
	for _, a := range ev.Actions {
		if a.Type == core.ActionNotify && len(a.Declaration) > 0 {
			stored = string(a.Declaration["child.name"])
		}
	}
	if stored != `{"firstname":"Eve","surname":"Banda"}` {
		t.Errorf("stored child.name = %s, want the canonical form", stored)
	}
	// a repeat with the same map is the same request (idempotent)
	if again, _, err := svc.CreateAndNotify(ctx, p, core.CreateAndNotifyInput{TransactionID: "nm-1", EventType: "birth",
		CreatedAtLocation: fl.IbomboOffice, Declaration: d}); err != nil || again.ID != ev.ID {
		t.Fatalf("repeat: %v, event %v", err, again)
	}
	d2 := decl(t, `{"child.dob" : "2024-02-02", "child.placeOfBirth":"HEALTH_FACILITY", "child.birthLocation":"`+fl.IbomboHospital+`",
		"informant.relation":"MOTHER", "mother.name":{"firstname":"M", "surname":"B"}}`)
	orig2 := maps.Clone(d2)
	if _, err := svc.Act(ctx, p, ev.ID, core.ActionInput{Type: core.ActionDeclare, TransactionID: "nm-1-declare",
		CreatedAtLocation: fl.IbomboOffice, Declaration: d2}); err != nil {
		t.Fatal(err)
	}
	if !maps.EqualFunc(d2, orig2, func(a, b json.RawMessage) bool { return string(a) == string(b) }) {
		t.Errorf("Act changed the caller's declaration: %q", d2)
	}
}

// TestSharedDeclarationAcrossGoroutines: many requests built on one
// declaration map at once (run with -race: a write into the shared map is
// a data race).
func TestSharedDeclarationAcrossGoroutines(t *testing.T) {
	d := decl(t, sendersBytes)
	svc, _ := newService(t, nil)
	p := systemClient(t, allRecordScopes...)
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = svc.CreateAndNotify(context.Background(), p, core.CreateAndNotifyInput{
				TransactionID: fmt.Sprintf("shared-%d", i), EventType: "birth", CreatedAtLocation: fl.IbomboOffice, Declaration: d})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
}
