package mosip

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/core"
)

// memCorr is an in-memory adapters.Correlations.
type memCorr struct {
	mu     sync.Mutex
	m      map[string]core.Correlation
	putErr error
}

func newMemCorr() *memCorr { return &memCorr{m: map[string]core.Correlation{}} }

func (c *memCorr) PutCorrelation(_ context.Context, x core.Correlation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.putErr != nil {
		return c.putErr
	}
	c.m[x.Partner+"/"+x.Key] = x
	return nil
}

func (c *memCorr) Correlation(_ context.Context, partner, key string) (*core.Correlation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	x, ok := c.m[partner+"/"+key]
	if !ok {
		return nil, fmt.Errorf("correlation %s/%s: %w", partner, key, core.ErrNotFound)
	}
	return &x, nil
}

func (c *memCorr) DeleteCorrelation(_ context.Context, partner, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, partner+"/"+key)
	return nil
}

func (c *memCorr) EventCorrelations(_ context.Context, partner, eventID string) ([]core.Correlation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []core.Correlation
	for _, x := range c.m {
		if x.Partner == partner && x.EventID == eventID {
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (c *memCorr) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// resolveCall is one recorded Resolve.
type resolveCall struct {
	EventID, ActionID string
	Out               adapters.Outcome
}

// memResolver records Resolve calls and fails with err when set.
type memResolver struct {
	mu    sync.Mutex
	calls []resolveCall
	err   error
	// during, when set, runs inside Resolve (what happens meanwhile).
	during func()
}

func (r *memResolver) Resolve(_ context.Context, eventID, actionID string, out adapters.Outcome) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, resolveCall{eventID, actionID, out})
	if r.during != nil {
		r.during()
	}
	return r.err
}

func (r *memResolver) got() []resolveCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]resolveCall(nil), r.calls...)
}

// fakeJWT is an unsigned JWT-shaped token expiring at exp.
func fakeJWT(exp time.Time, n int) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(fmt.Sprintf(`{"exp":%d,"n":%d}`, exp.Unix(), n))) + ".sig"
}

// fakeMOSIP is authmanager + packetmanager + workflow manager, checking
// what MOSIP checks: the credentials, the Authorization cookie, the
// method, and that the body is a MOSIP request.
type fakeMOSIP struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	authCalls int
	tokens    map[string]bool // valid tokens
	packets   []map[string]any
	workflows []map[string]any
	corrIDs   []string
	// notJWT makes authmanager hand out opaque tokens.
	notJWT bool
	// exp is the lifetime of handed-out JWTs.
	exp time.Duration
	now func() time.Time
	// hubFailures: the next n subscribe requests answer 503.
	hubFailures int
	// hubSilent: the next n accepted subscriptions are never verified.
	hubSilent int
	// subscriptions receives one entry per subscribe request whose intent
	// the callback confirmed ("" ) or refused (the reason).
	subscriptions chan string
	hubForms      []url.Values
	// packetReply / workflowReply, when set, answer instead of success.
	packetReply   func(w http.ResponseWriter) bool
	workflowReply func(w http.ResponseWriter) bool
}

const (
	testClientID = "crvshub-client"
	testSecret   = "s3cr3t-value"
)

func newFakeMOSIP(t *testing.T) *fakeMOSIP {
	f := &fakeMOSIP{t: t, tokens: map[string]bool{}, exp: time.Hour, now: time.Now, subscriptions: make(chan string, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/authmanager/authenticate/clientidsecretkey", f.auth)
	mux.HandleFunc("PUT /commons/v1/packetmanager/createPacket", f.createPacket)
	mux.HandleFunc("POST /registrationprocessor/v1/workflowmanager/workflowinstance", f.workflow)
	mux.HandleFunc("POST /websub/hub", f.hub)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeMOSIP) auth(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Request struct{ ClientID, SecretKey, AppID string } `json:"request"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, "bad json", 400)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.authCalls++
	if body.Request.ClientID != testClientID || body.Request.SecretKey != testSecret || body.Request.AppID != "admin" {
		w.WriteHeader(200)
		_, _ = io.WriteString(w, `{"errors":[{"errorCode":"KER-ATH-403","message":"invalid credentials"}]}`)
		return
	}
	tok := fmt.Sprintf("opaque-token-%d", f.authCalls)
	if !f.notJWT {
		tok = fakeJWT(f.now().Add(f.exp), f.authCalls)
	}
	f.tokens[tok] = true
	http.SetCookie(w, &http.Cookie{Name: "Authorization", Value: tok, Path: "/", HttpOnly: true})
	_, _ = io.WriteString(w, `{"response":{"status":"Success"},"errors":null}`)
}

// revoke makes every handed-out token invalid (as after a MOSIP restart).
func (f *fakeMOSIP) revoke() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens = map[string]bool{}
}

func (f *fakeMOSIP) authorised(r *http.Request) bool {
	c, err := r.Cookie("Authorization")
	f.mu.Lock()
	defer f.mu.Unlock()
	return err == nil && f.tokens[c.Value]
}

func (f *fakeMOSIP) readRequest(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	if !f.authorised(r) {
		w.WriteHeader(401)
		_, _ = io.WriteString(w, `{"errors":[{"errorCode":"KER-ATH-401","message":"Authentication Failed"}]}`)
		return nil, false
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body["request"] == nil {
		http.Error(w, `{"errors":[{"errorCode":"RPR-PKM-001","message":"bad request"}]}`, 400)
		return nil, false
	}
	f.mu.Lock()
	f.corrIDs = append(f.corrIDs, r.Header.Get("X-Correlation-ID"))
	f.mu.Unlock()
	return body, true
}

func (f *fakeMOSIP) createPacket(w http.ResponseWriter, r *http.Request) {
	body, ok := f.readRequest(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	f.packets = append(f.packets, body)
	reply := f.packetReply
	f.mu.Unlock()
	if reply != nil && reply(w) {
		return
	}
	_, _ = io.WriteString(w, `{"id":"mosip.registration.packet.writer","version":"v1","response":[{"id":"x"}],"errors":[]}`)
}

func (f *fakeMOSIP) workflow(w http.ResponseWriter, r *http.Request) {
	body, ok := f.readRequest(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	f.workflows = append(f.workflows, body)
	reply := f.workflowReply
	f.mu.Unlock()
	if reply != nil && reply(w) {
		return
	}
	_, _ = io.WriteString(w, `{"id":"x","version":"v1","response":{"workflowInstanceId":"0c1d"},"errors":null}`)
}

// hub is a WebSub hub's subscribe endpoint: it checks the token (cookie
// and Authorization header) and the form, answers 202, then verifies the
// intent with a GET to hub.callback that must echo hub.challenge.
func (f *fakeMOSIP) hub(w http.ResponseWriter, r *http.Request) {
	if !f.authorised(r) || r.Header.Get("Authorization") == "" {
		w.WriteHeader(401)
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("hub.mode") != "subscribe" || r.PostForm.Get("hub.callback") == "" {
		http.Error(w, "bad subscribe request", 400)
		return
	}
	f.mu.Lock()
	f.hubForms = append(f.hubForms, r.PostForm)
	fail := f.hubFailures > 0
	if fail {
		f.hubFailures--
	}
	f.mu.Unlock()
	if fail {
		http.Error(w, "hub busy", 503)
		return
	}
	form := r.PostForm
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, "Subscribed successfully.")
	f.mu.Lock()
	silent := f.hubSilent > 0
	if silent {
		f.hubSilent--
	}
	f.mu.Unlock()
	if silent {
		return
	}
	go func() {
		challenge := fmt.Sprintf("challenge-%d", time.Now().UnixNano())
		q := url.Values{"hub.mode": {"subscribe"}, "hub.topic": {form.Get("hub.topic")}, "hub.challenge": {challenge},
			"hub.lease_seconds": {form.Get("hub.lease_seconds")}}
		res, err := http.Get(form.Get("hub.callback") + "?" + q.Encode())
		if err != nil {
			f.subscriptions <- err.Error()
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || string(b) != challenge {
			f.subscriptions <- fmt.Sprintf("intent not confirmed: %d %q", res.StatusCode, b)
			return
		}
		f.subscriptions <- ""
	}()
}

func (f *fakeMOSIP) counts() (auth, packets, workflows int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.authCalls, len(f.packets), len(f.workflows)
}

// testKey is one RSA key shared by the tests that need a key but no
// crypto (generated once: key generation is slow under -race).
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// baseConfig is a valid config pointing at f.
func baseConfig(f *fakeMOSIP) Config {
	u := f.srv.URL
	return Config{
		AuthURL:             u + "/v1/authmanager/authenticate/clientidsecretkey",
		CreatePacketURL:     u + "/commons/v1/packetmanager/createPacket",
		ProcessPacketURL:    u + "/registrationprocessor/v1/workflowmanager/workflowinstance",
		WebSubHubURL:        u + "/websub/hub",
		PacketClient:        Client{ID: testClientID, Secret: testSecret},
		WebSubClient:        Client{ID: testClientID, Secret: testSecret},
		CallbackURL:         "http://127.0.0.1:1/api/mosip/websub/callback",
		SchemaJSON:          `{"$schema":"http://json-schema.org/draft-07/schema#","title":"test identity"}`,
		CredentialAllowList: []string{u + "/.well-known/public-key.json"},
		DecryptKey:          testKey(),
		Timeout:             2 * time.Second,
		Log:                 slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func newAdapter(t *testing.T, cfg Config) (*Adapter, *memCorr, *memResolver) {
	t.Helper()
	corr, res := newMemCorr(), &memResolver{}
	a, err := New(cfg, corr, res)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	a.host = hostInfo{name: "test-host", ip: "10.0.0.7"}
	return a, corr, res
}

func jsonRaw(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func declaration(t *testing.T, m map[string]any) core.Declaration {
	d := core.Declaration{}
	for k, v := range m {
		d[k] = jsonRaw(t, v)
	}
	return d
}
