// Package hubtest starts a real hub for tests: a real SQLite file in a
// temporary folder, the real HTTP server on a loopback port, real keys and
// real client credentials.
package hubtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/store/sqlite"
	"github.com/crvshub/crvshub/hub/app"
	"github.com/crvshub/crvshub/testharness/mockpartners"
	"github.com/crvshub/crvshub/testharness/mosipmock"
)

// Farajaland ids from the embedded demo config.
const (
	OfficeIbombo    = "58325d6c-dc50-4779-aa42-06daa5712756" // Ibombo District Office (CRVS_OFFICE)
	OfficeIlanga    = "8afa81b5-d668-4373-8658-a51abb3a49e8" // Ilanga District Office
	OfficeHQ        = "b3d48539-18da-47e4-b5cd-6e7f94766eb9"
	FacilityIbombo  = "a60080a9-9ddb-4d93-bfac-9f40239b3219" // Ibombo District Hospital (HEALTH_FACILITY)
	FacilityIlanga  = "c2a44b74-dc4d-4b37-9df2-8d513652caa1"
	ProvinceCentral = "5b607555-e83d-49f5-a681-d9a4776f70c5"
	DistrictIbombo  = "d71605e6-b20e-4b2e-a6ff-4cd2641fb0cb"
	DistrictIlanga  = "4c0d2619-69b7-4489-93a0-915340c590c9"
)

// AllScopes is every record scope, for a client that may do anything.
var AllScopes = []string{
	"type=record.create", "type=record.notify", "type=record.read", "type=record.search",
	"type=record.declare", "type=record.validate", "type=record.register", "type=record.reject",
	"type=record.archive", "type=record.print-certified-copies", "type=record.correct",
	"type=record.request-correction", "type=record.edit", "type=record.review-duplicates",
	"type=record.delete", "type=record.unassign-others",
}

// Hub is a running hub.
type Hub struct {
	T       testing.TB
	App     *app.App
	URL     string // http://127.0.0.1:port
	DataDir string
	Client  *http.Client
	// MOSIP is the MOSIP mock the hub routes to (Options.MOSIP), or nil.
	MOSIP  *mosipmock.Mock
	cancel context.CancelFunc
	done   chan error
}

// Options tune Start.
type Options struct {
	DataDir   string // reuse a data folder (restart tests); "" = t.TempDir()
	ConfigDir string
	Log       io.Writer // nil = discard
	// MOSIP starts a MOSIP mock (real HTTP, real crypto) with this fault
	// profile and points the hub's mosip partner at it.
	MOSIP *mosipmock.Profile
	// Partners configures the hub's adapters when MOSIP is nil.
	Partners *app.PartnersConfig
	// Messaging tunes the bus (short redelivery delays in tests).
	Messaging app.MessagingOptions
	// Store tunes the SQLite store (zero = the hub's defaults), e.g.
	// MaxBatch 1 or Synchronous NORMAL for commit benchmarks.
	Store sqlite.Options
	// MetricsAddr serves /metrics on a listener of its own (app.Options).
	MetricsAddr string
	// TrustedProxies is app.Options.TrustedProxies (nil = trust none).
	TrustedProxies []string
	// TokenTTL is the lifetime of the tokens the hub issues (0 = the
	// hub's default, 600 s). Benchmarks set hours: a run that outlasts a
	// token would measure 401s.
	TokenTTL time.Duration
}

// startMOSIP starts a MOSIP mock for the hub (see mockpartners).
func startMOSIP(t testing.TB, dataDir string, p mosipmock.Profile, log *slog.Logger) (*mosipmock.Mock, *app.PartnersConfig) {
	t.Helper()
	m, settings, err := mockpartners.StartMOSIP(dataDir, p, log)
	if err != nil {
		t.Fatalf("hubtest: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	settings.TimeoutSeconds = 5
	pc := &app.PartnersConfig{}
	if err := pc.Set("mosip", settings); err != nil {
		t.Fatalf("hubtest: %v", err)
	}
	return m, pc
}

// Start opens a hub on a fresh loopback port; it is stopped at test end.
func Start(t testing.TB, o Options) *Hub {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	var w io.Writer = io.Discard
	if o.Log != nil {
		w = o.Log
	}
	log := slog.New(slog.NewJSONHandler(w, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("hubtest: listen: %v", err)
	}
	url := "http://" + ln.Addr().String()
	opts := app.Options{DataDir: o.DataDir, ConfigDir: o.ConfigDir, Log: log, SecretCost: 4, TokenTTL: o.TokenTTL, PublicURL: url, Messaging: o.Messaging, Store: o.Store,
		MetricsAddr: o.MetricsAddr, TrustedProxies: o.TrustedProxies}
	var mock *mosipmock.Mock
	opts.Partners = o.Partners
	if o.MOSIP != nil {
		mock, opts.Partners = startMOSIP(t, o.DataDir, *o.MOSIP, log.With("component", "mosip-mock"))
	}
	a, err := app.Open(context.Background(), opts)
	if err != nil {
		ln.Close()
		t.Fatalf("hubtest: open: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{T: t, App: a, URL: url, DataDir: o.DataDir, MOSIP: mock,
		Client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- a.Serve(ctx, ln) }()
	t.Cleanup(h.Stop)
	return h
}

// Stop shuts the server down and closes the store (idempotent).
func (h *Hub) Stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	if err := <-h.done; err != nil && err != http.ErrServerClosed {
		h.T.Errorf("hubtest: serve: %v", err)
	}
	if err := h.App.Close(); err != nil {
		h.T.Errorf("hubtest: close: %v", err)
	}
}

// NewClient creates a system client and returns its id and secret.
func (h *Hub) NewClient(name, office string, scopes ...string) (id, secret string) {
	h.T.Helper()
	id, secret, err := h.App.Clients.Create(context.Background(), name, scopes, office, core.Principal{ID: "hubtest", Type: core.UserTypeSystem})
	if err != nil {
		h.T.Fatalf("hubtest: create client: %v", err)
	}
	return id, secret
}

// Token gets an access token over HTTP with the client's credentials.
func (h *Hub) Token(id, secret string) string {
	h.T.Helper()
	res := h.Do("POST", "/auth/token", "", map[string]string{"grant_type": "client_credentials", "client_id": id, "client_secret": secret})
	if res.Status != 200 {
		h.T.Fatalf("hubtest: token: %d %s", res.Status, res.Body)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	res.JSON(&tr)
	return tr.AccessToken
}

// ClientToken creates a client with the scopes and returns a token for it.
func (h *Hub) ClientToken(office string, scopes ...string) string {
	h.T.Helper()
	return h.Token(h.NewClient("test client", office, scopes...))
}

// Response is an HTTP answer with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	t      testing.TB
}

// JSON decodes the body into v (fatal on error).
func (r *Response) JSON(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("hubtest: decode %q: %v", r.Body, err)
	}
}

// Event decodes the body as an EventDocument.
func (r *Response) Event() *core.EventDocument {
	r.t.Helper()
	var ev core.EventDocument
	r.JSON(&ev)
	return &ev
}

// Do sends a request. body may be nil, []byte/string (sent as is) or any
// value (sent as JSON). JSON bodies get Content-Type application/json.
func (h *Hub) Do(method, path, token string, body any) *Response {
	h.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			h.T.Fatalf("hubtest: marshal: %v", err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, h.URL+path, rd)
	if err != nil {
		h.T.Fatalf("hubtest: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return h.Send(req)
}

// Send sends a prepared request.
func (h *Hub) Send(req *http.Request) *Response {
	h.T.Helper()
	res, err := h.Client.Do(req)
	if err != nil {
		h.T.Fatalf("hubtest: %s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.T.Fatalf("hubtest: read body: %v", err)
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: b, t: h.T}
}

// BirthDeclaration is a complete birth declaration (DECLARE-ready).
func BirthDeclaration(first, last string) map[string]any {
	return map[string]any{
		"child.name":          map[string]string{"firstname": first, "surname": last},
		"child.gender":        "female",
		"child.dob":           "2024-02-02",
		"child.placeOfBirth":  "HEALTH_FACILITY",
		"child.birthLocation": FacilityIbombo,
		"child.weightAtBirth": 3.2,
		"informant.relation":  "MOTHER",
		"mother.name":         map[string]string{"firstname": "Mary", "surname": last},
		"mother.dob":          "1990-05-01",
		"mother.nid":          "1234567890",
		"mother.idType":       "NATIONAL_ID",
	}
}

// DeathDeclaration is a complete death declaration.
func DeathDeclaration(first, last string) map[string]any {
	return map[string]any{
		"deceased.name":              map[string]string{"firstname": first, "surname": last},
		"deceased.gender":            "male",
		"deceased.dob":               "1950-01-01",
		"deceased.nid":               "9876543210",
		"eventDetails.date":          "2024-03-01",
		"eventDetails.placeOfDeath":  "HEALTH_FACILITY",
		"eventDetails.deathLocation": FacilityIbombo,
		"informant.relation":         "SPOUSE",
	}
}

// Notify creates and notifies an event in one call and returns it.
func (h *Hub) Notify(token, eventType, transactionID string, decl map[string]any) *core.EventDocument {
	h.T.Helper()
	res := h.Do("POST", "/api/events/events/notify", token, map[string]any{
		"transactionId": transactionID, "eventType": eventType, "createdAtLocation": OfficeIbombo, "declaration": decl})
	if res.Status != 200 {
		h.T.Fatalf("hubtest: notify: %d %s", res.Status, res.Body)
	}
	return res.Event()
}

// Act posts an action (slug as in the route, e.g. "declare") and returns
// the response.
func (h *Hub) Act(token, eventID, slug, transactionID string, extra map[string]any) *Response {
	h.T.Helper()
	body := map[string]any{"transactionId": transactionID, "createdAtLocation": OfficeIbombo}
	for k, v := range extra {
		body[k] = v
	}
	return h.Do("POST", fmt.Sprintf("/api/events/events/%s/%s", eventID, slug), token, body)
}
