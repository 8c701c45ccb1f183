package nationalid_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/crvshub/crvshub/testharness/mosipmock"
)

// TestPendingMeasuredFromRequest: a REGISTER waiting for MOSIP stays in
// the pending list while someone reads, assigns and unassigns the record:
// the wait is measured from when the action was Requested, not from the
// record's last update (which an ASSIGN moves).
func TestPendingMeasuredFromRequest(t *testing.T) {
	e := start(t, mosipmock.Profile{NeverCallBack: true}, syncConfigAsync(t))
	ev := e.register(t, "birth", "poll", verifiedBirth("Polled", "Daily"))
	req := requested(t, ev)
	eventually(t, 10*time.Second, "the packet", func() bool { return e.mock.Stats().WorkflowCalls == 1 })
	pending := func(olderThan string) []string {
		t.Helper()
		res := e.h.Do("GET", "/api/events/ops/pending?olderThan="+olderThan, e.token, nil)
		if res.Status != 200 {
			t.Fatalf("pending: %d %s", res.Status, res.Body)
		}
		var r struct {
			Results []struct {
				ID string `json:"id"`
			} `json:"results"`
			Total int `json:"total"`
		}
		if err := json.Unmarshal(res.Body, &r); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, x := range r.Results {
			ids = append(ids, x.ID)
		}
		if r.Total != len(ids) {
			t.Fatalf("pending: total %d for %d results", r.Total, len(ids))
		}
		return ids
	}
	// Wait past olderThan from the request, touching the record all along.
	for time.Since(req.CreatedAt) < 1500*time.Millisecond {
		for _, slug := range []string{"assign", "unassign"} {
			if res := e.h.Act(e.token, ev.ID, slug, "poll-"+slug+time.Now().Format("150405.000000"), nil); res.Status != 200 {
				t.Fatalf("%s: %d %s", slug, res.Status, res.Body)
			}
		}
		if res := e.h.Do("GET", "/api/events/events/"+ev.ID, e.token, nil); res.Status != 200 {
			t.Fatalf("read: %d %s", res.Status, res.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := pending("1s"); len(got) != 1 || got[0] != ev.ID {
		t.Fatalf("pending?olderThan=1s = %v, want [%s] (requested %s ago, touched since)", got, ev.ID, time.Since(req.CreatedAt))
	}
	if got := pending("1h"); len(got) != 0 {
		t.Fatalf("pending?olderThan=1h = %v, want none", got)
	}
}
