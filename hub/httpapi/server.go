package httpapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/hub/ingest"
	"github.com/crvshub/crvshub/mappings"
)

// DefaultMaxBody is the request body limit of the events API (1 MiB).
const DefaultMaxBody = 1 << 20

// Deps is what the HTTP layer needs from the rest of the hub.
type Deps struct {
	Service *core.Service
	Auth    Authenticator
	// Token serves POST /auth/token and POST /token.
	Token gin.HandlerFunc
	// WellKnownPEM and JWKS serve the token signing public key.
	WellKnownPEM gin.HandlerFunc
	JWKS         gin.HandlerFunc
	// Ready reports whether the hub can serve: each part's check (store,
	// bus, relay) and the outbox lag, for GET /readyz.
	Ready   func(ctx context.Context) Readiness
	Log     *slog.Logger
	MaxBody int64 // 0 = DefaultMaxBody
	// FHIR maps FHIR bundles to declarations and back (the /fhir and
	// /notification routes); nil answers 503 on them.
	FHIR *mappings.Mapper

	// AfterAction, when set, sees every action's answer before it is sent:
	// sync-mode National ID routes wait there for the partner's outcome.
	AfterAction func(ctx context.Context, ev *core.EventDocument) *core.EventDocument
	// Ops serves the operator endpoints under /api/events/ops; nil answers 503.
	Ops Ops
	// PartnerRoutes are endpoints partner adapters serve (callbacks).
	PartnerRoutes []PartnerRoute
	// Metrics serves GET /metrics (Prometheus text format); nil = 404.
	Metrics http.Handler
	// HTTPMetrics, when set, counts every request and its latency by
	// route template and status (see NewHTTPMetrics).
	HTTPMetrics *HTTPMetrics
	// TrustedProxies are the reverse proxies (IPs or CIDRs) whose
	// X-Forwarded-For / X-Real-IP headers name the client for the audit
	// trail. Empty: none, the audit records the connection's peer; a
	// client could otherwise write any address into the audit.
	TrustedProxies []string
	// Bodies bound the memory request bodies take (zero fields: defaults).
	Bodies BodyLimits
}

// CheckTrustedProxies reports the first entry of proxies that is neither
// an IP address nor a CIDR.
func CheckTrustedProxies(proxies []string) error {
	for _, p := range proxies {
		if _, _, err := net.ParseCIDR(p); err == nil {
			continue
		}
		if net.ParseIP(p) == nil {
			return fmt.Errorf("trusted proxy %q is neither an IP address nor a CIDR", p)
		}
	}
	return nil
}

// Server holds the Gin engine and the route table.
type Server struct {
	deps   Deps
	log    *slog.Logger
	engine *gin.Engine
	routes []route
	// fhirLimit bounds how many FHIR bundles are decoded and mapped at
	// once (the three ingestion routes share it): decoding an 8 MiB
	// bundle costs many times its size in memory.
	fhirLimit *limiter
	// ingest is the FHIR ingestion use case (hub/ingest).
	ingest *ingest.Service
	// bodies is the byte budget and per-client slots of request bodies.
	bodies *bodyBudget
}

// New builds the HTTP server.
func New(deps Deps) *Server {
	if deps.Log == nil {
		deps.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if deps.MaxBody == 0 {
		deps.MaxBody = DefaultMaxBody
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	// gin trusts every proxy by default, so any client could set the
	// remote address the audit records with X-Forwarded-For: trust none
	// unless told (an invalid list, which app.Open refuses, trusts none).
	if err := CheckTrustedProxies(deps.TrustedProxies); err != nil || e.SetTrustedProxies(deps.TrustedProxies) != nil {
		deps.Log.Error("trusted proxies ignored: not IPs or CIDRs; trusting none", "trustedProxies", deps.TrustedProxies)
		_ = e.SetTrustedProxies(nil)
	}
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	s := &Server{deps: deps, log: deps.Log, engine: e, fhirLimit: newLimiter(FHIRMapConcurrency(), FHIRMapWait),
		bodies: newBodyBudget(deps.Bodies)}
	s.ingest = &ingest.Service{Mapper: deps.FHIR, Events: deps.Service, Slot: s.fhirSlot}
	e.Use(withCorrelation(), retryAfter())
	if deps.HTTPMetrics != nil { // outside recoverJSON: a recovered panic counts as its 500
		e.Use(deps.HTTPMetrics.middleware())
	}
	e.Use(recoverJSON(deps.Log), accessLog(deps.Log))
	s.routes = s.routeTable()
	// a path under a FHIR route's first segment (/fhir/..., /notification)
	// is answered in FHIR even when no route serves it
	fhirBases := map[string]bool{}
	for _, r := range s.routes {
		if r.fhir {
			fhirBases[firstSegment(r.path)] = true
		}
	}
	e.NoRoute(func(c *gin.Context) {
		err := core.Errorf(core.KindNotFound, "NO_ROUTE", "No route %s %s", c.Request.Method, c.Request.URL.Path)
		if fhirBases[firstSegment(c.Request.URL.Path)] {
			s.fhirFail(c, err)
			return
		}
		writeError(c, s.log, err)
	})
	e.NoMethod(func(c *gin.Context) {
		if fhirBases[firstSegment(c.Request.URL.Path)] {
			writeFHIR(c, http.StatusMethodNotAllowed, mappings.NewOutcome(mappings.Issue{Severity: "error", Code: "not-supported",
				Diagnostics: "Method " + c.Request.Method + " not allowed on " + c.Request.URL.Path}))
			c.Abort()
			return
		}
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, errorBody(c, http.StatusMethodNotAllowed, "Method not allowed", "METHOD_NOT_ALLOWED", nil))
	})
	for _, r := range s.routes {
		var chain []gin.HandlerFunc
		// each route answers its errors one way: JSON, or OperationOutcomes
		// on the FHIR routes (which also take FHIR media types and larger
		// bodies, and answer a panic in their own format too)
		fail, media, max := s.failJSON, jsonMedia, deps.MaxBody
		if r.fhir {
			fail, media, max = s.fhirFail, fhirMedia, FHIRMaxBody
			chain = append(chain, recoverTo(s.log, fail))
		}
		if r.readAhead != nil {
			chain = append(chain, r.readAhead)
		}
		if r.auth {
			chain = append(chain, s.authenticate(fail))
			if len(r.scopes) > 0 {
				chain = append(chain, s.requireScopes(r.scopes, fail))
			}
		}
		if r.body {
			chain = append(chain, s.readBody(max, media, fail))
		}
		if r.limit != nil { // after the body: a slow sender must not hold a slot
			chain = append(chain, r.limit)
		}
		chain = append(chain, r.handler)
		e.Handle(r.method, r.path, chain...)
	}
	return s
}

// firstSegment is a path's first segment with its slash: /fhir of
// /fhir/$process-message.
func firstSegment(p string) string {
	if i := strings.IndexByte(p[min(1, len(p)):], '/'); i >= 0 {
		return p[:i+1]
	}
	return p
}

// Handler returns the http.Handler to serve.
func (s *Server) Handler() http.Handler { return s.engine }

// Engine exposes the Gin engine (for tests and route listing).
func (s *Server) Engine() *gin.Engine { return s.engine }
