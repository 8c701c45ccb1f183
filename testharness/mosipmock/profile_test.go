package mosipmock

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestProfileDown(t *testing.T) {
	m := startMock(t, Profile{Down: true})
	for _, e := range []struct{ method, path string }{
		{"POST", "/v1/authmanager/authenticate/clientidsecretkey"},
		{"PUT", "/commons/v1/packetmanager/createPacket"},
		{"POST", "/registrationprocessor/v1/workflowmanager/workflowinstance"},
		{"POST", "/websub/hub"},
		{"POST", "/idauthentication/v1/auth/a/b/c"},
		{"GET", "/.well-known/public-key.json"},
	} {
		if st, b, _ := call(t, e.method, m.URL()+e.path, "", "application/json", []byte("{}")); st != http.StatusServiceUnavailable {
			t.Errorf("%s %s: %d %s", e.method, e.path, st, b)
		}
	}
	s := m.Stats()
	if s.Requests != 6 || s.AuthCalls+s.CreatePacketCalls+s.WorkflowCalls+s.IDACalls != 0 {
		t.Fatalf("stats while down %+v", s)
	}
	m.SetProfile(Profile{})
	tok := login(t, m)
	register(t, m, tok, aid1, "CRVS_NEW")
}

func TestProfileFlapping(t *testing.T) {
	m := startMock(t, Profile{})
	m.SetProfile(Profile{Flapping: 250 * time.Millisecond})
	get := func() int {
		st, _, _ := call(t, "GET", m.PublicKeyURL(), "", "", nil)
		return st
	}
	if st := get(); st != 503 {
		t.Fatalf("first phase: %d, want 503", st)
	}
	time.Sleep(300 * time.Millisecond)
	if st := get(); st != 200 {
		t.Fatalf("second phase: %d, want 200", st)
	}
	time.Sleep(250 * time.Millisecond)
	if st := get(); st != 503 {
		t.Fatalf("third phase: %d, want 503", st)
	}
}

func TestProfileLatency(t *testing.T) {
	m := startMock(t, Profile{Latency: 150 * time.Millisecond})
	start := time.Now()
	tok := login(t, m)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("auth took %s with 150ms latency", d)
	}
	start = time.Now()
	if st, _, _ := call(t, "GET", m.PublicKeyURL(), "", "", nil); st != 200 || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("public key (not a partner call) delayed: %s", time.Since(start))
	}
	start = time.Now()
	register(t, m, tok, aid1, "CRVS_NEW")
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("createPacket+workflow took %s", d)
	}
}

func TestProfileErrorRate(t *testing.T) {
	m := startMock(t, Profile{ErrorRate: 1})
	tok := login(t, m)
	st, b, _ := call(t, "PUT", m.URL()+"/commons/v1/packetmanager/createPacket", tok, "application/json", jsonBody(t, packetBody(aid1, "CRVS_NEW", nil)))
	if st != 500 || errorCode(b) == "" {
		t.Fatalf("createPacket with ErrorRate 1: %d %s", st, b)
	}
	m.SetProfile(Profile{})
	if st, _, _ := call(t, "PUT", m.URL()+"/commons/v1/packetmanager/createPacket", tok, "application/json", jsonBody(t, packetBody(aid1, "CRVS_NEW", nil))); st != 200 {
		t.Fatal(st)
	}
	m.SetProfile(Profile{ErrorRate: 1})
	if st, _, _ := call(t, "POST", m.URL()+"/registrationprocessor/v1/workflowmanager/workflowinstance", tok, "application/json", jsonBody(t, workflowBody(aid1, "CRVS_NEW"))); st != 500 {
		t.Fatalf("workflow with ErrorRate 1: %d", st)
	}
	if s := m.Stats(); s.PacketsByRegistrationID[aid1] != 1 || len(s.VIDs) != 0 {
		t.Fatalf("failed calls changed state: %+v", s)
	}
}

// TestProfileErrorRateDeterministic: the same seed gives the same answers.
func TestProfileErrorRateDeterministic(t *testing.T) {
	seq := func() string {
		m := startMock(t, Profile{ErrorRate: 0.5})
		tok := login(t, m)
		var b strings.Builder
		for range 40 {
			st, _, _ := call(t, "PUT", m.URL()+"/commons/v1/packetmanager/createPacket", tok, "application/json", jsonBody(t, packetBody(aid1, "CRVS_NEW", nil)))
			b.WriteString(map[int]string{200: "o", 500: "x"}[st])
		}
		return b.String()
	}
	a, b := seq(), seq()
	if a != b {
		t.Fatalf("not deterministic:\n%s\n%s", a, b)
	}
	if n := strings.Count(a, "x"); n < 10 || n > 30 || len(a) != 40 {
		t.Fatalf("ErrorRate 0.5 gave %d failures of 40: %s", n, a)
	}
}

func TestProfileCallbacks(t *testing.T) {
	t.Run("NeverCallBack", func(t *testing.T) {
		m := startMock(t, Profile{NeverCallBack: true})
		tok := login(t, m)
		sub := newSubscriber(t, hubSecret)
		sub.subscribe(t, m, tok)
		register(t, m, tok, aid1, "CRVS_NEW")
		time.Sleep(300 * time.Millisecond)
		if s := m.Stats(); s.CallbacksSent != 0 || len(sub.received()) != 0 || s.VIDs[aid1] == "" {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("CallBackTwice", func(t *testing.T) {
		m := startMock(t, Profile{CallBackTwice: true})
		tok := login(t, m)
		sub := newSubscriber(t, hubSecret)
		sub.subscribe(t, m, tok)
		register(t, m, tok, aid1, "CRVS_NEW")
		got := sub.waitDeliveries(t, 2, 5*time.Second)
		if string(got[0].body) != string(got[1].body) || got[0].err != nil {
			t.Fatalf("the two deliveries differ or fail: %v", got[0].err)
		}
		eventually(t, 2*time.Second, "two acks", func() bool { return m.Stats().CallbacksAcked == 2 })
		if s := m.Stats(); s.CallbacksSent != 2 {
			t.Fatalf("CallbacksSent %d", s.CallbacksSent)
		}
	})
	t.Run("BadSignature", func(t *testing.T) {
		m := startMock(t, Profile{BadSignature: true})
		tok := login(t, m)
		sub := newSubscriber(t, hubSecret)
		sub.subscribe(t, m, tok)
		register(t, m, tok, aid1, "CRVS_NEW")
		d := sub.waitDeliveries(t, 1, 5*time.Second)[0]
		if d.err == nil || !strings.Contains(d.err.Error(), "signature") || !d.sigValid {
			t.Fatalf("a bad proof was accepted or the hub signature broke: %v", d.err)
		}
		time.Sleep(50 * time.Millisecond)
		if s := m.Stats(); s.CallbacksSent != 1 || s.CallbacksAcked != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("UnknownPacket", func(t *testing.T) {
		m := startMock(t, Profile{UnknownPacket: true})
		tok := login(t, m)
		sub := newSubscriber(t, hubSecret)
		sub.subscribe(t, m, tok)
		register(t, m, tok, aid1, "CRVS_NEW")
		d := sub.waitDeliveries(t, 1, 5*time.Second)[0]
		if d.err != nil {
			t.Fatal(d.err)
		}
		id, _ := subjectOf(d.vc)["id"].(string)
		data := d.event["event"].(map[string]any)["data"].(map[string]any)
		if !strings.HasPrefix(id, "http://credential.idrepo/credentials/") || strings.HasSuffix(id, aid1) || data["registrationId"] == aid1 {
			t.Fatalf("credential for %q (registrationId %v) names the real packet", id, data["registrationId"])
		}
	})
	t.Run("CallbackDelay", func(t *testing.T) {
		m := startMock(t, Profile{CallbackDelay: 400 * time.Millisecond})
		tok := login(t, m)
		sub := newSubscriber(t, hubSecret)
		sub.subscribe(t, m, tok)
		start := time.Now()
		register(t, m, tok, aid1, "CRVS_NEW")
		sub.waitDeliveries(t, 1, 5*time.Second)
		if d := time.Since(start); d < 400*time.Millisecond {
			t.Fatalf("delivered after %s", d)
		}
	})
	t.Run("CloseStopsPendingDeliveries", func(t *testing.T) {
		m := startMock(t, Profile{CallbackDelay: 5 * time.Second})
		tok := login(t, m)
		sub := newSubscriber(t, hubSecret)
		sub.subscribe(t, m, tok)
		register(t, m, tok, aid1, "CRVS_NEW")
		start := time.Now()
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > time.Second || len(sub.received()) != 0 {
			t.Fatalf("Close took %s, %d deliveries", d, len(sub.received()))
		}
	})
}

func TestDeliveryRetriedOnFailure(t *testing.T) {
	m := startMock(t, Profile{})
	tok := login(t, m)
	sub := newSubscriber(t, hubSecret)
	sub.subscribe(t, m, tok)
	sub.mu.Lock()
	sub.failNext = 1
	sub.mu.Unlock()
	register(t, m, tok, aid1, "CRVS_NEW")
	got := sub.waitDeliveries(t, 1, 5*time.Second)
	if got[0].err != nil {
		t.Fatal(got[0].err)
	}
	sub.mu.Lock()
	failed := sub.failed
	sub.mu.Unlock()
	if failed != 1 {
		t.Fatalf("%d failed attempts", failed)
	}
	eventually(t, 2*time.Second, "the ack", func() bool { return m.Stats().CallbacksAcked == 1 })
	if s := m.Stats(); s.CallbacksSent != 2 {
		t.Fatalf("CallbacksSent %d, want 2 (one failed attempt, one retry)", s.CallbacksSent)
	}
}
