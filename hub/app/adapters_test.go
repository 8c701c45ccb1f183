package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/hub/app"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// echoAdapter is a registered adapter the hub knows only through the
// registry: it serves a callback route and runs a background loop.
type echoAdapter struct {
	greeting string
	deps     adapters.Deps
	started  chan struct{}
}

func (e *echoAdapter) Name() string { return "apptest-echo" }
func (e *echoAdapter) Register(context.Context, adapters.Registration) (adapters.Outcome, error) {
	return adapters.Outcome{}, errors.New("apptest-echo registers nothing")
}
func (e *echoAdapter) Verify(context.Context, adapters.IdentityClaim) (adapters.Verification, error) {
	return adapters.Verification{}, errors.New("apptest-echo verifies nothing")
}
func (e *echoAdapter) Routes() []adapters.Route {
	return []adapters.Route{{Method: http.MethodGet, Path: "/api/apptest-echo/ping", Summary: "test",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(e.greeting)) })}}
}
func (e *echoAdapter) Start(ctx context.Context) error {
	close(e.started)
	<-ctx.Done()
	return ctx.Err()
}

var echoBuilt = make(chan *echoAdapter, 1)

func init() {
	adapters.Register("apptest-echo", adapters.Factory{New: func(raw json.RawMessage, d adapters.Deps) (adapters.NationalID, error) {
		var s struct{ Greeting string }
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		e := &echoAdapter{greeting: s.Greeting, deps: d, started: make(chan struct{})}
		echoBuilt <- e
		return e, nil
	}})
}

// TestAdapterFromRegistry: an adapter named in the partners config is
// built through the registry with the hub's Deps, its callback route is
// served and its background loop started, without hub/app knowing it.
func TestAdapterFromRegistry(t *testing.T) {
	pc := &app.PartnersConfig{}
	if err := pc.Set("apptest-echo", map[string]string{"greeting": "hello from the registry"}); err != nil {
		t.Fatal(err)
	}
	h := hubtest.Start(t, hubtest.Options{Partners: pc})
	var e *echoAdapter
	select {
	case e = <-echoBuilt:
	default:
		t.Fatal("the hub did not build the configured adapter")
	}
	if e.deps.DataDir != h.DataDir || e.deps.PublicURL != h.URL || e.deps.Resolver == nil || e.deps.Correlations == nil ||
		e.deps.Log == nil || e.deps.Metrics == nil {
		t.Fatalf("adapter deps %+v", e.deps)
	}
	if h.App.Dispatcher.Partners["apptest-echo"] != e {
		t.Fatal("the adapter is not a dispatcher partner")
	}
	res := h.Do("GET", "/api/apptest-echo/ping", "", nil)
	if res.Status != http.StatusOK || string(res.Body) != "hello from the registry" {
		t.Fatalf("adapter route: %d %s", res.Status, res.Body)
	}
	select {
	case <-e.started:
	case <-time.After(time.Minute):
		t.Fatal("timed out after 1 min waiting for the adapter's Start")
	}
}

// TestUnknownAdapterRefused: a partners config naming no registered
// adapter is refused when the hub opens, naming the known ones.
func TestUnknownAdapterRefused(t *testing.T) {
	pc := &app.PartnersConfig{}
	if err := pc.Set("osia-unregistered", map[string]string{}); err != nil {
		t.Fatal(err)
	}
	_, err := app.Open(context.Background(), app.Options{DataDir: t.TempDir(), SecretCost: 4, PublicURL: "http://127.0.0.1:1", Partners: pc,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil || !strings.Contains(err.Error(), `"osia-unregistered"`) || !strings.Contains(err.Error(), "apptest-echo") {
		t.Fatalf("open with an unknown adapter: %v", err)
	}
}
