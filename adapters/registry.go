package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Deps is what the hub gives every adapter it builds.
type Deps struct {
	// Correlations stores the adapter's partner references.
	Correlations Correlations
	// Resolver completes registrations whose outcome arrives later; it is
	// bound to the adapter's name.
	Resolver Resolver
	Log      *slog.Logger
	// DataDir is the hub's data folder; key material goes under
	// DataDir/keys.
	DataDir string
	// PublicURL is how partners reach the hub ("" = unknown); an adapter
	// that is called back derives its default callback URL from it.
	PublicURL string
	// HTTPClient for partner calls (nil: the adapter's own).
	HTTPClient *http.Client
	// Metrics registers the adapter's own metrics.
	Metrics prometheus.Registerer
}

// Factory is how an adapter registers itself.
type Factory struct {
	// New builds the adapter from its raw block in the partners file
	// (JSON; a YAML block is converted first).
	New func(raw json.RawMessage, d Deps) (NationalID, error)
	// Check decodes the block strictly without side effects, so that the
	// partners file is refused when it is loaded (nil = no check).
	Check func(raw json.RawMessage) error
	// NeedsPublicURL reports whether the configured adapter is called back
	// at a URL derived from the hub's public URL (nil = never).
	NeedsPublicURL func(raw json.RawMessage) bool
}

// Route is an HTTP endpoint an adapter serves (e.g. a WebSub callback).
type Route struct {
	Method, Path, Summary string
	Handler               http.Handler
	MaxBody               int64 // bound of a POST/PUT/PATCH body (0 = the hub's default)
}

// Router is implemented by an adapter that serves callback routes.
type Router interface {
	Routes() []Route
}

// Starter is implemented by an adapter with background work (a WebSub
// subscription): Start runs until ctx ends; the hub's HTTP server is up.
type Starter interface {
	Start(ctx context.Context) error
}

// Prober is for an adapter that can report its partner's health. No
// adapter implements it yet and the hub does not call it (a partner's
// outage must not take the hub out of /readyz; breakers handle it).
type Prober interface {
	Health(ctx context.Context) error
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes an adapter available under name; call it from the
// adapter package's init. Registering a name twice, or a Factory without
// New, panics (a programming error).
func Register(name string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if name == "" || f.New == nil {
		panic("adapters: Register needs a name and Factory.New")
	}
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("adapters: adapter %q registered twice", name))
	}
	registry[name] = f
}

// Lookup returns the adapter registered under name.
func Lookup(name string) (Factory, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	f, ok := registry[name]
	return f, ok
}

// Names lists the registered adapters, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
