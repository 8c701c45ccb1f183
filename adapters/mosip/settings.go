package mosip

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/adapters/keyfile"
)

func init() {
	adapters.Register(partnerName, adapters.Factory{
		New:   open,
		Check: func(raw json.RawMessage) error { _, err := decodeSettings(raw); return err },
		NeedsPublicURL: func(raw json.RawMessage) bool {
			s, err := decodeSettings(raw)
			return err == nil && s.CallbackURL == ""
		},
	})
}

//go:embed idschema.json
var defaultSchema string

// CallbackPath is where the hub receives MOSIP's WebSub deliveries.
const CallbackPath = "/api/mosip/websub/callback"

// Default partner key files inside the hub's data folder.
const (
	DefaultPartnerKeyFile  = "keys/mosip-partner.pem"
	DefaultPartnerCertFile = "keys/mosip-partner.crt"
)

// partnerKeyBits is the size of a partner key the adapter creates.
const partnerKeyBits = 2048

// Settings are the "mosip" block of the partners file. Secrets may be
// written as "env:NAME" to read them from the environment instead of the
// file.
type Settings struct {
	// BaseURL, when set, gives every MOSIP URL below that is left empty
	// its standard path under this base.
	BaseURL          string `json:"baseUrl,omitempty"`
	AuthURL          string `json:"authUrl,omitempty"`
	CreatePacketURL  string `json:"createPacketUrl,omitempty"`
	ProcessPacketURL string `json:"processPacketUrl,omitempty"`
	WebSubHubURL     string `json:"websubHubUrl,omitempty"`
	IDAAuthURL       string `json:"idaAuthUrl,omitempty"`

	PacketClientID     string `json:"packetClientId"`
	PacketClientSecret string `json:"packetClientSecret"`
	WebSubClientID     string `json:"websubClientId,omitempty"` // default: the packet client
	WebSubClientSecret string `json:"websubClientSecret,omitempty"`
	AppID              string `json:"appId,omitempty"`

	// CallbackURL is how MOSIP reaches the hub's WebSub callback; default
	// <public URL>/api/mosip/websub/callback.
	CallbackURL  string `json:"callbackUrl,omitempty"`
	Topic        string `json:"topic,omitempty"`
	WebSubSecret string `json:"websubSecret,omitempty"`
	LeaseSeconds int    `json:"leaseSeconds,omitempty"`

	CenterID  string `json:"centerId,omitempty"`
	MachineID string `json:"machineId,omitempty"`
	// SchemaJSONFile holds the country's MOSIP ID schema (sent as
	// schemaJson); default: a minimal schema of the fields the hub sends.
	SchemaJSONFile string `json:"schemaJsonFile,omitempty"`
	Language       string `json:"language,omitempty"`

	// CredentialAllowList: the verificationMethod URLs whose keys may sign
	// credentials (MOSIP's public key document URL).
	CredentialAllowList []string `json:"credentialAllowList"`

	// PartnerKeyFile is the hub's partner private key (PEM): MOSIP encrypts
	// credentials to it and IDA requests are signed with it. Default
	// <data>/keys/mosip-partner.pem, created on first start together with
	// a self-signed certificate <data>/keys/mosip-partner.crt to give MOSIP.
	PartnerKeyFile  string `json:"partnerKeyFile,omitempty"`
	PartnerCertFile string `json:"partnerCertFile,omitempty"`

	// IDA demographic authentication (optional, all or none).
	IDACertFile string `json:"idaCertFile,omitempty"`
	MispLK      string `json:"mispLicenseKey,omitempty"`
	PartnerID   string `json:"partnerId,omitempty"`
	APIKey      string `json:"apiKey,omitempty"`
	DomainURI   string `json:"domainUri,omitempty"`

	// TimeoutSeconds per MOSIP call; default 15.
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`
}

// decodeSettings reads a mosip block strictly (an unknown key is an error).
func decodeSettings(raw json.RawMessage) (*Settings, error) {
	var s Settings
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("mosip: %w", err)
	}
	return &s, nil
}

// open is the registered factory: it builds the adapter from its block.
func open(raw json.RawMessage, d adapters.Deps) (adapters.NationalID, error) {
	s, err := decodeSettings(raw)
	if err != nil {
		return nil, err
	}
	keyFile, certFile := s.PartnerKeyFile, s.PartnerCertFile
	if keyFile == "" {
		keyFile = filepath.Join(d.DataDir, filepath.FromSlash(DefaultPartnerKeyFile))
	}
	if certFile == "" {
		certFile = filepath.Join(d.DataDir, filepath.FromSlash(DefaultPartnerCertFile))
	}
	key, cert, err := PartnerKey(keyFile, certFile)
	if err != nil {
		return nil, err
	}
	url := func(set, path string) string {
		if set != "" || s.BaseURL == "" {
			return set
		}
		return strings.TrimRight(s.BaseURL, "/") + path
	}
	cfg := Config{
		AuthURL:          url(s.AuthURL, "/v1/authmanager/authenticate/clientidsecretkey"),
		CreatePacketURL:  url(s.CreatePacketURL, "/commons/v1/packetmanager/createPacket"),
		ProcessPacketURL: url(s.ProcessPacketURL, "/registrationprocessor/v1/workflowmanager/workflowinstance"),
		WebSubHubURL:     url(s.WebSubHubURL, "/websub/hub"),
		CallbackURL:      s.CallbackURL,
		Topic:            s.Topic, LeaseSeconds: s.LeaseSeconds, CenterID: s.CenterID, MachineID: s.MachineID,
		Language: s.Language, CredentialAllowList: s.CredentialAllowList, DecryptKey: key,
		SchemaJSON: defaultSchema, Log: d.Log, HTTPClient: d.HTTPClient,
	}
	if cfg.CallbackURL == "" {
		if d.PublicURL == "" {
			return nil, errors.New("mosip: callbackUrl is not set and the hub's public URL is unknown")
		}
		cfg.CallbackURL = strings.TrimRight(d.PublicURL, "/") + CallbackPath
	}
	if s.SchemaJSONFile != "" {
		b, err := os.ReadFile(s.SchemaJSONFile)
		if err != nil {
			return nil, fmt.Errorf("mosip: schemaJsonFile: %w", err)
		}
		cfg.SchemaJSON = string(b)
	}
	if s.TimeoutSeconds > 0 {
		cfg.Timeout = time.Duration(s.TimeoutSeconds) * time.Second
	}
	if cfg.PacketClient.Secret, err = secret("packetClientSecret", s.PacketClientSecret); err != nil {
		return nil, err
	}
	cfg.PacketClient.ID, cfg.PacketClient.AppID = s.PacketClientID, s.AppID
	cfg.WebSubClient = cfg.PacketClient
	if s.WebSubClientID != "" {
		cfg.WebSubClient.ID = s.WebSubClientID
		if cfg.WebSubClient.Secret, err = secret("websubClientSecret", s.WebSubClientSecret); err != nil {
			return nil, err
		}
	}
	if cfg.WebSubSecret, err = secret("websubSecret", s.WebSubSecret); err != nil {
		return nil, err
	}
	if s.IDACertFile != "" || s.IDAAuthURL != "" {
		cfg.IDAAuthURL = url(s.IDAAuthURL, "/idauthentication/v1/auth")
		if cfg.APIKey, err = secret("apiKey", s.APIKey); err != nil {
			return nil, err
		}
		cfg.PartnerID, cfg.DomainURI = s.PartnerID, s.DomainURI
		if cfg.MispLK, err = secret("mispLicenseKey", s.MispLK); err != nil {
			return nil, err
		}
		if s.IDACertFile != "" {
			if cfg.IDACert, err = keyfile.ReadCertificate(s.IDACertFile); err != nil {
				return nil, fmt.Errorf("mosip: idaCertFile: %w", err)
			}
		}
		cfg.SignKey, cfg.SignCert = key, cert
	}
	return New(cfg, d.Correlations, d.Resolver)
}

// Routes are the WebSub callback endpoints the hub serves for MOSIP.
func (a *Adapter) Routes() []adapters.Route {
	h := a.CallbackHandler()
	return []adapters.Route{
		{Method: http.MethodGet, Path: CallbackPath, Summary: "MOSIP WebSub intent verification (hub.challenge)", Handler: h},
		{Method: http.MethodPost, Path: CallbackPath, Summary: "MOSIP WebSub CREDENTIAL_ISSUED delivery (VER_R2-encrypted credential with a PS256 proof)", Handler: h,
			MaxBody: MaxDelivery},
	}
}

var (
	_ adapters.Router  = (*Adapter)(nil)
	_ adapters.Starter = (*Adapter)(nil)
)

// secret resolves "env:NAME" references.
func secret(field, v string) (string, error) {
	name, ok := strings.CutPrefix(v, "env:")
	if !ok {
		return v, nil
	}
	s := os.Getenv(name)
	if s == "" {
		return "", fmt.Errorf("mosip: %s: environment variable %s is empty or not set", field, name)
	}
	return s, nil
}

// PartnerKey loads or creates the hub's partner key and its self-signed
// certificate (the certificate MOSIP encrypts credentials to).
func PartnerKey(keyFile, certFile string) (*rsa.PrivateKey, *x509.Certificate, error) {
	key, err := keyfile.LoadOrCreateRSAKey(keyFile, partnerKeyBits)
	if err != nil {
		return nil, nil, fmt.Errorf("partner key: %w", err)
	}
	if cert, err := keyfile.ReadCertificate(certFile); err == nil {
		if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
			return nil, nil, fmt.Errorf("partner certificate %s does not belong to the key %s", certFile, keyFile)
		}
		return key, cert, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("partner %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "crvshub partner", Organization: []string{"crvshub"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("partner certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(certFile, keyfile.EncodeCertificate(cert), 0o644); err != nil {
		return nil, nil, fmt.Errorf("partner certificate: %w", err)
	}
	return key, cert, nil
}
