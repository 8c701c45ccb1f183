package httpapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// TestTokenRightAfterRotateWorks: tokens minted earlier in the second of
// a rotate are refused (iat has whole seconds), so a token minted with
// the new secret within that same second must not carry that second: the
// client that rotates and at once asks for a token gets one that works.
func TestTokenRightAfterRotateWorks(t *testing.T) {
	h := hubtest.Start(t, hubtest.Options{})
	id, _ := h.NewClient("rotating client", hubtest.OfficeIbombo, "type=record.search")
	for i := 0; i < 3; i++ {
		// rotate early in a second, so that the token is asked for in it
		for time.Now().Nanosecond() > 200_000_000 {
			time.Sleep(5 * time.Millisecond)
		}
		secret, err := h.App.Clients.RotateSecret(context.Background(), id, core.Principal{ID: "test", Type: core.UserTypeSystem})
		if err != nil {
			t.Fatal(err)
		}
		tok := h.Token(id, secret)
		res := h.Do("POST", "/api/events/events/search", tok, map[string]any{"type": "and", "clauses": []any{map[string]any{"eventType": "birth"}}})
		if res.Status == 401 {
			t.Fatalf("round %d: token minted right after rotate-secret refused: %s", i, res.Body)
		}
	}
}
