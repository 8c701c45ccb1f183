package app_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crvshub/crvshub/hub/app"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// freeAddr is a loopback address nothing listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	var res *http.Response
	var err error
	// the metrics listener starts with Serve: poll, with a limit generous
	// enough for a loaded machine
	const within = 30 * time.Second
	for deadline := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
		if res, err = c.Get(url); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timeout: GET %s failed for %s: %v", url, within, err)
		}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestMetricsListener: /metrics answers without a token, so with
// Options.MetricsAddr it is served there (an internal interface) and not
// on the API listener; without, it stays on the API listener.
func TestMetricsListener(t *testing.T) {
	t.Parallel()
	t.Run("on the API listener by default", func(t *testing.T) {
		t.Parallel()
		h := hubtest.Start(t, hubtest.Options{})
		if status, body := get(t, h.URL+"/metrics"); status != http.StatusOK || !strings.Contains(body, "go_goroutines") {
			t.Fatalf("GET /metrics: %d %.200s", status, body)
		}
	})
	t.Run("on its own listener with MetricsAddr", func(t *testing.T) {
		t.Parallel()
		addr := freeAddr(t)
		h := hubtest.Start(t, hubtest.Options{MetricsAddr: addr})
		if status, body := get(t, "http://"+addr+"/metrics"); status != http.StatusOK || !strings.Contains(body, "go_goroutines") {
			t.Fatalf("GET /metrics on the metrics listener: %d %.200s", status, body)
		}
		if status, body := get(t, h.URL+"/metrics"); status != http.StatusNotFound {
			t.Fatalf("GET /metrics on the API listener: %d %.200s, want 404", status, body)
		}
		if status, _ := get(t, h.URL+"/healthz"); status != http.StatusOK {
			t.Fatalf("GET /healthz on the API listener: %d", status)
		}
		if status, _ := get(t, "http://"+addr+"/healthz"); status != http.StatusNotFound {
			t.Fatalf("the metrics listener serves more than /metrics: /healthz %d", status)
		}
		if status, _ := get(t, "http://"+addr+"/api/events/openapi.json"); status != http.StatusNotFound {
			t.Fatalf("the metrics listener serves more than /metrics: /api/events/openapi.json %d", status)
		}
	})
	t.Run("a metrics address in use fails Serve", func(t *testing.T) {
		t.Parallel()
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		a, err := app.Open(context.Background(), app.Options{DataDir: t.TempDir(), SecretCost: 4,
			Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), MetricsAddr: busy.Addr().String()})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		// Serve fails at once; the limit only ends a Serve that wrongly runs
		const within = time.Minute
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		if err := a.Serve(ctx, ln); err == nil || !strings.Contains(err.Error(), "metrics listen") {
			t.Fatalf("Serve = %v, want the metrics listen error (nil: Serve ran until the %s timeout)", err, within)
		}
	})
}
