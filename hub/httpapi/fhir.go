package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/crvshub/crvshub/core"
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

// fhirMode is what an ingestion route accepts.
type fhirMode int

const (
	fhirAny          fhirMode = iota // POST /fhir: any Bundle type
	fhirMessage                      // POST /fhir/$process-message: message bundles, answered with a response message
	fhirNotification                 // POST /notification: OpenCRVS v1 Event Notification (document + draft Task)
)

// notifyScopes are the route scopes of the ingestion routes; the OpenCRVS
// v1 scope notification-api is translated to both by core.ParseScope.
var notifyScopes = [][]string{{core.ScopeRecordCreate}, {core.ScopeRecordNotify}}

func (s *Server) fhirRoutes() []route {
	ingest := []int{400, 401, 403, 409, 413, 415, 422, 429}
	return []route{
		{method: "POST", path: FHIRPrefix, fhir: true, body: true, auth: true, scopes: notifyScopes, tag: "fhir",
			summary: "Ingest a FHIR R4 birth or death notification (document, message, transaction, batch or collection Bundle); " +
				"201 + Location + OperationOutcome for a new event, 200 for a resent bundle (same event)",
			request: "Bundle", response: "OperationOutcome", created: true, statuses: ingest, handler: s.fhirIngest(fhirAny)},
		{method: "POST", path: FHIRPrefix + "/$process-message", fhir: true, body: true, auth: true, scopes: notifyScopes, tag: "fhir",
			summary: "FHIR messaging ($process-message): a message Bundle in, a response message Bundle out " +
				"(MessageHeader.response.code ok, fatal-error on 4xx, transient-error on 5xx)",
			request: "Bundle", response: "Bundle", statuses: []int{400, 401, 403, 409, 413, 415, 422, 429, 503}, handler: s.fhirIngest(fhirMessage)},
		{method: "POST", path: "/notification", fhir: true, body: true, auth: true, scopes: notifyScopes, tag: "fhir",
			summary: "OpenCRVS v1 Event Notification API: a document Bundle, Composition first, with a draft Task naming regLastOffice",
			request: "Bundle", response: "OperationOutcome", created: true, statuses: ingest, handler: s.fhirIngest(fhirNotification)},
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
	}
	return "exception"
}

// outcomeOf turns an error into its HTTP status and OperationOutcome: a
// mapping error keeps its own status and issues; an engine error gets
// the status of statusOf (the one kind -> status mapping) and one issue
// per bad field; anything else is an internal error (logged, never shown).
func (s *Server) outcomeOf(c *gin.Context, err error) (int, mappings.OperationOutcome) {
	var me *mappings.Error
	if errors.As(err, &me) {
		status := me.Status
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

// fhirFail answers err as an OperationOutcome and stops the chain.
func (s *Server) fhirFail(c *gin.Context, err error) {
	status, oo := s.outcomeOf(c, err)
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="crvshub"`)
	}
	writeFHIR(c, status, oo)
	c.Abort()
}

// fhirAuthenticate is authenticate answering FHIR.
func (s *Server) fhirAuthenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		p, err := s.deps.Auth.Authenticate(c.Request.Context(), c.GetHeader("Authorization"))
		if err != nil {
			s.fhirFail(c, err)
			return
		}
		c.Set(ctxPrincipal, p)
		c.Next()
	}
}

// fhirRequireScopes is requireScopes answering FHIR.
func (s *Server) fhirRequireScopes(groups [][]string) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := principal(c)
		for _, g := range groups {
			if err := core.RequireScope(p, g, ""); err != nil {
				s.fhirFail(c, err)
				return
			}
		}
		c.Next()
	}
}

// fhirMediaTypes are the request media types of the FHIR routes; a missing
// Content-Type is taken as JSON. application/json+fhir is the DSTU2 name
// some senders still use.
var fhirMediaTypes = []string{"application/fhir+json", "application/json", "application/json+fhir"}

// readFHIRBody is readBody for the FHIR routes: FHIR JSON media types
// only (415 otherwise), at most max bytes (413), errors as OperationOutcomes.
func (s *Server) readFHIRBody(max int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if ct := c.GetHeader("Content-Type"); ct != "" {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || !slices.Contains(fhirMediaTypes, mt) {
				s.fhirFail(c, core.Errorf(core.KindUnsupportedType, "UNSUPPORTED_MEDIA_TYPE",
					"Content-Type %q is not supported; send application/fhir+json or application/json", ct))
				return
			}
		}
		if c.Request.ContentLength > max {
			s.fhirFail(c, tooLarge(max))
			return
		}
		b, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, max))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				s.fhirFail(c, tooLarge(max))
				return
			}
			s.fhirFail(c, core.Errorf(core.KindInvalid, "BAD_BODY", "Could not read the request body"))
			return
		}
		c.Set(ctxBody, bytes.TrimSpace(b))
		c.Next()
	}
}

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

// bundlePeek is a lenient first look at a request body: enough to tell a
// message bundle and its MessageHeader, and an OpenCRVS v1 notification.
type bundlePeek struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Entry        []struct {
		FullURL  string       `json:"fullUrl"`
		Resource resourcePeek `json:"resource"`
	} `json:"entry"`
}

// resourcePeek is the part of an entry's resource the HTTP layer reads.
type resourcePeek struct {
	ResourceType string          `json:"resourceType"`
	ID           string          `json:"id"`
	Status       string          `json:"status"`
	EventCoding  json.RawMessage `json:"eventCoding"`
	EventURI     string          `json:"eventUri"`
	Source       struct {
		Endpoint string `json:"endpoint"`
	} `json:"source"`
	Focus     json.RawMessage `json:"focus"`
	Extension []struct {
		URL            string `json:"url"`
		ValueReference struct {
			Reference string `json:"reference"`
		} `json:"valueReference"`
	} `json:"extension"`
}

// peekBundle reads a body's Bundle type and entries in one pass; when an
// entry has a field of an unexpected kind it reads the entries one by one,
// leaving a bad one zero (the mapper reports it).
func peekBundle(b []byte) (bundlePeek, []resourcePeek, bool) {
	var p bundlePeek
	if err := json.Unmarshal(b, &p); err != nil {
		var q struct {
			ResourceType string `json:"resourceType"`
			Type         string `json:"type"`
			Entry        []struct {
				FullURL  string          `json:"fullUrl"`
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if json.Unmarshal(b, &q) != nil {
			return p, nil, false
		}
		p = bundlePeek{ResourceType: q.ResourceType, Type: q.Type}
		p.Entry = make([]struct {
			FullURL  string       `json:"fullUrl"`
			Resource resourcePeek `json:"resource"`
		}, len(q.Entry))
		for i, e := range q.Entry {
			p.Entry[i].FullURL = e.FullURL
			_ = json.Unmarshal(e.Resource, &p.Entry[i].Resource)
		}
	}
	if p.ResourceType != "Bundle" {
		return p, nil, false
	}
	rs := make([]resourcePeek, len(p.Entry))
	for i := range p.Entry {
		rs[i] = p.Entry[i].Resource
	}
	return p, rs, true
}

// messageHeader returns the first MessageHeader of a peeked message bundle.
func messageHeader(rs []resourcePeek) *resourcePeek {
	for i := range rs {
		if rs[i].ResourceType == "MessageHeader" {
			return &rs[i]
		}
	}
	return nil
}

const regLastOfficeURL = "http://opencrvs.org/specs/extension/regLastOffice"

// checkV1Notification applies the shape rules of OpenCRVS's v1 Event
// Notification API (gateway eventNotificationHandler): a document Bundle
// whose first entry is a Composition, holding a draft Task whose
// regLastOffice extension names a CRVS office; the Task's focus is the
// Composition.
func (s *Server) checkV1Notification(p bundlePeek, rs []resourcePeek) error {
	bad := func(expr, format string, args ...any) error {
		return &mappings.Error{Status: http.StatusBadRequest, Issues: []mappings.Issue{{Severity: "error", Code: "structure",
			Expression: []string{expr}, Diagnostics: "Not an OpenCRVS Event Notification: " + fmt.Sprintf(format, args...)}}}
	}
	if p.Type != "document" {
		return bad("Bundle.type", "Bundle.type is %q; the Event Notification API takes a document Bundle (use POST /fhir for other bundles)", p.Type)
	}
	if len(rs) == 0 || rs[0].ResourceType != "Composition" {
		return bad("Bundle.entry[0].resource", "the first entry must be a Composition")
	}
	task := -1
	for i, r := range rs {
		if r.ResourceType == "Task" {
			task = i
			break
		}
	}
	if task < 0 {
		return bad("Bundle.entry", "no Task entry; an Event Notification carries a draft Task with the regLastOffice extension")
	}
	at := fmt.Sprintf("Bundle.entry[%d].resource", task)
	t := rs[task]
	if t.Status != "draft" {
		return bad(at+".status", "Task.status is %q; it must be \"draft\"", t.Status)
	}
	var focus struct {
		Reference string `json:"reference"`
	}
	_ = json.Unmarshal(t.Focus, &focus)
	if comp := p.Entry[0].FullURL; focus.Reference != "" && comp != "" && !sameReference(focus.Reference, comp, rs[0].ID) {
		return bad(at+".focus.reference", "Task.focus %q does not point at the Composition (%s)", focus.Reference, comp)
	}
	for j, e := range t.Extension {
		if e.URL != regLastOfficeURL {
			continue
		}
		expr := fmt.Sprintf("%s.extension[%d].valueReference.reference", at, j)
		ref := e.ValueReference.Reference
		id := strings.ToLower(ref[strings.LastIndex(ref, "/")+1:])
		if l := s.deps.Service.Config.Location(id); l == nil || l.LocationType != core.LocationCRVSOffice {
			return bad(expr, "regLastOffice %q is not a CRVS office of this country's config", ref)
		}
		return nil
	}
	return bad(at+".extension", "the Task has no %s extension naming the registration office", regLastOfficeURL)
}

// sameReference reports whether a reference points at an entry with this
// fullUrl or resource id.
func sameReference(ref, fullURL, id string) bool {
	if ref == fullURL || strings.HasSuffix(fullURL, "/"+ref) {
		return true
	}
	return id != "" && strings.HasSuffix(ref, "/"+id)
}

// FHIRMapWait is how long an ingestion request waits for a mapping slot
// before it is answered 429 (see FHIRMapConcurrency).
const FHIRMapWait = 10 * time.Second

// FHIRMapConcurrency is how many bundles the ingestion routes map at once
// (2 x GOMAXPROCS: mapping is CPU work). Only the mapping holds a slot:
// reading the body happens before (a slow sender holds none) and storing
// the event after (so concurrent requests still share the store's group
// commits).
func FHIRMapConcurrency() int { return 2 * runtime.GOMAXPROCS(0) }

// fhirSlot takes a mapping slot, or answers 429 (Retry-After) as an
// OperationOutcome with issue code throttled.
func (s *Server) fhirSlot(c *gin.Context) (func(), bool) {
	release, err := s.fhirLimit.acquire(c.Request.Context())
	if errors.Is(err, errBusy) {
		c.Header("Retry-After", "1")
		writeFHIR(c, http.StatusTooManyRequests, mappings.NewOutcome(mappings.Issue{Severity: "error", Code: "throttled",
			Diagnostics: "Too many bundles are being mapped at once; retry shortly"}))
		c.Abort()
		return nil, false
	}
	if err != nil { // the client left
		c.Abort()
		return nil, false
	}
	return release, true
}

// fhirIngest serves the three ingestion routes.
func (s *Server) fhirIngest(mode fhirMode) gin.HandlerFunc {
	return func(c *gin.Context) {
		m := s.mapper(c)
		if m == nil {
			return
		}
		release, ok := s.fhirSlot(c)
		if !ok {
			return
		}
		defer release() // early answers; released as soon as the mapping is done otherwise
		raw := body(c)
		var peek bundlePeek
		var rs []resourcePeek
		isBundle := false
		if mode != fhirAny { // POST /fhir leaves every look at the body to the mapper
			// the entry count first: peeking at millions of entries costs
			// as much memory as mapping them
			if err := mappings.CheckEntries(raw); err != nil {
				s.fhirFail(c, err)
				return
			}
			peek, rs, isBundle = peekBundle(raw)
		}
		var header *resourcePeek
		if mode == fhirMessage && isBundle {
			if peek.Type != "message" {
				s.fhirFail(c, &mappings.Error{Status: http.StatusBadRequest, Issues: []mappings.Issue{{Severity: "error", Code: "structure",
					Expression: []string{"Bundle.type"}, Diagnostics: fmt.Sprintf("$process-message takes a message Bundle; this one is of type %q (post it to /fhir)", peek.Type)}}})
				return
			}
			header = messageHeader(rs)
		}
		// fail answers an error: a response message for a message whose
		// header could be read, an OperationOutcome otherwise.
		fail := func(err error) {
			if header == nil || header.ID == "" {
				s.fhirFail(c, err)
				return
			}
			status, oo := s.outcomeOf(c, err)
			code := "fatal-error"
			if status >= 500 {
				code = "transient-error"
			}
			writeFHIR(c, status, s.responseMessage(c, header, code, oo))
			c.Abort()
		}
		// The Event Notification API's own rules come first (as OpenCRVS
		// validates the shape before reading the record); a body that is
		// not even a Bundle gets the mapper's precise answer.
		if mode == fhirNotification && isBundle {
			if err := s.checkV1Notification(peek, rs); err != nil {
				fail(err)
				return
			}
		}
		res, err := m.Map(raw, s.now())
		release()
		if err != nil {
			fail(err)
			return
		}
		if mode == fhirNotification && !isBundle { // the mapper read what the lenient look could not
			fail(&mappings.Error{Status: http.StatusBadRequest, Issues: []mappings.Issue{{Severity: "error", Code: "structure",
				Expression: []string{"Bundle"}, Diagnostics: "Not an OpenCRVS Event Notification: the Bundle's entries could not be read (use POST /fhir)"}}})
			return
		}
		if mode == fhirMessage && !res.IsMessage {
			fail(&mappings.Error{Status: http.StatusBadRequest, Issues: []mappings.Issue{{Severity: "error", Code: "structure",
				Expression: []string{"Bundle"}, Diagnostics: "$process-message takes a message Bundle (type message, MessageHeader first)"}}})
			return
		}
		if mode == fhirMessage {
			if header == nil { // the mapper found the header where the lenient look did not
				header = &resourcePeek{ResourceType: "MessageHeader"}
			}
			if res.MessageHeaderID != "" {
				header.ID = res.MessageHeaderID
			}
		}
		p := principal(c)
		office, source := res.Office, "the bundle"
		if office == "" {
			office, source = c.Query("createdAtLocation"), "the createdAtLocation query parameter"
		}
		if office == "" {
			office, source = p.Office, "the client's default office"
		}
		if office == "" {
			fail(&mappings.Error{Status: http.StatusBadRequest, Issues: []mappings.Issue{{Severity: "error", Code: "required",
				Diagnostics: "No office for the new event: the bundle names none (Task regLastOffice, an Encounter location that is an office or facility), " +
					"no createdAtLocation query parameter was sent, and the client has no default office"}}})
			return
		}
		start := s.now()
		ev, err := s.deps.Service.CreateAndNotify(c.Request.Context(), p, core.CreateAndNotifyInput{
			TransactionID: res.TransactionID, EventType: res.EventType,
			CreatedAtLocation: office, Declaration: res.Declaration})
		if err != nil {
			if ce := (*core.Error)(nil); errors.As(err, &ce) && ce.Code == "INVALID_LOCATION" {
				err = &core.Error{Kind: ce.Kind, Code: ce.Code, Message: ce.Message + " (office taken from " + source + ")"}
			}
			fail(err)
			return
		}
		// A resend (same transaction id) returns the event stored by an
		// earlier request: created before this one started. It answers
		// 200 with the same Location; two identical bundles racing may
		// both answer 201, naming the one event.
		created := !ev.CreatedAt.Before(start)
		summary := fmt.Sprintf("Event %s (%s) created from the %s bundle; tracking id %s", ev.ID, ev.Type, res.Family, ev.TrackingID)
		status := http.StatusCreated
		if !created {
			summary = fmt.Sprintf("This bundle was already received: event %s (%s), tracking id %s; nothing was changed", ev.ID, ev.Type, ev.TrackingID)
			status = http.StatusOK
		}
		issues := append([]mappings.Issue{{Severity: "information", Code: "informational", Diagnostics: summary}}, res.Issues...)
		oo := mappings.NewOutcome(capIssues(issues)...)
		c.Header("Location", EventsPrefix+"/events/"+ev.ID)
		if mode == fhirMessage {
			writeFHIR(c, http.StatusOK, s.responseMessage(c, header, "ok", oo))
			return
		}
		writeFHIR(c, status, oo)
	}
}

// responseMessage builds the response message of $process-message: a
// message Bundle whose MessageHeader answers the request's header
// (response.identifier = its id) with code ok, transient-error or
// fatal-error, and whose details is the OperationOutcome entry.
func (s *Server) responseMessage(c *gin.Context, req *resourcePeek, code string, oo mappings.OperationOutcome) map[string]any {
	hid, oid := core.NewID(), core.NewID()
	mh := map[string]any{
		"resourceType": "MessageHeader", "id": hid,
		"source":   map[string]any{"name": "crvshub", "endpoint": requestBase(c) + FHIRPrefix + "/$process-message"},
		"response": map[string]any{"identifier": req.ID, "code": code, "details": map[string]any{"reference": "urn:uuid:" + oid}},
	}
	switch {
	case len(req.EventCoding) > 0 && string(req.EventCoding) != "null":
		mh["eventCoding"] = req.EventCoding
	case req.EventURI != "":
		mh["eventUri"] = req.EventURI
	default:
		mh["eventUri"] = "urn:crvshub:fhir:response"
	}
	if req.Source.Endpoint != "" {
		mh["destination"] = []map[string]any{{"endpoint": req.Source.Endpoint}}
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
