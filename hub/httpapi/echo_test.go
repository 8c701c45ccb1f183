package httpapi_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/testharness/hubtest"
)

// TestEchoedInputClipped: an error that quotes a huge piece of input (an
// event type, a declaration key, an unknown top-level key, a wrongly typed
// field) quotes its first bytes and its length, never the whole of it.
func TestEchoedInputClipped(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	huge := strings.Repeat("k", 900<<10)
	sized := regexp.MustCompile(`k\.\.\.\(9216[0-9]{2} bytes\)`) // the key's first bytes, then its length (a path's)
	tests := []struct {
		name, path string
		body       string
	}{
		{"event type", pathEvents, `{"type":"` + huge + `","transactionId":"` + newTx() + `","createdAtLocation":"` + hubtest.OfficeIbombo + `"}`},
		{"declaration key", pathNotify, `{"type":"birth","transactionId":"` + newTx() + `","createdAtLocation":"` + hubtest.OfficeIbombo + `","declaration":{"` + huge + `":"x"}}`},
		{"unknown top-level key", pathEvents, `{"type":"birth","transactionId":"` + newTx() + `","createdAtLocation":"` + hubtest.OfficeIbombo + `","` + huge + `":1}`},
		{"key of a bad declaration value", pathNotify, `{"type":"birth","transactionId":"` + newTx() + `","createdAtLocation":"` + hubtest.OfficeIbombo + `","declaration":{"child.name":{"` + huge + `":"\ud800"}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := h.Do("POST", tc.path, tok, tc.body)
			if res.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %.300s", res.Status, res.Body)
			}
			if len(res.Body) > 16<<10 {
				t.Fatalf("error body of %d bytes for a %d-byte key: %.300s", len(res.Body), len(huge), res.Body)
			}
			if !sized.Match(res.Body) {
				t.Fatalf("error body does not say how long the clipped input was (%s): %s", sized, res.Body)
			}
		})
	}
}
