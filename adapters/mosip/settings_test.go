package mosip

import (
	"strings"
	"testing"
)

// TestSecret: secrets written as env:NAME come from the environment.
func TestSecret(t *testing.T) {
	if _, err := secret("packetClientSecret", "env:TEST_MOSIP_SECRET_UNSET"); err == nil || !strings.Contains(err.Error(), "TEST_MOSIP_SECRET_UNSET") {
		t.Fatalf("unset secret variable: %v", err)
	}
	t.Setenv("TEST_MOSIP_SECRET", "s3cret")
	if v, err := secret("packetClientSecret", "env:TEST_MOSIP_SECRET"); err != nil || v != "s3cret" {
		t.Fatalf("secret = %q, %v", v, err)
	}
	if _, err := decodeSettings([]byte(`{"baseUrl":"x","colour":"blue"}`)); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("unknown key accepted: %v", err)
	}
}
