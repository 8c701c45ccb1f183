package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/hub/httpapi"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// request builds a request with a raw body and headers.
func request(t *testing.T, h *hubtest.Hub, method, path string, body io.Reader, hdr map[string]string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, h.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	return r
}

// padded is a create body of exactly n bytes (its transactionId is
// padding, so a body that is read is a 400, never a new event).
func padded(n int) []byte {
	head, tail := `{"type":"birth","createdAtLocation":"`+hubtest.OfficeIbombo+`","transactionId":"`, `"}`
	return []byte(head + strings.Repeat("a", n-len(head)-len(tail)) + tail)
}

// TestBodyLimit: a body over 1 MiB is 413 whether its length is declared
// or it is chunked; exactly 1 MiB is read.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	auth := map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
	tests := []struct {
		name    string
		size    int
		chunked bool
		status  int
	}{
		{"1 MiB with Content-Length", httpapi.DefaultMaxBody, false, http.StatusBadRequest},
		{"1 MiB + 1 with Content-Length", httpapi.DefaultMaxBody + 1, false, http.StatusRequestEntityTooLarge},
		{"2 MiB with Content-Length", 2 * httpapi.DefaultMaxBody, false, http.StatusRequestEntityTooLarge},
		{"1 MiB chunked", httpapi.DefaultMaxBody, true, http.StatusBadRequest},
		{"1 MiB + 1 chunked", httpapi.DefaultMaxBody + 1, true, http.StatusRequestEntityTooLarge},
		{"3 MiB chunked", 3 * httpapi.DefaultMaxBody, true, http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(padded(tc.size))
			if tc.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			r := request(t, h, "POST", pathEvents, body, auth)
			if tc.chunked {
				r.TransferEncoding = []string{"chunked"}
				if r.ContentLength > 0 {
					t.Fatalf("request has a length %d", r.ContentLength)
				}
			} else if r.ContentLength != int64(tc.size) {
				t.Fatalf("Content-Length %d, want %d", r.ContentLength, tc.size)
			}
			res := h.Send(r)
			if tc.status == http.StatusRequestEntityTooLarge {
				if b := wantError(t, res, tc.status, "larger than"); b.Code != "PAYLOAD_TOO_LARGE" {
					t.Errorf("code %q", b.Code)
				}
			} else {
				wantError(t, res, tc.status, "transactionId")
			}
		})
	}
	if n := total(t, h, tok); n != 0 {
		t.Errorf("%d events stored", n)
	}
}

// TestContentTypes: only JSON bodies are read (415 otherwise); a missing
// Content-Type is taken as JSON, as OpenCRVS does.
func TestContentTypes(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	body := func() string {
		return `{"type":"birth","transactionId":"` + newTx() + `","createdAtLocation":"` + hubtest.OfficeIbombo + `"}`
	}
	tests := []struct {
		ct     string
		status int
	}{
		{"text/plain", http.StatusUnsupportedMediaType},
		{"text/plain; charset=utf-8", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"multipart/form-data; boundary=x", http.StatusUnsupportedMediaType},
		{"application/xml", http.StatusUnsupportedMediaType},
		{"application/json;;;", http.StatusUnsupportedMediaType},
		{"application/json", http.StatusOK},
		{"application/json; charset=utf-8", http.StatusOK},
		{"Application/JSON", http.StatusOK},
		{"application/vnd.api+json", http.StatusOK},
		{"", http.StatusOK},
	}
	want := 0
	for _, tc := range tests {
		t.Run("Content-Type "+tc.ct, func(t *testing.T) {
			hdr := map[string]string{"Authorization": "Bearer " + tok}
			if tc.ct != "" {
				hdr["Content-Type"] = tc.ct
			}
			res := h.Send(request(t, h, "POST", pathEvents, strings.NewReader(body()), hdr))
			if tc.status != http.StatusOK {
				if b := wantError(t, res, tc.status, "Content-Type"); b.Code != "UNSUPPORTED_MEDIA_TYPE" {
					t.Errorf("code %q", b.Code)
				}
				return
			}
			wantOK(t, res)
			want++
		})
	}
	if n := total(t, h, tok); n != want {
		t.Errorf("%d events stored, want %d (one per accepted request)", n, want)
	}
	// The search and action routes check it too.
	ev := create(t, h, tok)
	for _, path := range []string{pathSearch, pathNotify, eventPath(ev.ID) + "/notify"} {
		res := h.Send(request(t, h, "POST", path, strings.NewReader("a=b"), map[string]string{
			"Authorization": "Bearer " + tok, "Content-Type": "application/x-www-form-urlencoded"}))
		wantError(t, res, http.StatusUnsupportedMediaType)
	}
}

// TestRoutingErrors: unknown routes are 404 and wrong methods 405, both
// with JSON bodies.
func TestRoutingErrors(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	ev := create(t, h, tok)
	tests := []struct {
		method, path string
		status       int
		allow        string // the Allow header of a 405
	}{
		{"GET", "/nope", http.StatusNotFound, ""},
		{"GET", "/api/events/nope", http.StatusNotFound, ""},
		{"POST", "/api/events/events/" + ev.ID + "/fly", http.StatusNotFound, ""},
		{"POST", "/api/events/events/" + ev.ID + "/correction/undo", http.StatusNotFound, ""},
		{"GET", "/api/v1/events", http.StatusNotFound, ""},
		{"DELETE", pathEvents, http.StatusMethodNotAllowed, "POST"},
		{"GET", pathEvents, http.StatusMethodNotAllowed, "POST"},
		{"PUT", eventPath(ev.ID), http.StatusMethodNotAllowed, "GET"},
		{"GET", "/auth/token", http.StatusMethodNotAllowed, "POST"},
		{"POST", "/api/events/config", http.StatusMethodNotAllowed, "GET"},
		{"GET", eventPath(ev.ID) + "/notify", http.StatusMethodNotAllowed, "POST"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			res := h.Do(tc.method, tc.path, tok, nil)
			b := wantError(t, res, tc.status)
			if tc.status == http.StatusNotFound && (b.Code != "NO_ROUTE" || !strings.Contains(b.Message, tc.path)) {
				t.Errorf("404 body %s", res.Body)
			}
			if tc.status == http.StatusMethodNotAllowed && !strings.Contains(res.Header.Get("Allow"), tc.allow) {
				t.Errorf("Allow %q, want it to list %s", res.Header.Get("Allow"), tc.allow)
			}
		})
	}
	// Events that do not exist.
	id := "00000000-0000-4000-8000-000000000000"
	wantError(t, h.Do("GET", eventPath(id), tok, nil), http.StatusNotFound, "Event not found with ID: "+id)
	wantError(t, h.Act(tok, id, "notify", newTx(), nil), http.StatusNotFound, id)
	// An id that is not a UUID is bad input, as in OpenCRVS v2.0.
	for _, res := range []*hubtest.Response{h.Do("GET", eventPath("not-a-uuid"), tok, nil), h.Act(tok, "not-a-uuid", "notify", newTx(), nil)} {
		if b := wantError(t, res, http.StatusBadRequest, "eventId must be a UUID"); len(b.Errors) != 1 || b.Errors[0].ID != "eventId" {
			t.Errorf("non-UUID id: %s", res.Body)
		}
	}
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{24}$`)

// TestCorrelationID: X-Correlation-ID is echoed on every answer (or made
// when missing or malformed) and recorded in the audit trail.
func TestCorrelationID(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	createBody := func() string {
		return `{"type":"birth","transactionId":"` + newTx() + `","createdAtLocation":"` + hubtest.OfficeIbombo + `"}`
	}
	tests := []struct {
		name           string
		method, path   string
		body           func() string
		hdr            map[string]string
		status         int
		echo, generate bool
	}{
		{"200", "POST", pathEvents, createBody, map[string]string{"X-Correlation-ID": "req-123:abc.def_1"}, 200, true, false},
		{"401", "GET", "/api/events/config", nil, map[string]string{"X-Correlation-ID": "c-401", "Authorization": "Bearer x"}, 401, true, false},
		{"404", "GET", "/nowhere", nil, map[string]string{"X-Correlation-ID": "c-404"}, 404, true, false},
		{"405", "DELETE", pathEvents, nil, map[string]string{"X-Correlation-ID": "c-405"}, 405, true, false},
		{"415", "POST", pathEvents, createBody, map[string]string{"X-Correlation-ID": "c-415", "Content-Type": "text/plain"}, 415, true, false},
		{"token endpoint", "POST", "/auth/token", func() string { return `{}` }, map[string]string{"X-Correlation-ID": "c-token"}, 400, true, false},
		{"X-Request-ID", "GET", "/healthz", nil, map[string]string{"X-Request-ID": "from-request-id"}, 200, true, false},
		{"missing", "GET", "/healthz", nil, nil, 200, false, true},
		{"with spaces", "GET", "/healthz", nil, map[string]string{"X-Correlation-ID": "a b"}, 200, false, true},
		{"too long", "GET", "/healthz", nil, map[string]string{"X-Correlation-ID": strings.Repeat("x", 129)}, 200, false, true},
		{"header injection", "GET", "/healthz", nil, map[string]string{"X-Correlation-ID": "a<script>"}, 200, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != nil {
				body = strings.NewReader(tc.body())
			}
			hdr := map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			res := h.Send(request(t, h, tc.method, tc.path, body, hdr))
			if res.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.Status, tc.status, res.Body)
			}
			got := res.Header.Get(httpapi.HeaderCorrelationID)
			sent := tc.hdr["X-Correlation-ID"]
			if sent == "" {
				sent = tc.hdr["X-Request-ID"]
			}
			switch {
			case tc.echo && got != sent:
				t.Errorf("X-Correlation-ID %q, want %q echoed", got, sent)
			case tc.generate && !generatedID.MatchString(got):
				t.Errorf("X-Correlation-ID %q, want a generated id", got)
			}
		})
	}
	// Two requests without one get different ids.
	a := h.Do("GET", "/healthz", "", nil).Header.Get(httpapi.HeaderCorrelationID)
	b := h.Do("GET", "/healthz", "", nil).Header.Get(httpapi.HeaderCorrelationID)
	if a == b {
		t.Errorf("generated ids repeat: %q", a)
	}
	// The audit entry of the create carries the correlation id.
	var found bool
	for _, e := range allAudits(t, h, "event.create") {
		found = found || e.CorrelationID == "req-123:abc.def_1"
	}
	if !found {
		t.Errorf("no event.create audit entry with the request's correlation id")
	}
}
