package adapters

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

type fakeID struct{}

func (fakeID) Name() string { return "fake" }
func (fakeID) Register(context.Context, Registration) (Outcome, error) {
	return Outcome{Kind: Accepted}, nil
}
func (fakeID) Verify(context.Context, IdentityClaim) (Verification, error) {
	return Verification{Verified: true}, nil
}

func TestRegistry(t *testing.T) {
	f := Factory{New: func(json.RawMessage, Deps) (NationalID, error) { return fakeID{}, nil }}
	Register("registry-test", f)
	got, ok := Lookup("registry-test")
	if !ok || got.New == nil {
		t.Fatal("Lookup did not find the registered adapter")
	}
	if id, err := got.New(nil, Deps{}); err != nil || id.Name() != "fake" {
		t.Fatalf("New: %v, %v", id, err)
	}
	if !slices.Contains(Names(), "registry-test") || !slices.IsSorted(Names()) {
		t.Fatalf("Names() = %v", Names())
	}
	if _, ok := Lookup("registry-test-absent"); ok {
		t.Fatal("Lookup found an adapter never registered")
	}
	for name, f := range map[string]Factory{"registry-test": f, "registry-test-nonew": {}} {
		func() {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(r.(string), "adapters:") {
					t.Errorf("Register(%q) did not panic: %v", name, r)
				}
			}()
			Register(name, f)
		}()
	}
}
