package core_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
)

// TestWireTimesHaveThreeFractionDigits: OpenCRVS v2.0 writes times as
// JavaScript's toISOString does and compares them as strings, so every
// time on the wire has exactly three fraction digits, even at a whole
// second; a system client's action has no createdByRole key.
func TestWireTimesHaveThreeFractionDigits(t *testing.T) {
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2025, 6, 15, 12, 0, 51, 507_000_000, time.UTC), "2025-06-15T12:00:51.507Z"},
		{time.Date(2025, 6, 15, 12, 0, 51, 0, time.UTC), "2025-06-15T12:00:51.000Z"},
		{time.Date(2025, 6, 15, 12, 0, 51, 500_000_000, time.UTC), "2025-06-15T12:00:51.500Z"},
		{time.Date(2025, 6, 15, 14, 0, 51, 7_000_000, time.FixedZone("CAT", 2*3600)), "2025-06-15T12:00:51.007Z"},
	} {
		ev := core.EventDocument{ID: "e", Type: "birth", CreatedAt: tc.at, UpdatedAt: tc.at, Actions: []core.Action{{
			ID: "a", Type: core.ActionCreate, Status: core.StatusAccepted, CreatedBy: "client",
			CreatedByUserType: core.UserTypeSystem, CreatedAt: tc.at, Declaration: core.Declaration{}}}}
		b, err := json.Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			CreatedAt, UpdatedAt string
			Actions              []map[string]any
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.CreatedAt != tc.want || got.UpdatedAt != tc.want || got.Actions[0]["createdAt"] != tc.want {
			t.Errorf("%s: times %s", tc.at, b)
		}
		if _, ok := got.Actions[0]["createdByRole"]; ok {
			t.Errorf("a system action carries createdByRole: %s", b)
		}
		// and it reads back as the same instant
		var back core.EventDocument
		if err := json.Unmarshal(b, &back); err != nil || !back.CreatedAt.Equal(tc.at) || !back.Actions[0].CreatedAt.Equal(tc.at) {
			t.Errorf("%s: read back %v, %v", tc.at, back.CreatedAt, err)
		}
		ls, _ := json.Marshal(core.LegalStatus{CreatedAt: tc.at, AcceptedAt: tc.at})
		if strings.Count(string(ls), tc.want) != 2 {
			t.Errorf("legal status times: %s", ls)
		}
	}
	// A user's role stays.
	b, _ := json.Marshal(core.Action{CreatedByRole: "REGISTRATION_AGENT"})
	if !strings.Contains(string(b), `"createdByRole":"REGISTRATION_AGENT"`) {
		t.Errorf("user action: %s", b)
	}
}
