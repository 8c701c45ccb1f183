package mosipmock

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/crvshub/crvshub/testharness/fixtures"
)

// TestConformanceIdentities: the mock's embedded identities are the
// OpenCRVS mock's own (shared/fixtures/mosip/mock-identities.json), when
// that folder is there.
func TestConformanceIdentities(t *testing.T) {
	root := fixtures.SharedDir()
	if root == "" {
		t.Skip("no shared/fixtures folder above the working directory; MOSIP conformance skipped")
	}
	raw, err := os.ReadFile(filepath.Join(root, "mosip", "mock-identities.json"))
	if err != nil {
		t.Fatal(err)
	}
	var shared []Identity
	if err := json.Unmarshal(raw, &shared); err != nil {
		t.Fatal(err)
	}
	ours, err := DefaultIdentities()
	if err != nil {
		t.Fatal(err)
	}
	if len(shared) == 0 || len(ours) != len(shared) {
		t.Fatalf("%d embedded identities, %d in the fixture", len(ours), len(shared))
	}
	for i := range shared {
		if ours[i] != shared[i] {
			t.Errorf("identity %d: embedded %+v, fixture %+v", i, ours[i], shared[i])
		}
	}
}
