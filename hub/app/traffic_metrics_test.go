package app_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/testharness/hubtest"
)

// metricValue is the value of the sample named exactly series (name and
// labels as /metrics prints them), or -1 when there is none.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	return -1
}

// TestMetricsTellAboutTrafficAndStore scrapes /metrics of a real hub after
// known traffic: requests are counted and timed by route template (never
// the raw path: an event id must not become a label) and status, and the
// store reports its commits (latency, batch size).
func TestMetricsTellAboutTrafficAndStore(t *testing.T) {
	t.Parallel()
	h := hubtest.Start(t, hubtest.Options{})
	tok := h.ClientToken(hubtest.OfficeIbombo, hubtest.AllScopes...)
	ev := h.Notify(tok, "birth", "metrics-1", hubtest.BirthDeclaration("Ada", "Banda"))
	for range 2 {
		if res := h.Do("GET", "/api/events/events/"+ev.ID, tok, nil); res.Status != http.StatusOK {
			t.Fatalf("GET event: %d %s", res.Status, res.Body)
		}
	}
	if res := h.Do("GET", "/api/events/events/"+ev.ID, "", nil); res.Status != http.StatusUnauthorized {
		t.Fatalf("GET without a token: %d, want 401", res.Status)
	}
	if res := h.Do("GET", "/no/such/route/"+ev.ID, "", nil); res.Status != http.StatusNotFound {
		t.Fatalf("GET no route: %d, want 404", res.Status)
	}
	req, _ := http.NewRequest("BREW", h.URL+"/healthz", nil)
	h.Send(req)

	status, body := get(t, h.URL+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d", status)
	}
	for _, c := range []struct {
		series string
		want   float64
	}{
		{`crvshub_http_requests_total{method="POST",route="/api/events/events/notify",status="200"}`, 1},
		{`crvshub_http_requests_total{method="GET",route="/api/events/events/:eventId",status="200"}`, 2},
		{`crvshub_http_requests_total{method="GET",route="/api/events/events/:eventId",status="401"}`, 1},
		{`crvshub_http_requests_total{method="GET",route="(no route)",status="404"}`, 1},
		{`crvshub_http_request_duration_seconds_count{method="POST",route="/api/events/events/notify",status="200"}`, 1},
		{`crvshub_http_request_duration_seconds_count{method="GET",route="/api/events/events/:eventId",status="200"}`, 2},
		{`crvshub_http_request_duration_seconds_bucket{method="GET",route="/api/events/events/:eventId",status="200",le="+Inf"}`, 2},
	} {
		if got := metricValue(t, body, c.series); got != c.want {
			t.Errorf("%s = %v, want %v", c.series, got, c.want)
		}
	}
	if got := metricValue(t, body, `crvshub_http_requests_total{method="POST",route="/auth/token",status="200"}`); got < 1 {
		t.Errorf("token requests not counted: %v", got)
	}
	if n := len(regexp.MustCompile(`crvshub_http_requests_total\{method="OTHER",route="[^"]*",status="\d+"\}`).FindAllString(body, -1)); n != 1 {
		t.Errorf("an unknown method gives %d series, want one labelled OTHER", n)
	}
	if strings.Contains(body, ev.ID) {
		t.Errorf("an event id appears in /metrics (raw paths as labels: unbounded series)")
	}
	if strings.Contains(body, `method="BREW"`) {
		t.Errorf("a client's method name became a label")
	}

	// the store: every commit observed, with its batch size
	commits := metricValue(t, body, "crvshub_store_commit_seconds_count")
	batches := metricValue(t, body, "crvshub_store_commit_batch_writes_count")
	writes := metricValue(t, body, "crvshub_store_commit_batch_writes_sum")
	txs := metricValue(t, body, "crvshub_store_transaction_seconds_count")
	if commits < 2 || batches != commits || txs != commits || writes < commits {
		t.Errorf("store metrics: %v commits, %v batches holding %v writes, %v transactions; want >= 2 commits (client, notify), one batch and transaction each, at least one write each",
			commits, batches, writes, txs)
	}
	stats := h.App.Store.Stats()
	if want := float64(stats.Commits); commits != want {
		t.Errorf("crvshub_store_commit_seconds_count = %v, the store made %v commits", commits, want)
	}
	if metricValue(t, body, "crvshub_store_commit_seconds_sum") <= 0 {
		t.Error("commit latency sum is 0")
	}
}
