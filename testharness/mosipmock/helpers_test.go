package mosipmock

import (
	"bytes"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/crvshub/crvshub/adapters/keyfile"
	"github.com/crvshub/crvshub/adapters/mosip/mosipcrypto"
)

const (
	testClient = "crvshub-client"
	testSecret = "s3cret"
	hubSecret  = "websub-secret"
)

// keyPair is a key with its self-signed certificate.
type keyPair struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

var (
	keysOnce sync.Once
	keysErr  error
	// hubKeys: the hub's partner key; mockKeys: MOSIP's; otherKeys: an impostor.
	hubKeys, mockKeys, otherKeys keyPair
)

func keys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		for _, kp := range []*keyPair{&hubKeys, &mockKeys, &otherKeys} {
			if kp.key, kp.cert, keysErr = mosipcrypto.NewSelfSigned("test", 2048); keysErr != nil {
				return
			}
		}
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
}

// startMock starts a mock on loopback with the test keys and client.
func startMock(t *testing.T, p Profile) *Mock {
	t.Helper()
	keys(t)
	m, err := New(Config{PartnerCert: hubKeys.cert, Clients: map[string]string{testClient: testSecret},
		Profile: p, Key: mockKeys.key, Cert: mockKeys.cert})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// call sends a request and returns the status and body.
func call(t *testing.T, method, u, token, ctype string, body []byte, hdr ...string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Cookie", "Authorization="+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b, res.Header
}

func jsonBody(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// login authenticates the test client and returns the token.
func login(t *testing.T, m *Mock) string {
	t.Helper()
	st, b, h := call(t, "POST", m.URL()+"/v1/authmanager/authenticate/clientidsecretkey", "", "application/json",
		jsonBody(t, authBody(testClient, testSecret)))
	if st != 200 {
		t.Fatalf("login: %d %s", st, b)
	}
	res := http.Response{Header: h}
	for _, c := range res.Cookies() {
		if c.Name == "Authorization" && c.Value != "" {
			return c.Value
		}
	}
	t.Fatal("login: no Authorization cookie")
	return ""
}

func authBody(id, secret string) map[string]any {
	return map[string]any{"id": "string", "version": "string", "requesttime": "2026-11-27T06:00:00.000Z", "metadata": map[string]any{},
		"request": map[string]string{"clientId": id, "secretKey": secret, "appId": "admin"}}
}

// errorCode reads errors[0].errorCode of a MOSIP envelope.
func errorCode(b []byte) string {
	var e struct {
		Errors []struct {
			ErrorCode string `json:"errorCode"`
		} `json:"errors"`
	}
	if json.Unmarshal(b, &e) != nil || len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].ErrorCode
}

func lang(v string) string { return fmt.Sprintf(`[{"language":"eng","value":%q}]`, v) }

// packetBody is a valid createPacket body; fields override/add (nil deletes).
func packetBody(id, process string, fields map[string]any) map[string]any {
	f := map[string]any{"fullName": lang("Baby Doe"), "gender": lang("Male")}
	if process == "CRVS_NEW" {
		f["birthCertificateNumber"] = "BRN-" + id[len(id)-4:]
		f["dateOfBirth"] = "2026/11/01"
	} else {
		f["UIN"] = "1234567890"
		f["declaredAsDeceased"] = "Y"
		f["deceasedDeclarationDate"] = "2026/11/20"
	}
	for k, v := range fields {
		if v == nil {
			delete(f, k)
		} else {
			f[k] = v
		}
	}
	return map[string]any{"id": "mosip.registration.packet.writer", "version": "v1", "requesttime": "2026-11-27T06:00:00.000Z",
		"request": map[string]any{
			"id": id, "refId": "10001_10004", "offlineMode": false, "process": process, "source": "OPENCRVS",
			"schemaVersion": "0.100", "fields": f, "metaInfo": map[string]any{"registrationId": id},
			"audits": []map[string]any{{"eventId": "REG-EVT-066", "id": id}}, "schemaJson": "{}",
		}}
}

func workflowBody(id, process string) map[string]any {
	return map[string]any{"id": "mosip.registration.processor.workflow.instance", "version": "v1", "requesttime": "2026-11-27T06:00:00.000Z",
		"request": map[string]any{"registrationId": id, "process": process, "source": "OPENCRVS", "additionalInfoReqId": "",
			"notificationInfo": map[string]string{"name": "Baby Doe"}}}
}

// register creates a packet and starts its workflow, failing on non-200.
func register(t *testing.T, m *Mock, tok, id, process string) {
	t.Helper()
	if st, b, _ := call(t, "PUT", m.URL()+"/commons/v1/packetmanager/createPacket", tok, "application/json", jsonBody(t, packetBody(id, process, nil))); st != 200 {
		t.Fatalf("createPacket: %d %s", st, b)
	}
	if st, b, _ := call(t, "POST", m.URL()+"/registrationprocessor/v1/workflowmanager/workflowinstance", tok, "application/json", jsonBody(t, workflowBody(id, process))); st != 200 {
		t.Fatalf("workflow: %d %s", st, b)
	}
}

// received is one delivery as the test subscriber saw it.
type received struct {
	body     []byte
	event    map[string]any
	vc       map[string]any // nil when decryption or verification failed
	err      error
	sigValid bool
}

// subscriber is a tiny WebSub subscriber: it answers intent verification
// (optionally wrongly) and decrypts/verifies deliveries with mosipcrypto,
// fetching the issuer key over HTTP and allowing only allowed.
type subscriber struct {
	srv        *httptest.Server
	secret     string
	badEcho    bool
	failNext   int // answer this many deliveries 503 (not recorded)
	failed     int
	mu         sync.Mutex
	intents    []url.Values
	deliveries []received
	allowed    string
	got        chan struct{}
}

func newSubscriber(t *testing.T, secret string) *subscriber {
	t.Helper()
	s := &subscriber{secret: secret, got: make(chan struct{}, 100)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *subscriber) url() string { return s.srv.URL + "/websub/callback" }

func (s *subscriber) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		s.mu.Lock()
		s.intents = append(s.intents, q)
		bad := s.badEcho
		s.mu.Unlock()
		if bad {
			_, _ = io.WriteString(w, q.Get("hub.challenge")+"x")
			return
		}
		_, _ = io.WriteString(w, q.Get("hub.challenge"))
		return
	}
	s.mu.Lock()
	if s.failNext > 0 {
		s.failNext--
		s.failed++
		s.mu.Unlock()
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	s.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	rec := received{body: body}
	rec.sigValid = hmac.Equal([]byte(r.Header.Get("X-Hub-Signature")), []byte(HubSignature(s.secret, body)))
	status := "RECEIVED"
	s.mu.Lock()
	allowed := s.allowed
	s.mu.Unlock()
	if err := s.open(&rec, allowed); err != nil || !rec.sigValid {
		rec.err = errors.Join(err, map[bool]error{false: errors.New("bad X-Hub-Signature")}[rec.sigValid])
		status = "ERROR"
	}
	s.mu.Lock()
	s.deliveries = append(s.deliveries, rec)
	s.mu.Unlock()
	ev, _ := rec.event["event"].(map[string]any)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"publisher": rec.event["publisher"], "topic": rec.event["topic"],
		"event": map[string]any{"id": ev["id"], "requestId": ev["transactionId"], "status": status, "url": ""}})
	s.got <- struct{}{}
}

// open decodes, decrypts and verifies a delivery.
func (s *subscriber) open(rec *received, allowed string) error {
	if err := json.Unmarshal(rec.body, &rec.event); err != nil {
		return err
	}
	ev, _ := rec.event["event"].(map[string]any)
	data, _ := ev["data"].(map[string]any)
	cred, _ := data["credential"].(string)
	plain, err := mosipcrypto.DecryptCredential(hubKeys.key, cred)
	if err != nil {
		return err
	}
	vc, err := mosipcrypto.VerifyCredential(plain, func(method string) (*rsa.PublicKey, error) {
		if method != allowed {
			return nil, fmt.Errorf("verification method %q not allowed", method)
		}
		res, err := http.Get(method)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		var doc struct {
			PublicKeyPem string `json:"publicKeyPem"`
		}
		if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
			return nil, err
		}
		return keyfile.ParseRSAPublicKey([]byte(doc.PublicKeyPem))
	})
	if err != nil {
		return err
	}
	rec.vc = vc
	return nil
}

func (s *subscriber) intentsSeen() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.intents...)
}

func (s *subscriber) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.deliveries...)
}

// subscribe subscribes s at m with the hub secret.
func (s *subscriber) subscribe(t *testing.T, m *Mock, tok string) {
	t.Helper()
	s.mu.Lock()
	s.allowed = m.PublicKeyURL()
	s.mu.Unlock()
	form := url.Values{"hub.mode": {"subscribe"}, "hub.topic": {"CREDENTIAL_ISSUED"}, "hub.callback": {s.url()},
		"hub.secret": {s.secret}, "hub.lease_seconds": {"3600"}}
	st, b, _ := call(t, "POST", m.URL()+"/websub/hub", tok, "application/x-www-form-urlencoded", []byte(form.Encode()))
	if st != http.StatusAccepted || string(b) != "Subscribed successfully." {
		t.Fatalf("subscribe: %d %s", st, b)
	}
}

// waitDeliveries waits until s has n deliveries (or fails after d).
func (s *subscriber) waitDeliveries(t *testing.T, n int, d time.Duration) []received {
	t.Helper()
	d = max(d, time.Minute) // a floor: the wait ends as soon as they arrive (see eventually)
	deadline := time.After(d)
	for {
		if got := s.received(); len(got) >= n {
			return got
		}
		select {
		case <-s.got:
		case <-deadline:
			t.Fatalf("timeout: %d deliveries after %s, want %d", len(s.received()), d, n)
		}
	}
}

func eventually(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	// A floor on the limit: the wait ends as soon as f holds, so a
	// generous limit costs nothing on an idle machine and keeps a loaded
	// one from failing a test that would pass.
	d = max(d, time.Minute)
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func subjectOf(vc map[string]any) map[string]any {
	s, _ := vc["credentialSubject"].(map[string]any)
	return s
}
