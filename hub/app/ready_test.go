package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/hub/httpapi"
	"github.com/crvshub/crvshub/testharness/hubtest"
	"github.com/crvshub/crvshub/testharness/mosipmock"
)

// TestReadyzFollowsTheBus: with routing on, /readyz reports the store, the
// bus and the outbox relay (and the outbox lag). When the embedded
// JetStream stops underneath the hub, /readyz fails (503 with
// Retry-After); the bus recovers by itself, a REGISTER made meanwhile
// reaches MOSIP and is registered, and /readyz is ok again.
func TestReadyzFollowsTheBus(t *testing.T) {
	h := hubtest.Start(t, hubtest.Options{MOSIP: &mosipmock.Profile{}})
	ready := func() (*hubtest.Response, httpapi.ReadyBody) {
		res := h.Do("GET", "/readyz", "", nil)
		var b httpapi.ReadyBody
		if err := json.Unmarshal(res.Body, &b); err != nil {
			t.Fatalf("/readyz body %s: %v", res.Body, err)
		}
		return res, b
	}
	waitReady := func(what string, cond func(*hubtest.Response, httpapi.ReadyBody) bool) (*hubtest.Response, httpapi.ReadyBody) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			res, b := ready()
			if cond(res, b) {
				return res, b
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out after 1 min waiting for /readyz %s: %d %s", what, res.Status, res.Body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	allOK := func(res *hubtest.Response, b httpapi.ReadyBody) bool {
		return res.Status == http.StatusOK && b.Status == "ok" && b.Checks["store"] == "ok" && b.Checks["bus"] == "ok" &&
			b.Checks["relay"] == "ok" && b.OutboxLagSeconds != nil
	}
	waitReady("ok with store, bus and relay", allOK)
	// the router subscribed and MOSIP knows where to call back
	select {
	case <-h.App.Router.Running():
	case <-time.After(time.Minute):
		t.Fatal("timed out after 1 min waiting for the router to run")
	}
	for deadline := time.Now().Add(time.Minute); len(h.MOSIP.Stats().Subscriptions) != 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out after 1 min waiting for the WebSub subscription")
		}
	}

	if err := h.App.Bus.EmbeddedServer().ShutdownJetStream(); err != nil {
		t.Fatal(err)
	}
	res, b := waitReady("failing on the bus", func(res *hubtest.Response, b httpapi.ReadyBody) bool {
		return res.Status == http.StatusServiceUnavailable && b.Checks["bus"] == "failing"
	})
	if b.Status != "unavailable" || b.Checks["store"] != "ok" || res.Header.Get("Retry-After") == "" {
		t.Fatalf("/readyz while the bus is down: %d %s Retry-After %q", res.Status, res.Body, res.Header.Get("Retry-After"))
	}

	tok := h.ClientToken(hubtest.OfficeIbombo, hubtest.AllScopes...)
	decl := hubtest.BirthDeclaration("Ada", "Banda")
	decl["mother.verified"] = "verified"
	ev := h.Notify(tok, "birth", "ready-n", decl)
	if res := h.Act(tok, ev.ID, "declare", "ready-d", nil); res.Status != http.StatusOK {
		t.Fatalf("declare: %d %s", res.Status, res.Body)
	}
	if res := h.Act(tok, ev.ID, "register", "ready-r", nil); res.Status != http.StatusOK {
		t.Fatalf("register: %d %s", res.Status, res.Body)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		stored, err := h.App.Store.Event(context.Background(), ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if core.Derive(stored).Status == core.EventRegistered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 1 min waiting for the REGISTER to reach MOSIP after the bus recovered (restarts %d, bus %v, relay %v)",
				h.App.Bus.Restarts(), h.App.Bus.Health(), h.App.Relay.Health())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if h.App.Bus.Restarts() < 1 {
		t.Fatal("the embedded server was not restarted")
	}
	waitReady("ok again", allOK)
}
