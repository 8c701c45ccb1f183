package mosip

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/adapters/mosip/mosipcrypto"
	"github.com/crvshub/crvshub/core"
)

// issuer is MOSIP's credential-signing key, published as {publicKeyPem}.
type issuer struct {
	key     *rsa.PrivateKey
	srv     *httptest.Server
	mu      sync.Mutex
	fetches int
}

func (i *issuer) url() string { return i.srv.URL + "/.well-known/public-key.json" }

var issuerKeys = sync.OnceValues(func() (*rsa.PrivateKey, *rsa.PrivateKey) {
	k1, _, err := mosipcrypto.NewSelfSigned("mosip-issuer", 2048)
	if err != nil {
		panic(err)
	}
	k2, _, err := mosipcrypto.NewSelfSigned("mosip-impostor", 2048)
	if err != nil {
		panic(err)
	}
	return k1, k2
})

func newIssuer(t *testing.T, key *rsa.PrivateKey) *issuer {
	i := &issuer{key: key}
	i.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i.mu.Lock()
		i.fetches++
		der, err := x509.MarshalPKIXPublicKey(&i.key.PublicKey)
		i.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"@context": "https://w3id.org/security/v2", "type": "RsaVerificationKey2018",
			"publicKeyPem": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		})
	}))
	t.Cleanup(i.srv.Close)
	return i
}

// cbEnv is an adapter with a served callback, an issuer and a correlation.
type cbEnv struct {
	t      *testing.T
	a      *Adapter
	corr   *memCorr
	res    *memResolver
	iss    *issuer
	srv    *httptest.Server
	logs   *syncBuffer
	secret string
	clock  *clock
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const (
	birthEvent, birthAction = "ev-birth-1", "act-birth-1"
	deathEvent, deathAction = "ev-death-1", "act-death-1"
	testVID                 = "5614716359"
)

func newCbEnv(t *testing.T) *cbEnv {
	f := newFakeMOSIP(t)
	k, _ := issuerKeys()
	e := &cbEnv{t: t, iss: newIssuer(t, k), logs: &syncBuffer{}, secret: "websub-hub-secret", clock: &clock{t: fixedNow}}
	cfg := baseConfig(f)
	cfg.Now = e.clock.now
	cfg.CredentialAllowList = []string{e.iss.url()}
	cfg.WebSubSecret = e.secret
	cfg.Log = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.a, e.corr, e.res = newAdapter(t, cfg)
	e.srv = httptest.NewServer(e.a.CallbackHandler())
	t.Cleanup(e.srv.Close)
	ctx := context.Background()
	for _, c := range []core.Correlation{
		{Partner: "mosip", Key: e.aid(birthEvent, birthAction), EventID: birthEvent, ActionID: birthAction,
			ActionType: core.ActionRegister, RegistrationNumber: "BRN-1", Data: json.RawMessage(`{"eventType":"birth"}`)},
		{Partner: "mosip", Key: e.aid(deathEvent, deathAction), EventID: deathEvent, ActionID: deathAction,
			ActionType: core.ActionRegister, RegistrationNumber: "DRN-1", Data: json.RawMessage(`{"eventType":"death"}`)},
	} {
		if err := e.corr.PutCorrelation(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *cbEnv) aid(ev, act string) string { return PacketID("10001", "10004", ev, act) }

// vc is a MOSIP credential for the packet (birth subject when vid != "").
func vc(aid, vid, brn string) map[string]any {
	subject := map[string]any{"id": "http://credential.idrepo/credentials/" + aid, "vcVer": "VC-V1"}
	if vid != "" {
		subject["VID"] = vid
		subject["birthCertificateNumber"] = brn
	}
	return map[string]any{
		"@context":          []any{"https://www.w3.org/2018/credentials/v1", "https://mosip.example/.well-known/mosip-context.json", map[string]any{"sec": "https://w3id.org/security#"}},
		"type":              []any{"VerifiableCredential", "MOSIPVerifiableCredential"},
		"id":                "http://credential.idrepo/credentials/vc-" + aid,
		"issuer":            "https://mosip.example/.well-known/controller.json",
		"issuanceDate":      "2026-11-27T06:30:00.000Z",
		"credentialSubject": subject,
	}
}

// sealed signs the VC with key as method, then encrypts it to the hub.
func (e *cbEnv) sealed(key *rsa.PrivateKey, method string, v map[string]any, tamper func(map[string]any)) string {
	signed, err := mosipcrypto.SignCredential(key, method, v, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	if tamper != nil {
		tamper(signed)
	}
	b, err := json.Marshal(signed)
	if err != nil {
		e.t.Fatal(err)
	}
	cred, err := mosipcrypto.EncryptCredential(&e.a.cfg.DecryptKey.PublicKey, b)
	if err != nil {
		e.t.Fatal(err)
	}
	return cred
}

func eventBody(topic, aid, credential string) []byte {
	b, _ := json.Marshal(map[string]any{
		"publisher": "CREDENTIAL_SERVICE", "topic": topic, "publishedOn": "2026-11-27T06:31:00.000Z",
		"event": map[string]any{
			"id": "evt-" + aid, "transactionId": "txn-" + aid,
			"type":      map[string]any{"namespace": "mosip", "name": "mosip"},
			"timestamp": "2026-11-27T06:31:00.000Z",
			"data":      map[string]any{"registrationId": aid, "credential": credential, "credentialType": "vercred", "protectionKey": "x"},
		},
	})
	return b
}

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// post delivers body with signature sig and returns the ack status.
func (e *cbEnv) post(body []byte, sig string) ack {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set("X-Hub-Signature", sig)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		e.t.Fatalf("HTTP %d, want 200 always", res.StatusCode)
	}
	var a ack
	if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
		e.t.Fatalf("ack: %v", err)
	}
	return a
}

func (e *cbEnv) deliverVC(key *rsa.PrivateKey, method string, v map[string]any) ack {
	body := eventBody("CREDENTIAL_ISSUED", "", e.sealed(key, method, v, nil))
	return e.post(body, sign(e.secret, body))
}

func TestCallbackGoodBirthThenDuplicate(t *testing.T) {
	e := newCbEnv(t)
	aid := e.aid(birthEvent, birthAction)
	body := eventBody("CREDENTIAL_ISSUED", aid, e.sealed(e.iss.key, e.iss.url(), vc(aid, testVID, "BRN-1"), nil))
	got := e.post(body, sign(e.secret, body))
	if got.Event.Status != "RECEIVED" || got.Event.ID != "evt-"+aid || got.Event.RequestID != "txn-"+aid || got.Topic != "CREDENTIAL_ISSUED" {
		t.Fatalf("ack %+v, want RECEIVED echoing the event", got)
	}
	calls := e.res.got()
	if len(calls) != 1 {
		t.Fatalf("%d Resolve calls, want 1", len(calls))
	}
	c := calls[0]
	if c.EventID != birthEvent || c.ActionID != birthAction || c.Out.Kind != adapters.Accepted ||
		c.Out.RegistrationNumber != "BRN-1" || c.Out.Reference != aid || string(c.Out.Declaration["child.nid"]) != `"`+testVID+`"` ||
		len(c.Out.Declaration) != 1 {
		t.Errorf("Resolve(%s, %s, %+v)", c.EventID, c.ActionID, c.Out)
	}
	if _, err := e.corr.Correlation(context.Background(), "mosip", aid); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("correlation not deleted after Resolve: %v", err)
	}
	// MOSIP delivers the same event again: unknown now, ERROR, no Resolve.
	if got := e.post(body, sign(e.secret, body)); got.Event.Status != "ERROR" {
		t.Errorf("duplicate: %s, want ERROR", got.Event.Status)
	}
	if n := len(e.res.got()); n != 1 {
		t.Errorf("Resolve called %d times, want 1", n)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "unknown packet") || !strings.Contains(logs, aid) || !strings.Contains(logs, "level=WARN") {
		t.Errorf("refusal not logged with reason and packet id:\n%s", logs)
	}
	if strings.Contains(logs, testVID) || strings.Contains(logs, e.secret) {
		t.Errorf("logs carry the VID or the secret:\n%s", logs)
	}
	if e.iss.fetches != 1 {
		t.Errorf("issuer key fetched %d times, want 1 (cached)", e.iss.fetches)
	}
}

// TestCallbackKeepsANewerActionsCorrelation: the packet id is the
// record's, so while MOSIP's credential for a rejected REGISTER is being
// resolved a new REGISTER of the record may take the correlation over;
// the adapter must not delete it, or MOSIP's credential for the new
// REGISTER would find no correlation and the record would wait forever.
func TestCallbackKeepsANewerActionsCorrelation(t *testing.T) {
	e := newCbEnv(t)
	ctx := context.Background()
	aid := e.aid(birthEvent, birthAction)
	newer := core.Correlation{Partner: "mosip", Key: aid, EventID: birthEvent, ActionID: "second-register",
		ActionType: core.ActionRegister, RegistrationNumber: "BRN-1", Data: json.RawMessage(`{"eventType":"birth"}`)}
	e.res.during = func() {
		if err := e.corr.PutCorrelation(ctx, newer); err != nil {
			t.Error(err)
		}
	}
	if got := e.deliverVC(e.iss.key, e.iss.url(), vc(aid, testVID, "BRN-1")); got.Event.Status != "RECEIVED" {
		t.Fatalf("status %s:\n%s", got.Event.Status, e.logs)
	}
	c, err := e.corr.Correlation(ctx, "mosip", aid)
	if err != nil || c.ActionID != "second-register" {
		t.Fatalf("the newer action's correlation was not kept: %+v, %v", c, err)
	}
}

func TestCallbackDeath(t *testing.T) {
	e := newCbEnv(t)
	aid := e.aid(deathEvent, deathAction)
	if got := e.deliverVC(e.iss.key, e.iss.url(), vc(aid, "", "")); got.Event.Status != "RECEIVED" {
		t.Fatalf("status %s:\n%s", got.Event.Status, e.logs)
	}
	calls := e.res.got()
	if len(calls) != 1 || calls[0].EventID != deathEvent || calls[0].Out.Kind != adapters.Accepted ||
		calls[0].Out.RegistrationNumber != "DRN-1" || calls[0].Out.Declaration != nil {
		t.Errorf("Resolve calls %+v", calls)
	}
}

func TestCallbackResolveFailsKeepsCorrelation(t *testing.T) {
	e := newCbEnv(t)
	e.res.err = errors.New("database is locked")
	aid := e.aid(birthEvent, birthAction)
	v := vc(aid, testVID, "BRN-1")
	if got := e.deliverVC(e.iss.key, e.iss.url(), v); got.Event.Status != "ERROR" {
		t.Fatalf("status %s, want ERROR", got.Event.Status)
	}
	if _, err := e.corr.Correlation(context.Background(), "mosip", aid); err != nil {
		t.Fatalf("correlation lost after a failed Resolve: %v", err)
	}
	// MOSIP redelivers once the hub can resolve: applied now.
	e.res.err = nil
	if got := e.deliverVC(e.iss.key, e.iss.url(), v); got.Event.Status != "RECEIVED" {
		t.Fatalf("redelivery: %s", got.Event.Status)
	}
	if n := len(e.res.got()); n != 2 {
		t.Errorf("Resolve calls %d, want 2", n)
	}
	if e.corr.len() != 1 { // only the death correlation is left
		t.Errorf("%d correlations left, want 1", e.corr.len())
	}
}

func TestCallbackRefusals(t *testing.T) {
	_, impostor := issuerKeys()
	cases := []struct {
		name   string
		body   func(e *cbEnv) ([]byte, string)
		reason string
	}{
		{"unknown packet", func(e *cbEnv) ([]byte, string) {
			aid := e.aid("ev-other", "act-other")
			b := eventBody("CREDENTIAL_ISSUED", aid, e.sealed(e.iss.key, e.iss.url(), vc(aid, testVID, "BRN-9"), nil))
			return b, sign(e.secret, b)
		}, "unknown packet"},
		{"bad HMAC", func(e *cbEnv) ([]byte, string) {
			b := e.goodBody()
			return b, sign("not-the-secret", b)
		}, "X-Hub-Signature"},
		{"no HMAC", func(e *cbEnv) ([]byte, string) { return e.goodBody(), "" }, "X-Hub-Signature"},
		{"HMAC of another body", func(e *cbEnv) ([]byte, string) {
			b := e.goodBody()
			return b, sign(e.secret, append([]byte(nil), b[:len(b)-2]...))
		}, "X-Hub-Signature"},
		{"wrong topic", func(e *cbEnv) ([]byte, string) {
			aid := e.aid(birthEvent, birthAction)
			b := eventBody("CREDENTIAL_STATUS_UPDATE", aid, e.sealed(e.iss.key, e.iss.url(), vc(aid, testVID, "BRN-1"), nil))
			return b, sign(e.secret, b)
		}, "topic"},
		{"key not allow-listed", func(e *cbEnv) ([]byte, string) {
			aid := e.aid(birthEvent, birthAction)
			b := eventBody("CREDENTIAL_ISSUED", aid, e.sealed(impostor, "https://evil.example/key.json", vc(aid, testVID, "BRN-1"), nil))
			return b, sign(e.secret, b)
		}, "proof"},
		{"allow-listed method, other key", func(e *cbEnv) ([]byte, string) {
			aid := e.aid(birthEvent, birthAction)
			b := eventBody("CREDENTIAL_ISSUED", aid, e.sealed(impostor, e.iss.url(), vc(aid, testVID, "BRN-1"), nil))
			return b, sign(e.secret, b)
		}, "proof"},
		{"tampered VID", func(e *cbEnv) ([]byte, string) {
			aid := e.aid(birthEvent, birthAction)
			b := eventBody("CREDENTIAL_ISSUED", aid, e.sealed(e.iss.key, e.iss.url(), vc(aid, testVID, "BRN-1"), func(m map[string]any) {
				m["credentialSubject"].(map[string]any)["VID"] = "9999999999"
			}))
			return b, sign(e.secret, b)
		}, "proof"},
		{"tampered subject id", func(e *cbEnv) ([]byte, string) {
			aid := e.aid(birthEvent, birthAction)
			other := e.aid(deathEvent, deathAction)
			b := eventBody("CREDENTIAL_ISSUED", aid, e.sealed(e.iss.key, e.iss.url(), vc(other, "", ""), func(m map[string]any) {
				m["credentialSubject"].(map[string]any)["id"] = "http://credential.idrepo/credentials/" + aid
			}))
			return b, sign(e.secret, b)
		}, "proof"},
		{"encrypted to another key", func(e *cbEnv) ([]byte, string) {
			aid := e.aid(birthEvent, birthAction)
			signed, _ := mosipcrypto.SignCredential(e.iss.key, e.iss.url(), vc(aid, testVID, "BRN-1"), time.Now())
			pt, _ := json.Marshal(signed)
			cred, err := mosipcrypto.EncryptCredential(&impostor.PublicKey, pt)
			if err != nil {
				t.Fatal(err)
			}
			b := eventBody("CREDENTIAL_ISSUED", aid, cred)
			return b, sign(e.secret, b)
		}, "decrypted"},
		{"credential not base64", func(e *cbEnv) ([]byte, string) {
			b := eventBody("CREDENTIAL_ISSUED", "x", "%%% not a credential %%%")
			return b, sign(e.secret, b)
		}, "decrypted"},
		{"no credential", func(e *cbEnv) ([]byte, string) {
			b := eventBody("CREDENTIAL_ISSUED", "x", "")
			return b, sign(e.secret, b)
		}, "no credential"},
		{"birth certificate number differs", func(e *cbEnv) ([]byte, string) {
			aid := e.aid(birthEvent, birthAction)
			b := eventBody("CREDENTIAL_ISSUED", aid, e.sealed(e.iss.key, e.iss.url(), vc(aid, testVID, "BRN-OTHER"), nil))
			return b, sign(e.secret, b)
		}, "birthCertificateNumber"},
		{"birth without VID", func(e *cbEnv) ([]byte, string) {
			aid := e.aid(birthEvent, birthAction)
			b := eventBody("CREDENTIAL_ISSUED", aid, e.sealed(e.iss.key, e.iss.url(), vc(aid, "", ""), nil))
			return b, sign(e.secret, b)
		}, "without a VID"},
		{"not JSON", func(e *cbEnv) ([]byte, string) {
			b := []byte("<xml/>")
			return b, sign(e.secret, b)
		}, "not a WebSub event"},
		{"larger than 4 MiB", func(e *cbEnv) ([]byte, string) {
			b := append(e.goodBody(), bytes.Repeat([]byte(" "), 4<<20)...)
			return b, sign(e.secret, b)
		}, "4 MiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newCbEnv(t)
			body, sig := tc.body(e)
			if got := e.post(body, sig); got.Event.Status != "ERROR" {
				t.Fatalf("status %s, want ERROR", got.Event.Status)
			}
			if n := len(e.res.got()); n != 0 {
				t.Errorf("Resolve called %d times", n)
			}
			if e.corr.len() != 2 {
				t.Errorf("correlations changed: %d", e.corr.len())
			}
			logs := e.logs.String()
			if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, tc.reason) {
				t.Errorf("refusal not logged with reason %q:\n%s", tc.reason, logs)
			}
			var ev delivery
			if json.Unmarshal(body, &ev) == nil && ev.Event.Data.Credential != "" && len(ev.Event.Data.Credential) > 40 &&
				strings.Contains(logs, ev.Event.Data.Credential[:40]) {
				t.Errorf("logs carry the credential")
			}
		})
	}
}

// goodBody is a valid, applicable birth delivery.
func (e *cbEnv) goodBody() []byte {
	aid := e.aid(birthEvent, birthAction)
	return eventBody("CREDENTIAL_ISSUED", aid, e.sealed(e.iss.key, e.iss.url(), vc(aid, testVID, "BRN-1"), nil))
}

func TestCallbackIssuerKeyRotation(t *testing.T) {
	e := newCbEnv(t)
	birth, death := e.aid(birthEvent, birthAction), e.aid(deathEvent, deathAction)
	if got := e.deliverVC(e.iss.key, e.iss.url(), vc(death, "", "")); got.Event.Status != "RECEIVED" {
		t.Fatalf("first delivery: %s", got.Event.Status)
	}
	_, newKey := issuerKeys()
	e.iss.mu.Lock()
	e.iss.key = newKey
	e.iss.mu.Unlock()
	e.clock.add(2 * time.Minute)
	if got := e.deliverVC(newKey, e.iss.url(), vc(birth, testVID, "BRN-1")); got.Event.Status != "RECEIVED" {
		t.Fatalf("after rotation: %s\n%s", got.Event.Status, e.logs)
	}
	if e.iss.fetches != 2 {
		t.Errorf("key fetched %d times, want 2", e.iss.fetches)
	}
}

func TestCallbackWithoutSecretAcceptsUnsigned(t *testing.T) {
	e := newCbEnv(t)
	e.a.cfg.WebSubSecret = ""
	if got := e.post(e.goodBody(), ""); got.Event.Status != "RECEIVED" {
		t.Fatalf("status %s:\n%s", got.Event.Status, e.logs)
	}
}

func TestPacketIDOf(t *testing.T) {
	cases := map[string]string{
		"http://credential.idrepo/credentials/10001100041234": "10001100041234",
		"http://credential.idrepo/credentials/42/":            "42",
		"2835824850916304":    "2835824850916304",
		"urn:mosip:packet:77": "77",
		"":                    "",
	}
	for in, want := range cases {
		if got := packetIDOf(map[string]any{"id": in}); got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
	if got := packetIDOf(nil); got != "" {
		t.Errorf("nil subject -> %q", got)
	}
}
