package mosip

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestIntentVerification(t *testing.T) {
	f := newFakeMOSIP(t)
	a, _, _ := newAdapter(t, baseConfig(f))
	srv := httptest.NewServer(a.CallbackHandler())
	defer srv.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	cases := []struct {
		name   string
		before func() // state before the request
		query  url.Values
		status int
		body   string
	}{
		{"unsolicited subscribe", nil, url.Values{"hub.mode": {"subscribe"}, "hub.topic": {"CREDENTIAL_ISSUED"}, "hub.challenge": {"abc123"}}, 404, ""},
		{"subscribe", func() { a.expectIntent("subscribe", "CREDENTIAL_ISSUED") }, url.Values{"hub.mode": {"subscribe"}, "hub.topic": {"CREDENTIAL_ISSUED"}, "hub.challenge": {"abc123"}}, 200, "abc123"},
		{"subscribe verified again", nil, url.Values{"hub.mode": {"subscribe"}, "hub.topic": {"CREDENTIAL_ISSUED"}, "hub.challenge": {"abc124"}}, 200, "abc124"},
		{"subscribe long after", func() { now = now.Add(a.intentWait + time.Second) }, url.Values{"hub.mode": {"subscribe"}, "hub.topic": {"CREDENTIAL_ISSUED"}, "hub.challenge": {"abc125"}}, 404, ""},
		{"unsolicited unsubscribe", func() { a.expectIntent("subscribe", "CREDENTIAL_ISSUED") }, url.Values{"hub.mode": {"unsubscribe"}, "hub.topic": {"CREDENTIAL_ISSUED"}, "hub.challenge": {"abc"}}, 404, ""},
		{"other topic", nil, url.Values{"hub.mode": {"subscribe"}, "hub.topic": {"OTHER"}, "hub.challenge": {"abc"}}, 404, ""},
		{"no challenge", nil, url.Values{"hub.mode": {"subscribe"}, "hub.topic": {"CREDENTIAL_ISSUED"}}, 400, ""},
		{"no mode", nil, url.Values{"hub.topic": {"CREDENTIAL_ISSUED"}, "hub.challenge": {"abc"}}, 400, ""},
		{"denied", nil, url.Values{"hub.mode": {"denied"}, "hub.topic": {"CREDENTIAL_ISSUED"}, "hub.reason": {"no"}}, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			res, err := http.Get(srv.URL + "?" + tc.query.Encode())
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", res.StatusCode, tc.status, b)
			}
			if tc.status == 200 {
				if string(b) != tc.body || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
					t.Errorf("body %q (%s), want %q text/plain", b, res.Header.Get("Content-Type"), tc.body)
				}
			} else if strings.Contains(string(b), "abc") {
				t.Errorf("refusal echoes the challenge: %q", b)
			}
		})
	}
	req, _ := http.NewRequest(http.MethodPut, srv.URL, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d", res.StatusCode)
	}
}

// startCallback serves a's callback on 127.0.0.1 and returns its URL; the
// handler is looked up late because the URL goes into a's config.
func startCallback(t *testing.T, a **Adapter) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*a).CallbackHandler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/api/mosip/websub/callback"
}

func waitSubscription(t *testing.T, f *fakeMOSIP) {
	t.Helper()
	select {
	case reason := <-f.subscriptions:
		if reason != "" {
			t.Fatalf("subscription: %s", reason)
		}
	case <-time.After(time.Minute):
		t.Fatal("timeout: no verified subscription within a minute")
	}
}

func TestStartSubscribesAndRenews(t *testing.T) {
	f := newFakeMOSIP(t)
	var a *Adapter
	cfg := baseConfig(f)
	cfg.CallbackURL = startCallback(t, &a)
	cfg.LeaseSeconds = 1 // renew after 0.8 s
	cfg.WebSubSecret = "hub-secret"
	a, _, _ = newAdapter(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Start(ctx) }()
	waitSubscription(t, f)
	waitSubscription(t, f) // the renewal
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Start returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("timeout: Start did not return within 30 s of ctx's end")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	form := f.hubForms[0]
	if form.Get("hub.topic") != "CREDENTIAL_ISSUED" || form.Get("hub.callback") != cfg.CallbackURL ||
		form.Get("hub.secret") != "hub-secret" || form.Get("hub.lease_seconds") != "1" {
		t.Errorf("subscribe form %v", form)
	}
	if f.authCalls != 1 {
		t.Errorf("auth calls %d, want 1 (token cached across renewals)", f.authCalls)
	}
}

func TestStartRetriesWithBackoff(t *testing.T) {
	f := newFakeMOSIP(t)
	f.hubFailures = 3
	var a *Adapter
	cfg := baseConfig(f)
	cfg.CallbackURL = startCallback(t, &a)
	a, _, _ = newAdapter(t, cfg)
	a.backoffMin, a.backoffMax = 10*time.Millisecond, 40*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = a.Start(ctx) }()
	waitSubscription(t, f)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.hubForms) != 4 {
		t.Errorf("%d subscribe requests, want 4 (3 failures + 1)", len(f.hubForms))
	}
}

func TestStartResubscribesWhenTheIntentIsNotVerified(t *testing.T) {
	f := newFakeMOSIP(t)
	f.hubSilent = 2
	var a *Adapter
	cfg := baseConfig(f)
	cfg.CallbackURL = startCallback(t, &a)
	a, _, _ = newAdapter(t, cfg)
	a.backoffMin, a.backoffMax, a.intentWait = 10*time.Millisecond, 20*time.Millisecond, 100*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = a.Start(ctx) }()
	waitSubscription(t, f)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.hubForms) != 3 {
		t.Errorf("%d subscribe requests, want 3 (2 never verified + 1)", len(f.hubForms))
	}
}
