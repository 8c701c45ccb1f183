package core_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
	fl "github.com/crvshub/crvshub/testharness/farajaland"
)

// TestActionFreeFormLimits: annotation values and content are bounded and
// checked; a refusal names annotation.<key> or content.<key> and writes
// nothing; what OpenCRVS clients send is accepted, stored re-encoded.
func TestActionFreeFormLimits(t *testing.T) {
	svc, st := newService(t, nil)
	ctx := context.Background()
	p := systemClient(t, allRecordScopes...)
	ev, err := svc.CreateEvent(ctx, p, core.CreateInput{TransactionID: "tx-c", Type: "birth", CreatedAtLocation: fl.IbomboOffice})
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", core.MaxContentBytes)
	deep := func(n int) any {
		var v any = "leaf"
		for range n {
			v = []any{v}
		}
		return v
	}
	bad := []struct {
		name    string
		typ     core.ActionType
		ann     string
		content map[string]any
		id      string
		msg     string
	}{
		{"annotation overflow", core.ActionNotify, `{"x":1e309}`, nil, "annotation.x", "out of range"},
		{"annotation big integer", core.ActionNotify, `{"x":123456789012345678901234567890}`, nil, "annotation.x", "2^53"},
		{"annotation deep", core.ActionNotify, `{"x":[[[[[[1]]]]]]}`, nil, "annotation.x", "deeper than 5"},
		{"annotation invalid UTF-8", core.ActionNotify, "{\"x\":\"\xff\"}", nil, "annotation.x", "UTF-8"},
		{"annotation key twice inside", core.ActionNotify, `{"x":{"a":1,"a":2}}`, nil, "annotation.x.a", "duplicate key"},
		{"annotation NUL", core.ActionNotify, `{"review.comment":"a\u0000"}`, nil, "annotation.review.comment", "U+0000"},
		{"annotation value too big", core.ActionNotify, `{"x":"` + strings.Repeat("y", core.MaxAnnotationValueBytes) + `"}`, nil, "annotation.x", "larger than"},
		{"annotation too big in all", core.ActionNotify, func() string {
			m := map[string]string{}
			for i := range 5 {
				m[string(rune('a'+i))] = strings.Repeat("y", core.MaxAnnotationValueBytes-100)
			}
			b, _ := json.Marshal(m)
			return string(b)
		}(), nil, "annotation", "in all"},
		{"content too big", core.ActionAssign, "", map[string]any{"junk": big}, "content", "larger than"},
		{"content deep", core.ActionAssign, "", map[string]any{"x": deep(6)}, "content.x", "deeper than 5"},
		{"content 5000 deep", core.ActionAssign, "", map[string]any{"x": deep(5000)}, "content.x", "deeper than 5"},
		{"content imprecise number", core.ActionAssign, "", map[string]any{"x": 1.2345678901234568e+29}, "content.x", "2^53"},
		{"content reason a number", core.ActionArchive, "", map[string]any{"reason": 5.0}, "content.reason", "expected a string"},
		{"content reason an object", core.ActionReject, "", map[string]any{"reason": map[string]any{}}, "content.reason", "expected a string"},
		{"content templateId a list", core.ActionPrintCertificate, "", map[string]any{"templateId": []any{"a"}}, "content.templateId", "expected a string"},
		{"content immediateCorrection a string", core.ActionApproveCorrection, "", map[string]any{"immediateCorrection": "yes"}, "content.immediateCorrection", "true or false"},
		{"content reason NUL", core.ActionArchive, "", map[string]any{"reason": "a\x00"}, "content.reason", "U+0000"},
		{"content reason bidi", core.ActionArchive, "", map[string]any{"reason": "a\u202e"}, "content.reason", "U+202E"},
		{"content nested control", core.ActionAssign, "", map[string]any{"x": map[string]any{"y": []any{"ok", "\x1b"}}}, "content.x.y.1", "U+001B"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			in := core.ActionInput{Type: c.typ, TransactionID: "tx-bad", CreatedAtLocation: fl.IbomboOffice, Content: c.content}
			if c.ann != "" {
				in.Annotation = decl(t, c.ann)
			}
			_, err := svc.Act(ctx, p, ev.ID, in)
			e := coreErr(t, err)
			if e.Kind != core.KindInvalid || len(e.Fields) != 1 || e.Fields[0].ID != c.id || !strings.Contains(e.Message, c.msg) || !strings.Contains(e.Message, c.id) {
				t.Fatalf("got %v %q %+v, want 400 naming %s with ...%s...", e.Kind, e.Message, e.Fields, c.id, c.msg)
			}
			if n := len(st.events[ev.ID].Actions); n != 1 {
				t.Fatalf("%d actions after a refused request, want 1", n)
			}
		})
	}

	// What OpenCRVS clients send passes, re-encoded.
	got, err := svc.Act(ctx, p, ev.ID, core.ActionInput{Type: core.ActionNotify, TransactionID: "tx-n", CreatedAtLocation: fl.IbomboOffice,
		Declaration: decl(t, `{"child.dob":"2024-02-02"}`),
		Annotation:  decl(t, `{"review.comment": "first line\nsecond \u00e9", "review.signature": {"path":"s/1.png", "originalFilename":"s.png","type":"image/png"}, "x": null}`)})
	if err != nil {
		t.Fatal(err)
	}
	var ann core.Declaration
	for _, a := range got.Actions {
		if a.Type == core.ActionNotify && a.Status == core.StatusRequested {
			ann = a.Annotation
		}
	}
	if s := string(ann["review.comment"]); s != `"first line\nsecond é"` {
		t.Errorf("review.comment stored as %s", s)
	}
	if s := string(ann["review.signature"]); s != `{"path":"s/1.png","originalFilename":"s.png","type":"image/png"}` {
		t.Errorf("review.signature stored as %s", s)
	}
	if _, err := svc.Act(ctx, p, ev.ID, core.ActionInput{Type: core.ActionArchive, TransactionID: "tx-a", CreatedAtLocation: fl.IbomboOffice,
		Content: map[string]any{"reason": "duplicate\nof BXPPA7Y", "isDuplicate": true, "duplicates": []any{map[string]any{"id": ev.ID, "trackingId": ev.TrackingID}}}}); err != nil {
		t.Fatalf("archive with OpenCRVS content: %v", err)
	}
}
