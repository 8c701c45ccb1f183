package mosip

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/crvshub/crvshub/adapters"
)

// Client is a MOSIP authmanager clientidsecretkey credential.
type Client struct {
	ID, Secret string
	AppID      string // default "admin"
}

// Config configures the adapter. New fills the defaults and names every
// missing required field.
type Config struct {
	// AuthURL is authmanager's …/v1/authmanager/authenticate/clientidsecretkey.
	AuthURL string
	// CreatePacketURL is …/commons/v1/packetmanager/createPacket.
	CreatePacketURL string
	// ProcessPacketURL is …/registrationprocessor/v1/workflowmanager/workflowinstance.
	ProcessPacketURL string
	// WebSubHubURL is the hub's subscribe endpoint (…/websub/hub).
	WebSubHubURL string
	// IDAAuthURL is the IDA base, e.g. http://host/idauthentication/v1/auth;
	// requests go to {IDAAuthURL}/{MispLK}/{PartnerID}/{APIKey}. Optional:
	// without it (and the other IDA fields) Verify answers an error.
	IDAAuthURL string

	PacketClient, WebSubClient Client

	CallbackURL  string // the hub's public callback URL (…/api/mosip/websub/callback)
	Topic        string // default "CREDENTIAL_ISSUED"
	WebSubSecret string // hub.secret; deliveries with a bad X-Hub-Signature are refused
	LeaseSeconds int    // default 86400; re-subscribed at 80% of the lease

	CenterID, MachineID string // default "10001", "10004" (5 digits each)
	SchemaVersion       string // default "0.100"
	SchemaJSON          string // the ID schema sent as schemaJson (required)
	Language            string // default "eng"

	// CredentialAllowList: verificationMethod URLs whose key (fetched as
	// {publicKeyPem}, cached) may sign credentials.
	CredentialAllowList []string
	// DecryptKey is the hub's partner key; credentials are encrypted to it.
	DecryptKey *rsa.PrivateKey

	// IDA demographic authentication (all or none).
	MispLK, PartnerID, APIKey, DomainURI string
	IDACert                              *x509.Certificate
	SignKey                              *rsa.PrivateKey
	SignCert                             *x509.Certificate

	NIDField string // declaration field that receives the VID of a birth; default "child.nid"

	HTTPClient *http.Client
	Timeout    time.Duration // per MOSIP call; default 15 s
	Log        *slog.Logger
	Now        func() time.Time
}

var fiveDigits = regexp.MustCompile(`^[0-9]{5}$`)

// withDefaults returns cfg with the defaults filled in.
func (cfg Config) withDefaults() Config {
	if cfg.PacketClient.AppID == "" {
		cfg.PacketClient.AppID = "admin"
	}
	if cfg.WebSubClient.AppID == "" {
		cfg.WebSubClient.AppID = "admin"
	}
	if cfg.Topic == "" {
		cfg.Topic = "CREDENTIAL_ISSUED"
	}
	if cfg.LeaseSeconds == 0 {
		cfg.LeaseSeconds = 86400
	}
	if cfg.CenterID == "" {
		cfg.CenterID = "10001"
	}
	if cfg.MachineID == "" {
		cfg.MachineID = "10004"
	}
	if cfg.SchemaVersion == "" {
		cfg.SchemaVersion = "0.100"
	}
	if cfg.Language == "" {
		cfg.Language = "eng"
	}
	if cfg.NIDField == "" {
		cfg.NIDField = "child.nid"
	}
	if cfg.HTTPClient == nil {
		// keep connections to MOSIP open for the concurrent handlers (the
		// default transport keeps 2 idle connections per host)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		cfg.HTTPClient = &http.Client{Transport: tr}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// idaConfigured reports whether any IDA field is set.
func (cfg Config) idaConfigured() bool {
	return cfg.IDAAuthURL != "" || cfg.MispLK != "" || cfg.PartnerID != "" || cfg.APIKey != "" ||
		cfg.DomainURI != "" || cfg.IDACert != nil || cfg.SignKey != nil || cfg.SignCert != nil
}

// validate names every missing or malformed field.
func (cfg Config) validate() error {
	var missing, bad []string
	need := func(name, v string) {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, name)
		}
	}
	needURL := func(name, v string) {
		need(name, v)
		if v == "" {
			return
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad = append(bad, name+" (not an absolute http(s) URL)")
		}
	}
	needURL("AuthURL", cfg.AuthURL)
	needURL("CreatePacketURL", cfg.CreatePacketURL)
	needURL("ProcessPacketURL", cfg.ProcessPacketURL)
	needURL("WebSubHubURL", cfg.WebSubHubURL)
	needURL("CallbackURL", cfg.CallbackURL)
	need("PacketClient.ID", cfg.PacketClient.ID)
	need("PacketClient.Secret", cfg.PacketClient.Secret)
	need("WebSubClient.ID", cfg.WebSubClient.ID)
	need("WebSubClient.Secret", cfg.WebSubClient.Secret)
	need("SchemaJSON", cfg.SchemaJSON)
	if cfg.DecryptKey == nil {
		missing = append(missing, "DecryptKey")
	}
	if len(cfg.CredentialAllowList) == 0 {
		missing = append(missing, "CredentialAllowList")
	}
	for _, u := range cfg.CredentialAllowList {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			bad = append(bad, "CredentialAllowList entry "+u+" (not an absolute http(s) URL)")
		}
	}
	if cfg.idaConfigured() {
		needURL("IDAAuthURL", cfg.IDAAuthURL)
		need("MispLK", cfg.MispLK)
		need("PartnerID", cfg.PartnerID)
		need("APIKey", cfg.APIKey)
		need("DomainURI", cfg.DomainURI)
		if cfg.IDACert == nil {
			missing = append(missing, "IDACert")
		} else if _, ok := cfg.IDACert.PublicKey.(*rsa.PublicKey); !ok {
			bad = append(bad, "IDACert (not an RSA certificate)")
		}
		if cfg.SignKey == nil {
			missing = append(missing, "SignKey")
		}
		if cfg.SignCert == nil {
			missing = append(missing, "SignCert")
		}
	}
	if !fiveDigits.MatchString(cfg.CenterID) {
		bad = append(bad, "CenterID (must be 5 digits)")
	}
	if !fiveDigits.MatchString(cfg.MachineID) {
		bad = append(bad, "MachineID (must be 5 digits)")
	}
	if cfg.LeaseSeconds < 0 {
		bad = append(bad, "LeaseSeconds (negative)")
	}
	if cfg.Timeout < 0 {
		bad = append(bad, "Timeout (negative)")
	}
	var errs []error
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("missing %s", strings.Join(missing, ", ")))
	}
	if len(bad) > 0 {
		errs = append(errs, fmt.Errorf("invalid %s", strings.Join(bad, ", ")))
	}
	if len(errs) > 0 {
		return fmt.Errorf("mosip: config: %w", errors.Join(errs...))
	}
	return nil
}

// Adapter is the MOSIP National ID adapter (adapters.NationalID).
type Adapter struct {
	cfg          Config
	corr         adapters.Correlations
	res          adapters.Resolver
	packetTokens *tokenSource
	websubTokens *tokenSource
	keys         *keyCache
	host         hostInfo

	// retry pacing of the WebSub subscription (tests shorten it)
	backoffMin, backoffMax time.Duration
	// intentWait: how long Start waits for the hub's intent verification.
	intentWait     time.Duration
	intentVerified chan struct{}
	// intents are the (mode, topic) requests sent to the hub, each until
	// its verification is no longer expected (expectIntent).
	intentMu sync.Mutex
	intents  map[string]time.Time
	now      func() time.Time
}

var _ adapters.NationalID = (*Adapter)(nil)

// New validates cfg (naming missing fields) and returns the adapter.
func New(cfg Config, corr adapters.Correlations, res adapters.Resolver) (*Adapter, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if corr == nil || res == nil {
		return nil, errors.New("mosip: New needs Correlations and a Resolver")
	}
	a := &Adapter{cfg: cfg, corr: corr, res: res, host: localHost(), backoffMin: time.Second, backoffMax: 5 * time.Minute,
		intentWait: 2 * time.Minute, intentVerified: make(chan struct{}, 1), intents: map[string]time.Time{}, now: time.Now}
	a.packetTokens = &tokenSource{a: a, client: cfg.PacketClient}
	a.websubTokens = &tokenSource{a: a, client: cfg.WebSubClient}
	a.keys = &keyCache{a: a, allowed: map[string]bool{}, keys: map[string]*rsa.PublicKey{}, fetched: map[string]time.Time{}}
	for _, u := range cfg.CredentialAllowList {
		a.keys.allowed[u] = true
	}
	return a, nil
}

// Name is the partner name used in correlations and routing ("mosip").
func (a *Adapter) Name() string { return partnerName }

const partnerName = "mosip"
