// Command crvshub is the civil registration interoperability hub: one
// binary with subcommands.
//
//	crvshub serve [--config DIR] [--data DIR] [--addr HOST:PORT] [--metrics-addr HOST:PORT] [--demo]
//	crvshub clients create --data DIR [--config DIR] --name NAME --scope SCOPE [--scope SCOPE ...] [--office UUID]
//	crvshub clients list|disable|enable|rotate-secret --data DIR [ID]
//	crvshub migrate --data DIR
//
// serve and migrate hold the data folder's lock (one hub per folder); the
// clients commands work beside a running hub and need its database to
// exist.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/crvshub/crvshub/adapters"
	// National ID adapters register themselves when linked: one import line each.
	_ "github.com/crvshub/crvshub/adapters/mosip"
	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/countryconfig"
	"github.com/crvshub/crvshub/hub/app"
	"github.com/crvshub/crvshub/hub/auth"
	"github.com/crvshub/crvshub/hub/httpapi"
)

const usage = `crvshub: civil registration interoperability hub

Usage:
  crvshub serve   [--config DIR] [--data DIR] [--addr HOST:PORT] [--metrics-addr HOST:PORT] [--key-file PEM] [--demo] [--log-level LEVEL]
                  [--partners FILE] [--public-url URL] [--nats-url URL] [--with-mocks [--mock-profile P]] [--ack-wait D]
  crvshub mocks   [--addr HOST:PORT] [--partner-cert PEM] [--profile P]
  crvshub clients create --data DIR [--config DIR] --name NAME --scope SCOPE [--scope SCOPE ...] [--office UUID]
  crvshub clients list          --data DIR
  crvshub clients disable       --data DIR ID
  crvshub clients enable        --data DIR ID
  crvshub clients rotate-secret --data DIR ID
  crvshub migrate --data DIR    (creates the database if there is none; clients commands need one)

Environment: CRVSHUB_DATA (default ./data), CRVSHUB_ADDR (default 127.0.0.1:8080),
CRVSHUB_METRICS_ADDR, CRVSHUB_CONFIG, CRVSHUB_KEY_FILE, CRVSHUB_LOG_LEVEL, CRVSHUB_PARTNERS, CRVSHUB_PUBLIC_URL,
CRVSHUB_NATS_URL, CRVSHUB_MOCK_PROFILE. Flags win over the environment.
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "crvshub:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg + "\n\n" + usage }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command"}
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "clients":
		return clients(ctx, args[1:], stdout)
	case "mocks":
		return mocks(ctx, args[1:], stdout, stderr)
	case "migrate":
		fs, data := dataFlagSet("migrate")
		if err := fs.Parse(args[1:]); err != nil {
			return usageError{err.Error()}
		}
		path, err := app.Migrate(ctx, *data)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, "migrations applied to", path)
		return nil
	case "probe":
		// probe URL: exit 0 when GET URL answers 200 (container health checks)
		if len(args) != 2 {
			return usageError{"probe: give one URL, e.g. http://127.0.0.1:8080/readyz"}
		}
		return probe(ctx, args[1])
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func dataFlagSet(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	data := fs.String("data", env("CRVSHUB_DATA", "data"), "data folder")
	return fs, data
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("bad log level %q", level)}
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, data := dataFlagSet("serve")
	cfg := fs.String("config", env("CRVSHUB_CONFIG", ""), "country config folder (overrides the embedded defaults)")
	addr := fs.String("addr", env("CRVSHUB_ADDR", "127.0.0.1:8080"), "listen address")
	metricsAddr := fs.String("metrics-addr", env("CRVSHUB_METRICS_ADDR", ""), "serve GET /metrics (no token) on this address only, e.g. an internal interface; default: on --addr")
	keyFile := fs.String("key-file", env("CRVSHUB_KEY_FILE", ""), "PEM file with the token signing key")
	demo := fs.Bool("demo", false, "create a demo client on first run and print how to use it")
	level := fs.String("log-level", env("CRVSHUB_LOG_LEVEL", "info"), "debug, info, warn or error")
	partners := fs.String("partners", env("CRVSHUB_PARTNERS", ""), "National ID partner settings (YAML/JSON), e.g. the mosip section")
	publicURL := fs.String("public-url", env("CRVSHUB_PUBLIC_URL", ""), "how partners reach this hub (callback URLs); default http://<addr>")
	natsURL := fs.String("nats-url", env("CRVSHUB_NATS_URL", ""), "external NATS JetStream URL; default: an embedded server in <data>/nats")
	withMocks := fs.Bool("with-mocks", false, "start the MOSIP mock in-process and route to it (demo and tests)")
	mockProfile := fs.String("mock-profile", env("CRVSHUB_MOCK_PROFILE", ""), "with --with-mocks: fault profile, e.g. latency=50ms,errorRate=0.2,down,neverCallBack")
	trusted := fs.String("trusted-proxies", env("CRVSHUB_TRUSTED_PROXIES", ""), "reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For names the client in the audit; default none")
	bodyBudget := fs.String("body-budget", env("CRVSHUB_BODY_BUDGET", "128"), "MiB of request bodies held at once, all clients (at least 8)")
	bodyPerClient := fs.String("body-per-client", env("CRVSHUB_BODY_PER_CLIENT", "64"), "requests of one client reading or holding a body at once")
	bodyWait := fs.String("body-wait", env("CRVSHUB_BODY_WAIT", "2s"), "how long a request waits for body budget or a client slot before a 503")
	bodyRate := fs.String("body-min-rate", env("CRVSHUB_BODY_MIN_RATE", "256"), "KiB/s: a body's read deadline is 5 s plus its size at this rate (408 after)")
	ackWait := fs.Duration("ack-wait", 0, "bus redelivery of a message taken but never acknowledged, e.g. after a crash (default: the partner retry budget plus a tenth; a shorter value is refused)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	var proxies []string
	for _, p := range strings.Split(*trusted, ",") {
		if p = strings.TrimSpace(p); p != "" {
			proxies = append(proxies, p)
		}
	}
	if err := httpapi.CheckTrustedProxies(proxies); err != nil {
		return usageError{"--trusted-proxies: " + err.Error()}
	}
	bodies, err := bodyLimits(*bodyBudget, *bodyPerClient, *bodyWait, *bodyRate)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The data folder's lock comes first: the MOSIP mock writes keys into
	// the folder before app.Open, which then owns the lock.
	lock, err := app.LockDataDir(*data)
	if err != nil {
		return err
	}
	defer func() {
		if lock != nil {
			lock.Unlock()
		}
	}()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	base := "http://" + ln.Addr().String()
	opts := app.Options{DataDir: *data, ConfigDir: *cfg, KeyFile: *keyFile, Log: log, MetricsAddr: *metricsAddr,
		TrustedProxies: proxies, Bodies: bodies,
		Messaging: app.MessagingOptions{NATSURL: *natsURL, AckWait: *ackWait}}
	if *partners != "" {
		if opts.Partners, err = app.LoadPartners(*partners); err != nil {
			ln.Close()
			return err
		}
	}
	if *withMocks && opts.Partners.Has("mosip") {
		ln.Close()
		return usageError{"--with-mocks replaces the mosip partner; leave it out of --partners"}
	}
	if opts.PublicURL = *publicURL; opts.PublicURL == "" {
		if opts.PublicURL, err = defaultPublicURL(ln.Addr(), opts.Partners, *withMocks); err != nil {
			ln.Close()
			return err
		}
	}
	if *withMocks {
		m, err := startMOSIPMock(*data, *mockProfile, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer m.mock.Close()
		if opts.Partners == nil {
			opts.Partners = &app.PartnersConfig{}
		}
		if err := opts.Partners.Set("mosip", m.settings); err != nil {
			ln.Close()
			return err
		}
		log.Info("MOSIP mock started", "url", m.mock.URL())
	} else if *mockProfile != "" {
		ln.Close()
		return usageError{"--mock-profile needs --with-mocks"}
	}
	opts.DataLock, lock = lock, nil // Open releases it if it fails, Close if not
	a, err := app.Open(ctx, opts)
	if err != nil {
		ln.Close()
		return err
	}
	defer a.Close()
	if *demo {
		if err := printDemo(ctx, a, *data, base, stdout); err != nil {
			ln.Close()
			return err
		}
	}
	if *demo && *withMocks {
		go demoBirthThroughMOSIP(ctx, a, *data, stdout)
	}
	log.Info("crvshub listening", "addr", ln.Addr().String(), "data", *data)
	return a.Serve(ctx, ln)
}

// bodyLimits reads the body limit flags: the budget in MiB (at least the
// largest body, 8 MiB), the per-client slots, the wait, the minimum rate
// in KiB/s.
func bodyLimits(budgetMiB, perClient, wait, rateKiB string) (httpapi.BodyLimits, error) {
	var l httpapi.BodyLimits
	mib, err := strconv.ParseInt(budgetMiB, 10, 64)
	if err != nil || mib < httpapi.FHIRMaxBody>>20 || mib > 1<<20 {
		return l, usageError{fmt.Sprintf("--body-budget %q: a number of MiB from %d", budgetMiB, httpapi.FHIRMaxBody>>20)}
	}
	if l.PerClient, err = strconv.Atoi(perClient); err != nil || l.PerClient < 1 {
		return l, usageError{fmt.Sprintf("--body-per-client %q: a positive number", perClient)}
	}
	if l.Wait, err = time.ParseDuration(wait); err != nil || l.Wait <= 0 {
		return l, usageError{fmt.Sprintf("--body-wait %q: a positive duration such as 2s", wait)}
	}
	kib, err := strconv.ParseInt(rateKiB, 10, 64)
	if err != nil || kib < 1 || kib > 1<<30 {
		return l, usageError{fmt.Sprintf("--body-min-rate %q: a positive number of KiB/s", rateKiB)}
	}
	l.Budget, l.ReadRate = mib<<20, kib<<10
	return l, nil
}

// defaultPublicURL is the URL partners reach the hub at when --public-url
// is not given: http://<listen address>. A hub listening on every
// interface (0.0.0.0, [::]) has no such URL: MOSIP would be told to call
// back http://[::]:8080, which it cannot reach, and nothing would say so
// until every registration waited forever. So a configured MOSIP partner
// without its own callbackUrl refuses to start there. The in-process mock
// (--with-mocks) runs on loopback and is given the loopback address.
func defaultPublicURL(addr net.Addr, partners *app.PartnersConfig, withMocks bool) (string, error) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return "http://" + addr.String(), nil
	}
	if partners != nil {
		for _, name := range slices.Sorted(maps.Keys(partners.Adapters)) {
			if f, ok := adapters.Lookup(name); ok && f.NeedsPublicURL != nil && f.NeedsPublicURL(partners.Adapters[name]) {
				return "", fmt.Errorf("the hub listens on %s (every interface), so %s cannot be told where to call back: "+
					"--public-url / CRVSHUB_PUBLIC_URL is required (how %s reaches this hub, e.g. https://crvs-hub.example.gov)", addr, name, name)
			}
		}
	}
	if !withMocks {
		return "http://" + addr.String(), nil // no partner calls back
	}
	loopback := net.IPv4(127, 0, 0, 1)
	if tcp.IP.To4() == nil {
		loopback = net.IPv6loopback
	}
	return "http://" + net.JoinHostPort(loopback.String(), strconv.Itoa(tcp.Port)), nil
}

func cliActor() core.Principal {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return core.Principal{ID: "cli:" + name, Type: core.UserTypeUser}
}

type scopeList []string

func (s *scopeList) String() string     { return strings.Join(*s, " ") }
func (s *scopeList) Set(v string) error { *s = append(*s, v); return nil }

type credentials struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

func clients(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"clients: missing subcommand (create, list, disable, enable, rotate-secret)"}
	}
	sub := args[0]
	fs, data := dataFlagSet("clients " + sub)
	cfg := fs.String("config", env("CRVSHUB_CONFIG", ""), "country config folder the hub serves (create checks --office against it)")
	name := fs.String("name", "", "client name")
	office := fs.String("office", "", "the client's default office (UUID)")
	id := fs.String("id", "", "client id")
	var scopes scopeList
	fs.Var(&scopes, "scope", "scope (repeatable), e.g. 'type=record.notify&event=birth'")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	if *id == "" && fs.NArg() > 0 {
		*id = fs.Arg(0)
	}
	st, err := app.OpenExistingStore(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	cs := &auth.Clients{Store: st}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	needID := func() error {
		if *id == "" {
			return usageError{"clients " + sub + ": give the client id"}
		}
		return nil
	}
	switch sub {
	case "create":
		if *name == "" || len(scopes) == 0 {
			return usageError{"clients create: --name and at least one --scope are required"}
		}
		if *office != "" {
			cc, err := countryconfig.Load(*cfg)
			if err != nil {
				return err
			}
			if !cc.IsOfficeOrFacility(strings.ToLower(*office)) {
				return fmt.Errorf("--office %s is not a CRVS office or health facility of the country config", *office)
			}
			*office = strings.ToLower(*office)
		}
		cid, secret, err := cs.Create(ctx, *name, scopes, *office, cliActor())
		if err != nil {
			return err
		}
		return enc.Encode(credentials{cid, secret})
	case "list":
		list, err := cs.List(ctx)
		if err != nil {
			return err
		}
		if list == nil {
			list = []core.Client{}
		}
		return enc.Encode(list)
	case "disable", "enable":
		if err := needID(); err != nil {
			return err
		}
		if sub == "disable" {
			err = cs.Disable(ctx, *id, cliActor())
		} else {
			err = cs.Enable(ctx, *id, cliActor())
		}
		if err != nil {
			return err
		}
		return enc.Encode(map[string]string{"clientId": *id, "status": map[string]string{"disable": "disabled", "enable": "active"}[sub]})
	case "rotate-secret":
		if err := needID(); err != nil {
			return err
		}
		secret, err := cs.RotateSecret(ctx, *id, cliActor())
		if err != nil {
			return err
		}
		return enc.Encode(credentials{*id, secret})
	}
	return usageError{fmt.Sprintf("clients: unknown subcommand %q", sub)}
}

func probe(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d", url, res.StatusCode)
	}
	return nil
}
