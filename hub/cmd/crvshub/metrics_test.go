package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestServeMetricsAddr: `serve --metrics-addr` serves /metrics there and
// not on --addr (metrics need no token: production binds them to an
// internal interface).
func TestServeMetricsAddr(t *testing.T) {
	addr, metrics := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--data", t.TempDir(), "--addr", addr, "--metrics-addr", metrics, "--log-level", "warn"},
			&bytes.Buffer{}, &bytes.Buffer{})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	status := func(url string) int {
		deadline := time.Now().Add(time.Minute) // generous: polling ends when ready
		for {
			res, err := http.Get(url)
			if err == nil {
				res.Body.Close()
				return res.StatusCode
			}
			if time.Now().After(deadline) {
				t.Fatalf("timeout: GET %s failed for a minute: %v", url, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if s := status("http://" + addr + "/readyz"); s != http.StatusOK {
		t.Fatalf("readyz: %d", s)
	}
	if s := status("http://" + metrics + "/metrics"); s != http.StatusOK {
		t.Errorf("GET /metrics on --metrics-addr: %d", s)
	}
	if s := status("http://" + addr + "/metrics"); s != http.StatusNotFound {
		t.Errorf("GET /metrics on --addr: %d, want 404", s)
	}
	res, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, m := range []string{"crvshub_http_body_bytes_reserved 0", "crvshub_auth_failures_total 0",
		`crvshub_auth_throttled_total{reason="client"} 0`, `crvshub_auth_throttled_total{reason="source"} 0`} {
		if !bytes.Contains(text, []byte(m)) {
			t.Errorf("/metrics has no %s:\n%s", m, text)
		}
	}
}
