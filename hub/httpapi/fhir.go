package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/hub/ingest"
	"github.com/crvshub/crvshub/mappings"
)

// FHIR routes. They answer FHIR: every answer, errors included (401, 403,
// 413, 415...), is a FHIR resource with Content-Type application/fhir+json.
const (
	FHIRPrefix = "/fhir"
	// FHIRMaxBody is the request body limit of the FHIR routes (8 MiB):
	// HL7 vital records bundles run to a few hundred KB.
	FHIRMaxBody = 8 << 20
	// FHIRContentType is the media type of every FHIR answer.
	FHIRContentType = "application/fhir+json"
	// processMessageDefinition is the canonical URL of the operation.
	processMessageDefinition = "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message"
)

// notifyScopes are the route scopes of the ingestion routes; the OpenCRVS
// v1 scope notification-api is translated to both by core.ParseScope.
var notifyScopes = [][]string{{core.ScopeRecordCreate}, {core.ScopeRecordNotify}}

func (s *Server) fhirRoutes() []route {
	ingestErrs := []int{400, 401, 403, 409, 413, 415, 422, 429}
	return []route{
		{method: "POST", path: FHIRPrefix, fhir: true, body: true, auth: true, scopes: notifyScopes, tag: "fhir",
			summary: "Ingest a FHIR R4 birth or death notification (document, message, transaction, batch or collection Bundle); " +
				"201 + Location + OperationOutcome for a new event, 200 for a resent bundle (same event)",
			request: "Bundle", response: "OperationOutcome", created: true, statuses: ingestErrs, handler: s.fhirIngest(ingest.Any)},
		{method: "POST", path: FHIRPrefix + "/$process-message", fhir: true, body: true, auth: true, scopes: notifyScopes, tag: "fhir",
			summary: "FHIR messaging ($process-message): a message Bundle in, a response message Bundle out " +
				"(MessageHeader.response.code ok, fatal-error on 4xx, transient-error on 5xx)",
			request: "Bundle", response: "Bundle", statuses: []int{400, 401, 403, 409, 413, 415, 422, 429, 503}, handler: s.fhirIngest(ingest.Message)},
		{method: "POST", path: "/notification", fhir: true, body: true, auth: true, scopes: notifyScopes, tag: "fhir",
			summary: "OpenCRVS v1 Event Notification API: a document Bundle, Composition first, with a draft Task naming regLastOffice",
			request: "Bundle", response: "OperationOutcome", created: true, statuses: ingestErrs, handler: s.fhirIngest(ingest.Notification)},
		{method: "GET", path: FHIRPrefix + "/Bundle/:eventId", fhir: true, auth: true, scopes: [][]string{core.ScopesFor(core.ActionRead)}, tag: "fhir",
			summary:  "An event as a FHIR R4 document Bundle (records a READ action)",
			response: "Bundle", statuses: []int{401, 403, 404}, handler: s.fhirGetBundle},
		{method: "GET", path: FHIRPrefix + "/metadata", fhir: true, tag: "fhir",
			summary:  "FHIR CapabilityStatement of the hub's FHIR interactions (no token needed)",
			response: "CapabilityStatement", handler: s.fhirMetadata},
	}
}

// issueCode is the FHIR issue-type code of an engine error kind.
func issueCode(k core.Kind) string {
	switch k {
	case core.KindInvalid:
		return "invalid"
	case core.KindUnauthenticated:
		return "login"
	case core.KindForbidden:
		return "forbidden"
	case core.KindNotFound:
		return "not-found"
	case core.KindConflict:
		return "conflict"
	case core.KindTooLarge:
		return "too-long"
	case core.KindUnsupportedType:
		return "not-supported"
	case core.KindUnavailable:
		return "transient"
	case core.KindUnprocessable:
		return "processing"
	case core.KindTooManyRequests:
		return "throttled"
	case core.KindTimeout:
		return "timeout"
	}
	return "exception"
}

// outcomeOf turns an error into its HTTP status and OperationOutcome: a
// mapping error keeps its own issues; every error gets the status of
// statusOf (the one kind -> status mapping); an engine error one issue
// per bad field; anything else is an internal error (logged, never shown).
func (s *Server) outcomeOf(c *gin.Context, err error) (int, mappings.OperationOutcome) {
	var me *mappings.Error
	if errors.As(err, &me) {
		status := statusOf(me.Kind)
		if status < 400 || status > 499 {
			status = http.StatusBadRequest
		}
		oo := mappings.NewOutcome(capIssues(me.Issues)...)
		if len(oo.Issue) == 0 {
			oo = mappings.NewOutcome(mappings.Issue{Severity: "error", Code: "invalid", Diagnostics: "The bundle cannot be used"})
		}
		return status, oo
	}
	var ce *core.Error
	if !errors.As(err, &ce) {
		ce = &core.Error{Kind: core.KindInternal, Code: "INTERNAL", Message: "internal error", Err: err}
	}
	status := statusOf(ce.Kind)
	code := issueCode(ce.Kind)
	if status >= 500 {
		s.log.ErrorContext(c.Request.Context(), "request failed", "error", err.Error(),
			"correlationId", correlationID(c), "path", c.FullPath())
		if ce.Kind == core.KindInternal {
			return status, mappings.NewOutcome(mappings.Issue{Severity: "fatal", Code: code,
				Diagnostics: "Internal error; quote correlation id " + correlationID(c)})
		}
	}
	if len(ce.Fields) > 0 {
		issues := make([]mappings.Issue, 0, len(ce.Fields))
		for _, f := range ce.Fields {
			issues = append(issues, mappings.Issue{Severity: "error", Code: "value",
				Diagnostics: fmt.Sprintf("Declaration field %s (mapped from the bundle): %s", f.ID, f.Message)})
		}
		return status, mappings.NewOutcome(capIssues(issues)...)
	}
	return status, mappings.NewOutcome(mappings.Issue{Severity: "error", Code: code, Diagnostics: ce.Message})
}

// MaxOutcomeIssues is the most issues an OperationOutcome answers; the
// rest are counted in one last issue. The mapper already collapses
// repeated issues of one kind; this bounds what is left, so an answer
// never grows with the size of the bundle.
const MaxOutcomeIssues = 100

// capIssues keeps the first MaxOutcomeIssues issues and says how many more
// there were. Errors and fatals are moved first, so the cap never hides
// why a bundle was refused.
func capIssues(issues []mappings.Issue) []mappings.Issue {
	if len(issues) <= MaxOutcomeIssues {
		return issues
	}
	out := make([]mappings.Issue, 0, MaxOutcomeIssues+1)
	for _, severe := range []bool{true, false} {
		for _, is := range issues {
			if len(out) == MaxOutcomeIssues {
				break
			}
			if (is.Severity == "error" || is.Severity == "fatal") == severe {
				out = append(out, is)
			}
		}
	}
	return append(out, mappings.Issue{Severity: "information", Code: "informational",
		Diagnostics: fmt.Sprintf("and %d more issues, not listed", len(issues)-MaxOutcomeIssues)})
}

// writeFHIR answers a FHIR resource.
func writeFHIR(c *gin.Context, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"fatal","code":"exception","diagnostics":"could not encode the answer"}]}`)
	}
	c.Data(status, FHIRContentType+"; charset=utf-8", b)
}

// fhirFail answers err as an OperationOutcome and stops the chain: the
// errorRenderer of the FHIR routes.
func (s *Server) fhirFail(c *gin.Context, err error) {
	status, oo := s.outcomeOf(c, err)
	setErrorHeaders(c, status)
	writeFHIR(c, status, oo)
	c.Abort()
}

// fhirMedia is the request media rule of the FHIR routes; a missing
// Content-Type is taken as JSON. application/json+fhir is the DSTU2 name
// some senders still use.
var fhirMedia = mediaRule{want: "application/fhir+json or application/json", accepts: func(mt string) bool {
	return mt == "application/fhir+json" || mt == "application/json" || mt == "application/json+fhir"
}}

func (s *Server) now() time.Time {
	if s.deps.Service != nil && s.deps.Service.Now != nil {
		return s.deps.Service.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Server) mapper(c *gin.Context) *mappings.Mapper {
	if s.deps.FHIR == nil {
		s.fhirFail(c, core.Errorf(core.KindUnavailable, "FHIR_DISABLED", "FHIR mapping is not configured on this hub"))
	}
	return s.deps.FHIR
}

// FHIRMapWait is how long an ingestion request waits for a mapping slot
// before it is answered 429 (see FHIRMapConcurrency).
const FHIRMapWait = 10 * time.Second

// FHIRMapConcurrency is how many bundles the ingestion routes decode and
// map at once (2 x GOMAXPROCS: it is CPU work). Only that holds a slot
// (hub/ingest): reading the body happens before (a slow sender holds
// none) and storing the event after (so concurrent requests still share
// the store's group commits).
func FHIRMapConcurrency() int { return 2 * runtime.GOMAXPROCS(0) }

// fhirSlot takes a mapping slot for the ingest service: a
// core.KindTooManyRequests error (429, Retry-After) when none comes free
// in FHIRMapWait, the context's error when the client left.
func (s *Server) fhirSlot(ctx context.Context) (func(), error) {
	release, err := s.fhirLimit.acquire(ctx)
	if errors.Is(err, errBusy) {
		return nil, core.Errorf(core.KindTooManyRequests, "TOO_MANY_REQUESTS", "Too many bundles are being mapped at once; retry shortly")
	}
	return release, err
}

// fhirIngest serves the three ingestion routes: the use case is
// hub/ingest; this answers its result or error in FHIR.
func (s *Server) fhirIngest(mode ingest.Mode) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		res, err := s.ingest.Ingest(ctx, principal(c), ingest.Request{Mode: mode, Body: body(c), Office: c.Query("createdAtLocation")})
		if err != nil {
			if ctx.Err() != nil && core.KindOf(err) == core.KindInternal { // the client left
				c.Abort()
				return
			}
			// a message whose header could be read is answered with a
			// response message; anything else with an OperationOutcome
			if res.Header == nil || res.Header.ID == "" {
				s.fhirFail(c, err)
				return
			}
			status, oo := s.outcomeOf(c, err)
			code := "fatal-error"
			if status >= 500 {
				code = "transient-error"
			}
			setErrorHeaders(c, status)
			writeFHIR(c, status, s.responseMessage(c, res.Header, code, oo))
			c.Abort()
			return
		}
		ev := res.Event
		summary := fmt.Sprintf("Event %s (%s) created from the %s bundle; tracking id %s", ev.ID, ev.Type, res.Mapping.Family, ev.TrackingID)
		status := http.StatusCreated
		if !res.Created {
			summary = fmt.Sprintf("This bundle was already received: event %s (%s), tracking id %s; nothing was changed", ev.ID, ev.Type, ev.TrackingID)
			status = http.StatusOK
		}
		issues := append([]mappings.Issue{{Severity: "information", Code: "informational", Diagnostics: summary}}, res.Mapping.Issues...)
		oo := mappings.NewOutcome(capIssues(issues)...)
		c.Header("Location", EventsPrefix+"/events/"+ev.ID)
		if mode == ingest.Message {
			writeFHIR(c, http.StatusOK, s.responseMessage(c, res.Header, "ok", oo))
			return
		}
		writeFHIR(c, status, oo)
	}
}

// responseMessage builds the response message of $process-message: a
// message Bundle whose MessageHeader answers the request's header
// (response.identifier = its id) with code ok, transient-error or
// fatal-error, and whose details is the OperationOutcome entry.
func (s *Server) responseMessage(c *gin.Context, req *ingest.MessageHeader, code string, oo mappings.OperationOutcome) map[string]any {
	hid, oid := core.NewID(), core.NewID()
	mh := map[string]any{
		"resourceType": "MessageHeader", "id": hid,
		"source":   map[string]any{"name": "crvshub", "endpoint": requestBase(c) + FHIRPrefix + "/$process-message"},
		"response": map[string]any{"identifier": req.ID, "code": code, "details": map[string]any{"reference": "urn:uuid:" + oid}},
	}
	switch {
	case req.EventCoding != nil:
		mh["eventCoding"] = req.EventCoding
	case req.EventURI != "":
		mh["eventUri"] = req.EventURI
	default:
		mh["eventUri"] = "urn:crvshub:fhir:response"
	}
	if req.SourceEndpoint != "" {
		mh["destination"] = []map[string]any{{"endpoint": req.SourceEndpoint}}
	}
	ooRes := map[string]any{"resourceType": "OperationOutcome", "id": oid, "issue": oo.Issue}
	return map[string]any{
		"resourceType": "Bundle", "id": core.NewID(), "type": "message",
		"timestamp": s.now().Format(time.RFC3339),
		"entry": []map[string]any{
			{"fullUrl": "urn:uuid:" + hid, "resource": mh},
			{"fullUrl": "urn:uuid:" + oid, "resource": ooRes},
		},
	}
}

// requestBase is the scheme and host the client used.
func requestBase(c *gin.Context) string {
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host
}

// fhirGetBundle answers an event as a FHIR document Bundle.
func (s *Server) fhirGetBundle(c *gin.Context) {
	m := s.mapper(c)
	if m == nil {
		return
	}
	ev, err := s.deps.Service.Get(c.Request.Context(), principal(c), c.Param("eventId"))
	if err != nil {
		s.fhirFail(c, err)
		return
	}
	b, err := m.ToBundle(ev)
	if err != nil {
		s.fhirFail(c, fmt.Errorf("event %s as a FHIR bundle: %w", ev.ID, err))
		return
	}
	c.Data(http.StatusOK, FHIRContentType+"; charset=utf-8", b)
}

// fhirMetadata answers the CapabilityStatement.
func (s *Server) fhirMetadata(c *gin.Context) {
	var families []string
	if s.deps.FHIR != nil {
		families = s.deps.FHIR.Families()
	}
	desc := "crvshub takes FHIR R4 birth and death notifications and keeps them as OpenCRVS v2 events. " +
		"Bundle families understood: " + strings.Join(families, ", ") + "."
	writeFHIR(c, http.StatusOK, map[string]any{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         "2026-11-27",
		"publisher":    "crvshub",
		"kind":         "instance",
		"software":     map[string]any{"name": "crvshub"},
		"implementation": map[string]any{"description": "crvshub civil registration hub: FHIR ingestion",
			"url": requestBase(c) + FHIRPrefix},
		"fhirVersion": "4.0.1",
		"format":      []string{"application/fhir+json", "json"},
		"rest": []map[string]any{{
			"mode":          "server",
			"documentation": desc,
			"security": map[string]any{
				"description": "Bearer tokens from POST /auth/token (OAuth2 client credentials). Ingestion needs the scopes " +
					"record.create and record.notify (OpenCRVS v1: notification-api); reading a Bundle needs record.read.",
				"service": []map[string]any{{"coding": []map[string]any{{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "OAuth"}}}},
			},
			"resource": []map[string]any{{
				"type":          "Bundle",
				"documentation": "POST /fhir creates an event from a document, message, transaction, batch or collection Bundle; GET /fhir/Bundle/{eventId} reads an event as a document Bundle",
				"interaction":   []map[string]any{{"code": "read"}, {"code": "create"}},
			}},
			"operation": []map[string]any{{"name": "process-message", "definition": processMessageDefinition}},
		}},
		"messaging": []map[string]any{{
			"documentation": "POST /fhir/$process-message: synchronous; the answer is a response message (ok, fatal-error, transient-error)",
		}},
		"document": []map[string]any{{
			"mode": "consumer", "profile": "http://hl7.org/fhir/StructureDefinition/Composition",
			"documentation": "POST /notification takes OpenCRVS v1 Event Notification documents; POST /fhir takes any document",
		}, {
			"mode": "producer", "profile": "http://hl7.org/fhir/StructureDefinition/Composition",
			"documentation": "GET /fhir/Bundle/{eventId}",
		}},
	})
}
