package httpapi_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/hub/auth"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// Paths of the events API, as OpenCRVS v2 names them.
const (
	pathEvents = "/api/events/events"
	pathNotify = "/api/events/events/notify"
	pathSearch = "/api/events/events/search"
)

func eventPath(id string) string { return pathEvents + "/" + id }

// start runs a real hub for one test (real SQLite file, real HTTP server,
// real keys). Every top-level test gets its own, so totals are exact.
// The hubs share one real RSA signing key, generated once per run and
// placed where the hub loads its key from: generating a 2048-bit key per
// hub is most of a hub's start-up time under the race detector.
func start(t *testing.T) *hubtest.Hub {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, filepath.FromSlash(auth.DefaultKeyFile))
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, hubKeyPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	return hubtest.Start(t, hubtest.Options{DataDir: dir})
}

var (
	hubKeyOnce sync.Once
	hubKey     []byte
	hubKeyErr  error
)

func hubKeyPEM(t *testing.T) []byte {
	t.Helper()
	hubKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, auth.KeyBits)
		if err != nil {
			hubKeyErr = err
			return
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		hubKey, hubKeyErr = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), err
	})
	if hubKeyErr != nil {
		t.Fatalf("signing key: %v", hubKeyErr)
	}
	return hubKey
}

var (
	foreignOnce sync.Once
	foreign     *auth.KeyPair
	foreignErr  error
)

// foreignKey is a real RSA key pair that is not the hubs' key.
func foreignKey(t *testing.T) *auth.KeyPair {
	t.Helper()
	foreignOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, auth.KeyBits)
		if err != nil {
			foreignErr = err
			return
		}
		foreign, foreignErr = auth.NewKeyPair(k)
	})
	if foreignErr != nil {
		t.Fatalf("foreign key: %v", foreignErr)
	}
	return foreign
}

// adminToken is a token of a client that holds every record scope and
// has no office, so that it may act at any office or facility (a client
// with an office is bound to it: see TestCreatedAtLocationBoundToOffice).
func adminToken(h *hubtest.Hub) string {
	h.T.Helper()
	return h.ClientToken("", hubtest.AllScopes...)
}

func newTx() string { return uuid.NewString() }

// errBody is the JSON error body of the events API.
type errBody struct {
	Message string `json:"message"`
	Code    string `json:"code"`
	Errors  []struct {
		ID      string `json:"id"`
		Message string `json:"message"`
	} `json:"errors"`
}

// wantError checks the status, that the body is a JSON object with a
// non-empty message and code, and that the message contains every want
// string. It answers the decoded body.
func wantError(t *testing.T, res *hubtest.Response, status int, want ...string) errBody {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d; body %s", res.Status, status, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q, want application/json; body %s", ct, res.Body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(res.Body, &raw); err != nil {
		t.Fatalf("error body is not a JSON object: %v: %s", err, res.Body)
	}
	var b errBody
	if err := json.Unmarshal(res.Body, &b); err != nil {
		t.Fatalf("error body: %v: %s", err, res.Body)
	}
	if b.Message == "" || b.Code == "" {
		t.Errorf("error body lacks message or code: %s", res.Body)
	}
	for _, w := range want {
		if !strings.Contains(b.Message, w) {
			t.Errorf("message %q does not contain %q", b.Message, w)
		}
	}
	return b
}

// wantOK fails unless the status is 200.
func wantOK(t *testing.T, res *hubtest.Response) {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", res.Status, res.Body)
	}
}

// create creates a birth event over HTTP.
func create(t *testing.T, h *hubtest.Hub, tok string) *core.EventDocument {
	t.Helper()
	res := h.Do("POST", pathEvents, tok, map[string]any{
		"type": "birth", "transactionId": newTx(), "createdAtLocation": hubtest.OfficeIbombo})
	wantOK(t, res)
	return res.Event()
}

// act posts an action and requires 200.
func act(t *testing.T, h *hubtest.Hub, tok, id, slug string, extra map[string]any) *core.EventDocument {
	t.Helper()
	res := h.Act(tok, id, slug, newTx(), extra)
	if res.Status != http.StatusOK {
		t.Fatalf("%s: status %d; body %s", slug, res.Status, res.Body)
	}
	return res.Event()
}

// indexDoc is the part of an EventIndex search result the tests look at.
type indexDoc struct {
	ID            string                     `json:"id"`
	Type          string                     `json:"type"`
	Status        string                     `json:"status"`
	TrackingID    string                     `json:"trackingId"`
	Flags         []string                   `json:"flags"`
	AssignedTo    *string                    `json:"assignedTo"`
	LegalStatuses map[string]json.RawMessage `json:"legalStatuses"`
	Declaration   map[string]json.RawMessage `json:"declaration"`
}

type searchResult struct {
	Results []indexDoc `json:"results"`
	Total   int        `json:"total"`
}

// search posts a SearchQuery body and requires 200.
func search(t *testing.T, h *hubtest.Hub, tok string, body any) searchResult {
	t.Helper()
	res := h.Do("POST", pathSearch, tok, body)
	wantOK(t, res)
	var sr searchResult
	res.JSON(&sr)
	if sr.Total < len(sr.Results) {
		t.Fatalf("total %d < %d results", sr.Total, len(sr.Results))
	}
	return sr
}

// and wraps clauses in an "and" SearchQuery.
func and(clauses ...any) map[string]any {
	return map[string]any{"query": map[string]any{"type": "and", "clauses": clauses}, "limit": 1000}
}

// total counts every (not deleted) event of both types.
func total(t *testing.T, h *hubtest.Hub, tok string) int {
	t.Helper()
	return search(t, h, tok, and(map[string]any{"eventType": map[string]any{"type": "anyOf", "terms": []string{"birth", "death"}}})).Total
}

// ids lists the event ids of a search result.
func ids(sr searchResult) []string {
	out := make([]string, 0, len(sr.Results))
	for _, r := range sr.Results {
		out = append(out, r.ID)
	}
	return out
}

// stored reads an event straight from the store (no READ is recorded).
func stored(t *testing.T, h *hubtest.Hub, id string) *core.EventDocument {
	t.Helper()
	ev, err := h.App.Store.Event(context.Background(), id)
	if err != nil {
		t.Fatalf("store: event %s: %v", id, err)
	}
	return ev
}

// shape is an action list as "TYPE/Status" strings.
func shape(ev *core.EventDocument) []string {
	out := make([]string, len(ev.Actions))
	for i, a := range ev.Actions {
		out[i] = fmt.Sprintf("%s/%s", a.Type, a.Status)
	}
	return out
}

func wantShape(t *testing.T, ev *core.EventDocument, want ...string) {
	t.Helper()
	if got := shape(ev); !reflect.DeepEqual(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
}

// jsonEqual compares two JSON texts by value.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("json %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("json %s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// audits lists the audit entries of one object with an operation.
func audits(t *testing.T, h *hubtest.Hub, objectID, op string) []core.AuditEntry {
	t.Helper()
	all, err := h.App.Store.Audit(context.Background(), core.AuditFilter{ObjectID: objectID})
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	var out []core.AuditEntry
	for _, e := range all {
		if op == "" || e.Operation == op {
			out = append(out, e)
		}
	}
	return out
}

// allAudits lists every audit entry with an operation.
func allAudits(t *testing.T, h *hubtest.Hub, op string) []core.AuditEntry {
	t.Helper()
	return audits(t, h, "", op)
}
