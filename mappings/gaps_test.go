package mappings

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestGapsAreWarnings: a child Patient without a name is still a usable
// notification, but the gap is reported, not silently dropped.
func TestGapsAreWarnings(t *testing.T) {
	m := newMapper(t)
	raw, err := os.ReadFile("testdata/bundles/his-transaction-birth.json")
	if err != nil {
		t.Fatal(err)
	}
	// drop every "name" array of the bundle (child and mother)
	body := regexp.MustCompile(`(?s)"name"\s*:\s*\[.*?\]\s*,`).ReplaceAll(raw, nil)
	if len(body) == len(raw) {
		t.Fatal("test bundle has no name to remove")
	}
	res, err := m.Map(body, testNow)
	if err != nil {
		t.Fatalf("a bundle without names should still map: %v", err)
	}
	if _, ok := res.Declaration["child.name"]; ok {
		t.Fatalf("child.name mapped from a bundle without names: %s", res.Declaration["child.name"])
	}
	found := false
	for _, is := range res.Issues {
		if is.Severity == "warning" && is.Code == "incomplete" && strings.HasPrefix(is.Diagnostics, "child.name:") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no warning names the missing child.name: %+v", res.Issues)
	}
}
