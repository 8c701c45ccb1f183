package core

import (
	"encoding/json"
	"fmt"
	"testing"
)

func TestDiffersFrom(t *testing.T) {
	prev := &Action{
		Declaration:       Declaration{"child.name": json.RawMessage(`{"firstname":"A","surname":"B"}`), "child.weight": json.RawMessage(`3.0`)},
		Annotation:        Declaration{"review.comment": json.RawMessage(`"ok"`)},
		Content:           map[string]any{"reason": "duplicate"},
		CreatedAtLocation: "loc-1", RegistrationNumber: "R1", AssignedTo: "u1", OriginalActionID: "a0",
	}
	same := ActionInput{
		Declaration:       Declaration{"child.weight": json.RawMessage(`3`), "child.name": json.RawMessage(`{ "surname":"B", "firstname":"A" }`)},
		Annotation:        Declaration{"review.comment": json.RawMessage(`"ok"`)},
		Content:           map[string]any{"reason": "duplicate"},
		CreatedAtLocation: "loc-1", OriginalActionID: "a0",
	}
	for _, tc := range []struct {
		name string
		edit func(in *ActionInput)
		want string
	}{
		{"same request, other spelling", func(*ActionInput) {}, ""},
		{"a number reserved by the engine is not the caller's", func(in *ActionInput) { in.RegistrationNumber = "" }, ""},
		{"other value", func(in *ActionInput) { in.Declaration["child.weight"] = json.RawMessage(`3.5`) }, "declaration field child.weight"},
		{"field added", func(in *ActionInput) { in.Declaration["child.dob"] = json.RawMessage(`"2024-01-01"`) }, "declaration field child.dob"},
		{"field dropped", func(in *ActionInput) { delete(in.Declaration, "child.name") }, "declaration field child.name"},
		{"two fields", func(in *ActionInput) {
			in.Declaration["child.weight"] = json.RawMessage(`3.5`)
			in.Declaration["child.dob"] = json.RawMessage(`"2024-01-01"`)
		}, "declaration fields child.dob, child.weight"},
		{"null equals absent", func(in *ActionInput) { in.Declaration["child.dob"] = json.RawMessage(`null`) }, ""},
		{"annotation", func(in *ActionInput) { in.Annotation = nil }, "annotation field review.comment"},
		{"content", func(in *ActionInput) { in.Content = map[string]any{"reason": "other"} }, "content"},
		{"location", func(in *ActionInput) { in.CreatedAtLocation = "loc-2" }, "createdAtLocation"},
		{"registration number", func(in *ActionInput) { in.RegistrationNumber = "R2" }, "registrationNumber"},
		{"assignee", func(in *ActionInput) { in.AssignedTo = "u2" }, "assignedTo"},
		{"original action", func(in *ActionInput) { in.OriginalActionID = "a9" }, "originalActionId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := same
			in.Declaration = Declaration{}
			for k, v := range same.Declaration {
				in.Declaration[k] = v
			}
			tc.edit(&in)
			if got, _ := differsFrom(prev, in); got != tc.want {
				t.Errorf("differsFrom = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDiffersFromFields: a conflict lists every differing declaration
// field (for callers that answer in their own terms), but its message
// names at most maxNamedFields of them.
func TestDiffersFromFields(t *testing.T) {
	prev := &Action{Declaration: Declaration{}, CreatedAtLocation: "loc-1"}
	in := ActionInput{Declaration: Declaration{}, CreatedAtLocation: "loc-1"}
	for i := range 12 {
		in.Declaration[fmt.Sprintf("f.%02d", i)] = json.RawMessage(`1`)
	}
	what, diff := differsFrom(prev, in)
	if len(diff) != 12 || diff[0].ID != "f.00" || diff[11].ID != "f.11" {
		t.Fatalf("diff %+v, want the 12 fields in order", diff)
	}
	if want := "declaration fields f.00, f.01, f.02, f.03, f.04, f.05, f.06, f.07, f.08, f.09 and 2 more"; what != want {
		t.Errorf("what = %q, want %q", what, want)
	}
	in.Declaration = nil
	in.CreatedAtLocation = "loc-2"
	what, diff = differsFrom(prev, in)
	if what != "createdAtLocation" || len(diff) != 1 || diff[0].ID != "createdAtLocation" || diff[0].Value != "loc-1" {
		t.Errorf("differsFrom = %q, %+v; want createdAtLocation naming loc-1", what, diff)
	}
}
