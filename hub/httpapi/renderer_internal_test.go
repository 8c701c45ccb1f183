package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/mappings"
)

// TestRenderersOneStatus: every error kind has one status, whichever
// renderer answers it (JSON on the events API, an OperationOutcome on the
// FHIR routes), with the same headers; the kinds FHIR ingestion needs
// (422, 429, 408) are kinds, and a mapping error's kind sets its status.
func TestRenderersOneStatus(t *testing.T) {
	gin.SetMode(gin.TestMode)
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cases := []struct {
		err    error
		status int
		header string
		issue  string
	}{
		{core.Errorf(core.KindInvalid, "X", "bad"), 400, "", "invalid"},
		{core.Errorf(core.KindUnauthenticated, "X", "who"), 401, "WWW-Authenticate", "login"},
		{core.Errorf(core.KindUnprocessable, "X", "unusable"), 422, "", "processing"},
		{core.Errorf(core.KindTooManyRequests, "X", "busy"), 429, "Retry-After", "throttled"},
		{core.Errorf(core.KindTimeout, "X", "slow"), 408, "", "timeout"},
		{core.Errorf(core.KindTooLarge, "X", "big"), 413, "", "too-long"},
		{&mappings.Error{Kind: core.KindUnprocessable, Issues: []mappings.Issue{{Severity: "error", Code: "required", Diagnostics: "no subject"}}}, 422, "", "required"},
		{&mappings.Error{Kind: core.KindTooLarge, Issues: []mappings.Issue{{Severity: "error", Code: "too-costly", Diagnostics: "many"}}}, 413, "", "too-costly"},
	}
	for _, c := range cases {
		for name, render := range map[string]errorRenderer{"json": s.failJSON, "fhir": s.fhirFail} {
			if _, isMapping := c.err.(*mappings.Error); isMapping && name == "json" {
				continue // only the FHIR routes map bundles
			}
			w := httptest.NewRecorder()
			ctx, _ := gin.CreateTestContext(w)
			ctx.Request = httptest.NewRequest(http.MethodPost, "/x", nil)
			render(ctx, c.err)
			if w.Code != c.status {
				t.Errorf("%s %v: status %d, want %d", name, c.err, w.Code, c.status)
			}
			if c.header != "" && w.Header().Get(c.header) == "" {
				t.Errorf("%s %v: no %s header", name, c.err, c.header)
			}
			if name == "fhir" {
				var oo mappings.OperationOutcome
				if err := json.Unmarshal(w.Body.Bytes(), &oo); err != nil || len(oo.Issue) != 1 || oo.Issue[0].Code != c.issue {
					t.Errorf("fhir %v: outcome %s, want issue code %s", c.err, w.Body, c.issue)
				}
			}
		}
	}
}
