package app

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/crvshub/crvshub/adapters/keyfile"
	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/hub/auth"
)

// PartnersConfig is a deployment's National ID partner settings
// (`crvshub serve --partners FILE`, YAML or JSON). A partner that is not
// configured here is not called, and routes to it are skipped.
type PartnersConfig struct {
	MOSIP *MOSIPSettings `json:"mosip,omitempty"`
	// Delivery tunes retries, breakers and concurrency for every partner.
	Delivery *DeliverySettings `json:"delivery,omitempty"`
}

// DeliverySettings tune how messages reach partners; zero values keep the
// defaults (MessagingOptions).
type DeliverySettings struct {
	MaxRetries         int           `json:"maxRetries,omitempty"`         // retries after the first attempt (default 3)
	InitialInterval    core.Duration `json:"initialInterval,omitempty"`    // first backoff (default 500ms)
	MaxInterval        core.Duration `json:"maxInterval,omitempty"`        // backoff cap (default 5s)
	Jitter             float64       `json:"jitter,omitempty"`             // 0..1, spread of each backoff (default 0.5)
	BreakerFailures    uint32        `json:"breakerFailures,omitempty"`    // consecutive failures that open a breaker (default 5)
	BreakerOpenTimeout core.Duration `json:"breakerOpenTimeout,omitempty"` // open -> half-open (default 30s)
	Concurrency        int           `json:"concurrency,omitempty"`        // messages handled at once per partner (default 32)
	AttemptTimeout     core.Duration `json:"attemptTimeout,omitempty"`     // one attempt (default 60s)
	RedeliveryDelay    core.Duration `json:"redeliveryDelay,omitempty"`    // while a breaker is open (default 1s)
}

// apply overrides m with the settings that are set.
func (d *DeliverySettings) apply(m MessagingOptions) (MessagingOptions, error) {
	if d == nil {
		return m, nil
	}
	if d.Jitter < 0 || d.Jitter > 1 {
		return m, fmt.Errorf("partners: delivery.jitter must be from 0 to 1")
	}
	if d.MaxRetries < 0 || d.Concurrency < 0 {
		return m, fmt.Errorf("partners: delivery.maxRetries and concurrency may not be negative")
	}
	m = m.withDefaults()
	set := func(dst *time.Duration, v core.Duration) {
		if v > 0 {
			*dst = time.Duration(v)
		}
	}
	if d.MaxRetries > 0 {
		m.Retry.MaxRetries = d.MaxRetries
	}
	set(&m.Retry.InitialInterval, d.InitialInterval)
	set(&m.Retry.MaxInterval, d.MaxInterval)
	if d.Jitter > 0 {
		m.Retry.RandomizationFactor = d.Jitter
	}
	if d.BreakerFailures > 0 {
		m.Breaker.FailureThreshold = d.BreakerFailures
	}
	set(&m.Breaker.OpenTimeout, d.BreakerOpenTimeout)
	if d.Concurrency > 0 {
		m.Concurrency = d.Concurrency
	}
	set(&m.HandlerTimeout, d.AttemptTimeout)
	set(&m.NakDelay, d.RedeliveryDelay)
	return m, nil
}

// MOSIPSettings configure the MOSIP adapter. Secrets may be written as
// "env:NAME" to read them from the environment instead of the file.
type MOSIPSettings struct {
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

// LoadPartners reads a partners file strictly (an unknown key is an error
// naming the file).
func LoadPartners(path string) (*PartnersConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("partners file: %w", err)
	}
	js := b
	if ext := filepath.Ext(path); ext != ".json" {
		var doc any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if js, err = json.Marshal(doc); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	var pc PartnersConfig
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &pc, nil
}

// secret resolves "env:NAME" references.
func secret(field, v string) (string, error) {
	name, ok := strings.CutPrefix(v, "env:")
	if !ok {
		return v, nil
	}
	s := os.Getenv(name)
	if s == "" {
		return "", fmt.Errorf("%s: environment variable %s is empty or not set", field, name)
	}
	return s, nil
}

// PartnerKey loads or creates the hub's partner key and its self-signed
// certificate (the certificate MOSIP encrypts credentials to).
func PartnerKey(keyFile, certFile string) (*rsa.PrivateKey, *x509.Certificate, error) {
	key, err := keyfile.LoadOrCreateRSAKey(keyFile, auth.KeyBits)
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
