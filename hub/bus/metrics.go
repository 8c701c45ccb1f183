package bus

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the bus's Prometheus collectors. A nil *Metrics records
// nothing.
type Metrics struct {
	relayed     prometheus.Counter
	relayErrors prometheus.Counter
	deadLetters *prometheus.CounterVec
}

// NewMetrics registers the relay and dead-letter counters with reg (nil:
// not registered, still counted). Registering twice on one registry reuses
// the collectors already there.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{
		relayed: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crvshub_outbox_relayed_total", Help: "Outbox messages published to the bus.",
		})),
		relayErrors: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crvshub_outbox_errors_total", Help: "Outbox relay errors (read, publish or delete).",
		})),
		deadLetters: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crvshub_dead_letters_total", Help: "Messages stored as dead letters, by handler.",
		}, []string{"handler"})),
	}
}

// register registers c, or returns the equal collector already registered.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

func (m *Metrics) addRelayed(n int) {
	if m != nil {
		m.relayed.Add(float64(n))
	}
}

func (m *Metrics) relayError() {
	if m != nil {
		m.relayErrors.Inc()
	}
}

func (m *Metrics) deadLetter(handler string) {
	if m != nil {
		m.deadLetters.WithLabelValues(handler).Inc()
	}
}
