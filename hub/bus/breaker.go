package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/crvshub/crvshub/adapters"
)

// BreakerSettings configures every partner's breaker.
type BreakerSettings struct {
	FailureThreshold uint32        // consecutive failures to open, default 5
	OpenTimeout      time.Duration // open -> half-open, default 30s
	HalfOpenRequests uint32        // probes allowed half-open, default 1
}

// Breakers holds one gobreaker v2 circuit breaker per partner, created on
// first use.
type Breakers struct {
	s     BreakerSettings
	log   *slog.Logger
	state *prometheus.GaugeVec
	trans *prometheus.CounterVec

	mu sync.Mutex
	cb map[string]*gobreaker.CircuitBreaker[[]*message.Message]
}

// NewBreakers builds the breakers. State changes are logged (warn when
// opening) and exported as crvshub_breaker_state{partner} (0 closed,
// 1 half-open, 2 open) and crvshub_breaker_transitions_total{partner,to}.
func NewBreakers(s BreakerSettings, log *slog.Logger, reg prometheus.Registerer) *Breakers {
	if s.FailureThreshold == 0 {
		s.FailureThreshold = 5
	}
	if s.OpenTimeout <= 0 {
		s.OpenTimeout = 30 * time.Second
	}
	if s.HalfOpenRequests == 0 {
		s.HalfOpenRequests = 1
	}
	if log == nil {
		log = slog.Default()
	}
	return &Breakers{
		s:   s,
		log: log,
		state: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "crvshub_breaker_state", Help: "Partner circuit breaker state: 0 closed, 1 half-open, 2 open.",
		}, []string{"partner"})),
		trans: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crvshub_breaker_transitions_total", Help: "Partner circuit breaker state changes.",
		}, []string{"partner", "to"})),
		cb: map[string]*gobreaker.CircuitBreaker[[]*message.Message]{},
	}
}

func (b *Breakers) get(partner string) *gobreaker.CircuitBreaker[[]*message.Message] {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cb, ok := b.cb[partner]; ok {
		return cb
	}
	threshold := b.s.FailureThreshold
	cb := gobreaker.NewCircuitBreaker[[]*message.Message](gobreaker.Settings{
		Name:        partner,
		MaxRequests: b.s.HalfOpenRequests,
		Timeout:     b.s.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		// A permanent error is the partner answering (it refused this
		// message), and a cancelled context is our own shutdown: neither
		// says the partner is down.
		IsExcluded: func(err error) bool {
			return adapters.IsPermanent(err) || errors.Is(err, context.Canceled)
		},
		OnStateChange: b.changed,
	})
	b.state.WithLabelValues(partner).Set(0)
	b.cb[partner] = cb
	return cb
}

func (b *Breakers) changed(partner string, from, to gobreaker.State) {
	b.state.WithLabelValues(partner).Set(float64(to)) // StateClosed 0, HalfOpen 1, Open 2
	b.trans.WithLabelValues(partner, to.String()).Inc()
	if to == gobreaker.StateOpen {
		b.log.Warn("partner circuit breaker opened", "partner", partner, "from", from.String(), "retry_after", b.s.OpenTimeout)
		return
	}
	b.log.Info("partner circuit breaker state changed", "partner", partner, "from", from.String(), "to", to.String())
}

// State is the partner's breaker state (closed for an unknown partner).
func (b *Breakers) State(partner string) gobreaker.State { return b.get(partner).State() }

// unavailable maps the breaker's refusals to ErrUnavailable, and so a
// transient failure after which the breaker is not closed (the partner is
// failing as a whole; this failure may be the one that opened it): such a
// message must stay queued, not spend its retry budget and become a dead
// letter.
func (b *Breakers) unavailable(partner string, err error) error {
	switch {
	case err == nil, errors.Is(err, ErrUnavailable):
		return err
	case errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests):
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, partner, err)
	case adapters.IsPermanent(err) || errors.Is(err, context.Canceled):
		return err
	case b.State(partner) != gobreaker.StateClosed:
		return fmt.Errorf("%w: %s is failing: %w", ErrUnavailable, partner, err)
	}
	return err
}

// Middleware runs the handler through the partner's breaker; while it is
// open (or its half-open probes are taken) the handler is not called and
// the error wraps ErrUnavailable.
func (b *Breakers) Middleware(partner string) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := b.get(partner).Execute(func() ([]*message.Message, error) { return h(msg) })
			return out, b.unavailable(partner, err)
		}
	}
}

// Execute runs fn through the partner's breaker, for synchronous callers.
func (b *Breakers) Execute(partner string, fn func() error) error {
	_, err := b.get(partner).Execute(func() ([]*message.Message, error) { return nil, fn() })
	return b.unavailable(partner, err)
}
