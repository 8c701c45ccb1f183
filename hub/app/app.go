// Package app is the hub's composition root: it opens the store, loads the
// country config and the signing key, builds the engine and the HTTP
// server, and runs them until stopped.
package app

import (
	"context"
	"errors"
	"fmt"
	"github.com/crvshub/crvshub/adapters"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/countryconfig"
	"github.com/crvshub/crvshub/core/routing"
	"github.com/crvshub/crvshub/core/store/sqlite"
	"github.com/crvshub/crvshub/hub/auth"
	"github.com/crvshub/crvshub/hub/bus"
	"github.com/crvshub/crvshub/hub/httpapi"
	"github.com/crvshub/crvshub/hub/nationalid"
	"github.com/crvshub/crvshub/mappings"
)

// Options configure the hub. Zero values take the documented defaults.
type Options struct {
	DataDir     string // default ./data
	ConfigDir   string // country config overrides; "" = embedded defaults
	KeyFile     string // PEM signing key; "" = <data>/keys/jwt-signing.pem, created on first start
	Synchronous string // SQLite synchronous level; default FULL
	// Store tunes the SQLite store (batch size, connections, ...); zero
	// fields take sqlite.Options' defaults. Store.Synchronous, when set,
	// wins over Synchronous. Benchmarks use it to compare commit
	// disciplines on the same work.
	Store sqlite.Options
	Log   *slog.Logger
	// SecretCost is the bcrypt cost for client secrets (0 = default);
	// tests lower it.
	SecretCost int
	// TokenTTL is the lifetime of the tokens system clients get (0 =
	// auth.DefaultTTL, 600 s). The verifier accepts no client token that
	// lives longer; benchmarks that run for longer than 600 s raise it.
	TokenTTL time.Duration

	// Partners configures the National ID adapters (nil = none: routing
	// is off and the bus is not started).
	Partners *PartnersConfig
	// PublicURL is how partners reach this hub (callback URLs), e.g.
	// https://crvs-hub.example.gov; serve sets it from the listen address
	// when not configured (and refuses to start on 0.0.0.0 / [::] with a
	// partner that is called back there: its callback URL would be
	// unreachable).
	PublicURL string
	Messaging MessagingOptions
	// MetricsAddr, when set (HOST:PORT), serves GET /metrics on a listener
	// of its own and not on the API listener. Metrics need no token (a
	// Prometheus scraper has none) and tell about the hub's traffic,
	// queues and partners, so production binds them to an internal
	// interface. "" keeps /metrics on the API listener.
	MetricsAddr string
	// TrustedProxies are the reverse proxies (IPs or CIDRs) whose
	// X-Forwarded-For names the client in the audit trail; none by
	// default (the connection's peer is recorded).
	TrustedProxies []string
	// Bodies bound the memory request bodies take (byte budget, per-client
	// slots, read deadlines); zero fields take httpapi's defaults. A
	// budget below the largest body (httpapi.FHIRMaxBody) is refused.
	Bodies httpapi.BodyLimits
	// DataLock, when set, is the data folder's lock, taken by the caller
	// before it wrote to the folder (serve starts the MOSIP mock, which
	// writes keys there, before Open); Open then owns it and Close (or a
	// failed Open) releases it. nil: Open takes the lock itself.
	DataLock *DataLock
}

// DBFile is the SQLite database file name inside the data folder.
const DBFile = "crvshub.db"

// App is a running hub's parts.
type App struct {
	Opts    Options
	Store   *sqlite.Store
	Config  *core.CountryConfig
	Routing *routing.Config // routing.yaml, checked against Config
	Service *core.Service
	Keys    *auth.KeyPair
	Issuer  *auth.Issuer
	Clients *auth.Clients
	Auth    *auth.Authenticator
	FHIR    *mappings.Mapper
	HTTP    *httpapi.Server
	Log     *slog.Logger
	Metrics *prometheus.Registry

	// National ID routing (nil when no partner is configured, except
	// Dispatcher and Ops, which always exist).
	Dispatcher *nationalid.Dispatcher
	Ops        *nationalid.Ops
	// Adapters are the configured National ID adapters, by partners file order of names.
	Adapters []adapters.NationalID
	Bus      *bus.Bus
	Relay    *bus.Relay
	Router   *message.Router
	Breakers *bus.Breakers

	lock *DataLock
}

// Open builds the hub: data folder (locked: one hub per folder), store
// (migrations run here), country config, signing key, engine and HTTP
// server.
func Open(ctx context.Context, o Options) (_ *App, err error) {
	lock := o.DataLock
	o.DataLock = nil
	defer func() {
		if err != nil {
			lock.Unlock()
		}
	}()
	if o.DataDir == "" {
		o.DataDir = "data"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if err := httpapi.CheckTrustedProxies(o.TrustedProxies); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	if o.Bodies.Budget != 0 && o.Bodies.Budget < httpapi.FHIRMaxBody {
		return nil, fmt.Errorf("body budget %d bytes is below the largest request body (%d bytes)", o.Bodies.Budget, httpapi.FHIRMaxBody)
	}
	if lock == nil {
		if lock, err = LockDataDir(o.DataDir); err != nil {
			return nil, err
		}
	} else if filepath.Clean(lock.Dir()) != filepath.Clean(o.DataDir) {
		return nil, fmt.Errorf("data folder lock is for %s, not %s", lock.Dir(), o.DataDir)
	}
	warnOpenDataDir(o.Log, o.DataDir)
	cc, routes, err := countryconfig.LoadWithRouting(o.ConfigDir)
	if err != nil {
		return nil, err
	}
	fm, err := mappings.New(cc, o.ConfigDir)
	if err != nil {
		return nil, fmt.Errorf("fhir mappings: %w", err)
	}
	so := o.Store
	if so.Synchronous == "" {
		so.Synchronous = o.Synchronous
	}
	reg := prometheus.NewRegistry()
	so.OnCommit = storeMetrics(reg, so.OnCommit)
	st, err := openStore(ctx, o.DataDir, so)
	if err != nil {
		return nil, err
	}
	kp, err := auth.LoadOrCreateKey(o.DataDir, o.KeyFile)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("signing key: %w", err)
	}
	a := &App{Opts: o, Store: st, Config: cc, Routing: routes, Keys: kp, FHIR: fm, Log: o.Log, Metrics: reg}
	a.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.Issuer = &auth.Issuer{Key: kp, TTL: o.TokenTTL}
	throttle := &auth.Throttle{Log: o.Log}
	a.Clients = &auth.Clients{Store: st, Cost: o.SecretCost, Throttle: throttle}
	registerThrottleMetrics(a.Metrics, throttle)
	verifier := auth.NewVerifier(kp)
	verifier.MaxTTL = max(a.Issuer.Lifetime(), auth.ConfirmationTTL) // the longest the hub issues
	a.Auth = &auth.Authenticator{Verifier: verifier, Store: st, SystemTTL: a.Issuer.Lifetime()}
	a.Service = &core.Service{Store: st, Config: cc, Log: o.Log}
	if err := a.openPartners(ctx); err != nil {
		a.Close() // the lock is released by the deferred Unlock
		return nil, err
	}
	a.lock = lock
	a.Ops.IssueToken = a.Issuer.IssueConfirmationToken
	var apiMetrics http.Handler // on the API listener only without MetricsAddr
	if o.MetricsAddr == "" {
		apiMetrics = a.metricsHandler()
	}
	a.HTTP = httpapi.New(httpapi.Deps{
		AfterAction:    a.Dispatcher.AfterAction,
		Ops:            a.Ops,
		PartnerRoutes:  a.partnerRoutes(),
		Metrics:        apiMetrics,
		HTTPMetrics:    httpapi.NewHTTPMetrics(a.Metrics),
		Service:        a.Service,
		Auth:           a.Auth,
		Token:          auth.TokenHandler(a.Clients, a.Issuer),
		WellKnownPEM:   auth.WellKnownPEM(kp),
		JWKS:           auth.JWKS(kp),
		Ready:          a.ready,
		Log:            o.Log,
		FHIR:           fm,
		TrustedProxies: o.TrustedProxies,
		Bodies:         o.Bodies,
	})
	a.Metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "crvshub_http_body_bytes_reserved",
		Help: "Bytes of request bodies the hub holds (reserved in the body budget) right now"},
		func() float64 { return float64(a.HTTP.BodyBytesReserved()) }))
	return a, nil
}

// registerThrottleMetrics exports the token throttle's counters.
func registerThrottleMetrics(r *prometheus.Registry, t *auth.Throttle) {
	r.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "crvshub_auth_failures_total",
		Help: "Failed client authentications at the token endpoint"},
		func() float64 { return float64(t.Stats().Failures) }))
	for reason, get := range map[string]func(auth.ThrottleStats) int64{
		"client": func(s auth.ThrottleStats) int64 { return s.RefusedClient },
		"source": func(s auth.ThrottleStats) int64 { return s.RefusedSource },
	} {
		r.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "crvshub_auth_throttled_total",
			Help:        "Token requests refused (429) because the client id from that source, or the source, was locked out after failed authentications",
			ConstLabels: prometheus.Labels{"reason": reason}},
			func() float64 { return float64(get(t.Stats())) }))
	}
}

func (a *App) metricsHandler() http.Handler {
	return promhttp.HandlerFor(a.Metrics, promhttp.HandlerOpts{})
}

// OpenExistingStore opens the SQLite store of a data folder that already
// has a database, without the rest of the hub and without keeping its
// lock: the CLI's client commands use it while the hub runs (SQLite's busy
// timeout orders their writes with the hub's). A folder without a database
// is an error rather than a new empty database, so a wrong --data is
// noticed.
func OpenExistingStore(ctx context.Context, dataDir string) (*sqlite.Store, error) {
	if err := RequireDatabase(dataDir); err != nil {
		return nil, err
	}
	if err := fixPrivateDB(dataDir); err != nil {
		return nil, err
	}
	// While a hub holds the folder the schema is not this process's to
	// change (a newer CLI next to an older running hub): it must already
	// be current. With the folder free, pending migrations are applied
	// under the lock, as `migrate` does.
	lock, err := LockDataDir(dataDir)
	if errors.Is(err, ErrDataDirInUse) {
		return openSQLite(ctx, dataDir, sqlite.Options{NoMigrate: true})
	}
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	return openSQLite(ctx, dataDir, sqlite.Options{})
}

// Migrate creates the data folder and its database if needed and brings
// the schema up to date, holding the folder's lock (a running hub on the
// folder makes it fail: it migrated at its start). It returns the
// database file's path.
func Migrate(ctx context.Context, dataDir string) (string, error) {
	lock, err := LockDataDir(dataDir)
	if err != nil {
		return "", err
	}
	defer lock.Unlock()
	st, err := openStore(ctx, dataDir, sqlite.Options{})
	if err != nil {
		return "", err
	}
	if err := st.Close(); err != nil {
		return "", fmt.Errorf("close store: %w", err)
	}
	return filepath.Join(dataDir, DBFile), nil
}

// openStore opens (creating it if needed) the SQLite store in a data
// folder with all its options; its files are kept private (0600).
func openStore(ctx context.Context, dataDir string, so sqlite.Options) (*sqlite.Store, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	if err := createPrivateDB(dataDir); err != nil {
		return nil, err
	}
	return openSQLite(ctx, dataDir, so)
}

// openSQLite opens the store and then checks the -wal and -shm files that
// opening made are private too.
func openSQLite(ctx context.Context, dataDir string, so sqlite.Options) (*sqlite.Store, error) {
	st, err := sqlite.Open(ctx, filepath.Join(dataDir, DBFile), so)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := fixPrivateDB(dataDir); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// ready is /readyz: the store answers and can write, and with routing on
// the bus can move messages and the outbox relay is not failing (with the
// outbox's lag). Any of them failing takes the hub out of a load
// balancer until it works again.
func (a *App) ready(ctx context.Context) httpapi.Readiness {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r := httpapi.Readiness{Checks: map[string]error{"store": a.storeReady(ctx)}}
	if a.Bus != nil {
		r.Checks["bus"] = a.Bus.Health()
		r.Checks["relay"] = a.Relay.Health()
		if lag, err := a.Relay.Lag(ctx); err == nil {
			r.OutboxLag = &lag
		}
	}
	return r
}

func (a *App) storeReady(ctx context.Context) error {
	_, err := a.Store.EventIDByTrackingID(ctx, "-")
	if err != nil && !errors.Is(err, core.ErrNotFound) {
		return err
	}
	// a hub whose writes fail for lack of storage is not ready: a load
	// balancer sends the traffic elsewhere until the disk has room again
	return a.Store.WriteHealth()
}

// Serve answers HTTP on ln until ctx is done, then shuts down gracefully
// (in-flight requests finish, up to 15 s). With Options.MetricsAddr it
// also serves GET /metrics there; a metrics address it cannot listen on
// fails Serve before anything is served.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	var mln net.Listener
	if a.Opts.MetricsAddr != "" {
		var err error
		if mln, err = net.Listen("tcp", a.Opts.MetricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("metrics listen: %w", err)
		}
		a.Log.Info("crvshub metrics listening", "addr", mln.Addr().String())
	}
	srv := a.httpServer(a.HTTP.Handler())
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	var msrv *http.Server
	if mln != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.metricsHandler())
		msrv = a.httpServer(mux)
		go func() { errc <- msrv.Serve(mln) }()
	}
	pctx, stopPartners := context.WithCancel(ctx)
	defer stopPartners()
	waitPartners := a.startPartners(pctx)
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil && err == nil {
		err = fmt.Errorf("shutdown: %w", serr)
	}
	if msrv != nil {
		if serr := msrv.Shutdown(sctx); serr != nil && err == nil {
			err = fmt.Errorf("metrics shutdown: %w", serr)
		}
	}
	// after the HTTP server, so that nothing enqueues while the relay stops
	stopPartners()
	waitPartners()
	return err
}

// httpServer is an http.Server with the hub's timeouts and limits.
func (a *App) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
}

// Close releases the bus, the store and then the data folder's lock.
func (a *App) Close() error {
	var errs []error
	if a.Router != nil {
		errs = append(errs, a.Router.Close())
	}
	if a.Bus != nil {
		errs = append(errs, a.Bus.Close())
	}
	errs = append(errs, a.Store.Close())
	errs = append(errs, a.lock.Unlock())
	a.lock = nil
	return errors.Join(errs...)
}
