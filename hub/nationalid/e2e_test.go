package nationalid_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/routing"
	"github.com/crvshub/crvshub/hub/app"
	"github.com/crvshub/crvshub/hub/bus"
	"github.com/crvshub/crvshub/hub/nationalid"
	"github.com/crvshub/crvshub/testharness/hubtest"
	"github.com/crvshub/crvshub/testharness/mockpartners"
	"github.com/crvshub/crvshub/testharness/mosipmock"
)

// scopes of the registration office client in these tests.
var officeScopes = append(slices.Clone(hubtest.AllScopes), "type=record.confirm-registration", "type=record.reject-registration", "type=ops.manage")

// fastMessaging keeps redelivery and breaker timings short.
var fastMessaging = app.MessagingOptions{
	HandlerTimeout: 3 * time.Second, NakDelay: 200 * time.Millisecond, // ack wait derived: about 10s
	Retry:   bus.RetryPolicy{MaxRetries: 2, InitialInterval: 20 * time.Millisecond, MaxInterval: 50 * time.Millisecond, Multiplier: 2, RandomizationFactor: 0.5},
	Breaker: bus.BreakerSettings{FailureThreshold: 3, OpenTimeout: 500 * time.Millisecond},
}

type env struct {
	h     *hubtest.Hub
	mock  *mosipmock.Mock
	token string
}

// startCorrectionsRouted starts a hub whose country config also routes
// approved corrections of births to MOSIP (as OpenCRVS v2.1 can).
func startCorrectionsRouted(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	y := `routes:
  - name: birth-to-mosip
    event: birth
    actions: [REGISTER, APPROVE_CORRECTION]
    partner: mosip
    when: {field: mother.verified, in: [verified]}
`
	if err := os.WriteFile(filepath.Join(dir, "routing.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return start(t, mosipmock.Profile{}, dir)
}

func start(t *testing.T, p mosipmock.Profile, configDir string) *env {
	t.Helper()
	return startWith(t, p, configDir, fastMessaging)
}

// noBreaker: a breaker that does not open in these tests, so that a
// message failing every time exhausts its retry budget and is
// dead-lettered (with the breaker open it would stay queued instead).
var noBreaker = func() app.MessagingOptions {
	m := fastMessaging
	m.Breaker.FailureThreshold = 1000
	return m
}()

func startWith(t *testing.T, p mosipmock.Profile, configDir string, m app.MessagingOptions) *env {
	t.Helper()
	var logw io.Writer
	if os.Getenv("E2E_LOG") != "" {
		logw = os.Stderr
	}
	h := hubtest.Start(t, hubtest.Options{MOSIP: &p, Messaging: m, ConfigDir: configDir, Log: logw})
	return &env{h: h, mock: h.MOSIP, token: h.ClientToken(hubtest.OfficeIbombo, officeScopes...)}
}

// verifiedBirth is a complete birth declaration whose mother's identity
// was verified: eligible for MOSIP under the default routing.
func verifiedBirth(first, last string) map[string]any {
	d := hubtest.BirthDeclaration(first, last)
	d["mother.verified"] = "verified"
	return d
}

func verifiedDeath(first, last string) map[string]any {
	d := hubtest.DeathDeclaration(first, last)
	d["spouse.verified"] = "authenticated"
	d["spouse.name"] = map[string]string{"firstname": "Grace", "surname": last}
	return d
}

// register notifies, declares and registers; it returns the REGISTER answer.
func (e *env) register(t *testing.T, typ, tx string, decl map[string]any) *core.EventDocument {
	t.Helper()
	ev := e.h.Notify(e.token, typ, tx+"-n", decl)
	if res := e.h.Act(e.token, ev.ID, "declare", tx+"-d", nil); res.Status != 200 {
		t.Fatalf("declare: %d %s", res.Status, res.Body)
	}
	res := e.h.Act(e.token, ev.ID, "register", tx+"-r", nil)
	if res.Status != 200 {
		t.Fatalf("register: %d %s", res.Status, res.Body)
	}
	return res.Event()
}

// stored reads the event from the store (no READ action appended).
func (e *env) stored(t *testing.T, id string) *core.EventDocument {
	t.Helper()
	ev, err := e.h.App.Store.Event(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func (e *env) waitRegistered(t *testing.T, id string, within time.Duration) core.State {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := core.Derive(e.stored(t, id))
		if st.Status == core.EventRegistered {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("event %s not registered within %s: status %s flags %v", id, within, st.Status, st.Flags)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	// A floor on the limit: the wait ends as soon as cond holds, so a
	// generous limit costs nothing on an idle machine and keeps a loaded
	// one from failing a test that would pass.
	within = max(within, time.Minute)
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// goDown takes MOSIP down once the hub has subscribed to its WebSub hub
// (a hub that starts while MOSIP is down subscribes later, with backoff).
func (e *env) goDown(t *testing.T) {
	t.Helper()
	eventually(t, 10*time.Second, "the WebSub subscription", func() bool { return len(e.mock.Stats().Subscriptions) == 1 })
	e.mock.SetProfile(mosipmock.Profile{Down: true})
}

func requested(t *testing.T, ev *core.EventDocument) *core.Action {
	t.Helper()
	st := core.Derive(ev)
	if st.Status == core.EventRegistered || st.Pending == nil || !st.HasFlag("register:requested") {
		t.Fatalf("REGISTER should wait for MOSIP: status %s flags %v", st.Status, st.Flags)
	}
	return st.Pending
}

func acceptedRegisters(ev *core.EventDocument) int {
	n := 0
	for _, a := range ev.Actions {
		if a.Type == core.ActionRegister && a.Status == core.StatusAccepted {
			n++
		}
	}
	return n
}

func TestBirthGetsVIDFromMOSIP(t *testing.T) {
	e := start(t, mosipmock.Profile{}, "")
	ev := e.register(t, "birth", "b1", verifiedBirth("Ada", "Banda"))
	req := requested(t, ev)
	if req.RegistrationNumber == "" {
		t.Fatal("the requested REGISTER carries no reserved registration number")
	}
	st := e.waitRegistered(t, ev.ID, 10*time.Second)
	vid := e.mock.Stats().VIDs
	var want string
	for _, v := range vid {
		want = v
	}
	if len(vid) != 1 || string(st.Declaration["child.nid"]) != fmt.Sprintf("%q", want) {
		t.Fatalf("child.nid = %s, mock issued %v", st.Declaration["child.nid"], vid)
	}
	if st.Registered.RegistrationNumber != req.RegistrationNumber {
		t.Fatalf("registered as %s, MOSIP got %s", st.Registered.RegistrationNumber, req.RegistrationNumber)
	}
	s := e.mock.Stats()
	if s.PacketsByCertificate[req.RegistrationNumber] != 1 || s.CreatePacketCalls != 1 || s.WorkflowCalls != 1 {
		t.Fatalf("mock stats %+v", s)
	}
	eventually(t, 5*time.Second, "the callback acknowledged", func() bool { return e.mock.Stats().CallbacksAcked == 1 })
	// the correlation is gone once the accept committed
	if _, err := e.h.App.Store.Correlation(context.Background(), "mosip", firstKey(s.PacketsByRegistrationID)); err == nil {
		t.Error("the correlation was kept after the accept")
	}
	// the partner's callback routes are in the OpenAPI document
	if res := e.h.Do("GET", "/api/events/openapi.json", "", nil); res.Status != 200 || !strings.Contains(string(res.Body), `"/api/mosip/websub/callback"`) {
		t.Fatalf("openapi.json lacks the MOSIP callback: %d", res.Status)
	}
	// the GET answer shows it the OpenCRVS way
	res := e.h.Do("GET", "/api/events/events/"+ev.ID, e.token, nil)
	if res.Status != 200 || !strings.Contains(string(res.Body), `"child.nid":"`+want+`"`) {
		t.Fatalf("GET: %d %s", res.Status, res.Body)
	}
}

func firstKey(m map[string]int) string {
	for k := range m {
		return k
	}
	return ""
}

func TestDeathGoesToMOSIPAsCRVSDeath(t *testing.T) {
	e := start(t, mosipmock.Profile{}, "")
	ev := e.register(t, "death", "d1", verifiedDeath("John", "Phiri"))
	req := requested(t, ev)
	st := e.waitRegistered(t, ev.ID, 10*time.Second)
	if _, ok := st.Declaration["child.nid"]; ok {
		t.Fatal("a death got a child.nid")
	}
	if st.Registered.RegistrationNumber != req.RegistrationNumber {
		t.Fatalf("registered as %s, reserved %s", st.Registered.RegistrationNumber, req.RegistrationNumber)
	}
	// a death packet carries no certificate number (MOSIP gets the
	// deceased's UIN); the mock counts its packets by that UIN
	if s := e.mock.Stats(); s.PacketsByCertificate["UIN:9876543210"] != 1 || len(s.VIDs) != 0 || s.CreatePacketCalls != 1 {
		t.Fatalf("mock stats %+v", s)
	}
}

func TestIneligibleRecordsRegisterAtOnce(t *testing.T) {
	e := start(t, mosipmock.Profile{}, "")
	old := verifiedBirth("Old", "Tembo")
	old["child.dob"] = "2010-01-01" // older than 10
	for name, d := range map[string]map[string]any{
		"no parent verified": hubtest.BirthDeclaration("Nov", "Mwale"),
		"older than 10":      old,
	} {
		ev := e.register(t, "birth", strings.ReplaceAll(name, " ", "-"), d)
		if st := core.Derive(ev); st.Status != core.EventRegistered || st.Registered.RegistrationNumber == "" {
			t.Fatalf("%s: status %s flags %v, want REGISTERED at once", name, st.Status, st.Flags)
		}
	}
	death := hubtest.DeathDeclaration("Unv", "Banda") // spouse informant, spouse not verified
	if st := core.Derive(e.register(t, "death", "d-unv", death)); st.Status != core.EventRegistered {
		t.Fatalf("unverified death: %s", st.Status)
	}
	if s := e.mock.Stats(); s.CreatePacketCalls != 0 {
		t.Fatalf("MOSIP got %d packets for ineligible records", s.CreatePacketCalls)
	}
}

// syncConfig writes a country config folder whose routing sends births to
// MOSIP in sync mode with the given timeout.
func syncConfig(t *testing.T, timeout string) string {
	t.Helper()
	dir := t.TempDir()
	y := `pendingAfter: 1s
routes:
  - name: birth-sync
    event: birth
    actions: [REGISTER]
    partner: mosip
    mode: sync
    syncTimeout: ` + timeout + `
    when:
      any:
        - {field: mother.verified, in: [verified, authenticated]}
        - {field: father.verified, in: [verified, authenticated]}
`
	if err := os.WriteFile(filepath.Join(dir, "routing.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSyncMode(t *testing.T) {
	t.Run("within the timeout", func(t *testing.T) {
		e := start(t, mosipmock.Profile{}, syncConfig(t, "10s"))
		ev := e.register(t, "birth", "s1", verifiedBirth("Sync", "Now"))
		if st := core.Derive(ev); st.Status != core.EventRegistered || len(st.Declaration["child.nid"]) == 0 {
			t.Fatalf("sync REGISTER answered %s %v, want REGISTERED with child.nid", st.Status, st.Flags)
		}
	})
	t.Run("timeout falls back to deferred", func(t *testing.T) {
		e := start(t, mosipmock.Profile{CallbackDelay: 1500 * time.Millisecond}, syncConfig(t, "300ms"))
		began := time.Now()
		ev := e.register(t, "birth", "s2", verifiedBirth("Sync", "Later"))
		requested(t, ev)
		if d := time.Since(began); d > 1200*time.Millisecond {
			t.Fatalf("the sync request took %s with a 300ms timeout", d)
		}
		e.waitRegistered(t, ev.ID, 10*time.Second)
	})
	t.Run("open breaker falls back at once", func(t *testing.T) {
		e := start(t, mosipmock.Profile{}, syncConfig(t, "5s"))
		e.goDown(t)
		// trip the breaker: the first registrations fail against MOSIP
		var evs []*core.EventDocument
		for i := range 3 {
			evs = append(evs, e.register(t, "birth", fmt.Sprintf("trip%d", i), verifiedBirth("Trip", "Down")))
		}
		eventually(t, 10*time.Second, "the breaker to open", func() bool { return e.h.App.Breakers.State("mosip").String() == "open" })
		began := time.Now()
		ev := e.register(t, "birth", "s3", verifiedBirth("Sync", "Open"))
		requested(t, ev)
		if d := time.Since(began); d > 2*time.Second {
			t.Fatalf("with the breaker open the sync request still waited %s", d)
		}
		e.mock.SetProfile(mosipmock.Profile{})
		for _, x := range append(evs, ev) {
			e.waitRegistered(t, x.ID, 15*time.Second)
		}
	})
}

func TestPartnerDownThenBack(t *testing.T) {
	e := start(t, mosipmock.Profile{}, "")
	e.goDown(t)
	const n = 12
	var evs []*core.EventDocument
	for i := range n {
		evs = append(evs, e.register(t, "birth", fmt.Sprintf("down%d", i), verifiedBirth("Down", fmt.Sprint("Case", i))))
	}
	eventually(t, 10*time.Second, "the breaker to open", func() bool { return e.h.App.Breakers.State("mosip").String() == "open" })
	before := e.mock.Stats().Requests
	time.Sleep(1500 * time.Millisecond) // 3 breaker timeouts: at most a few half-open probes
	if hits := e.mock.Stats().Requests - before; hits > 8 {
		t.Fatalf("the mock got %d requests in 1.5 s while the breaker was open: a request storm", hits)
	}
	for _, ev := range evs {
		if st := core.Derive(e.stored(t, ev.ID)); st.Status == core.EventRegistered || !st.HasFlag("register:requested") {
			t.Fatalf("while MOSIP is down: %s %v", st.Status, st.Flags)
		}
	}
	if ds, _ := e.h.App.Store.DeadLetters(context.Background(), core.DeadLetterFilter{}); len(ds) != 0 {
		t.Fatalf("%d messages were dead-lettered while the breaker was open; they must stay queued", len(ds))
	}
	// the breaker's state is exported (it goes open/half-open while down)
	eventually(t, 3*time.Second, "/metrics to show the open breaker", func() bool {
		res := e.h.Do("GET", "/metrics", "", nil)
		return res.Status == 200 && strings.Contains(string(res.Body), `crvshub_breaker_state{partner="mosip"} 2`) &&
			strings.Contains(string(res.Body), "crvshub_outbox_pending 0") &&
			regexp.MustCompile(`crvshub_queue_depth\{partner="mosip"\} (1[0-2]|[2-9])\b`).MatchString(string(res.Body))
	})
	e.mock.SetProfile(mosipmock.Profile{})
	for _, ev := range evs {
		e.waitRegistered(t, ev.ID, 20*time.Second)
	}
	s := e.mock.Stats()
	if len(s.PacketsByCertificate) != n {
		t.Fatalf("%d registrations reached MOSIP, want %d", len(s.PacketsByCertificate), n)
	}
	for cert, packets := range s.PacketsByCertificate {
		if packets != 1 {
			t.Errorf("registration %s made %d MOSIP packets, want 1", cert, packets)
		}
	}
	for _, ev := range evs {
		if got := acceptedRegisters(e.stored(t, ev.ID)); got != 1 {
			t.Errorf("event %s has %d accepted REGISTERs", ev.ID, got)
		}
	}
}

func TestCallbackFaults(t *testing.T) {
	t.Run("delivered twice: one accept", func(t *testing.T) {
		e := start(t, mosipmock.Profile{CallBackTwice: true}, "")
		ev := e.register(t, "birth", "twice", verifiedBirth("Two", "Calls"))
		e.waitRegistered(t, ev.ID, 10*time.Second)
		eventually(t, 5*time.Second, "both deliveries", func() bool { return e.mock.Stats().CallbacksSent == 2 })
		if s := e.mock.Stats(); s.CallbacksAcked != 1 {
			t.Fatalf("%d deliveries acknowledged RECEIVED, want 1 (the repeat is unknown)", s.CallbacksAcked)
		}
		if n := acceptedRegisters(e.stored(t, ev.ID)); n != 1 {
			t.Fatalf("%d accepted REGISTERs", n)
		}
	})
	for name, p := range map[string]mosipmock.Profile{
		"bad signature":  {BadSignature: true},
		"unknown packet": {UnknownPacket: true},
		"never calls":    {NeverCallBack: true},
	} {
		t.Run(name+": nothing changes, listed as pending", func(t *testing.T) {
			e := start(t, p, syncConfigAsync(t))
			ev := e.register(t, "birth", "cb", verifiedBirth("Cb", "Fault"))
			req := requested(t, ev)
			if name != "never calls" {
				eventually(t, 5*time.Second, "the delivery", func() bool { return e.mock.Stats().CallbacksSent >= 1 })
			} else {
				eventually(t, 5*time.Second, "the packet", func() bool { return e.mock.Stats().WorkflowCalls == 1 })
			}
			time.Sleep(1200 * time.Millisecond) // > pendingAfter (1s)
			st := core.Derive(e.stored(t, ev.ID))
			if st.Status == core.EventRegistered || st.Pending == nil || st.Pending.ID != req.ID {
				t.Fatalf("after a refused delivery: %s %v", st.Status, st.Flags)
			}
			if s := e.mock.Stats(); s.CallbacksAcked != 0 {
				t.Fatalf("%d bad deliveries were acknowledged", s.CallbacksAcked)
			}
			res := e.h.Do("GET", "/api/events/ops/pending", e.token, nil)
			if res.Status != 200 || !strings.Contains(string(res.Body), ev.ID) {
				t.Fatalf("pending: %d %s", res.Status, res.Body)
			}
		})
	}
}

// syncConfigAsync is the default birth rule in async mode with a 1 s
// pendingAfter, so that waiting records are listed quickly.
func syncConfigAsync(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	y := `pendingAfter: 1s
routes:
  - name: birth-to-mosip
    event: birth
    actions: [REGISTER]
    partner: mosip
    when: {field: mother.verified, in: [verified]}
`
	if err := os.WriteFile(filepath.Join(dir, "routing.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDeadLetterReplay(t *testing.T) {
	e := startWith(t, mosipmock.Profile{ErrorRate: 1}, "", noBreaker)
	ev := e.register(t, "birth", "dl", verifiedBirth("Dead", "Letter"))
	requested(t, ev)
	var dls []core.DeadLetter
	eventually(t, 10*time.Second, "the dead letter", func() bool {
		res := e.h.Do("GET", "/api/events/ops/dead-letters?status=dead", e.token, nil)
		if res.Status != 200 {
			t.Fatalf("dead letters: %d %s", res.Status, res.Body)
		}
		res.JSON(&dls)
		return len(dls) == 1
	})
	d := dls[0]
	if d.Topic != routing.Topic("mosip") || d.Attempts != 3 || !strings.Contains(d.Error, "createPacket") {
		t.Fatalf("dead letter %+v", d)
	}
	if strings.Contains(string(d.Payload), "Dead") {
		t.Fatalf("the dead letter holds personal data: %s", d.Payload)
	}
	// no scope, no list
	plain := e.h.ClientToken(hubtest.OfficeIbombo, hubtest.AllScopes...)
	if res := e.h.Do("GET", "/api/events/ops/dead-letters", plain, nil); res.Status != 403 {
		t.Fatalf("dead letters without ops.manage: %d", res.Status)
	}
	e.mock.SetProfile(mosipmock.Profile{})
	res := e.h.Do("POST", "/api/events/ops/dead-letters/"+d.ID+"/replay", e.token, nil)
	if res.Status != 200 {
		t.Fatalf("replay: %d %s", res.Status, res.Body)
	}
	e.waitRegistered(t, ev.ID, 10*time.Second)
	if res := e.h.Do("POST", "/api/events/ops/dead-letters/"+d.ID+"/replay", e.token, nil); res.Status != 409 {
		t.Fatalf("replaying a replayed letter: %d %s", res.Status, res.Body)
	}
	res = e.h.Do("GET", "/api/events/ops/dead-letters?status=replayed", e.token, nil)
	if res.Status != 200 || !strings.Contains(string(res.Body), d.ID) {
		t.Fatalf("replayed list: %d %s", res.Status, res.Body)
	}
	audit, err := e.h.App.Store.Audit(context.Background(), core.AuditFilter{ObjectID: d.ID})
	if err != nil || len(audit) != 1 || audit[0].Operation != "deadletter.replay" {
		t.Fatalf("audit of the replay: %+v %v", audit, err)
	}
}

func TestDiscardAndBulkReplay(t *testing.T) {
	e := startWith(t, mosipmock.Profile{ErrorRate: 1}, "", noBreaker)
	var ids []string
	for i := range 3 {
		ev := e.register(t, "birth", fmt.Sprintf("bulk%d", i), verifiedBirth("Bulk", fmt.Sprint("N", i)))
		ids = append(ids, ev.ID)
	}
	var dls []core.DeadLetter
	eventually(t, 15*time.Second, "three dead letters", func() bool {
		res := e.h.Do("GET", "/api/events/ops/dead-letters?status=dead", e.token, nil)
		res.JSON(&dls)
		return len(dls) == 3
	})
	if res := e.h.Do("POST", "/api/events/ops/dead-letters/"+dls[0].ID+"/discard", e.token, map[string]string{}); res.Status != 400 {
		t.Fatalf("discard without a reason: %d %s", res.Status, res.Body)
	}
	if res := e.h.Do("POST", "/api/events/ops/dead-letters/"+dls[0].ID+"/discard", e.token, map[string]string{"reason": "registered by hand in MOSIP"}); res.Status != 200 {
		t.Fatalf("discard: %d %s", res.Status, res.Body)
	}
	// too many ids: 400 naming ids, nothing replayed
	tooMany := make([]string, nationalid.MaxReplayIDs+1)
	for i := range tooMany {
		tooMany[i] = dls[1].ID
	}
	if res := e.h.Do("POST", "/api/events/ops/dead-letters/replay", e.token, map[string]any{"ids": tooMany}); res.Status != 400 || !strings.Contains(string(res.Body), "ids") {
		t.Fatalf("replay of %d ids: %d %s", len(tooMany), res.Status, res.Body)
	}
	e.mock.SetProfile(mosipmock.Profile{})
	res := e.h.Do("POST", "/api/events/ops/dead-letters/replay", e.token, nil)
	var replayed []core.DeadLetter
	res.JSON(&replayed)
	if res.Status != 200 || len(replayed) != 2 || replayed[0].Seq > replayed[1].Seq {
		t.Fatalf("bulk replay: %d %s", res.Status, res.Body)
	}
	registered := 0
	eventually(t, 15*time.Second, "the replayed records registered", func() bool {
		registered = 0
		for _, id := range ids {
			if core.Derive(e.stored(t, id)).Status == core.EventRegistered {
				registered++
			}
		}
		return registered == 2
	})
}

func TestConfirmationTokenAcceptReject(t *testing.T) {
	e := start(t, mosipmock.Profile{NeverCallBack: true}, "")
	ev := e.register(t, "birth", "tok", verifiedBirth("Token", "Flow"))
	req := requested(t, ev)
	res := e.h.Do("POST", fmt.Sprintf("/api/events/ops/pending/%s/%s/token", ev.ID, req.ID), e.token, nil)
	if res.Status != 200 {
		t.Fatalf("token: %d %s", res.Status, res.Body)
	}
	var tr struct {
		Token     string `json:"token"`
		ExpiresIn int    `json:"expiresIn"`
	}
	res.JSON(&tr)
	accept := fmt.Sprintf("/api/events/events/%s/actions/%s/accept", ev.ID, req.ID)
	// the token is for this record only
	other := e.register(t, "birth", "tok2", verifiedBirth("Other", "Record"))
	oreq := requested(t, other)
	if res := e.h.Do("POST", fmt.Sprintf("/api/events/events/%s/actions/%s/accept", other.ID, oreq.ID), tr.Token, map[string]any{}); res.Status != 403 {
		t.Fatalf("token used on another record: %d %s", res.Status, res.Body)
	}
	if res := e.h.Do("GET", "/api/events/events/"+ev.ID, tr.Token, nil); res.Status != 403 {
		t.Fatalf("token used to read: %d %s", res.Status, res.Body)
	}
	res = e.h.Do("POST", accept, tr.Token, map[string]any{"declaration": map[string]string{"child.nid": "5614716359"}})
	if res.Status != 200 {
		t.Fatalf("accept: %d %s", res.Status, res.Body)
	}
	st := core.Derive(res.Event())
	if st.Status != core.EventRegistered || string(st.Declaration["child.nid"]) != `"5614716359"` || st.Registered.RegistrationNumber != req.RegistrationNumber {
		t.Fatalf("after accept: %s %s %+v", st.Status, st.Declaration["child.nid"], st.Registered)
	}
	// the token did its one job: a repeat says so and shows nothing
	again := e.h.Do("POST", accept, tr.Token, map[string]any{})
	if again.Status != 409 || !strings.Contains(string(again.Body), "ALREADY_RESOLVED") || strings.Contains(string(again.Body), "5614716359") {
		t.Fatalf("repeated accept with the token: %d %s", again.Status, again.Body)
	}
	if n := len(e.stored(t, ev.ID).Actions); n != len(res.Event().Actions) {
		t.Fatalf("repeated accept wrote %d actions", n-len(res.Event().Actions))
	}
	// an accept may fill empty fields, not rewrite the record
	third := e.register(t, "birth", "tok3", verifiedBirth("Third", "Record"))
	treq := requested(t, third)
	res = e.h.Do("POST", fmt.Sprintf("/api/events/events/%s/actions/%s/accept", third.ID, treq.ID), e.token,
		map[string]any{"declaration": map[string]any{"child.name": map[string]string{"firstname": "Someone", "surname": "Else"}}})
	if res.Status != 409 || !strings.Contains(string(res.Body), "child.name") {
		t.Fatalf("accept rewriting child.name: %d %s", res.Status, res.Body)
	}
	reject := fmt.Sprintf("/api/events/events/%s/actions/%s/reject", ev.ID, req.ID)
	if res := e.h.Do("POST", reject, tr.Token, map[string]any{"reason": "late"}); res.Status != 409 {
		t.Fatalf("reject after accept: %d %s", res.Status, res.Body)
	}
	// reject first, then accept: 409
	res = e.h.Do("POST", fmt.Sprintf("/api/events/events/%s/actions/%s/reject", other.ID, oreq.ID), e.token, map[string]any{"reason": "MOSIP never answered"})
	if res.Status != 200 || core.Derive(res.Event()).Status == core.EventRegistered {
		t.Fatalf("operator reject: %d %s", res.Status, res.Body)
	}
	if res := e.h.Do("POST", fmt.Sprintf("/api/events/events/%s/actions/%s/accept", other.ID, oreq.ID), e.token, map[string]any{}); res.Status != 409 {
		t.Fatalf("accept after reject: %d %s", res.Status, res.Body)
	}
}

func TestResendPending(t *testing.T) {
	e := start(t, mosipmock.Profile{NeverCallBack: true}, "")
	ev := e.register(t, "birth", "rs", verifiedBirth("Re", "Send"))
	req := requested(t, ev)
	eventually(t, 5*time.Second, "the first packet", func() bool { return e.mock.Stats().WorkflowCalls == 1 })
	e.mock.SetProfile(mosipmock.Profile{})
	res := e.h.Do("POST", fmt.Sprintf("/api/events/ops/pending/%s/%s/resend", ev.ID, req.ID), e.token, nil)
	if res.Status != 200 {
		t.Fatalf("resend: %d %s", res.Status, res.Body)
	}
	e.waitRegistered(t, ev.ID, 10*time.Second)
	if s := e.mock.Stats(); s.PacketsByCertificate[req.RegistrationNumber] != 1 {
		t.Fatalf("a resend made a second MOSIP registration: %+v", s.PacketsByCertificate)
	}
	if res := e.h.Do("POST", fmt.Sprintf("/api/events/ops/pending/%s/%s/resend", ev.ID, req.ID), e.token, nil); res.Status != 409 {
		t.Fatalf("resend of a registered record: %d %s", res.Status, res.Body)
	}
}

// TestConcurrentRegistrations: many registrations at once all complete,
// each exactly once.
func TestConcurrentRegistrations(t *testing.T) {
	e := start(t, mosipmock.Profile{}, "")
	const n = 40
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := e.h.Notify(e.token, "birth", fmt.Sprintf("c%d-n", i), verifiedBirth("Con", fmt.Sprint("Current", i)))
			if res := e.h.Act(e.token, ev.ID, "declare", fmt.Sprintf("c%d-d", i), nil); res.Status != 200 {
				errs <- string(res.Body)
				return
			}
			if res := e.h.Act(e.token, ev.ID, "register", fmt.Sprintf("c%d-r", i), nil); res.Status != 200 {
				errs <- string(res.Body)
				return
			}
			ids[i] = ev.ID
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Fatal(msg)
	}
	for _, id := range ids {
		e.waitRegistered(t, id, 20*time.Second)
	}
	s := e.mock.Stats()
	if len(s.PacketsByCertificate) != n {
		t.Fatalf("%d registrations at MOSIP, want %d", len(s.PacketsByCertificate), n)
	}
	b, _ := json.Marshal(s.PacketsByCertificate)
	for _, c := range s.PacketsByCertificate {
		if c != 1 {
			t.Fatalf("packets per registration: %s", b)
		}
	}
}

// TestVerifyIdentityWithIDA: the MOSIP adapter's demographic check (IDA:
// encrypted request, session key, HMAC, detached JWS Signature) against
// the mock, which decrypts, checks the signature and matches its
// identities.
func TestVerifyIdentityWithIDA(t *testing.T) {
	e := start(t, mosipmock.Profile{}, "")
	ad := e.h.App.Dispatcher.Partners["mosip"]
	ctx := context.Background()
	tests := []struct {
		name     string
		claim    adapters.IdentityClaim
		verified bool
		mismatch string
	}{
		{"match", adapters.IdentityClaim{NID: "1234567890", FirstName: "Charles", Surname: "Doe 2nd", BirthDate: "2008-02-29", Gender: "male"}, true, ""},
		{"wrong name", adapters.IdentityClaim{NID: "1234567890", FirstName: "Charlie", Surname: "Doe 2nd", BirthDate: "2008-02-29", Gender: "male"}, false, "name"},
		{"wrong date of birth", adapters.IdentityClaim{NID: "1234567891", FirstName: "Jenny", Surname: "Doe", BirthDate: "2002-02-02", Gender: "female"}, false, "dob"},
		{"unknown NID", adapters.IdentityClaim{NID: "9999999999", FirstName: "No", Surname: "Body", BirthDate: "2000-01-01", Gender: "male"}, false, "nid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ad.Verify(ctx, tc.claim)
			if err != nil {
				t.Fatal(err)
			}
			if v.Verified != tc.verified || (tc.mismatch != "" && !slices.Contains(v.Mismatches, tc.mismatch)) {
				t.Fatalf("Verify = %+v, want verified=%v mismatch %q", v, tc.verified, tc.mismatch)
			}
		})
	}
	if s := e.mock.Stats(); s.IDACalls != len(tests) {
		t.Fatalf("the mock's IDA saw %d calls, want %d", s.IDACalls, len(tests))
	}
}

// TestApprovedCorrectionGoesToMOSIP: a birth registered without a verified
// parent (not routed) is corrected later with the mother's verification;
// the approval goes to MOSIP (UIN creation, OpenCRVS v2.1's matrix) and is
// accepted with the VID, under the record's registration number.
func TestApprovedCorrectionGoesToMOSIP(t *testing.T) {
	e := startCorrectionsRouted(t)
	ev := e.register(t, "birth", "corr", hubtest.BirthDeclaration("Late", "Verified"))
	st := core.Derive(ev)
	if st.Status != core.EventRegistered {
		t.Fatalf("unverified birth: %s", st.Status)
	}
	regNum := st.Registered.RegistrationNumber
	res := e.h.Act(e.token, ev.ID, "correction/request", "corr-req", map[string]any{
		"declaration": map[string]any{"mother.verified": "verified"}, "annotation": map[string]any{"reason": "mother identified"}})
	if res.Status != 200 {
		t.Fatalf("request correction: %d %s", res.Status, res.Body)
	}
	res = e.h.Act(e.token, ev.ID, "correction/approve", "corr-approve", nil)
	if res.Status != 200 {
		t.Fatalf("approve correction: %d %s", res.Status, res.Body)
	}
	last := res.Event().Actions[len(res.Event().Actions)-1]
	if last.Type != core.ActionApproveCorrection || last.Status != core.StatusRequested {
		t.Fatalf("APPROVE_CORRECTION answered %s %s, want it Requested (sent to MOSIP)", last.Type, last.Status)
	}
	eventually(t, 10*time.Second, "the approval accepted", func() bool {
		s := core.Derive(e.stored(t, ev.ID))
		return len(s.Declaration["child.nid"]) > 0 && s.Pending == nil
	})
	s := core.Derive(e.stored(t, ev.ID))
	if string(s.Declaration["mother.verified"]) != `"verified"` || s.Registered.RegistrationNumber != regNum {
		t.Fatalf("after the approval: %s %+v", s.Declaration["mother.verified"], s.Registered)
	}
	if ms := e.mock.Stats(); ms.PacketsByCertificate[regNum] != 1 {
		t.Fatalf("MOSIP packets for %s: %+v", regNum, ms.PacketsByCertificate)
	}
}

// TestCorrelationIDReachesMOSIP: the correlation id of the REGISTER
// request travels through the outbox and the bus to MOSIP's createPacket
// call, and into the audit entry of the partner's accept.
func TestCorrelationIDReachesMOSIP(t *testing.T) {
	e := start(t, mosipmock.Profile{}, "")
	ev := e.h.Notify(e.token, "birth", "cid-n", verifiedBirth("Corr", "Id"))
	if res := e.h.Act(e.token, ev.ID, "declare", "cid-d", nil); res.Status != 200 {
		t.Fatalf("declare: %d %s", res.Status, res.Body)
	}
	body := strings.NewReader(`{"transactionId":"cid-r","createdAtLocation":"` + hubtest.OfficeIbombo + `"}`)
	req, err := http.NewRequest("POST", e.h.URL+"/api/events/events/"+ev.ID+"/register", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("X-Correlation-ID", "ministry-req-0042")
	if res := e.h.Send(req); res.Status != 200 {
		t.Fatalf("register: %d %s", res.Status, res.Body)
	}
	e.waitRegistered(t, ev.ID, 10*time.Second)
	s := e.mock.Stats()
	if len(s.CorrelationIDs) != 1 || s.CorrelationIDs[firstKey(s.PacketsByRegistrationID)] != "ministry-req-0042" {
		t.Fatalf("MOSIP saw correlation ids %v, want ministry-req-0042", s.CorrelationIDs)
	}
	audit, err := e.h.App.Store.Audit(context.Background(), core.AuditFilter{ObjectID: ev.ID})
	if err != nil {
		t.Fatal(err)
	}
	var accept *core.AuditEntry
	for i := range audit {
		if audit[i].ActorID == "partner:mosip" {
			accept = &audit[i]
		}
	}
	if accept == nil || accept.Operation != "action.REGISTER" || accept.CorrelationID != "ministry-req-0042" {
		t.Fatalf("no audit entry of MOSIP's accept in %+v", audit)
	}
}

// deadLetters lists the dead letters operators see (GET ops/dead-letters).
func (e *env) deadLetters(t *testing.T) []core.DeadLetter {
	t.Helper()
	res := e.h.Do("GET", "/api/events/ops/dead-letters?status=dead", e.token, nil)
	if res.Status != 200 {
		t.Fatalf("dead letters: %d %s", res.Status, res.Body)
	}
	var dls []core.DeadLetter
	res.JSON(&dls)
	return dls
}

// TestRejectWhileAtMOSIPThenRegisterAgain: an operator rejects a REGISTER
// MOSIP has not answered yet (the documented way out of a long wait) and
// the record is registered again. MOSIP must end with one identity (one
// VID) for the child, and the record must carry that VID, whether MOSIP's
// credential arrives after the new REGISTER (it resolves the new one: same
// packet id) or before it (the accept contradicts the operator's reject:
// it is kept as a dead letter for operators, and the new REGISTER updates
// the same MOSIP identity).
func TestRejectWhileAtMOSIPThenRegisterAgain(t *testing.T) {
	for _, tc := range []struct {
		name string
		// credentialFirst: wait for MOSIP's first credential before the
		// new REGISTER
		credentialFirst bool
	}{
		{"credential after the new REGISTER", false},
		{"credential before the new REGISTER", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, mosipmock.Profile{CallbackDelay: 1500 * time.Millisecond}, "")
			ev := e.register(t, "birth", "rj", verifiedBirth("Ada", "Banda"))
			req := requested(t, ev)
			eventually(t, 5*time.Second, "the first packet", func() bool { return e.mock.Stats().WorkflowCalls == 1 })
			res := e.h.Do("POST", "/api/events/events/"+ev.ID+"/actions/"+req.ID+"/reject", e.token, map[string]any{"reason": "MOSIP never answered"})
			if res.Status != 200 {
				t.Fatalf("operator reject: %d %s", res.Status, res.Body)
			}
			if tc.credentialFirst {
				var dls []core.DeadLetter
				eventually(t, 10*time.Second, "the contradicting accept as a dead letter", func() bool {
					dls = e.deadLetters(t)
					return len(dls) == 1
				})
				d := dls[0]
				if d.Topic != routing.Topic("mosip") || d.Metadata["unmatched_outcome"] != "accepted" ||
					d.Metadata["action_id"] != req.ID || !strings.Contains(d.Error, req.ID) || !strings.Contains(d.Error, "not recorded") {
					t.Fatalf("dead letter %+v", d)
				}
				for _, vid := range e.mock.Stats().VIDs {
					if strings.Contains(d.Error, vid) || strings.Contains(string(d.Payload), vid) || strings.Contains(string(d.Payload), "Ada") {
						t.Fatalf("the dead letter carries the VID or personal data: %+v", d)
					}
				}
			}
			if r := e.h.Act(e.token, ev.ID, "register", "rj-r2", nil); r.Status != 200 {
				t.Fatalf("register again: %d %s", r.Status, r.Body)
			}
			st := e.waitRegistered(t, ev.ID, 15*time.Second)
			eventually(t, 10*time.Second, "both credentials", func() bool { return e.mock.Stats().CallbacksSent >= 2 })
			s := e.mock.Stats()
			if len(s.VIDs) != 1 || len(s.PacketsByRegistrationID) != 1 {
				t.Fatalf("MOSIP has %d identities (VIDs %v) from %d packets %v for one child", len(s.VIDs), s.VIDs, len(s.PacketsByRegistrationID), s.PacketsByRegistrationID)
			}
			for _, vid := range s.VIDs {
				if string(st.Declaration["child.nid"]) != `"`+vid+`"` {
					t.Fatalf("record's child.nid %s, MOSIP's VID %s", st.Declaration["child.nid"], vid)
				}
			}
			if n := acceptedRegisters(e.stored(t, ev.ID)); n != 1 {
				t.Fatalf("%d accepted REGISTERs", n)
			}
			if n := len(e.deadLetters(t)); tc.credentialFirst != (n == 1) || n > 1 {
				t.Fatalf("%d dead letters", n)
			}
		})
	}
}

// TestCorrectionOfMOSIPRegisteredBirthUpdatesItsIdentity: with REGISTER
// and APPROVE_CORRECTION routed, a birth that got its identity from MOSIP
// at registration is sent again when a correction is approved: under the
// same packet id, so MOSIP updates the packet and re-issues the credential
// of the same identity (same VID) instead of creating a second one.
func TestCorrectionOfMOSIPRegisteredBirthUpdatesItsIdentity(t *testing.T) {
	e := startCorrectionsRouted(t)
	ev := e.register(t, "birth", "c2", verifiedBirth("Ada", "Banda"))
	st := e.waitRegistered(t, ev.ID, 10*time.Second)
	regNum, nid := st.Registered.RegistrationNumber, string(st.Declaration["child.nid"])
	eventually(t, 5*time.Second, "the first credential", func() bool { return e.mock.Stats().CallbacksAcked == 1 })
	res := e.h.Act(e.token, ev.ID, "correction/request", "c2-req", map[string]any{
		"declaration": map[string]any{"child.weightAtBirth": 3.4}, "annotation": map[string]any{"reason": "typo"}})
	if res.Status != 200 {
		t.Fatalf("request correction: %d %s", res.Status, res.Body)
	}
	res = e.h.Act(e.token, ev.ID, "correction/approve", "c2-approve", nil)
	if res.Status != 200 {
		t.Fatalf("approve correction: %d %s", res.Status, res.Body)
	}
	if last := res.Event().Actions[len(res.Event().Actions)-1]; last.Type != core.ActionApproveCorrection || last.Status != core.StatusRequested {
		t.Fatalf("APPROVE_CORRECTION answered %s %s, want it Requested (sent to MOSIP)", last.Type, last.Status)
	}
	eventually(t, 10*time.Second, "the approval accepted", func() bool { return core.Derive(e.stored(t, ev.ID)).Pending == nil })
	// the hub records the outcome before it answers the callback: the mock
	// counts the acknowledgement a moment later
	eventually(t, 5*time.Second, "the second credential acknowledged", func() bool { return e.mock.Stats().CallbacksAcked == 2 })
	after := core.Derive(e.stored(t, ev.ID))
	ms := e.mock.Stats()
	if ms.PacketsByCertificate[regNum] != 1 || len(ms.VIDs) != 1 || len(ms.PacketsByRegistrationID) != 1 {
		t.Fatalf("a correction of a birth MOSIP already registered made %d packets / %d VIDs for certificate %s (%v)",
			ms.PacketsByCertificate[regNum], len(ms.VIDs), regNum, ms.PacketsByRegistrationID)
	}
	for aid, n := range ms.PacketsByRegistrationID {
		if n != 2 || ms.CallbacksAcked != 2 {
			t.Fatalf("packet %s written %d times, %d credentials acknowledged: want the packet updated and its credential issued again", aid, n, ms.CallbacksAcked)
		}
	}
	if string(after.Declaration["child.nid"]) != nid || string(after.Declaration["child.weightAtBirth"]) != "3.4" || after.Registered.RegistrationNumber != regNum {
		t.Fatalf("after the approval: nid %s (was %s), weight %s, number %s", after.Declaration["child.nid"], nid, after.Declaration["child.weightAtBirth"], after.Registered.RegistrationNumber)
	}
}

// TestAckWaitCoversRetryBudget runs against the embedded JetStream with
// millisecond timings. A partner slower than the attempt timeout makes a
// message use its whole retry budget (3 attempts of 300 ms plus
// back-offs). With the ack wait derived from that budget, JetStream does
// not hand the message to a second handler meanwhile: it is dead-lettered
// once, after exactly 3 attempts (a redelivery would call MOSIP again and
// add its attempts to the same dead letter). An explicit ack wait shorter
// than the budget is refused when the hub opens.
func TestAckWaitCoversRetryBudget(t *testing.T) {
	slow := app.MessagingOptions{
		NakDelay:       200 * time.Millisecond,
		HandlerTimeout: 300 * time.Millisecond,
		Retry:          bus.RetryPolicy{MaxRetries: 2, InitialInterval: 20 * time.Millisecond, MaxInterval: 50 * time.Millisecond, Multiplier: 2, RandomizationFactor: 0.5},
		Breaker:        bus.BreakerSettings{FailureThreshold: 1000, OpenTimeout: 500 * time.Millisecond},
	}
	t.Run("explicit ack wait shorter than the budget", func(t *testing.T) {
		dir := t.TempDir()
		mock, settings, err := mockpartners.StartMOSIP(dir, mosipmock.Profile{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mock.Close() })
		m := slow
		m.AckWait = 500 * time.Millisecond
		pc := &app.PartnersConfig{}
		if err := pc.Set("mosip", settings); err != nil {
			t.Fatal(err)
		}
		a, err := app.Open(context.Background(), app.Options{DataDir: dir, SecretCost: 4, PublicURL: "http://127.0.0.1:1",
			Partners: pc, Messaging: m, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err == nil {
			a.Close()
			t.Fatal("the hub opened with an ack wait of 500ms for a retry budget of about 1s")
		}
		if !strings.Contains(err.Error(), "ack wait 500ms") || !strings.Contains(err.Error(), "retry budget") {
			t.Fatalf("error %q does not name the ack wait and the retry budget", err)
		}
	})
	t.Run("derived ack wait", func(t *testing.T) {
		e := startWith(t, mosipmock.Profile{Latency: time.Second}, "", slow)
		ev := e.register(t, "birth", "aw", verifiedBirth("Ada", "Banda"))
		requested(t, ev)
		var dls []core.DeadLetter
		eventually(t, 10*time.Second, "the dead letter", func() bool {
			dls = e.deadLetters(t)
			return len(dls) == 1
		})
		// longer than the derived ack wait (budget ~1s + 1s margin): a
		// redelivery would have happened by now
		time.Sleep(2500 * time.Millisecond)
		dls = e.deadLetters(t)
		if len(dls) != 1 || dls[0].Attempts != 3 {
			t.Fatalf("dead letters %+v: want one, after exactly 3 attempts (the message was handled more than once)", dls)
		}
		nc, err := nats.Connect(e.h.App.Bus.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := nc.JetStream()
		if err != nil {
			t.Fatal(err)
		}
		ci, err := js.ConsumerInfo(routing.Topic("mosip"), "crvshub")
		if err != nil {
			t.Fatal(err)
		}
		if ci.NumRedelivered != 0 || ci.Config.AckWait < 1900*time.Millisecond || ci.Config.AckWait > 3*time.Second {
			t.Fatalf("consumer: %d redelivered, ack wait %v (want about 2s: the ~1s budget and a 1s margin)", ci.NumRedelivered, ci.Config.AckWait)
		}
	})
}
