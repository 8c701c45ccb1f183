package httpapi_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/crvshub/crvshub/hub/auth"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// startWith is start with more hub options.
func startWith(t *testing.T, o hubtest.Options) *hubtest.Hub {
	t.Helper()
	o.DataDir = t.TempDir()
	keyFile := filepath.Join(o.DataDir, filepath.FromSlash(auth.DefaultKeyFile))
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, hubKeyPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	return hubtest.Start(t, o)
}

// TestAuditRemoteAddr: the audit trail records the connection's peer, and
// X-Forwarded-For / X-Real-IP only when the peer is a configured trusted
// proxy: by default no client can write the address the audit keeps.
func TestAuditRemoteAddr(t *testing.T) {
	t.Parallel()
	const spoofed = "203.0.113.9"
	tests := []struct {
		name    string
		proxies []string
		header  string
		want    string
	}{
		{"default: X-Forwarded-For ignored", nil, "X-Forwarded-For", "127.0.0.1"},
		{"default: X-Real-IP ignored", nil, "X-Real-IP", "127.0.0.1"},
		{"peer is a trusted proxy (CIDR)", []string{"127.0.0.0/8"}, "X-Forwarded-For", spoofed},
		{"peer is a trusted proxy (IP)", []string{"127.0.0.1"}, "X-Forwarded-For", spoofed},
		{"peer is not the trusted proxy", []string{"10.0.0.0/8"}, "X-Forwarded-For", "127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := startWith(t, hubtest.Options{TrustedProxies: tc.proxies})
			tok := adminToken(h)
			body := mustJSON(t, map[string]any{"type": "birth", "transactionId": newTx(), "createdAtLocation": hubtest.OfficeIbombo})
			res := h.Send(request(t, h, "POST", pathEvents, bytes.NewReader(body), map[string]string{
				"Authorization": "Bearer " + tok, "Content-Type": "application/json", tc.header: spoofed}))
			wantOK(t, res)
			es := audits(t, h, res.Event().ID, "event.create")
			if len(es) != 1 {
				t.Fatalf("%d event.create audit entries", len(es))
			}
			if got := es[0].RemoteAddr; got != tc.want {
				t.Errorf("audit remoteAddr %q, want %q", got, tc.want)
			}
		})
	}
}
