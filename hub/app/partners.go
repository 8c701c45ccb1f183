package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/core"
)

// PartnersConfig is a deployment's National ID partner settings
// (`crvshub serve --partners FILE`, YAML or JSON). A partner that is not
// configured here is not called, and routes to it are skipped.
//
// Every top-level block but "delivery" configures the registered adapter
// of that name (see adapters.Register) with its raw settings.
type PartnersConfig struct {
	// Adapters maps an adapter's name to its block (JSON).
	Adapters map[string]json.RawMessage
	// Delivery tunes retries, breakers and concurrency for every partner.
	Delivery *DeliverySettings
}

// Set configures the adapter name with settings (marshalled to JSON).
func (pc *PartnersConfig) Set(name string, settings any) error {
	b, err := json.Marshal(settings)
	if err != nil {
		return fmt.Errorf("partners: %s: %w", name, err)
	}
	if pc.Adapters == nil {
		pc.Adapters = map[string]json.RawMessage{}
	}
	pc.Adapters[name] = b
	return nil
}

// Has reports whether the adapter name is configured.
func (pc *PartnersConfig) Has(name string) bool {
	if pc == nil {
		return false
	}
	_, ok := pc.Adapters[name]
	return ok
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
	pc, err := parsePartners(js)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pc, nil
}

// parsePartners splits a partners document into the delivery settings
// (strict) and one block per adapter, each checked by its registered
// adapter; a block no adapter is registered for is an error naming the
// known ones.
func parsePartners(js []byte) (*PartnersConfig, error) {
	var blocks map[string]json.RawMessage
	if err := json.Unmarshal(js, &blocks); err != nil {
		return nil, err
	}
	pc := &PartnersConfig{}
	for _, name := range slices.Sorted(maps.Keys(blocks)) {
		raw := blocks[name]
		if name == "delivery" {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&pc.Delivery); err != nil {
				return nil, fmt.Errorf("delivery: %w", err)
			}
			continue
		}
		f, ok := adapters.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("unknown National ID adapter %q (known: %s, and the shared delivery settings)",
				name, strings.Join(adapters.Names(), ", "))
		}
		if f.Check != nil {
			if err := f.Check(raw); err != nil {
				return nil, err
			}
		}
		if err := pc.Set(name, raw); err != nil {
			return nil, err
		}
	}
	return pc, nil
}
