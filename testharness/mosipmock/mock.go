package mosipmock

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/crvshub/crvshub/adapters/mosip/mosipcrypto"
)

// Profile is a fault profile; the zero value is a healthy MOSIP.
type Profile struct {
	Latency       time.Duration // added to every partner call (auth, createPacket, workflow, IDA)
	ErrorRate     float64       // share of createPacket/workflow calls answered 500 (deterministic seeded RNG)
	Down          bool          // every endpoint answers 503 (connection still accepted)
	Flapping      time.Duration // alternate down/up every Flapping, starting down when set (0 = off)
	NeverCallBack bool          // take packets, never deliver CREDENTIAL_ISSUED
	CallBackTwice bool          // deliver every credential twice
	BadSignature  bool          // deliver credentials whose PS256 proof does not verify
	UnknownPacket bool          // deliver the credential for a packet id nobody sent (instead of the real one)
	CallbackDelay time.Duration // wait before delivering after a workflow call
}

// Config configures a Mock. Only PartnerCert is required.
type Config struct {
	Topic       string            // default "CREDENTIAL_ISSUED"
	Clients     map[string]string // authmanager clientId -> secretKey; empty = accept any
	PartnerCert *x509.Certificate // the hub's certificate: credentials are encrypted to it, IDA requests must be signed by it
	Identities  []Identity        // default: DefaultIdentities()
	Profile     Profile
	Log         *slog.Logger
	TokenTTL    time.Duration // authmanager token lifetime, default 1 h
	Seed        uint64        // seed of the ErrorRate RNG, default 1
	// Key and Cert, when both set, are used instead of a freshly generated
	// key pair (saves the key generation in tests).
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
}

// Stats are the mock's counters (copies; safe to keep).
type Stats struct {
	// Requests counts every HTTP request, 503s of Down/Flapping included;
	// the per-endpoint counters count requests that reached the endpoint.
	Requests int

	AuthCalls, CreatePacketCalls, WorkflowCalls, IDACalls, CallbacksSent, CallbacksAcked int

	PacketsByRegistrationID map[string]int    // successful createPacket calls per packet id (AID)
	CorrelationIDs          map[string]string // packet id -> X-Correlation-ID of its last createPacket
	PacketsByCertificate    map[string]int    // distinct packet ids per birth/death certificate number
	VIDs                    map[string]string // packet id -> VID issued (births)
	Subscriptions           []string          // callback URLs currently subscribed
	Pending                 int               // events kept because nobody was subscribed
}

// packet is what createPacket stored.
type packet struct {
	process string
	fields  map[string]string
	certKey string
}

// subscription is one WebSub subscriber.
type subscription struct {
	topic, callback, secret string
	expires                 time.Time
}

// Mock is a running (or runnable) MOSIP mock.
type Mock struct {
	cfg    Config
	log    *slog.Logger
	key    *rsa.PrivateKey
	cert   *x509.Certificate
	ids    map[string]Identity
	client *http.Client

	ctx    context.Context // ends at Close: stops pending deliveries
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	profile     Profile
	profileSet  time.Time
	rng         *rand.Rand
	url         string
	closed      bool
	srv         *http.Server
	tokens      map[string]time.Time
	packets     map[string]*packet
	certPackets map[string]map[string]bool
	vids        map[string]string
	subs        map[string]*subscription
	pending     [][]byte // events published while nobody was subscribed
	stats       Stats
}

// New creates a mock with its own RSA key and self-signed certificate (the
// key plays every MOSIP role: IDA partner, credential issuer).
func New(cfg Config) (*Mock, error) {
	if cfg.PartnerCert == nil {
		return nil, errors.New("mosipmock: Config.PartnerCert is required")
	}
	if _, ok := cfg.PartnerCert.PublicKey.(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("mosipmock: partner certificate key is %T, not RSA", cfg.PartnerCert.PublicKey)
	}
	if cfg.Topic == "" {
		cfg.Topic = "CREDENTIAL_ISSUED"
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if len(cfg.Identities) == 0 {
		ids, err := DefaultIdentities()
		if err != nil {
			return nil, err
		}
		cfg.Identities = ids
	}
	key, cert := cfg.Key, cfg.Cert
	if key == nil || cert == nil {
		var err error
		if key, cert, err = mosipcrypto.NewSelfSigned("mosip-mock", 2048); err != nil {
			return nil, fmt.Errorf("mosipmock: key: %w", err)
		}
	} else if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("mosipmock: Config.Key does not match Config.Cert")
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Mock{
		cfg: cfg, log: cfg.Log, key: key, cert: cert, ids: map[string]Identity{},
		client: &http.Client{Timeout: 10 * time.Second, Transport: deliveryTransport()},
		ctx:    ctx, cancel: cancel,
		profile: cfg.Profile, profileSet: time.Now(), rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		tokens: map[string]time.Time{}, packets: map[string]*packet{}, certPackets: map[string]map[string]bool{},
		vids: map[string]string{}, subs: map[string]*subscription{},
	}
	for _, id := range cfg.Identities {
		m.ids[id.NID] = id
	}
	return m, nil
}

// Handler serves every MOSIP endpoint of the mock.
func (m *Mock) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/authmanager/authenticate/clientidsecretkey", m.authenticate)
	mux.HandleFunc("PUT /commons/v1/packetmanager/createPacket", m.requireToken(m.createPacket))
	mux.HandleFunc("POST /registrationprocessor/v1/workflowmanager/workflowinstance", m.requireToken(m.workflow))
	mux.HandleFunc("POST /websub/hub", m.requireToken(m.hub))
	mux.HandleFunc("POST /idauthentication/v1/auth/{mispLk}/{partnerId}/{apiKey}", m.ida)
	mux.HandleFunc("GET /.well-known/public-key.json", m.publicKey)
	mux.HandleFunc("GET /.well-known/controller.json", m.controller)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.stats.Requests++
		down := m.isDown()
		if m.url == "" && r.Host != "" { // served through Handler without Start
			m.url = "http://" + r.Host
		}
		m.mu.Unlock()
		if down {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "503 Service Temporarily Unavailable\n")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// isDown reports the Down/Flapping state; m.mu must be held.
func (m *Mock) isDown() bool {
	p := m.profile
	if p.Down {
		return true
	}
	if p.Flapping > 0 {
		return (time.Since(m.profileSet)/p.Flapping)%2 == 0
	}
	return false
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves until Close.
func (m *Mock) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("mosipmock: listen: %w", err)
	}
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second}
	m.mu.Lock()
	if m.srv != nil {
		m.mu.Unlock()
		_ = ln.Close()
		return "", errors.New("mosipmock: already started")
	}
	m.srv = srv
	m.url = "http://" + ln.Addr().String()
	url := m.url
	m.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("mosip mock server stopped", "error", err)
		}
	}()
	m.log.Info("mosip mock listening", "url", url)
	return url, nil
}

// Close stops the server and pending deliveries.
func (m *Mock) Close() error {
	m.cancel()
	m.mu.Lock()
	m.closed = true
	srv := m.srv
	m.mu.Unlock()
	var err error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = srv.Shutdown(ctx)
	}
	m.wg.Wait()
	m.client.CloseIdleConnections()
	return err
}

// URL is the base URL ("" before Start or the first request via Handler).
func (m *Mock) URL() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.url
}

// Cert is the IDA partner certificate (the hub encrypts IDA requests to it);
// its key also signs the credentials.
func (m *Mock) Cert() *x509.Certificate { return m.cert }

// PublicKeyURL is the credentials' verificationMethod, for the hub's allow-list.
func (m *Mock) PublicKeyURL() string { return m.URL() + "/.well-known/public-key.json" }

// SetProfile replaces the fault profile (safe while running); Flapping
// restarts from a down phase.
func (m *Mock) SetProfile(p Profile) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.profile, m.profileSet = p, time.Now()
}

func (m *Mock) currentProfile() Profile {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.profile
}

// Stats returns a copy of the counters.
func (m *Mock) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats
	s.PacketsByRegistrationID = maps.Clone(m.stats.PacketsByRegistrationID)
	if s.PacketsByRegistrationID == nil {
		s.PacketsByRegistrationID = map[string]int{}
	}
	s.PacketsByCertificate = make(map[string]int, len(m.certPackets))
	for c, ids := range m.certPackets {
		s.PacketsByCertificate[c] = len(ids)
	}
	s.VIDs = maps.Clone(m.vids)
	s.CorrelationIDs = maps.Clone(m.stats.CorrelationIDs)
	now := time.Now()
	s.Subscriptions = nil
	for _, sub := range m.subs {
		if now.Before(sub.expires) {
			s.Subscriptions = append(s.Subscriptions, sub.callback)
		}
	}
	slices.Sort(s.Subscriptions)
	s.Pending = len(m.pending)
	return s
}

// latency sleeps the profile's Latency (or until the request ends).
func (m *Mock) latency(r *http.Request) {
	d := m.currentProfile().Latency
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// failRoll reports whether this call is answered 500 under ErrorRate.
func (m *Mock) failRoll() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	rate := m.profile.ErrorRate
	if rate <= 0 {
		return false
	}
	return m.rng.Float64() < rate
}

// deliveryTransport keeps connections to subscribers open across
// concurrent deliveries (the default keeps 2 idle connections per host).
func deliveryTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return tr
}
