// Package mockpartners starts the partner mocks for a hub and returns the
// partner settings that point the hub at them: `crvshub serve
// --with-mocks` and the hub test harness use it.
package mockpartners

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/crvshub/crvshub/adapters/keyfile"
	"github.com/crvshub/crvshub/adapters/mosip"
	"github.com/crvshub/crvshub/testharness/mosipmock"
)

// Credentials the MOSIP mock accepts from the hub (they exist only there).
const (
	MOSIPClientID     = "crvshub-mock-client"
	MOSIPClientSecret = "mock-client-secret"
	MOSIPWebSubSecret = "mock-websub-secret"
)

// StartMOSIP starts a MOSIP mock on a loopback port that trusts the hub's
// partner certificate (created in the hub's data folder if needed, where
// the hub finds it) and returns it with the hub's mosip settings.
func StartMOSIP(dataDir string, p mosipmock.Profile, log *slog.Logger) (*mosipmock.Mock, *mosip.Settings, error) {
	if err := os.MkdirAll(filepath.Join(dataDir, "keys"), 0o700); err != nil {
		return nil, nil, err
	}
	_, cert, err := mosip.PartnerKey(filepath.Join(dataDir, filepath.FromSlash(mosip.DefaultPartnerKeyFile)),
		filepath.Join(dataDir, filepath.FromSlash(mosip.DefaultPartnerCertFile)))
	if err != nil {
		return nil, nil, err
	}
	m, err := mosipmock.New(mosipmock.Config{PartnerCert: cert, Clients: map[string]string{MOSIPClientID: MOSIPClientSecret},
		Profile: p, Log: log})
	if err != nil {
		return nil, nil, fmt.Errorf("mosip mock: %w", err)
	}
	if _, err := m.Start("127.0.0.1:0"); err != nil {
		return nil, nil, fmt.Errorf("mosip mock: %w", err)
	}
	idaCert := filepath.Join(dataDir, "keys", "mosip-mock-ida.crt")
	if err := os.WriteFile(idaCert, keyfile.EncodeCertificate(m.Cert()), 0o644); err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, &mosip.Settings{
		BaseURL: m.URL(), PacketClientID: MOSIPClientID, PacketClientSecret: MOSIPClientSecret,
		WebSubSecret: MOSIPWebSubSecret, CredentialAllowList: []string{m.PublicKeyURL()},
		IDACertFile: idaCert, MispLK: "mock-misp-license-key", PartnerID: "crvshub-mock-partner", APIKey: "mock-api-key",
		DomainURI: m.URL(), TimeoutSeconds: 10,
	}, nil
}
