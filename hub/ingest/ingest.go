// Package ingest is the FHIR ingestion use case: a bundle posted by a
// hospital or another system becomes a notified event. It decodes the
// body once, applies the rules of the route it came by (any bundle, a
// FHIR message for $process-message, an OpenCRVS v1 Event Notification),
// maps it with the mapping specs, chooses the office the event is
// created at, and creates and notifies the event through the engine
// (core.Service.CreateAndNotify), which says whether the event is new or
// a resent bundle's.
//
// It lives under hub because it joins two of the hub's parts, the engine
// (core) and the mappings (the dependency rule is hub -> {core,
// mappings, adapters}, mappings -> core); the HTTP layer only turns its
// result or error into an answer.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/mappings"
)

// Mode is what an ingestion route accepts.
type Mode int

const (
	Any          Mode = iota // any Bundle type (POST /fhir)
	Message                  // message bundles only, answered with a response message ($process-message)
	Notification             // OpenCRVS v1 Event Notification: a document with a draft Task (POST /notification)
)

// Request is one bundle to ingest.
type Request struct {
	Mode Mode
	Body []byte
	// Office is the office the caller names for the event
	// (createdAtLocation), used when the bundle names none.
	Office string
}

// MessageHeader is what a response message answers: the request
// message's header.
type MessageHeader struct {
	ID             string
	EventCoding    any    // the request's eventCoding, as sent (nil: none)
	EventURI       string // the request's eventUri
	SourceEndpoint string
}

// Result is what an ingestion did.
type Result struct {
	Mapping *mappings.Result    // the mapped bundle (nil on an error before mapping)
	Event   *core.EventDocument // the event (nil on an error)
	// Created: this request created the event; false for a resent bundle
	// (same transaction id), which returns the event stored before.
	Created bool
	// Office is where the event was created and OfficeSource where that
	// came from (the bundle, the request, the client's default office).
	Office, OfficeSource string
	// Header is the request's MessageHeader (mode Message) once it could
	// be read, errors included: a message is answered with a response
	// message that names it.
	Header *MessageHeader
}

// Service ingests bundles.
type Service struct {
	Mapper *mappings.Mapper // nil: ingestion answers KindUnavailable
	Events *core.Service
	// Slot, when set, bounds the costly part (decoding and mapping): it
	// takes a slot and returns its release (safe to call twice), or an
	// error that is answered as is (core.KindTooManyRequests when none
	// came free in time, the context's error when the client left).
	Slot func(ctx context.Context) (release func(), err error)
}

func (s *Service) now() time.Time {
	if s.Events != nil && s.Events.Now != nil {
		return s.Events.Now().UTC()
	}
	return time.Now().UTC()
}

// structure is a 400 naming where a bundle breaks a route's rules.
func structure(expr, format string, args ...any) error {
	is := mappings.Issue{Severity: "error", Code: "structure", Diagnostics: fmt.Sprintf(format, args...)}
	if expr != "" {
		is.Expression = []string{expr}
	}
	return &mappings.Error{Kind: core.KindInvalid, Issues: []mappings.Issue{is}}
}

// Ingest maps the bundle and creates and notifies its event. The Result
// is never nil: on an error it holds what was learnt before (the message
// header to answer). Errors are *mappings.Error (the bundle) or
// *core.Error (the engine, the mapping slot); any other is a bug.
func (s *Service) Ingest(ctx context.Context, p core.Principal, req Request) (*Result, error) {
	out := &Result{}
	if s.Mapper == nil {
		return out, core.Errorf(core.KindUnavailable, "FHIR_DISABLED", "FHIR mapping is not configured on this hub")
	}
	release := func() {}
	if s.Slot != nil {
		r, err := s.Slot(ctx)
		if err != nil {
			return out, err
		}
		release = r
	}
	defer release() // on a panic; released as soon as the mapping is done otherwise
	res, err := s.mapRequest(req, out)
	// the slot bounds the mapping only: the event is stored without it,
	// so concurrent requests still share the store's group commits
	release()
	if err != nil {
		return out, err
	}
	return s.store(ctx, p, req, res, out)
}

// mapRequest decodes the body once, applies the route's rules and maps it.
func (s *Service) mapRequest(req Request, out *Result) (*mappings.Result, error) {
	b, err := mappings.Decode(req.Body)
	if err != nil {
		return nil, err
	}
	bundle := b.Data()
	typ, _ := bundle["type"].(string)
	switch req.Mode {
	case Message:
		if typ != "message" {
			return nil, structure("Bundle.type", "$process-message takes a message Bundle; this one is of type %q (post it to /fhir)", typ)
		}
		out.Header = messageHeader(bundle)
	case Notification:
		// The Event Notification API's own rules come first, as OpenCRVS
		// checks the shape before reading the record.
		if err := s.checkV1Notification(bundle); err != nil {
			return nil, err
		}
	}
	res, err := s.Mapper.MapBody(b, s.now())
	if err != nil {
		return nil, err
	}
	out.Mapping = res
	if req.Mode == Message {
		if !res.IsMessage {
			return nil, structure("Bundle", "$process-message takes a message Bundle (type message, MessageHeader first)")
		}
		if out.Header == nil { // the mapper found the header the first look did not
			out.Header = &MessageHeader{}
		}
		if res.MessageHeaderID != "" {
			out.Header.ID = res.MessageHeaderID
		}
	}
	return res, nil
}

// store chooses the office and creates and notifies the event.
func (s *Service) store(ctx context.Context, p core.Principal, req Request, res *mappings.Result, out *Result) (*Result, error) {
	office, source := res.Office, "the bundle"
	if office == "" {
		office, source = req.Office, "the createdAtLocation query parameter"
	}
	if office == "" {
		office, source = p.Office, "the client's default office"
	}
	if office == "" {
		return out, &mappings.Error{Kind: core.KindInvalid, Issues: []mappings.Issue{{Severity: "error", Code: "required",
			Diagnostics: "No office for the new event: the bundle names none (Task regLastOffice, an Encounter location that is an office or facility), " +
				"no createdAtLocation query parameter was sent, and the client has no default office"}}}
	}
	out.Office, out.OfficeSource = office, source
	ev, created, err := s.Events.CreateAndNotify(ctx, p, core.CreateAndNotifyInput{
		TransactionID: res.TransactionID, EventType: res.EventType,
		CreatedAtLocation: office, Declaration: res.Declaration})
	if err != nil {
		var ce *core.Error
		switch {
		case errors.As(err, &ce) && (ce.Code == "INVALID_LOCATION" || ce.Code == "LOCATION_NOT_ALLOWED"):
			err = &core.Error{Kind: ce.Kind, Code: ce.Code, Message: ce.Message + " (office taken from " + source + ")", Fields: ce.Fields}
		case errors.As(err, &ce) && ce.Code == core.CodeTransactionIDReused:
			err = reusedIdentifier(res, office, ce)
		}
		return out, err
	}
	out.Event, out.Created = ev, created
	return out, nil
}

// maxNamedFields bounds the fields a conflict names.
const maxNamedFields = 20

// reusedIdentifier answers a bundle whose identifier this client already
// sent with other content (the engine's TRANSACTION_ID_REUSED) in the
// bundle's terms: a 409 conflict naming what differs, never a 200 that
// drops the new content. The identifier is the sender's key for one
// notification; a correction sent under it would be lost, and updating
// a notification by resending it is not supported.
func reusedIdentifier(res *mappings.Result, office string, ce *core.Error) error {
	var fields, parts []string
	for _, f := range ce.Fields {
		switch f.ID {
		case "eventType":
			parts = append(parts, fmt.Sprintf("the event type differs (it was a %v, this bundle is a %s)", f.Value, res.EventType))
		case "createdAtLocation":
			parts = append(parts, fmt.Sprintf("the office differs (it was %v, this bundle's is %s)", f.Value, office))
		default:
			fields = append(fields, f.ID)
		}
	}
	switch n := len(fields); {
	case n == 1:
		parts = append(parts, "declaration field "+fields[0]+" (as mapped from the bundle) differs")
	case n > 1:
		named := fields[:min(n, maxNamedFields)]
		what := "declaration fields " + strings.Join(named, ", ")
		if n > len(named) {
			what += fmt.Sprintf(" and %d more", n-len(named))
		}
		parts = append(parts, what+" (as mapped from the bundle) differ")
	}
	if len(parts) == 0 { // nothing the engine listed: its own words
		parts = append(parts, strings.TrimSpace(ce.Message))
	}
	which := fmt.Sprintf("This bundle's identifier %q was", strings.TrimPrefix(res.TransactionID, "fhir:"))
	if strings.HasPrefix(res.TransactionID, "fhir:sha256:") {
		which = "This bundle (it has no identifier: the hub keys it by its content) was"
	}
	return &mappings.Error{Kind: core.KindConflict, Issues: []mappings.Issue{{Severity: "error", Code: "conflict",
		Diagnostics: which + " already received from this client with other content: " + strings.Join(parts, "; ") + ". " +
			"Nothing was changed. Updating a notification by resending it is not supported yet: " +
			"a new notification must be sent with a new identifier (Bundle.identifier), and a correction to the notified event " +
			"goes through the registration office"}}}
}

// messageHeader reads the first MessageHeader of a message bundle.
func messageHeader(bundle map[string]any) *MessageHeader {
	for _, r := range resources(bundle) {
		if r.obj["resourceType"] != "MessageHeader" {
			continue
		}
		h := &MessageHeader{ID: text(r.obj, "id"), EventURI: text(r.obj, "eventUri"), EventCoding: r.obj["eventCoding"]}
		if src, ok := r.obj["source"].(map[string]any); ok {
			h.SourceEndpoint = text(src, "endpoint")
		}
		return h
	}
	return nil
}

// entry is one entry's resource with its fullUrl.
type entry struct {
	fullURL string
	obj     map[string]any // the resource; nil when it is not an object
}

// resources lists a bundle's entries (an entry that is not an object
// has a nil resource: the mapper reports it).
func resources(bundle map[string]any) []entry {
	list, _ := bundle["entry"].([]any)
	out := make([]entry, len(list))
	for i, e := range list {
		eo, _ := e.(map[string]any)
		out[i].fullURL = text(eo, "fullUrl")
		out[i].obj, _ = eo["resource"].(map[string]any)
	}
	return out
}

// text is a string member of an object, "" when absent or not a string.
func text(o map[string]any, key string) string {
	s, _ := o[key].(string)
	return s
}

// RegLastOfficeURL is OpenCRVS's Task extension naming the office.
const RegLastOfficeURL = "http://opencrvs.org/specs/extension/regLastOffice"

// checkV1Notification applies the shape rules of OpenCRVS's v1 Event
// Notification API (gateway eventNotificationHandler): a document Bundle
// whose first entry is a Composition, holding a draft Task whose
// regLastOffice extension names a CRVS office; the Task's focus is the
// Composition.
func (s *Service) checkV1Notification(bundle map[string]any) error {
	bad := func(expr, format string, args ...any) error {
		return structure(expr, "Not an OpenCRVS Event Notification: "+format, args...)
	}
	if t := text(bundle, "type"); t != "document" {
		return bad("Bundle.type", "Bundle.type is %q; the Event Notification API takes a document Bundle (use POST /fhir for other bundles)", t)
	}
	if _, isList := bundle["entry"].([]any); !isList && bundle["entry"] != nil {
		return nil // not a bundle of entries: the mapper says what is wrong
	}
	rs := resources(bundle)
	if len(rs) == 0 || text(rs[0].obj, "resourceType") != "Composition" {
		return bad("Bundle.entry[0].resource", "the first entry must be a Composition")
	}
	task := -1
	for i, r := range rs {
		if text(r.obj, "resourceType") == "Task" {
			task = i
			break
		}
	}
	if task < 0 {
		return bad("Bundle.entry", "no Task entry; an Event Notification carries a draft Task with the regLastOffice extension")
	}
	at := fmt.Sprintf("Bundle.entry[%d].resource", task)
	t := rs[task].obj
	if st := text(t, "status"); st != "draft" {
		return bad(at+".status", "Task.status is %q; it must be \"draft\"", st)
	}
	focus, _ := t["focus"].(map[string]any)
	if ref, comp := text(focus, "reference"), rs[0].fullURL; ref != "" && comp != "" && !sameReference(ref, comp, text(rs[0].obj, "id")) {
		return bad(at+".focus.reference", "Task.focus %q does not point at the Composition (%s)", ref, comp)
	}
	exts, _ := t["extension"].([]any)
	for j, e := range exts {
		eo, _ := e.(map[string]any)
		if text(eo, "url") != RegLastOfficeURL {
			continue
		}
		expr := fmt.Sprintf("%s.extension[%d].valueReference.reference", at, j)
		vr, _ := eo["valueReference"].(map[string]any)
		ref := text(vr, "reference")
		id := strings.ToLower(ref[strings.LastIndex(ref, "/")+1:])
		if l := s.Events.Config.Location(id); l == nil || l.LocationType != core.LocationCRVSOffice {
			return bad(expr, "regLastOffice %q is not a CRVS office of this country's config", ref)
		}
		return nil
	}
	return bad(at+".extension", "the Task has no %s extension naming the registration office", RegLastOfficeURL)
}

// sameReference reports whether a reference points at an entry with this
// fullUrl or resource id.
func sameReference(ref, fullURL, id string) bool {
	if ref == fullURL || strings.HasSuffix(fullURL, "/"+ref) {
		return true
	}
	return id != "" && strings.HasSuffix(ref, "/"+id)
}
