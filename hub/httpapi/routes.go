package httpapi

import (
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/hub/auth"
)

// EventsPrefix is where the OpenCRVS-compatible events API lives.
const EventsPrefix = "/api/events"

// route is one entry of the route table: it registers the handler and
// describes the operation in the OpenAPI document.
type route struct {
	method, path    string
	summary         string
	tag             string
	auth            bool
	scopes          [][]string      // route-level scope groups (all groups, any type within one)
	body            bool            // reads a JSON body (size-limited, content-type checked)
	readAhead       gin.HandlerFunc // optional: reads the body first, for a handler that parses it itself (readAhead)
	limit           gin.HandlerFunc // optional concurrency limit, after the body is read, right before the handler
	request         string          // component schema name of the body
	response        string          // component schema name of the 200 answer
	responseIsArray bool
	statuses        []int // error statuses the route may answer
	fhir            bool  // a FHIR route: FHIR body rules and OperationOutcome errors (fhir.go)
	created         bool  // answers 201 (a new resource) besides 200
	handler         gin.HandlerFunc
}

// actionRoutes are the action endpoints under /events/{eventId}/...
var actionRoutes = []struct {
	slug   string
	action core.ActionType
}{
	{"notify", core.ActionNotify},
	{"declare", core.ActionDeclare},
	{"validate", core.ActionValidate},
	{"register", core.ActionRegister},
	{"reject", core.ActionReject},
	{"archive", core.ActionArchive},
	{"print-certificate", core.ActionPrintCertificate},
	{"assign", core.ActionAssign},
	{"unassign", core.ActionUnassign},
	{"delete", core.ActionDelete},
	{"edit", core.ActionEdit},
	{"mark-as-duplicate", core.ActionMarkAsDuplicate},
	{"mark-as-not-duplicate", core.ActionMarkAsNotDuplicate},
	{"correction/request", core.ActionRequestCorrection},
	{"correction/approve", core.ActionApproveCorrection},
	{"correction/reject", core.ActionRejectCorrection},
}

func (s *Server) routeTable() []route {
	ev := EventsPrefix
	authErrs := []int{401, 403}
	tokenLimit := limitConcurrency(2*runtime.GOMAXPROCS(0), 2*time.Second) // shared by both token routes
	// the token handler reads its own body (JSON, form or none); it is read
	// ahead, with a deadline, so that no slot is held while it trickles in
	tokenBody := readAhead(auth.MaxTokenRequestBody, TokenBodyTimeout)
	rs := []route{
		{method: "GET", path: "/healthz", summary: "Liveness: the process is up", tag: "ops", handler: s.healthz, response: "Health"},
		{method: "GET", path: "/readyz", summary: "Readiness: the store, and with routing on the bus and the outbox relay, work (outbox lag in seconds)", tag: "ops", handler: s.readyz, response: "Readiness", statuses: []int{503}},
		{method: "GET", path: ev + "/openapi.json", summary: "This OpenAPI document", tag: "ops", handler: s.openAPIHandler, response: "OpenAPI"},
		{method: "POST", path: "/auth/token", summary: "OAuth2 client_credentials token (credentials in a JSON body, form body or query)", tag: "auth", handler: s.deps.Token, readAhead: tokenBody, limit: tokenLimit, response: "TokenResponse", request: "TokenRequest", statuses: []int{400, 401, 408, 413, 429}},
		{method: "POST", path: "/token", summary: "Alias of /auth/token for OpenCRVS v1 clients", tag: "auth", handler: s.deps.Token, readAhead: tokenBody, limit: tokenLimit, response: "TokenResponse", request: "TokenRequest", statuses: []int{400, 401, 408, 413, 429}},
		{method: "GET", path: "/auth/.well-known", summary: "The token signing public key (PEM)", tag: "auth", handler: s.deps.WellKnownPEM, response: "PEM"},
		{method: "GET", path: "/auth/.well-known/jwks.json", summary: "The token signing public key (JWKS)", tag: "auth", handler: s.deps.JWKS, response: "JWKS"},
		{method: "GET", path: ev + "/config", summary: "Event configurations (forms)", tag: "config", auth: true, handler: s.getConfig, response: "EventConfig", responseIsArray: true, statuses: authErrs},
		{method: "GET", path: ev + "/locations", summary: "Locations (filters: locationType, externalId, isActive, locationIds)", tag: "config", auth: true, handler: s.getLocations, response: "Location", responseIsArray: true, statuses: append([]int{400}, authErrs...)},
		{method: "POST", path: ev + "/events", summary: "Create an event", tag: "events", auth: true, scopes: [][]string{{core.ScopeRecordCreate}}, body: true, request: "CreateEventInput", response: "EventDocument", handler: s.createEvent, statuses: []int{400, 401, 403, 409, 413, 415}},
		{method: "POST", path: ev + "/events/notify", summary: "Create and notify an event in one call (system clients)", tag: "events", auth: true, scopes: [][]string{{core.ScopeRecordCreate}, {core.ScopeRecordNotify}}, body: true, request: "CreateAndNotifyInput", response: "EventDocument", handler: s.createAndNotify, statuses: []int{400, 401, 403, 409, 413, 415}},
		{method: "POST", path: ev + "/events/search", summary: "Search events (OpenCRVS SearchQuery)", tag: "search", auth: true, scopes: [][]string{{core.ScopeRecordSearch}}, body: true, request: "SearchQuery", response: "SearchResult", handler: s.search, statuses: []int{400, 401, 403, 413, 415}},
		{method: "GET", path: ev + "/events/by-tracking-id/:trackingId", summary: "Get an event by tracking id (records a READ)", tag: "search", auth: true, scopes: [][]string{core.ScopesFor(core.ActionRead)}, response: "EventDocument", handler: s.getByTrackingID, statuses: []int{401, 403, 404}},
		{method: "GET", path: ev + "/events/by-tracking-id/:trackingId/fields/:fieldId", summary: "Get one declaration field of an event by tracking id (records a READ)", tag: "search", auth: true, scopes: [][]string{core.ScopesFor(core.ActionRead)}, response: "FieldValue", handler: s.getFieldByTrackingID, statuses: []int{401, 403, 404}},
		{method: "GET", path: ev + "/events/:eventId", summary: "Get an event (records a READ action)", tag: "events", auth: true, scopes: [][]string{core.ScopesFor(core.ActionRead)}, response: "EventDocument", handler: s.getEvent, statuses: []int{401, 403, 404}},
	}
	for _, a := range actionRoutes {
		a := a
		rs = append(rs, route{
			method: "POST", path: ev + "/events/:eventId/" + a.slug,
			summary: "Action " + string(a.action) + " (scope: " + strings.Join(core.ScopesFor(a.action), " or ") + ")",
			tag:     "actions", auth: true, scopes: [][]string{core.ScopesFor(a.action)}, body: true,
			request: "ActionInput", response: "EventDocument", statuses: []int{400, 401, 403, 404, 409, 413, 415},
			handler: s.action(a.action),
		})
	}
	rs = append(rs, s.opsRoutes()...)
	return append(rs, s.fhirRoutes()...)
}

func (s *Server) healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

// Readiness is what the hub reports to GET /readyz.
type Readiness struct {
	// Checks are the parts that must work (store, and with routing on the
	// bus and the outbox relay): nil when the part works.
	Checks map[string]error
	// OutboxLag is the age of the oldest message not yet on the bus; nil
	// when routing is off.
	OutboxLag *time.Duration
}

// ReadyBody is GET /readyz's JSON: each check "ok" or "failing" (the
// reasons are logged, not shown to an unauthenticated caller).
type ReadyBody struct {
	Status           string            `json:"status"`
	Checks           map[string]string `json:"checks,omitempty"`
	OutboxLagSeconds *float64          `json:"outboxLagSeconds,omitempty"`
}

func (s *Server) readyz(c *gin.Context) {
	body := ReadyBody{Status: "ok"}
	if s.deps.Ready != nil {
		r := s.deps.Ready(c.Request.Context())
		body.Checks = make(map[string]string, len(r.Checks))
		for name, err := range r.Checks {
			body.Checks[name] = "ok"
			if err != nil {
				body.Checks[name], body.Status = "failing", "unavailable"
				s.log.WarnContext(c.Request.Context(), "not ready", "check", name, "error", err.Error())
			}
		}
		if r.OutboxLag != nil {
			sec := r.OutboxLag.Seconds()
			body.OutboxLagSeconds = &sec
		}
	}
	status := http.StatusOK
	if body.Status != "ok" {
		status = http.StatusServiceUnavailable // with Retry-After (errors.go)
	}
	c.JSON(status, body)
}
