package app

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/adapters/keyfile"
	"github.com/crvshub/crvshub/adapters/mosip"
	"github.com/crvshub/crvshub/core/routing"
	"github.com/crvshub/crvshub/hub/bus"
	"github.com/crvshub/crvshub/hub/httpapi"
	"github.com/crvshub/crvshub/hub/nationalid"
)

//go:embed mosip-idschema.json
var defaultMOSIPSchema string

// MOSIPCallbackPath is where the hub receives MOSIP's WebSub deliveries.
const MOSIPCallbackPath = "/api/mosip/websub/callback"

// Default partner key files inside the data folder.
const (
	DefaultPartnerKeyFile  = "keys/mosip-partner.pem"
	DefaultPartnerCertFile = "keys/mosip-partner.crt"
)

// MessagingOptions tune the bus and the partner pipeline; zero values take
// the defaults.
type MessagingOptions struct {
	NATSURL string // external NATS JetStream; "" = embedded server in <data>/nats
	// AckWait is how long JetStream waits for a handled message's ack
	// before handing it to another handler (after a crash, say). It must
	// be longer than the message's whole retry budget (RetryBudget), or a
	// message still being retried is handled twice and the partner called
	// twice: 0 derives it from the budget, a shorter value is refused.
	AckWait  time.Duration
	NakDelay time.Duration // redelivery delay after a nack, e.g. while a breaker is open (default 1 s)
	Retry    bus.RetryPolicy
	Breaker  bus.BreakerSettings
	// HandlerTimeout bounds one partner attempt (default 60 s).
	HandlerTimeout time.Duration
	// Concurrency is how many messages of one partner are handled at once
	// (default 32).
	Concurrency int
}

func (m MessagingOptions) withDefaults() MessagingOptions {
	if m.Retry.MaxRetries == 0 {
		m.Retry = bus.RetryPolicy{MaxRetries: 3, InitialInterval: 500 * time.Millisecond, MaxInterval: 5 * time.Second,
			Multiplier: 2, RandomizationFactor: 0.5}
	}
	if m.HandlerTimeout == 0 {
		m.HandlerTimeout = 60 * time.Second // a MOSIP registration is up to three calls of 15 s
	}
	if m.Concurrency == 0 {
		m.Concurrency = 32
	}
	return m
}

// RetryBudget is the longest one delivery of a message may be handled:
// every attempt (the first and MaxRetries retries) running to
// HandlerTimeout, plus the longest back-off before each retry. m has its
// defaults.
func (m MessagingOptions) RetryBudget() time.Duration {
	return time.Duration(m.Retry.MaxRetries+1)*m.HandlerTimeout + m.Retry.MaxWaits()
}

// withAckWait sets AckWait, when not set, to the retry budget plus a
// margin (a tenth, at least a second: the handler's store reads, the
// ack's round trip), and refuses an AckWait that is not longer than the
// budget: JetStream would redeliver a message its first handler is still
// retrying, and the partner would get the registration twice. m has its
// defaults (partner delivery settings applied).
func (m MessagingOptions) withAckWait() (MessagingOptions, error) {
	budget := m.RetryBudget()
	if m.AckWait == 0 {
		m.AckWait = budget + max(budget/10, time.Second)
		return m, nil
	}
	if m.AckWait <= budget {
		return m, fmt.Errorf("messaging: ack wait %v is not longer than one message's retry budget %v (%d attempts of up to %v plus back-offs): "+
			"JetStream would hand a message still being retried to a second handler and the partner would be called twice; "+
			"leave the ack wait unset to derive it, raise it, or lower delivery.maxRetries / attemptTimeout", m.AckWait, budget,
			m.Retry.MaxRetries+1, m.HandlerTimeout)
	}
	return m, nil
}

// openPartners builds the configured National ID adapters and, when there
// is at least one, the bus, relay, router, dispatcher and ops. With no
// partner configured routing is off: routes are skipped and logged.
func (a *App) openPartners(ctx context.Context) error {
	o := a.Opts
	a.Dispatcher = &nationalid.Dispatcher{Service: a.Service, Routing: a.Routing, Partners: map[string]adapters.NationalID{}, DeadLetters: a.Store, Log: a.Log}
	a.Ops = &nationalid.Ops{Service: a.Service, Routing: a.Routing, Queues: a.Store}
	if o.Partners != nil && o.Partners.MOSIP != nil {
		ad, err := a.openMOSIP(o.Partners.MOSIP)
		if err != nil {
			return err
		}
		a.MOSIP = ad
		a.Dispatcher.Partners[ad.Name()] = ad
	}
	partners := map[string]bool{}
	for name := range a.Dispatcher.Partners {
		partners[name] = true
	}
	for _, r := range a.Routing.Routes {
		if !partners[r.Partner] {
			a.Log.Warn("route skipped: its partner is not configured on this hub", "route", r.Name, "partner", r.Partner)
		}
	}
	a.Service.Confirmer = &routing.Confirmer{Routing: a.Routing, Country: a.Config, Partners: partners, Next: a.Service.Confirmer, Now: a.Service.Now}
	if len(partners) == 0 {
		return nil
	}
	m, err := o.Partners.Delivery.apply(o.Messaging) // a partner is configured, so Partners is set
	if err != nil {
		return err
	}
	if m, err = m.withDefaults().withAckWait(); err != nil {
		return err
	}
	b, err := bus.Open(ctx, bus.Options{DataDir: o.DataDir, URL: m.NATSURL, Log: a.Log, AckWait: m.AckWait, NakDelay: m.NakDelay,
		SubscribersCount: m.Concurrency})
	if err != nil {
		return fmt.Errorf("message bus: %w", err)
	}
	a.Bus = b
	metrics := bus.NewMetrics(a.Metrics)
	a.gauge("crvshub_outbox_pending", "Outbox messages committed but not yet on the bus", func(ctx context.Context) (float64, error) {
		n, err := a.Store.OutboxLen(ctx)
		return float64(n), err
	})
	for name := range a.Dispatcher.Partners {
		topic := routing.Topic(name)
		a.Metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "crvshub_queue_depth",
			Help: "Messages on the bus waiting for (or being handled by) a partner's consumer", ConstLabels: prometheus.Labels{"partner": name}},
			func() float64 {
				n, err := b.Depth(topic)
				if err != nil {
					return -1
				}
				return float64(n)
			}))
	}
	a.Relay = &bus.Relay{Outbox: a.Store, Publisher: b.Publisher(), Log: a.Log, Metrics: metrics}
	b.OnRecovered(a.Relay.Resume) // no waiting out the relay's back-off once the bus works again
	a.gauge("crvshub_outbox_lag_seconds", "Age of the oldest outbox message not yet on the bus (0: none waiting)", func(ctx context.Context) (float64, error) {
		lag, err := a.Relay.Lag(ctx)
		return lag.Seconds(), err
	})
	a.Service.Enqueued = a.Relay.Poke
	a.Ops.Enqueued = a.Relay.Poke
	a.Breakers = bus.NewBreakers(m.Breaker, a.Log, a.Metrics)
	a.Dispatcher.Breakers = a.Breakers
	var hs []bus.Handler
	for name := range a.Dispatcher.Partners {
		hs = append(hs, bus.Handler{Name: "nationalid-" + name, Topic: routing.Topic(name), Timeout: m.HandlerTimeout,
			Func: func(msg *message.Message) error { return a.Dispatcher.Handle(msg.Context(), msg.Payload) }})
	}
	// the dispatcher calls partners through the breakers itself (Execute),
	// so that store reads do not count as partner failures
	r, err := bus.NewRouter(b.Subscriber(), bus.RouterOptions{Retry: m.Retry, Sink: a.Store, Log: a.Log, Metrics: metrics}, hs...)
	if err != nil {
		return fmt.Errorf("message router: %w", err)
	}
	a.Router = r
	return nil
}

// gauge registers a gauge read from the store (within 2 s; -1 when the
// read fails).
func (a *App) gauge(name, help string, read func(ctx context.Context) (float64, error)) {
	a.Metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		v, err := read(ctx)
		if err != nil {
			return -1
		}
		return v
	}))
}

func (a *App) openMOSIP(s *MOSIPSettings) (*mosip.Adapter, error) {
	o := a.Opts
	keyFile, certFile := s.PartnerKeyFile, s.PartnerCertFile
	if keyFile == "" {
		keyFile = filepath.Join(o.DataDir, filepath.FromSlash(DefaultPartnerKeyFile))
	}
	if certFile == "" {
		certFile = filepath.Join(o.DataDir, filepath.FromSlash(DefaultPartnerCertFile))
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
	cfg := mosip.Config{
		AuthURL:          url(s.AuthURL, "/v1/authmanager/authenticate/clientidsecretkey"),
		CreatePacketURL:  url(s.CreatePacketURL, "/commons/v1/packetmanager/createPacket"),
		ProcessPacketURL: url(s.ProcessPacketURL, "/registrationprocessor/v1/workflowmanager/workflowinstance"),
		WebSubHubURL:     url(s.WebSubHubURL, "/websub/hub"),
		CallbackURL:      s.CallbackURL,
		Topic:            s.Topic, LeaseSeconds: s.LeaseSeconds, CenterID: s.CenterID, MachineID: s.MachineID,
		Language: s.Language, CredentialAllowList: s.CredentialAllowList, DecryptKey: key,
		SchemaJSON: defaultMOSIPSchema, Log: a.Log,
	}
	if cfg.CallbackURL == "" {
		if o.PublicURL == "" {
			return nil, errors.New("mosip: callbackUrl is not set and the hub's public URL is unknown")
		}
		cfg.CallbackURL = strings.TrimRight(o.PublicURL, "/") + MOSIPCallbackPath
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
		cfg.MispLK, cfg.PartnerID, cfg.DomainURI = s.MispLK, s.PartnerID, s.DomainURI
		if cfg.MispLK, err = secret("mispLicenseKey", cfg.MispLK); err != nil {
			return nil, err
		}
		if s.IDACertFile != "" {
			if cfg.IDACert, err = keyfile.ReadCertificate(s.IDACertFile); err != nil {
				return nil, fmt.Errorf("mosip: idaCertFile: %w", err)
			}
		}
		cfg.SignKey, cfg.SignCert = key, cert
	}
	ad, err := mosip.New(cfg, a.Store, a.Dispatcher.Resolver("mosip"))
	if err != nil {
		return nil, err
	}
	return ad, nil
}

// partnerRoutes are the HTTP endpoints the adapters serve.
func (a *App) partnerRoutes() []httpapi.PartnerRoute {
	if a.MOSIP == nil {
		return nil
	}
	h := a.MOSIP.CallbackHandler()
	return []httpapi.PartnerRoute{
		{Method: http.MethodGet, Path: MOSIPCallbackPath, Summary: "MOSIP WebSub intent verification (hub.challenge)", Handler: h},
		{Method: http.MethodPost, Path: MOSIPCallbackPath, Summary: "MOSIP WebSub CREDENTIAL_ISSUED delivery (VER_R2-encrypted credential with a PS256 proof)", Handler: h,
			MaxBody: mosip.MaxDelivery},
	}
}

// startPartners runs the relay, the router and the adapters' background
// work (WebSub subscription) until ctx ends; the HTTP server must be up,
// since subscribing makes MOSIP call back.
func (a *App) startPartners(ctx context.Context) (wait func()) {
	if a.Router == nil {
		return func() {}
	}
	done := make(chan struct{}, 3)
	go func() {
		if err := a.Relay.Run(ctx); err != nil {
			a.Log.Error("outbox relay stopped", "error", err)
		}
		done <- struct{}{}
	}()
	routerDone := make(chan struct{})
	go func() {
		if err := a.Router.Run(ctx); err != nil {
			a.Log.Error("message router stopped", "error", err)
		}
		close(routerDone)
		done <- struct{}{}
	}()
	n := 2
	if a.MOSIP != nil {
		n++
		go func() {
			if err := a.MOSIP.Start(ctx); err != nil && !errors.Is(err, context.Canceled) {
				a.Log.Error("mosip subscription stopped", "error", err)
			}
			done <- struct{}{}
		}()
	}
	select { // a router that failed to start (stopped during an outage) never runs
	case <-a.Router.Running():
	case <-routerDone:
	}
	return func() {
		for range n {
			<-done
		}
	}
}
