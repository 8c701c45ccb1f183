package app

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/core/routing"
	"github.com/crvshub/crvshub/hub/bus"
	"github.com/crvshub/crvshub/hub/httpapi"
	"github.com/crvshub/crvshub/hub/nationalid"
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
	if o.Partners != nil {
		if err := a.openAdapters(o.Partners); err != nil {
			return err
		}
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

// openAdapters builds each configured adapter through the registry.
func (a *App) openAdapters(pc *PartnersConfig) error {
	for _, name := range slices.Sorted(maps.Keys(pc.Adapters)) {
		f, ok := adapters.Lookup(name)
		if !ok {
			return fmt.Errorf("partners: unknown National ID adapter %q (known: %s)", name, strings.Join(adapters.Names(), ", "))
		}
		ad, err := f.New(pc.Adapters[name], adapters.Deps{Correlations: a.Store, Resolver: a.Dispatcher.Resolver(name),
			Log: a.Log.With("adapter", name), DataDir: a.Opts.DataDir, PublicURL: a.Opts.PublicURL, Metrics: a.Metrics})
		if err != nil {
			return err
		}
		if ad.Name() != name {
			return fmt.Errorf("partners: adapter %q calls itself %q", name, ad.Name())
		}
		a.Dispatcher.Partners[name] = ad
		a.Adapters = append(a.Adapters, ad)
	}
	return nil
}

// partnerRoutes are the HTTP endpoints the adapters serve.
func (a *App) partnerRoutes() []httpapi.PartnerRoute {
	var rs []httpapi.PartnerRoute
	for _, ad := range a.Adapters {
		if r, ok := ad.(adapters.Router); ok {
			for _, x := range r.Routes() {
				rs = append(rs, httpapi.PartnerRoute{Method: x.Method, Path: x.Path, Summary: x.Summary, Handler: x.Handler, MaxBody: x.MaxBody})
			}
		}
	}
	return rs
}

// startPartners runs the relay, the router and the adapters' background
// work (WebSub subscription) until ctx ends; the HTTP server must be up,
// since subscribing makes the partner call back.
func (a *App) startPartners(ctx context.Context) (wait func()) {
	if a.Router == nil {
		return func() {}
	}
	done := make(chan struct{}, 2+len(a.Adapters))
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
	for _, ad := range a.Adapters {
		s, ok := ad.(adapters.Starter)
		if !ok {
			continue
		}
		n++
		go func() {
			if err := s.Start(ctx); err != nil && !errors.Is(err, context.Canceled) {
				a.Log.Error("adapter background work stopped", "adapter", ad.Name(), "error", err)
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
