package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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
	if pc.MOSIP == nil || pc.MOSIP.BaseURL != "https://mosip.example" || pc.MOSIP.PacketClientSecret != "env:TEST_MOSIP_SECRET" {
		t.Fatalf("mosip settings %+v", pc.MOSIP)
	}
	m, err := pc.Delivery.apply(MessagingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Retry.MaxRetries != 7 || m.Retry.InitialInterval != time.Second || m.Retry.MaxInterval != 30*time.Second ||
		m.Retry.RandomizationFactor != 0.3 || m.Breaker.FailureThreshold != 10 || m.Breaker.OpenTimeout != 2*time.Minute ||
		m.Concurrency != 8 || m.HandlerTimeout != 45*time.Second || m.NakDelay != 5*time.Second || m.AckWait != 5*time.Minute {
		t.Fatalf("delivery settings applied as %+v", m)
	}
	// secrets from the environment
	if _, err := secret("packetClientSecret", "env:TEST_MOSIP_SECRET_UNSET"); err == nil || !strings.Contains(err.Error(), "TEST_MOSIP_SECRET_UNSET") {
		t.Fatalf("unset secret variable: %v", err)
	}
	t.Setenv("TEST_MOSIP_SECRET", "s3cret")
	if v, err := secret("packetClientSecret", "env:TEST_MOSIP_SECRET"); err != nil || v != "s3cret" {
		t.Fatalf("secret = %q, %v", v, err)
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
	if _, err := (&DeliverySettings{Jitter: 2}).apply(MessagingOptions{}); err == nil {
		t.Error("jitter 2 accepted")
	}
}
