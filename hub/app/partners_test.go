package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
)

// TestLoadPartners needs the mosip adapter registered: the app_test files
// link it through testharness (hubtest), in this same test binary.
func TestLoadPartners(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("partners.yaml", `mosip:
  baseUrl: https://mosip.example
  packetClientId: crvs
  packetClientSecret: env:TEST_MOSIP_SECRET
  credentialAllowList: [https://mosip.example/.well-known/public-key.json]
delivery:
  maxRetries: 7
  initialInterval: 1s
  maxInterval: 30s
  jitter: 0.3
  breakerFailures: 10
  breakerOpenTimeout: 2m
  concurrency: 8
  attemptTimeout: 45s
  redeliveryDelay: 5s
`)
	pc, err := LoadPartners(good)
	if err != nil {
		t.Fatal(err)
	}
	var mosip struct{ BaseURL, PacketClientSecret string }
	if !pc.Has("mosip") || json.Unmarshal(pc.Adapters["mosip"], &mosip) != nil ||
		mosip.BaseURL != "https://mosip.example" || mosip.PacketClientSecret != "env:TEST_MOSIP_SECRET" {
		t.Fatalf("mosip settings %s", pc.Adapters["mosip"])
	}
	m, err := pc.Delivery.apply(MessagingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Retry.MaxRetries != 7 || m.Retry.InitialInterval != time.Second || m.Retry.MaxInterval != 30*time.Second ||
		m.Retry.RandomizationFactor != 0.3 || m.Breaker.FailureThreshold != 10 || m.Breaker.OpenTimeout != 2*time.Minute ||
		m.Concurrency != 8 || m.HandlerTimeout != 45*time.Second || m.NakDelay != 5*time.Second || m.AckWait != 0 {
		t.Fatalf("delivery settings applied as %+v", m)
	}
	for name, body := range map[string]string{
		"unknown key":   "mosip:\n  baseUrl: x\n  colour: blue\n",
		"bad duration":  "delivery:\n  maxInterval: soon\n",
		"not yaml":      "mosip: [\n",
		"unknown block": "osia:\n  url: x\n",
	} {
		if _, err := LoadPartners(write("bad.yaml", body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// an unknown adapter name is refused naming the known ones
	if _, err := LoadPartners(write("bad.yaml", "osia:\n  url: x\n")); err == nil ||
		!strings.Contains(err.Error(), `unknown National ID adapter "osia"`) || !strings.Contains(err.Error(), "mosip") {
		t.Errorf("unknown adapter: %v; want it refused naming osia and the known adapters", err)
	}
	if _, err := (&DeliverySettings{Jitter: 2}).apply(MessagingOptions{}); err == nil {
		t.Error("jitter 2 accepted")
	}
}

// TestAckWaitFromRetryBudget: JetStream's ack wait must outlast one
// message's whole retry budget, or JetStream hands a message still being
// retried to a second handler and the partner is called twice. Unset, it
// is derived from the budget (partners.yaml delivery settings included);
// set shorter, it is refused.
func TestAckWaitFromRetryBudget(t *testing.T) {
	cases := []struct {
		name     string
		delivery *DeliverySettings
		ackWait  time.Duration
		want     time.Duration // 0: refused
	}{
		// 4 attempts of 60s + back-offs 0.75s, 1.5s, 3s = 245.25s, + a tenth
		{"defaults", nil, 0, 245250 * time.Millisecond * 11 / 10},
		// 7 attempts of 60s + 0.75+1.5+3+6+7.5+7.5 s = 446.25s, + a tenth
		{"6 retries of 60s", &DeliverySettings{MaxRetries: 6, AttemptTimeout: core.Duration(60 * time.Second)}, 0, 446250 * time.Millisecond * 11 / 10},
		// 2 attempts of 100ms + a 15ms back-off, + the 1s minimum margin
		{"small numbers", &DeliverySettings{MaxRetries: 1, AttemptTimeout: core.Duration(100 * time.Millisecond),
			InitialInterval: core.Duration(10 * time.Millisecond), Jitter: 0.5}, 0, 1215 * time.Millisecond},
		{"explicit, longer than the budget", nil, 10 * time.Minute, 10 * time.Minute},
		{"explicit, shorter than the budget", &DeliverySettings{MaxRetries: 6, AttemptTimeout: core.Duration(60 * time.Second)}, 5 * time.Minute, 0},
		{"explicit, equal to the budget", nil, 245250 * time.Millisecond, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := c.delivery.apply(MessagingOptions{AckWait: c.ackWait})
			if err != nil {
				t.Fatal(err)
			}
			m, err = m.withDefaults().withAckWait()
			if c.want == 0 {
				if err == nil || !strings.Contains(err.Error(), "retry budget") || !strings.Contains(err.Error(), c.ackWait.String()) {
					t.Fatalf("ack wait %v for a budget of %v: %v, want refused naming both", c.ackWait, m.RetryBudget(), err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.AckWait != c.want || m.AckWait <= m.RetryBudget() {
				t.Fatalf("ack wait %v, want %v (budget %v)", m.AckWait, c.want, m.RetryBudget())
			}
		})
	}
}
