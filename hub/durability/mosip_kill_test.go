package durability_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crvshub/crvshub/adapters/mosip"
	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/testharness/hubtest"
	"github.com/crvshub/crvshub/testharness/mosipmock"
)

// TestKill9RegistrationsCompleteOnce: 120 registrations routed to MOSIP
// are in flight (outbox, bus, partner calls, callbacks) when `crvshub
// serve` is killed with SIGKILL; after a restart every one of them
// completes, and MOSIP (a mock in this test process, so it outlives the
// hub) saw exactly one packet per registration and each event has exactly
// one accepted REGISTER.
func TestKill9RegistrationsCompleteOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: builds the crvshub binary and kills it mid-load")
	}
	bin := hubBinary(t) // built outside every phase's time limit
	start := time.Now()
	phase := func(what string) { t.Logf("%6.2fs %s", time.Since(start).Seconds(), what) }
	// one generous limit for the whole test, which builds nothing: each
	// wait below has its own, shorter limit and says when it ran out
	ph := startPhase(t, "registrations through a kill", 8*time.Minute)
	ctx := ph.ctx
	dir := t.TempDir()

	// MOSIP lives in this process: it trusts the hub's partner certificate
	// (created here in the hub's data folder, where the hub will find it)
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, cert, err := mosip.PartnerKey(filepath.Join(dir, "keys", "mosip-partner.pem"), filepath.Join(dir, "keys", "mosip-partner.crt"))
	if err != nil {
		t.Fatal(err)
	}
	mock, err := mosipmock.New(mosipmock.Config{PartnerCert: cert, Profile: mosipmock.Profile{Latency: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mock.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer mock.Close()
	partners := filepath.Join(t.TempDir(), "partners.yaml")
	if err := os.WriteFile(partners, []byte(fmt.Sprintf(`mosip:
  baseUrl: %s
  packetClientId: kill-test
  packetClientSecret: kill-test-secret
  websubSecret: kill-test-websub
  credentialAllowList: [%s]
  timeoutSeconds: 5
# short attempts: the ack wait, derived from this retry budget (about 10s),
# is how soon messages a killed hub had taken come back
delivery:
  attemptTimeout: 2s
  initialInterval: 100ms
  maxInterval: 400ms
`, mock.URL(), mock.PublicKeyURL())), 0o600); err != nil {
		t.Fatal(err)
	}
	id, secret := cliCreateClientScopes(t, ctx, bin, dir, append(hubtest.AllScopes, "type=record.confirm-registration"))
	addr := freeLoopbackAddr(t)
	flags := []string{"--partners", partners}
	p := startServeAt(t, ctx, bin, dir, addr, flags...)
	phase("hub ready")
	c := newCaller(p.base, "")
	tok := tokenFor(t, ctx, c, id, secret)
	c = newCaller(p.base, tok)

	// n registrations, the hub killed once MOSIP has taken killAt packets
	// (a third: others are still in the outbox, on the bus, at MOSIP, in
	// callbacks, accepted)
	const n, killAt = 120, 40
	ids := make([]string, n)
	errs := parallel(n, 24, func(i int) error {
		decl := birthDeclaration(i)
		decl["mother.verified"] = "verified"
		decl["child.dob"] = "2024-02-02"
		body, _ := json.Marshal(map[string]any{"transactionId": fmt.Sprintf("kr-%d-n", i), "eventType": "birth",
			"createdAtLocation": hubtest.OfficeIbombo, "declaration": decl})
		st, b, err := c.do(ctx, "POST", "/api/events/events/notify", body)
		if err != nil {
			return ph.check(fmt.Errorf("notify %d: %w", i, err))
		}
		if st != 200 {
			return fmt.Errorf("notify %d: %d %s", i, st, b)
		}
		ev, err := decodeEvent(b)
		if err != nil {
			return err
		}
		body, _ = json.Marshal(map[string]any{"transactionId": fmt.Sprintf("kr-%d-d", i), "createdAtLocation": hubtest.OfficeIbombo})
		if st, b, err = c.do(ctx, "POST", "/api/events/events/"+ev.ID+"/declare", body); err != nil || st != 200 {
			return ph.check(fmt.Errorf("declare %d: %d %w %s", i, st, err, b))
		}
		ids[i] = ev.ID
		return nil
	})
	if firstErrors(t, "prepare", errs, 3) > 0 {
		t.FailNow()
	}
	phase(fmt.Sprintf("%d births declared", n))

	// register all n; kill the hub once MOSIP has taken killAt packets, so
	// that registrations sit at every stage: in the outbox, on the bus, at
	// MOSIP, in callbacks, accepted
	register := func(c *caller, i int) (int, error) {
		body, _ := json.Marshal(map[string]any{"transactionId": fmt.Sprintf("kr-%d-r", i), "createdAtLocation": hubtest.OfficeIbombo})
		st, _, err := c.do(ctx, "POST", "/api/events/events/"+ids[i]+"/register", body)
		return st, err
	}
	var answered atomic.Int32
	var once sync.Once
	stopWatch := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(time.Millisecond):
			}
			if mock.Stats().CreatePacketCalls >= killAt {
				once.Do(p.kill)
				return
			}
		}
	}()
	parallel(n, 24, func(i int) error {
		if st, err := register(c, i); err == nil && st == http.StatusOK {
			answered.Add(1)
		}
		return nil
	})
	// wait for the kill (MOSIP gets the queued registrations meanwhile)
	select {
	case <-p.exited:
	case <-time.After(90 * time.Second):
		t.Fatalf("timeout: MOSIP did not get %d packets within 90 s: %+v\n%s", killAt, mock.Stats(), p.log())
	}
	close(stopWatch)
	s0 := mock.Stats()
	phase(fmt.Sprintf("killed: %d REGISTERs answered, MOSIP had %d packets and %d acknowledged callbacks", answered.Load(), s0.CreatePacketCalls, s0.CallbacksAcked))
	if s0.CallbacksAcked >= n {
		t.Fatalf("every registration completed before the kill; nothing was in flight")
	}
	c.close()

	p = startServeAt(t, ctx, bin, dir, addr, flags...)
	phase("hub restarted")
	c = newCaller(p.base, tok)
	defer c.close()
	// requests cut off by the kill are sent again (same transaction ids:
	// a REGISTER that had committed is not repeated)
	errs = parallel(n, 24, func(i int) error {
		st, err := register(c, i)
		if err != nil {
			return ph.check(fmt.Errorf("register %d again: %w", i, err))
		}
		if st != 200 {
			return fmt.Errorf("register %d again: %d", i, st)
		}
		return nil
	})
	if firstErrors(t, "re-register", errs, 3) > 0 {
		t.FailNow()
	}
	const completeWithin = 3 * time.Minute
	deadline := time.Now().Add(completeWithin)
	// one count per poll (the folder holds only these births; each is
	// checked one by one below), not a search per event: n searches every
	// half second loaded the hub that was finishing the registrations
	for {
		done := 0
		sa, err := c.search(ctx, `{"query":{"type":"and","clauses":[{"eventType":"birth","status":{"type":"exact","term":"REGISTERED"}}]},"limit":1}`)
		if err == nil {
			done = sa.Total
		}
		if done == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timeout: %d of %d registrations completed within %s of the restart\n%s", done, n, completeWithin, p.log())
		}
		time.Sleep(500 * time.Millisecond)
	}
	phase(fmt.Sprintf("all %d registered", n))
	s := mock.Stats()
	if len(s.PacketsByCertificate) != n {
		t.Errorf("MOSIP has %d registrations, want %d", len(s.PacketsByCertificate), n)
	}
	for cert, k := range s.PacketsByCertificate {
		if k != 1 {
			t.Errorf("registration %s has %d MOSIP packets, want 1", cert, k)
		}
	}
	for _, id := range ids {
		st, b, err := c.do(ctx, "GET", "/api/events/events/"+id, nil)
		if err != nil {
			t.Fatalf("get %s: %v", id, ph.check(err))
		}
		if st != 200 {
			t.Fatalf("get %s: %d", id, st)
		}
		ev, err := decodeEvent(b)
		if err != nil {
			t.Fatal(err)
		}
		accepted := 0
		for _, a := range ev.Actions {
			if a.Type == core.ActionRegister && a.Status == core.StatusAccepted {
				accepted++
			}
		}
		if accepted != 1 {
			t.Errorf("event %s has %d accepted REGISTERs, want 1", id, accepted)
		}
	}
	p.checkLog()
}

func tokenFor(t *testing.T, ctx context.Context, c *caller, id, secret string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"grant_type": "client_credentials", "client_id": id, "client_secret": secret})
	status, b, err := c.do(ctx, "POST", "/auth/token", body)
	if err != nil || status != http.StatusOK {
		t.Fatalf("token: %d %v %s", status, err, b)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("token answer %s: %v", b, err)
	}
	return tr.AccessToken
}

func cliCreateClientScopes(t *testing.T, ctx context.Context, bin, dataDir string, scopes []string) (id, secret string) {
	t.Helper()
	// a new data folder: migrate creates the database the clients commands need
	if out, err := exec.CommandContext(ctx, bin, "migrate", "--data", dataDir).CombinedOutput(); err != nil {
		t.Fatalf("crvshub migrate: %v\n%s", err, out)
	}
	args := []string{"clients", "create", "--data", dataDir, "--name", "kill test office", "--office", hubtest.OfficeIbombo}
	for _, s := range scopes {
		args = append(args, "--scope", s)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("crvshub clients create: %v\n%s", err, stderr.String())
	}
	var cr struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
	}
	if err := json.Unmarshal(out, &cr); err != nil || cr.ClientID == "" || cr.ClientSecret == "" {
		t.Fatalf("crvshub clients create printed %q: %v", out, err)
	}
	return cr.ClientID, cr.ClientSecret
}
