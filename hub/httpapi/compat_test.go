package httpapi_test

import (
	"strings"
	"testing"

	"github.com/crvshub/crvshub/testharness/hubtest"
)

// TestOpenCRVSClientCompatibility: shapes that real OpenCRVS clients send
// or expect.
func TestOpenCRVSClientCompatibility(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)

	// Older OpenCRVS docs and the Postman collections add
	// "dateOfEvent": {"fieldId": ...} to the create body.
	res := h.Do("POST", "/api/events/events", tok, map[string]any{"transactionId": newTx(), "type": "birth",
		"createdAtLocation": hubtest.OfficeIbombo, "dateOfEvent": map[string]string{"fieldId": "child.dob"}})
	if res.Status != 200 {
		t.Fatalf("create with dateOfEvent: %d %s", res.Status, res.Body)
	}
	ev := res.Event()

	// A system client's action has no createdByRole (OpenCRVS v2.0 leaves
	// the optional key out; "" is not a role).
	if strings.Contains(string(res.Body), `"createdByRole"`) {
		t.Errorf("a system action carries createdByRole: %s", res.Body)
	}

	// Event ids are UUIDs: their case does not matter.
	got := h.Do("GET", "/api/events/events/"+strings.ToUpper(ev.ID), tok, nil)
	if got.Status != 200 || got.Event().ID != ev.ID {
		t.Fatalf("GET by upper-case id: %d %s", got.Status, got.Body)
	}
}
