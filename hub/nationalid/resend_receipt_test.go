package nationalid_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core/routing"
	"github.com/crvshub/crvshub/testharness/hubtest"
	"github.com/crvshub/crvshub/testharness/mosipmock"
)

// TestResendAnswersAReceipt: ops.manage alone may resend a waiting record
// but not read it: the answer names the action, where it went and when,
// and carries nothing of the record.
func TestResendAnswersAReceipt(t *testing.T) {
	e := start(t, mosipmock.Profile{NeverCallBack: true}, "")
	ev := e.register(t, "birth", "rcpt", verifiedBirth("Hidden", "Child"))
	req := requested(t, ev)
	eventually(t, 5*time.Second, "the first packet", func() bool { return e.mock.Stats().WorkflowCalls == 1 })

	opsOnly := e.h.ClientToken(hubtest.OfficeIlanga, "type=ops.manage")
	if res := e.h.Do("GET", "/api/events/events/"+ev.ID, opsOnly, nil); res.Status == http.StatusOK {
		t.Fatal("premise: an ops.manage-only client reads the record")
	}
	before := time.Now().UTC().Add(-time.Second)
	res := e.h.Do("POST", fmt.Sprintf("/api/events/ops/pending/%s/%s/resend", ev.ID, req.ID), opsOnly, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("resend: %d %s", res.Status, res.Body)
	}
	var got map[string]any
	res.JSON(&got)
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	if len(got) != 5 || got["eventId"] != ev.ID || got["actionId"] != req.ID || got["topic"] != routing.Topic("mosip") || got["partner"] != "mosip" {
		t.Fatalf("receipt %.300s (keys %v), want exactly eventId, actionId, topic, partner, resentAt", res.Body, keys)
	}
	at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(got["resentAt"]))
	if err != nil || at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("resentAt %v (%v), want now", got["resentAt"], err)
	}
	for _, leak := range []string{"Hidden", "declaration", "actions", "trackingId", req.RegistrationNumber} {
		if strings.Contains(string(res.Body), leak) {
			t.Errorf("the resend receipt carries %q of the record: %s", leak, res.Body)
		}
	}
}
