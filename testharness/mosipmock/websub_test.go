package mosipmock

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestBirthCredentialDelivery(t *testing.T) {
	m := startMock(t, Profile{})
	tok := login(t, m)
	sub := newSubscriber(t, hubSecret)
	sub.subscribe(t, m, tok)
	if s := m.Stats(); len(s.Subscriptions) != 1 || s.Subscriptions[0] != sub.url() {
		t.Fatalf("Subscriptions %v", s.Subscriptions)
	}
	q := sub.intentsSeen()[0]
	if q.Get("hub.mode") != "subscribe" || q.Get("hub.topic") != "CREDENTIAL_ISSUED" || q.Get("hub.lease_seconds") != "3600" || q.Get("hub.challenge") == "" {
		t.Fatalf("intent verification query %v", q)
	}
	register(t, m, tok, aid1, "CRVS_NEW")
	d := sub.waitDeliveries(t, 1, 5*time.Second)[0]
	if d.err != nil || !d.sigValid {
		t.Fatalf("delivery not opened: %v (X-Hub-Signature valid: %v)", d.err, d.sigValid)
	}
	if d.event["topic"] != "CREDENTIAL_ISSUED" || d.event["publisher"] == nil || d.event["publishedOn"] == nil {
		t.Fatalf("event %v", d.event)
	}
	ev := d.event["event"].(map[string]any)
	data := ev["data"].(map[string]any)
	typ := ev["type"].(map[string]any)
	if ev["id"] == "" || ev["transactionId"] == "" || ev["timestamp"] == nil || typ["namespace"] == nil || typ["name"] == nil ||
		data["registrationId"] != aid1 || data["credentialType"] != "vercred" || data["protectionKey"] == nil {
		t.Fatalf("event %v", ev)
	}
	subj := subjectOf(d.vc)
	vid := m.Stats().VIDs[aid1]
	if !regexp.MustCompile(`^[1-9][0-9]{9}$`).MatchString(vid) || subj["VID"] != vid || subj["birthCertificateNumber"] != "BRN-0001" ||
		subj["id"] != "http://credential.idrepo/credentials/"+aid1 || subj["vcVer"] != "VC-V1" || len(subj) != 4 {
		t.Fatalf("credentialSubject %v (VID issued %q)", subj, vid)
	}
	if p := d.vc["proof"].(map[string]any); p["verificationMethod"] != m.PublicKeyURL() || p["type"] != "RsaSignature2018" {
		t.Fatalf("proof %v", p)
	}
	types, _ := json.Marshal(d.vc["type"])
	if string(types) != `["VerifiableCredential","MOSIPVerifiableCredential"]` || d.vc["issuanceDate"] == nil || d.vc["issuer"] == nil {
		t.Fatalf("vc %v", d.vc)
	}
	eventually(t, 2*time.Second, "the ack", func() bool { return m.Stats().CallbacksAcked == 1 })
	if s := m.Stats(); s.CallbacksSent != 1 {
		t.Fatalf("CallbacksSent %d", s.CallbacksSent)
	}
}

func TestDeathCredentialDelivery(t *testing.T) {
	m := startMock(t, Profile{})
	tok := login(t, m)
	sub := newSubscriber(t, hubSecret)
	sub.subscribe(t, m, tok)
	register(t, m, tok, aid2, "CRVS_DEATH")
	d := sub.waitDeliveries(t, 1, 5*time.Second)[0]
	if d.err != nil {
		t.Fatal(d.err)
	}
	subj := subjectOf(d.vc)
	if len(subj) != 2 || subj["id"] != "http://credential.idrepo/credentials/"+aid2 || subj["vcVer"] != "VC-V1" {
		t.Fatalf("death credentialSubject %v", subj)
	}
	if len(m.Stats().VIDs) != 0 {
		t.Fatal("a VID was issued for a death")
	}
}

func TestDeliveryToEverySubscriberWithItsSecret(t *testing.T) {
	m := startMock(t, Profile{})
	tok := login(t, m)
	a, b := newSubscriber(t, "secret-a"), newSubscriber(t, "secret-b")
	a.subscribe(t, m, tok)
	b.subscribe(t, m, tok)
	register(t, m, tok, aid1, "CRVS_NEW")
	for _, s := range []*subscriber{a, b} {
		if d := s.waitDeliveries(t, 1, 5*time.Second)[0]; d.err != nil || !d.sigValid {
			t.Fatalf("delivery: %v sig %v", d.err, d.sigValid)
		}
	}
	eventually(t, 2*time.Second, "two acks", func() bool { return m.Stats().CallbacksAcked == 2 })
}

func TestHubSubscriptionRules(t *testing.T) {
	m := startMock(t, Profile{})
	tok := login(t, m)
	good := newSubscriber(t, hubSecret)
	liar := newSubscriber(t, hubSecret)
	liar.badEcho = true
	form := func(kv ...string) []byte {
		v := url.Values{"hub.mode": {"subscribe"}, "hub.topic": {"CREDENTIAL_ISSUED"}, "hub.callback": {good.url()}, "hub.secret": {hubSecret}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return []byte(v.Encode())
	}
	cases := map[string][]byte{
		"wrong challenge echo":  form("hub.callback", liar.url()),
		"callback unreachable":  form("hub.callback", "http://127.0.0.1:1/cb"),
		"callback not absolute": form("hub.callback", "/websub/callback"),
		"callback ftp":          form("hub.callback", "ftp://x/y"),
		"mode missing":          form("hub.mode", ""),
		"mode publish":          form("hub.mode", "publish"),
		"unknown topic":         form("hub.topic", "OTHER"),
		"lease not a number":    form("hub.lease_seconds", "soon"),
		"lease zero":            form("hub.lease_seconds", "0"),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			st, b, _ := call(t, "POST", m.URL()+"/websub/hub", tok, "application/x-www-form-urlencoded", body)
			if st != 400 || errorCode(b) != "WSH-SUB-400" {
				t.Fatalf("got %d %s", st, b)
			}
		})
	}
	if s := m.Stats(); len(s.Subscriptions) != 0 {
		t.Fatalf("failed subscriptions were kept: %v", s.Subscriptions)
	}
	if len(liar.intentsSeen()) != 1 {
		t.Fatalf("the liar's callback got %d intent checks", len(liar.intentsSeen()))
	}
	// subscribe, then unsubscribe (verified too): no delivery afterwards.
	good.subscribe(t, m, tok)
	st, b, _ := call(t, "POST", m.URL()+"/websub/hub", tok, "application/x-www-form-urlencoded", form("hub.mode", "unsubscribe"))
	if st != 202 || string(b) != "Unsubscribed successfully." {
		t.Fatalf("unsubscribe: %d %s", st, b)
	}
	if in := good.intentsSeen(); in[len(in)-1].Get("hub.mode") != "unsubscribe" {
		t.Fatalf("unsubscribe intent %v", in[len(in)-1])
	}
	if s := m.Stats(); len(s.Subscriptions) != 0 {
		t.Fatalf("still subscribed: %v", s.Subscriptions)
	}
	register(t, m, tok, aid1, "CRVS_NEW")
	time.Sleep(200 * time.Millisecond)
	if n := len(good.received()); n != 0 || m.Stats().CallbacksSent != 0 || m.Stats().Pending != 1 {
		t.Fatalf("%d deliveries after unsubscribe, stats %+v", n, m.Stats())
	}
}

// TestEventsKeptUntilSomeoneSubscribes: a credential issued while nobody is
// subscribed is delivered to the next subscriber.
func TestEventsKeptUntilSomeoneSubscribes(t *testing.T) {
	m := startMock(t, Profile{})
	tok := login(t, m)
	register(t, m, tok, aid1, "CRVS_NEW")
	register(t, m, tok, aid2, "CRVS_DEATH")
	eventually(t, 2*time.Second, "two kept events", func() bool { return m.Stats().Pending == 2 })
	sub := newSubscriber(t, hubSecret)
	sub.subscribe(t, m, tok)
	got := sub.waitDeliveries(t, 2, 5*time.Second)
	ids := map[any]bool{}
	for _, d := range got {
		if d.err != nil {
			t.Fatal(d.err)
		}
		ids[subjectOf(d.vc)["id"]] = true
	}
	if !ids["http://credential.idrepo/credentials/"+aid1] || !ids["http://credential.idrepo/credentials/"+aid2] {
		t.Fatalf("delivered %v", ids)
	}
	if s := m.Stats(); s.Pending != 0 {
		t.Fatalf("Pending %d after delivery", s.Pending)
	}
}

func TestLeaseExpires(t *testing.T) {
	m := startMock(t, Profile{})
	tok := login(t, m)
	sub := newSubscriber(t, hubSecret)
	form := url.Values{"hub.mode": {"subscribe"}, "hub.topic": {"CREDENTIAL_ISSUED"}, "hub.callback": {sub.url()}, "hub.lease_seconds": {"1"}}
	if st, b, _ := call(t, "POST", m.URL()+"/websub/hub", tok, "application/x-www-form-urlencoded", []byte(form.Encode())); st != 202 {
		t.Fatalf("%d %s", st, b)
	}
	if len(m.Stats().Subscriptions) != 1 {
		t.Fatal("not subscribed")
	}
	time.Sleep(1100 * time.Millisecond)
	if s := m.Stats(); len(s.Subscriptions) != 0 {
		t.Fatalf("lease of 1 s still live: %v", s.Subscriptions)
	}
	register(t, m, tok, aid1, "CRVS_NEW")
	time.Sleep(150 * time.Millisecond)
	if len(sub.received()) != 0 {
		t.Fatal("delivered to an expired subscription")
	}
}

func TestPublicKeyDocument(t *testing.T) {
	m := startMock(t, Profile{})
	st, b, _ := call(t, "GET", m.PublicKeyURL(), "", "", nil)
	var doc map[string]string
	if st != 200 || json.Unmarshal(b, &doc) != nil {
		t.Fatalf("%d %s", st, b)
	}
	if doc["@context"] != "https://w3id.org/security/v2" || doc["type"] != "RsaVerificationKey2018" || doc["id"] != m.PublicKeyURL() ||
		doc["controller"] != m.URL()+"/.well-known/controller.json" || !strings.HasPrefix(doc["publicKeyPem"], "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("document %v", doc)
	}
}
