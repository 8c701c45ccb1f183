package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/countryconfig"
	"github.com/crvshub/crvshub/core/store/sqlite"
	"github.com/crvshub/crvshub/mappings"
)

// fixedAuth lets every request in as one principal, without the store.
type fixedAuth struct{ p core.Principal }

func (a fixedAuth) Authenticate(context.Context, string) (core.Principal, error) { return a.p, nil }

// TestProcessMessageTransientError: when the store fails under a usable
// message, $process-message answers a 5xx response message with code
// transient-error (the sender may resend), and POST /fhir a 5xx
// OperationOutcome that quotes the correlation id, never the store's error.
func TestProcessMessageTransientError(t *testing.T) {
	cc, err := countryconfig.Load("")
	if err != nil {
		t.Fatal(err)
	}
	fm, err := mappings.New(cc, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(fm.Families(), "opencrvs-v1-birth") {
		t.Skipf("family opencrvs-v1-birth not yet supported by mappings (known: %v)", fm.Families())
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	scopes, err := core.ParseScopes([]string{"type=record.create", "type=record.notify"})
	if err != nil {
		t.Fatal(err)
	}
	p := core.Principal{ID: "his", Type: core.UserTypeSystem, Scopes: scopes, Office: "58325d6c-dc50-4779-aa42-06daa5712756"}
	srv := httptest.NewServer(New(Deps{Service: &core.Service{Store: st, Config: cc}, Auth: fixedAuth{p}, FHIR: fm}).Handler())
	defer srv.Close()
	if err := st.Close(); err != nil { // the store is gone from here on
		t.Fatal(err)
	}

	doc, err := os.ReadFile("../../docs/examples/fhir-birth.json")
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	headerID := uuid.NewString()
	msg, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "message", "entry": []any{
		map[string]any{"fullUrl": "urn:uuid:" + headerID, "resource": map[string]any{"resourceType": "MessageHeader", "id": headerID,
			"eventUri": "urn:test:birth", "source": map[string]any{"endpoint": "http://his.example"},
			"focus": []any{map[string]any{"reference": "urn:uuid:" + headerID + "0"}}}},
		map[string]any{"fullUrl": "urn:uuid:" + headerID + "0", "resource": d},
	}})
	post := func(path string, body []byte) (int, []byte) {
		res, err := http.Post(srv.URL+path, FHIRContentType, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}

	status, b := post(FHIRPrefix+"/$process-message", msg)
	var rm struct {
		Type  string `json:"type"`
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				Response     struct {
					Identifier, Code string
				} `json:"response"`
				Issue []mappings.Issue `json:"issue"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &rm); err != nil || status < 500 || rm.Type != "message" || len(rm.Entry) != 2 {
		t.Fatalf("status %d, body %s: want a 5xx response message", status, b)
	}
	if r := rm.Entry[0].Resource; r.ResourceType != "MessageHeader" || r.Response.Identifier != headerID || r.Response.Code != "transient-error" {
		t.Errorf("MessageHeader %+v, want a transient-error response to %s", r, headerID)
	}
	if oo := rm.Entry[1].Resource; oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 || bytes.Contains(b, []byte("sqlite")) {
		t.Errorf("outcome %s", b)
	}

	status, b = post(FHIRPrefix, doc)
	var oo mappings.OperationOutcome
	if err := json.Unmarshal(b, &oo); err != nil || status < 500 || oo.ResourceType != "OperationOutcome" ||
		len(oo.Issue) != 1 || oo.Issue[0].Severity != "fatal" || bytes.Contains(b, []byte("sqlite")) {
		t.Errorf("POST /fhir with the store gone: %d %s", status, b)
	}
}

// TestFHIRMapLimit: the three ingestion routes share a bounded number of
// mapping slots; with none free a request waits, then gets 429 with
// Retry-After and an OperationOutcome (code throttled); once a slot is
// free bundles pass again.
func TestFHIRMapLimit(t *testing.T) {
	cc, err := countryconfig.Load("")
	if err != nil {
		t.Fatal(err)
	}
	fm, err := mappings.New(cc, "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	scopes, err := core.ParseScopes([]string{"type=record.create", "type=record.notify"})
	if err != nil {
		t.Fatal(err)
	}
	p := core.Principal{ID: "his", Type: core.UserTypeSystem, Scopes: scopes, Office: "58325d6c-dc50-4779-aa42-06daa5712756"}
	s := New(Deps{Service: &core.Service{Store: st, Config: cc}, Auth: fixedAuth{p}, FHIR: fm})
	s.fhirLimit = newLimiter(1, 50*time.Millisecond)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	doc, err := os.ReadFile("../../docs/examples/fhir-birth.json")
	if err != nil {
		t.Fatal(err)
	}
	post := func(path string) (*http.Response, []byte) {
		res, err := http.Post(srv.URL+path, FHIRContentType, bytes.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}

	release, err := s.fhirLimit.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{FHIRPrefix, FHIRPrefix + "/$process-message", "/notification"} {
		start := time.Now()
		res, b := post(path)
		var oo mappings.OperationOutcome
		if err := json.Unmarshal(b, &oo); err != nil || res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" ||
			oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 1 || oo.Issue[0].Code != "throttled" {
			t.Errorf("%s with no slot free: %d %v %s", path, res.StatusCode, res.Header, b)
		}
		if waited := time.Since(start); waited < 40*time.Millisecond {
			t.Errorf("%s refused after %v; it should wait for a slot first", path, waited)
		}
	}
	release()
	if res, b := post(FHIRPrefix); res.StatusCode != http.StatusCreated {
		t.Fatalf("with the slot free: %d %s", res.StatusCode, b)
	}
	// the slot is given back after the mapping: another bundle passes at once
	if res, b := post(FHIRPrefix); res.StatusCode != http.StatusOK {
		t.Fatalf("the same bundle again: %d %s", res.StatusCode, b)
	}
}

// TestCapIssues: at most MaxOutcomeIssues issues, errors first, and one
// more counting the rest.
func TestCapIssues(t *testing.T) {
	var in []mappings.Issue
	for i := 0; i < 3*MaxOutcomeIssues; i++ {
		in = append(in, mappings.Issue{Severity: "warning", Code: "structure", Diagnostics: "w"})
	}
	in = append(in, mappings.Issue{Severity: "error", Code: "value", Diagnostics: "why it was refused"})
	out := capIssues(in)
	if len(out) != MaxOutcomeIssues+1 {
		t.Fatalf("%d issues, want %d", len(out), MaxOutcomeIssues+1)
	}
	if out[0].Diagnostics != "why it was refused" {
		t.Errorf("the error is not kept first: %+v", out[0])
	}
	if last := out[len(out)-1].Diagnostics; last != "and 201 more issues, not listed" {
		t.Errorf("last issue %q", last)
	}
	if few := in[:5]; len(capIssues(few)) != 5 {
		t.Errorf("a short list was changed")
	}
}
