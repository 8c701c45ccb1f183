package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/mappings"
)

// panicAuth panics in Authenticate: a bug anywhere in a route's chain.
type panicAuth struct{}

func (panicAuth) Authenticate(context.Context, string) (core.Principal, error) {
	panic("bug in the authenticator")
}

// TestPanicAnsweredInTheRouteFormat: a panic on a FHIR route is answered
// as the FHIR routes answer every error, a 500 OperationOutcome
// (application/fhir+json) quoting the correlation id and nothing of the
// panic; the events API keeps its JSON error body.
func TestPanicAnsweredInTheRouteFormat(t *testing.T) {
	srv := httptest.NewServer(New(Deps{Auth: panicAuth{}}).Handler())
	defer srv.Close()
	bundle := []byte(`{"resourceType":"Bundle","type":"document","entry":[]}`)
	for _, c := range []struct {
		method, path string
		body         []byte
		fhir         bool
	}{
		{"POST", FHIRPrefix, bundle, true},
		{"POST", FHIRPrefix + "/$process-message", bundle, true},
		{"POST", "/notification", bundle, true},
		{"GET", FHIRPrefix + "/Bundle/00000000-0000-4000-8000-000000000000", nil, true},
		{"GET", EventsPrefix + "/events/00000000-0000-4000-8000-000000000000", nil, false},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			req, err := http.NewRequest(c.method, srv.URL+c.path, bytes.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer x")
			if c.body != nil {
				req.Header.Set("Content-Type", "application/fhir+json")
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500: %s", res.StatusCode, raw)
			}
			if strings.Contains(string(raw), "bug in the authenticator") {
				t.Errorf("the panic is shown to the client: %s", raw)
			}
			ct := res.Header.Get("Content-Type")
			if !c.fhir {
				if !strings.HasPrefix(ct, "application/json") || !strings.Contains(string(raw), `"INTERNAL"`) {
					t.Errorf("events API: Content-Type %q, body %s; want the JSON error body", ct, raw)
				}
				return
			}
			if !strings.HasPrefix(ct, FHIRContentType) {
				t.Errorf("Content-Type %q, want %s", ct, FHIRContentType)
			}
			var oo mappings.OperationOutcome
			if err := json.Unmarshal(raw, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 ||
				!strings.Contains(oo.Issue[0].Diagnostics, "correlation id") {
				t.Errorf("not an OperationOutcome quoting the correlation id: %s", raw)
			}
		})
	}
}

// TestUnroutedFHIRAnswersOutcome: a FHIR client that posts to a path or
// with a method the hub does not serve under the FHIR routes (/fhir...,
// /notification) gets the 404 or 405 as an OperationOutcome; elsewhere
// the JSON error body stays.
func TestUnroutedFHIRAnswersOutcome(t *testing.T) {
	srv := httptest.NewServer(New(Deps{Auth: panicAuth{}}).Handler())
	defer srv.Close()
	for _, c := range []struct {
		method, path string
		status       int
		fhir         bool
	}{
		{"POST", FHIRPrefix + "/Patient", 404, true},
		{"POST", FHIRPrefix + "/Bundle", 404, true},
		{"GET", FHIRPrefix, 405, true},
		{"DELETE", "/notification", 405, true},
		{"POST", EventsPrefix + "/nothing-here", 404, false},
		{"POST", "/fhirx", 404, false},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, c.status, raw)
			}
			ct := res.Header.Get("Content-Type")
			if !c.fhir {
				if !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type %q, want the JSON error body: %s", ct, raw)
				}
				return
			}
			var oo mappings.OperationOutcome
			if !strings.HasPrefix(ct, FHIRContentType) || json.Unmarshal(raw, &oo) != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
				t.Errorf("Content-Type %q, body %s: want an OperationOutcome", ct, raw)
			}
		})
	}
}
