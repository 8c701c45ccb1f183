package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// actionScopes maps each action to the scope types that allow it (any one
// is enough). The event option of the scope must admit the event type.
var actionScopes = map[ActionType][]string{
	ActionRead:               {ScopeRecordRead},
	ActionCreate:             {ScopeRecordCreate},
	ActionNotify:             {ScopeRecordNotify},
	ActionDeclare:            {ScopeRecordDeclare, ScopeRecordRegister},
	ActionValidate:           {ScopeRecordValidate, ScopeRecordRegister},
	ActionRegister:           {ScopeRecordRegister},
	ActionReject:             {ScopeRecordReject},
	ActionArchive:            {ScopeRecordArchive},
	ActionDelete:             {ScopeRecordDelete, ScopeRecordDeclare},
	ActionPrintCertificate:   {ScopeRecordPrint},
	ActionRequestCorrection:  {ScopeRecordRequestCorrection, ScopeRecordCorrect},
	ActionApproveCorrection:  {ScopeRecordCorrect},
	ActionRejectCorrection:   {ScopeRecordCorrect},
	ActionDuplicateDetected:  {ScopeRecordReviewDuplicates},
	ActionMarkAsDuplicate:    {ScopeRecordReviewDuplicates},
	ActionMarkAsNotDuplicate: {ScopeRecordReviewDuplicates},
	ActionEdit:               {ScopeRecordEdit},
	ActionAssign: {ScopeRecordDeclare, ScopeRecordValidate, ScopeRecordRegister, ScopeRecordReject, ScopeRecordArchive,
		ScopeRecordPrint, ScopeRecordCorrect, ScopeRecordRequestCorrection, ScopeRecordEdit, ScopeRecordReviewDuplicates},
}

func init() { actionScopes[ActionUnassign] = actionScopes[ActionAssign] }

// ScopesFor returns the scope types that allow an action.
func ScopesFor(t ActionType) []string { return actionScopes[t] }

// CheckScope returns a KindForbidden error naming the missing scope unless
// p holds one of the action's scopes admitting the event type ("" = any).
func CheckScope(p Principal, t ActionType, eventType string) error {
	return RequireScope(p, actionScopes[t], eventType)
}

// RequireScope returns a KindForbidden error naming the scope unless p
// holds a scope of one of the types admitting the event type ("" = any).
func RequireScope(p Principal, types []string, eventType string) error {
	for _, typ := range types {
		if p.Scopes.Allows(typ, eventType) {
			return nil
		}
	}
	want := "type=" + strings.Join(types, " or type=")
	if eventType != "" {
		return Errorf(KindForbidden, "MISSING_SCOPE", "Missing scope %s with event=%s", want, eventType)
	}
	return Errorf(KindForbidden, "MISSING_SCOPE", "Missing scope %s", want)
}

// Service is the event engine: every operation on events goes through it.
type Service struct {
	Store     Store
	Config    *CountryConfig
	Confirmer Confirmer                   // default AcceptAll
	RegNums   RegistrationNumberGenerator // default RandomRegistrationNumbers from Config
	Now       func() time.Time            // default time.Now
	Log       *slog.Logger
	// Enqueued, when set, is called after a write that enqueued outbox
	// messages has committed (the outbox relay's wake-up).
	Enqueued func()
}

func (s *Service) enqueued() {
	if s.Enqueued != nil {
		s.Enqueued()
	}
}

// now is the engine's clock, kept to milliseconds: times go on the wire
// with exactly three fraction digits (WireTimeLayout).
func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Millisecond)
	}
	return time.Now().UTC().Truncate(time.Millisecond)
}

func (s *Service) confirmer() Confirmer {
	if s.Confirmer == nil {
		return AcceptAll{}
	}
	return s.Confirmer
}

func (s *Service) regNums() RegistrationNumberGenerator {
	if s.RegNums == nil {
		return RandomRegistrationNumbers{Config: s.Config.Settings.RegistrationNumber}
	}
	return s.RegNums
}

// CreateInput is the body of POST /events.
type CreateInput struct {
	TransactionID     string `json:"transactionId"`
	Type              string `json:"type"`
	CreatedAtLocation string `json:"createdAtLocation"`
	// DateOfEvent is accepted and ignored: older OpenCRVS docs and Postman
	// collections send {"fieldId": "child.dob"}; v2 takes it from config.
	DateOfEvent json.RawMessage `json:"dateOfEvent,omitempty"`
}

// ActionInput is the body of an action request (OpenCRVS ActionInput).
type ActionInput struct {
	Type               ActionType     `json:"type"`
	EventID            string         `json:"eventId"`
	TransactionID      string         `json:"transactionId"`
	Declaration        Declaration    `json:"declaration"`
	Annotation         Declaration    `json:"annotation"`
	OriginalActionID   string         `json:"originalActionId"`
	CreatedAtLocation  string         `json:"createdAtLocation"`
	RegistrationNumber string         `json:"registrationNumber"`
	Content            map[string]any `json:"content"`
	RequestID          string         `json:"requestId"`
	AssignedTo         string         `json:"assignedTo"`
	// Accepted for OpenCRVS compatibility; the hub always answers after the
	// write is committed and indexed, and does not auto-unassign.
	KeepAssignment           *bool `json:"keepAssignment"`
	KeepAssignmentIfAccepted *bool `json:"keepAssignmentIfAccepted"`
	KeepAssignmentIfRejected *bool `json:"keepAssignmentIfRejected"`
	WaitFor                  *bool `json:"waitFor"`
}

// CreateAndNotifyInput is the body of POST /events/notify.
type CreateAndNotifyInput struct {
	TransactionID     string      `json:"transactionId"`
	EventType         string      `json:"eventType"`
	Type              string      `json:"type"` // accepted as an alias of eventType
	CreatedAtLocation string      `json:"createdAtLocation"`
	Declaration       Declaration `json:"declaration"`
	Annotation        Declaration `json:"annotation"`
}

var (
	transactionIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@/+=|-]{0,199}$`)
	regNumberRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9/-]{0,63}$`)
)

func invalid(code, format string, args ...any) *Error {
	return Errorf(KindInvalid, code, format, args...)
}

// ValidTransactionID reports whether id is usable as a transactionId by
// every entry point, create+notify's "<id>:create" key included.
func ValidTransactionID(id string) bool {
	return len(id) <= 190 && transactionIDRe.MatchString(id)
}

func checkTransactionID(id string) error {
	if id == "" {
		return invalid("INVALID_INPUT", "transactionId is required")
	}
	if !transactionIDRe.MatchString(id) {
		return invalid("INVALID_INPUT", "transactionId must be 1-200 characters of letters, digits and ._:@/+=|-")
	}
	return nil
}

// checkLocation applies OpenCRVS's createdAtLocation rules: a system
// client must send an office or facility id, which must be its own (see
// CheckClientLocation); a user's office is used.
func (s *Service) checkLocation(p Principal, loc string) (string, error) {
	if p.Type == UserTypeUser {
		if loc != "" {
			return "", invalid("INVALID_INPUT", "createdAtLocation must not be sent by users; the user's office is used")
		}
		return p.Office, nil
	}
	if loc == "" {
		return "", invalid("INVALID_LOCATION", "createdAtLocation is required and must be a valid location id")
	}
	if !IsUUID(loc) {
		return "", invalid("INVALID_INPUT", "Input validation failed: createdAtLocation must be a UUID")
	}
	loc = strings.ToLower(loc)
	if !s.Config.IsOfficeOrFacility(loc) {
		return "", invalid("INVALID_LOCATION", "createdAtLocation must be a valid location id")
	}
	if err := CheckClientLocation(s.Config, p, loc); err != nil {
		return "", err
	}
	return loc, nil
}

func fieldErrors(code, lead string, errs []FieldError) error {
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		parts = append(parts, fmt.Sprintf("%s: %s", Clip(e.ID), e.Message))
	}
	return &Error{Kind: KindInvalid, Code: code, Message: lead + strings.Join(parts, "; "), Fields: errs}
}

// CreateEvent creates an event (one accepted CREATE action). A repeated
// (transactionId, type) returns the existing event unchanged.
func (s *Service) CreateEvent(ctx context.Context, p Principal, in CreateInput) (*EventDocument, error) {
	var out *EventDocument
	err := s.prepareCreate(p, &in)
	if err != nil {
		return nil, err
	}
	err = s.Store.Write(ctx, func(tx Tx) error {
		ev, _, err := s.create(ctx, tx, p, in, in.TransactionID, true)
		out = ev
		return err
	})
	return out, err
}

func (s *Service) prepareCreate(p Principal, in *CreateInput) error {
	if err := checkTransactionID(in.TransactionID); err != nil {
		return err
	}
	if in.Type == "" {
		return invalid("INVALID_INPUT", "type is required")
	}
	if s.Config.Event(in.Type) == nil {
		return invalid("INVALID_EVENT_TYPE", "Unknown event type '%s'; configured types: %s", Clip(in.Type), strings.Join(s.Config.EventIDs(), ", "))
	}
	if err := CheckScope(p, ActionCreate, in.Type); err != nil {
		return err
	}
	loc, err := s.checkLocation(p, in.CreatedAtLocation)
	in.CreatedAtLocation = loc
	return err
}

// create inserts the event; index=false leaves the search row to the
// caller's next commitActions in the same transaction (create+notify).
// shownID is the transaction id the caller sent, named in a conflict
// (create+notify keys its create "<id>:create").
func (s *Service) create(ctx context.Context, tx Tx, p Principal, in CreateInput, shownID string, index bool) (ev *EventDocument, created bool, err error) {
	if ev, err := tx.EventByTransaction(p.ID, in.TransactionID, in.Type); err == nil {
		if loc := ev.Actions[0].CreatedAtLocation; loc != in.CreatedAtLocation {
			return nil, false, reused(shownID, fmt.Sprintf("createdAtLocation %s", loc), locationDiff(loc))
		}
		return ev, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, false, err
	}
	now := s.now()
	ev = &EventDocument{ID: NewID(), Type: in.Type, CreatedAt: now, UpdatedAt: now}
	ev.Actions = []Action{{
		ID: NewID(), Type: ActionCreate, Status: StatusAccepted, TransactionID: in.TransactionID,
		CreatedBy: p.ID, CreatedByUserType: p.Type, CreatedByRole: p.Role, CreatedAt: now,
		CreatedAtLocation: in.CreatedAtLocation, Declaration: Declaration{},
	}}
	for range 10 {
		ev.TrackingID = NewTrackingID()
		if err = tx.InsertEvent(ev); !errors.Is(err, ErrTrackingIDTaken) {
			break
		}
	}
	if errors.Is(err, ErrDuplicate) {
		if other := s.otherType(tx, p, in); other != "" {
			return nil, false, reused(shownID, "eventType: it created a "+other+" event",
				FieldError{ID: "eventType", Message: "the request that first used this transactionId created another type of event", Value: other})
		}
		return nil, false, Wrap(err, KindConflict, "DUPLICATE_TRANSACTION", "transactionId '%s' is already used", shownID)
	}
	if err != nil {
		return nil, false, fmt.Errorf("insert event: %w", err)
	}
	if index {
		if err := s.reindex(tx, ev); err != nil {
			return nil, false, err
		}
	}
	return ev, true, s.audit(ctx, tx, p, "event.create", ev.ID, map[string]any{"type": ev.Type, "trackingId": ev.TrackingID, "transactionId": in.TransactionID})
}

// otherType is the type of the event this caller created with this
// transaction id under another type ("" when none): the reason a create
// found its transaction id taken.
func (s *Service) otherType(tx Tx, p Principal, in CreateInput) string {
	for _, t := range s.Config.EventIDs() {
		if t == in.Type {
			continue
		}
		if _, err := tx.EventByTransaction(p.ID, in.TransactionID, t); err == nil {
			return t
		}
	}
	return ""
}

// CreateAndNotify creates an event and notifies it in one transaction
// (system clients only). The create uses "<transactionId>:create" as its
// key; a repeated request returns the same event, with created false
// (an earlier request created it).
func (s *Service) CreateAndNotify(ctx context.Context, p Principal, in CreateAndNotifyInput) (*EventDocument, bool, error) {
	if p.Type != UserTypeSystem {
		return nil, false, Errorf(KindForbidden, "SYSTEM_ONLY", "create and notify is for system clients only")
	}
	if in.EventType == "" {
		in.EventType = in.Type
	}
	if err := checkTransactionID(in.TransactionID); err != nil {
		return nil, false, err
	}
	cin := CreateInput{TransactionID: in.TransactionID + ":create", Type: in.EventType, CreatedAtLocation: in.CreatedAtLocation}
	if in.EventType == "" {
		return nil, false, invalid("INVALID_INPUT", "eventType is required")
	}
	if err := s.prepareCreate(p, &cin); err != nil {
		return nil, false, err
	}
	ain := ActionInput{Type: ActionNotify, TransactionID: in.TransactionID, Declaration: in.Declaration,
		Annotation: in.Annotation, CreatedAtLocation: in.CreatedAtLocation}
	if err := s.precheckAction(p, &ain); err != nil {
		return nil, false, err
	}
	ec := s.Config.Event(in.EventType)
	decl, errs := CanonicalValues(s.Config, ec, in.Declaration, s.now())
	if len(errs) > 0 {
		return nil, false, fieldErrors("INVALID_DECLARATION", "Invalid declaration: ", errs)
	}
	ain.Declaration = decl // the caller's map is never changed
	var out *EventDocument
	created := false
	err := s.Store.Write(ctx, func(tx Tx) error {
		ev, made, err := s.create(ctx, tx, p, cin, in.TransactionID, false)
		created = made
		if err != nil {
			return err
		}
		ain.EventID = ev.ID
		// a new event always gets its NOTIFY, whose commit indexes it
		out, _, err = s.act(ctx, tx, p, ev, ain, true) // NOTIFY is not confirmable: nothing is enqueued
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return out, created, nil
}

// precheckAction validates what can be checked without the event.
func (s *Service) precheckAction(p Principal, in *ActionInput) error {
	if !in.Type.Valid() || in.Type == ActionCreate {
		return invalid("INVALID_ACTION", "Unknown action type '%s'", in.Type)
	}
	if err := checkTransactionID(in.TransactionID); err != nil {
		return err
	}
	if err := RequireScope(p, actionScopes[in.Type], ""); err != nil {
		return err
	}
	if len(in.Declaration) > 0 && !in.Type.CarriesDeclaration() {
		return invalid("INVALID_INPUT", "Action '%s' does not take a declaration", in.Type)
	}
	// The free-form parts are checked and re-encoded here, before any
	// transaction; the declaration is checked once the event type is known.
	ann, err := checkAnnotation(in.Annotation)
	if err != nil {
		return err
	}
	in.Annotation = ann
	if err := checkContent(in.Content); err != nil {
		return err
	}
	if in.RegistrationNumber != "" {
		if in.Type != ActionRegister {
			return invalid("INVALID_INPUT", "registrationNumber is only allowed on REGISTER")
		}
		if !regNumberRe.MatchString(in.RegistrationNumber) {
			return invalid("INVALID_INPUT", "registrationNumber must be 1-64 letters, digits, '/' or '-'")
		}
	}
	if in.Type == ActionRead && in.CreatedAtLocation == "" {
		in.CreatedAtLocation = p.Office // reads carry no body
		return nil
	}
	loc, err := s.checkLocation(p, in.CreatedAtLocation)
	in.CreatedAtLocation = loc
	return err
}

// Get returns an event and records that the caller read it (an accepted
// READ action, as OpenCRVS does).
func (s *Service) Get(ctx context.Context, p Principal, eventID string) (*EventDocument, error) {
	return s.Act(ctx, p, eventID, ActionInput{Type: ActionRead, TransactionID: NewID()})
}

// GetByTrackingID is Get by tracking id.
func (s *Service) GetByTrackingID(ctx context.Context, p Principal, trackingID string) (*EventDocument, error) {
	return s.getByTrackingID(ctx, p, trackingID, nil)
}

// getByTrackingID is GetByTrackingID with a check of the event, made
// before the READ is recorded, once the caller is known to reach it (else
// its answer would reveal that the record exists). Whether the event is
// missing, deleted or beyond the caller's scopes, the answer is the same
// "not found" that names only what the caller sent.
func (s *Service) getByTrackingID(ctx context.Context, p Principal, trackingID string, check func(*EventDocument) error) (*EventDocument, error) {
	if err := RequireScope(p, actionScopes[ActionRead], ""); err != nil {
		return nil, err
	}
	hidden := Errorf(KindNotFound, "NOT_FOUND", "Event not found with tracking ID: %s", trackingID)
	id, err := s.Store.EventIDByTrackingID(ctx, strings.ToUpper(strings.TrimSpace(trackingID)))
	if errors.Is(err, ErrNotFound) {
		return nil, hidden
	}
	if err != nil {
		return nil, err
	}
	if check != nil {
		cur, err := s.Store.Event(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil, hidden
		}
		if err != nil {
			return nil, err
		}
		if st := Derive(cur); st.Deleted || s.canAccess(p, ActionRead, cur, st) != nil {
			return nil, hidden
		}
		if err := check(cur); err != nil {
			return nil, err
		}
	}
	ev, err := s.Get(ctx, p, id)
	if KindOf(err) == KindNotFound {
		return nil, hidden
	}
	return ev, err
}

// FieldValue is the answer of a lookup by tracking id and field id.
type FieldValue struct {
	EventID    string          `json:"eventId"`
	TrackingID string          `json:"trackingId"`
	FieldID    string          `json:"fieldId"`
	Value      json.RawMessage `json:"value"`
}

// FieldByTrackingID returns one declaration field of the event with this
// tracking id (null when not set), recording the read.
func (s *Service) FieldByTrackingID(ctx context.Context, p Principal, trackingID, fieldID string) (*FieldValue, error) {
	// The field is checked before the READ is recorded: a request that
	// fails writes nothing.
	ev, err := s.getByTrackingID(ctx, p, trackingID, func(ev *EventDocument) error {
		if ec := s.Config.Event(ev.Type); ec == nil || ec.Field(fieldID) == nil {
			return Errorf(KindNotFound, "UNKNOWN_FIELD", "Field '%s' is not a field of event type '%s'", fieldID, ev.Type)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	v := Derive(ev).Declaration[fieldID]
	if v == nil {
		v = json.RawMessage("null")
	}
	return &FieldValue{EventID: ev.ID, TrackingID: ev.TrackingID, FieldID: fieldID, Value: v}, nil
}

// Act performs one action on an event. A repeated (transactionId, type)
// returns the event unchanged.
func (s *Service) Act(ctx context.Context, p Principal, eventID string, in ActionInput) (*EventDocument, error) {
	if in.EventID != "" && in.EventID != eventID {
		return nil, invalid("INVALID_INPUT", "eventId in the body (%s) does not match the path (%s)", in.EventID, eventID)
	}
	in.EventID = eventID
	if err := s.precheckAction(p, &in); err != nil {
		return nil, err
	}
	var out *EventDocument
	queued := false
	err := s.Store.Write(ctx, func(tx Tx) error {
		ev, err := s.loadForWrite(tx, eventID)
		if err != nil {
			return err
		}
		out, queued, err = s.act(ctx, tx, p, ev, in, false)
		return err
	})
	if err == nil && queued {
		s.enqueued()
	}
	return out, err
}

func notFound(id string) error {
	return Errorf(KindNotFound, "NOT_FOUND", "Event not found with ID: %s", id)
}

func (s *Service) loadForWrite(tx Tx, id string) (*EventDocument, error) {
	if !IsUUID(id) {
		return nil, notFound(id)
	}
	id = strings.ToLower(id)
	ev, err := tx.Event(id)
	if errors.Is(err, ErrNotFound) {
		return nil, notFound(id)
	}
	return ev, err
}

// act runs inside a write transaction.
// validated says the caller already checked in.Declaration's values.
// It reports whether it enqueued outbox messages.
func (s *Service) act(ctx context.Context, tx Tx, p Principal, ev *EventDocument, in ActionInput, validated bool) (*EventDocument, bool, error) {
	out, conf, err := s.act1(ctx, tx, p, ev, in, validated)
	if err != nil {
		return nil, false, err
	}
	for _, m := range conf.Messages {
		if err := tx.Enqueue(m); err != nil {
			return nil, false, fmt.Errorf("enqueue %s: %w", m.Topic, err)
		}
	}
	return out, len(conf.Messages) > 0, nil
}

func (s *Service) act1(ctx context.Context, tx Tx, p Principal, ev *EventDocument, in ActionInput, validated bool) (*EventDocument, Confirmation, error) {
	var none Confirmation
	st := Derive(ev)
	if st.Deleted {
		return nil, none, notFound(ev.ID)
	}
	if err := s.canAccess(p, in.Type, ev, st); err != nil {
		return nil, none, err
	}
	if prev := ev.FindByTransaction(p.ID, in.TransactionID, in.Type); prev != nil {
		if what, diff := differsFrom(prev, in); what != "" {
			return nil, none, reused(in.TransactionID, what, diff...)
		}
		return ev, none, nil // idempotent repeat
	}
	if st.AssignedTo != "" && st.AssignedTo != p.ID && in.Type != ActionRead && in.Type != ActionAssign && in.Type != ActionUnassign {
		if p.Type == UserTypeSystem {
			return nil, none, Errorf(KindConflict, "ASSIGNED", "System user can not perform action on assigned event")
		}
		return nil, none, Errorf(KindConflict, "ASSIGNED", "Event is assigned to another user")
	}
	if err := CheckAllowed(st, in.Type); err != nil {
		return nil, none, err
	}
	ec := s.Config.Event(ev.Type)
	if ec == nil {
		return nil, none, Errorf(KindInternal, "CONFIG", "event type %q is no longer configured", ev.Type)
	}
	now := s.now()
	if !validated {
		decl, errs := CanonicalValues(s.Config, ec, in.Declaration, now)
		if len(errs) > 0 {
			return nil, none, fieldErrors("INVALID_DECLARATION", "Invalid declaration: ", errs)
		}
		in.Declaration = decl // a copy: the caller's map is never changed
	}
	// Annotations are free-form action metadata (e.g. "review.comment"),
	// not form fields: precheckAction bounded and re-encoded them.
	switch in.Type {
	case ActionEdit:
		if st.Status == EventNotified || st.Status == EventCreated {
			break // an incomplete notification may stay incomplete
		}
		fallthrough
	case ActionDeclare, ActionValidate, ActionRegister, ActionRequestCorrection:
		if missing := MissingRequired(ec, MergeDeclaration(st.Declaration, in.Declaration)); len(missing) > 0 {
			return nil, none, fieldErrors("INCOMPLETE_DECLARATION", "Declaration is incomplete: ", missing)
		}
	}
	a := Action{
		ID: NewID(), Type: in.Type, Status: StatusAccepted, TransactionID: in.TransactionID,
		CreatedBy: p.ID, CreatedByUserType: p.Type, CreatedByRole: p.Role, CreatedAt: now,
		CreatedAtLocation: in.CreatedAtLocation, Declaration: in.Declaration, Annotation: in.Annotation,
		Content: in.Content, OriginalActionID: in.OriginalActionID, RegistrationNumber: in.RegistrationNumber,
	}
	if a.Declaration == nil {
		a.Declaration = Declaration{}
	}
	if err := s.actionSpecifics(p, st, &a, in); err != nil {
		return nil, none, err
	}
	next := ev.Clone()
	if in.Type == ActionRead {
		// A read changes nothing: updatedAt stays, and the reader's earlier
		// READ row gives way to this one (the store does the same), so
		// that reads do not grow the document every answer carries. The
		// audit log keeps every read.
		next.Actions = slices.DeleteFunc(next.Actions, func(r Action) bool {
			return r.Type == ActionRead && r.CreatedBy == p.ID
		})
		next.Actions = append(next.Actions, a)
		out, err := s.commitActions(ctx, tx, p, next, len(next.Actions)-1)
		return out, none, err
	}
	next.UpdatedAt = now
	if !in.Type.Confirmable() {
		next.Actions = append(next.Actions, a)
		out, err := s.commitActions(ctx, tx, p, next, len(ev.Actions))
		return out, none, err
	}
	a.Status = StatusRequested
	if a.Type == ActionRegister {
		// reserved now, so that a partner deciding later (a National ID
		// system) receives the number the record will be registered under,
		// and no other record can be registered under it meanwhile
		n, err := s.reserveNumber(tx, next, a.RegistrationNumber)
		if err != nil {
			return nil, none, err
		}
		a.RegistrationNumber = n
	}
	next.Actions = append(next.Actions, a)
	conf, err := s.confirmer().Confirm(ctx, next, &next.Actions[len(next.Actions)-1])
	if err != nil {
		return nil, none, fmt.Errorf("confirm %s: %w", in.Type, err)
	}
	if conf, err = s.checkConfirmation(ec, conf, now); err != nil {
		return nil, none, err
	}
	if res := s.resolution(next, &a, conf, now); res != nil {
		if err := s.settleNumber(tx, next.ID, &a, res); err != nil {
			return nil, none, err
		}
		next.Actions = append(next.Actions, *res)
	}
	out, err := s.commitActions(ctx, tx, p, next, len(ev.Actions))
	return out, conf, err
}

// actionSpecifics checks and fills the fields particular to one action type.
func (s *Service) actionSpecifics(p Principal, st State, a *Action, in ActionInput) error {
	reason := func() string {
		r, _ := in.Content["reason"].(string)
		return strings.TrimSpace(r)
	}
	switch in.Type {
	case ActionReject, ActionArchive:
		if reason() == "" {
			return invalid("INVALID_INPUT", "content.reason is required for %s", in.Type)
		}
	case ActionAssign:
		a.AssignedTo = in.AssignedTo
		if a.AssignedTo == "" {
			a.AssignedTo = p.ID
		}
		if a.AssignedTo != p.ID && !p.Scopes.Has(ScopeRecordUnassignOthers) {
			return Errorf(KindForbidden, "MISSING_SCOPE", "Missing scope type=%s to assign the event to someone else", ScopeRecordUnassignOthers)
		}
		if st.AssignedTo != "" && st.AssignedTo != a.AssignedTo {
			return Errorf(KindConflict, "ASSIGNED", "Event is already assigned to %s", st.AssignedTo)
		}
	case ActionUnassign:
		if st.AssignedTo != "" && st.AssignedTo != p.ID && !p.Scopes.Has(ScopeRecordUnassignOthers) {
			return Errorf(KindForbidden, "MISSING_SCOPE", "Missing scope type=%s to unassign another user", ScopeRecordUnassignOthers)
		}
	case ActionApproveCorrection, ActionRejectCorrection:
		if in.Type == ActionRejectCorrection && reason() == "" {
			return invalid("INVALID_INPUT", "content.reason is required for %s", in.Type)
		}
		if st.CorrectionRequest == nil {
			return Errorf(KindConflict, "ACTION_NOT_ALLOWED", "No correction request is pending")
		}
		if in.RequestID != "" && in.RequestID != st.CorrectionRequest.ID && in.RequestID != st.CorrectionRequest.OriginalActionID {
			return Errorf(KindConflict, "ACTION_NOT_ALLOWED", "requestId %s is not the pending correction request", in.RequestID)
		}
		a.RequestID = st.CorrectionRequest.ID
	}
	if in.OriginalActionID != "" {
		return invalid("INVALID_INPUT", "originalActionId is set by the hub; use the accept/reject endpoints to resolve a requested action")
	}
	return nil
}

// checkConfirmation refuses what an in-process confirmer may not store:
// declaration additions that fail the form, a malformed registration
// number. Such a confirmer is a bug or a bad configuration: 500, and the
// action is not written.
func (s *Service) checkConfirmation(ec *EventConfig, conf Confirmation, now time.Time) (Confirmation, error) {
	decl, errs := CanonicalValues(s.Config, ec, conf.Declaration, now)
	if len(errs) > 0 {
		return conf, &Error{Kind: KindInternal, Code: "CONFIRMER", Message: "the confirmer returned an invalid declaration", Fields: errs}
	}
	if conf.RegistrationNumber != "" && !regNumberRe.MatchString(conf.RegistrationNumber) {
		return conf, Errorf(KindInternal, "CONFIRMER", "the confirmer returned a malformed registration number")
	}
	conf.Declaration = decl // a copy: the confirmer's map is never changed
	return conf, nil
}

// resolution builds the Accepted or Rejected row for a decision.
func (s *Service) resolution(ev *EventDocument, req *Action, conf Confirmation, now time.Time) *Action {
	if conf.Decision == Defer {
		return nil
	}
	res := Action{
		ID: NewID(), Type: req.Type, TransactionID: req.TransactionID, CreatedBy: req.CreatedBy,
		CreatedByUserType: req.CreatedByUserType, CreatedByRole: req.CreatedByRole, CreatedAt: now,
		CreatedAtLocation: req.CreatedAtLocation, Declaration: conf.Declaration, OriginalActionID: req.ID,
		// every row is a full action of its type (OpenCRVS ActionDocument):
		// it repeats the request's type-specific fields
		Content: req.Content, RequestID: req.RequestID, AssignedTo: req.AssignedTo,
	}
	if res.Declaration == nil {
		res.Declaration = Declaration{}
	}
	if conf.Decision == Reject {
		res.Status = StatusRejected
		if conf.Reason != "" {
			res.Content = map[string]any{"reason": conf.Reason}
			for k, v := range req.Content {
				if k != "reason" {
					res.Content[k] = v
				}
			}
		}
		return &res
	}
	res.Status = StatusAccepted
	if req.Type == ActionRegister {
		res.RegistrationNumber = conf.RegistrationNumber
		if res.RegistrationNumber == "" {
			res.RegistrationNumber = req.RegistrationNumber // reserved with the request
		}
	}
	return &res
}

// commitActions stores the actions after index `from`, the new index row
// and an audit entry. Registration numbers were reserved before (see
// reserveNumber): a collision here is a conflict, never a silent redraw of
// a number a caller or partner was given.
func (s *Service) commitActions(ctx context.Context, tx Tx, p Principal, ev *EventDocument, from int) (*EventDocument, error) {
	first := ev.Actions[from]
	// a READ changes nothing the index holds (Derive skips it, updatedAt
	// stays)
	if first.Type != ActionRead {
		if err := s.reindex(tx, ev); err != nil {
			if errors.Is(err, ErrRegistrationNumberTaken) {
				last := &ev.Actions[len(ev.Actions)-1]
				return nil, Wrap(err, KindConflict, "REGISTRATION_NUMBER_TAKEN", "registration number %s is already used by another event", last.RegistrationNumber)
			}
			return nil, err
		}
	}
	if err := tx.AppendActions(ev.ID, ev.UpdatedAt, ev.Actions[from:]...); err != nil {
		if errors.Is(err, ErrDuplicate) {
			return nil, Wrap(err, KindConflict, "DUPLICATE_TRANSACTION", "transactionId is already used for this action type on another event")
		}
		return nil, fmt.Errorf("append actions: %w", err)
	}
	// one audit entry per request: the action and the rows it wrote
	// (Requested and, when decided at once, Accepted or Rejected)
	var rows []map[string]any
	for _, a := range ev.Actions[from:] {
		rows = append(rows, map[string]any{"actionId": a.ID, "status": a.Status})
	}
	detail := map[string]any{"transactionId": first.TransactionID, "rows": rows}
	if first.Type == ActionRead {
		// the document keeps only the reader's latest READ: the audit
		// entry holds all of each read (who and when are its own columns)
		detail["createdAtLocation"] = first.CreatedAtLocation
		if first.CreatedByRole != "" {
			detail["createdByRole"] = first.CreatedByRole
		}
	}
	if err := s.audit(ctx, tx, p, "action."+string(first.Type), ev.ID, detail); err != nil {
		return nil, err
	}
	return ev, nil
}

func (s *Service) reindex(tx Tx, ev *EventDocument) error {
	row, err := BuildIndex(s.Config, ev, Derive(ev))
	if err != nil {
		return err
	}
	return tx.PutIndex(row)
}

func (s *Service) audit(ctx context.Context, tx Tx, p Principal, op, objectID string, detail map[string]any) error {
	m := RequestMetaFrom(ctx)
	var d json.RawMessage
	if detail != nil {
		d, _ = json.Marshal(detail)
	}
	return tx.Audit(AuditEntry{At: s.now(), ActorID: p.ID, ActorType: p.Type, Operation: op,
		ObjectType: "event", ObjectID: objectID, RemoteAddr: m.RemoteAddr, CorrelationID: m.CorrelationID, Detail: d})
}

// Resolve accepts or rejects a Requested (deferred) action, as a National
// ID partner or an operator does later. Accepting an already accepted
// action returns the event unchanged; resolving a rejected action, or
// rejecting an accepted one, is a conflict.
func (s *Service) Resolve(ctx context.Context, p Principal, eventID, actionID string, conf Confirmation) (*EventDocument, error) {
	if conf.Decision == Defer {
		return nil, invalid("INVALID_INPUT", "a resolution must accept or reject")
	}
	scope := ScopeConfirmRegistration
	if conf.Decision == Reject {
		scope = ScopeRejectRegistration
	}
	if err := RequireScope(p, []string{scope}, ""); err != nil {
		return nil, err
	}
	if p.Record != nil && (!strings.EqualFold(p.Record.EventID, eventID) || p.Record.ActionID != actionID) {
		return nil, Errorf(KindForbidden, "RECORD_SCOPE", "This confirmation token is for another record or action")
	}
	var out *EventDocument
	err := s.Store.Write(ctx, func(tx Tx) error {
		ev, err := s.loadForWrite(tx, eventID)
		if err != nil {
			return err
		}
		st := Derive(ev)
		if st.Deleted {
			return notFound(eventID)
		}
		// A record-scoped token names its record; anyone else needs a
		// confirm/reject scope that reaches this record (event type,
		// jurisdiction), as for any other action on it.
		if p.Record == nil {
			if err := s.canAccessWith(p, []string{scope}, ev, st); err != nil {
				return err
			}
		}
		req := ev.FindAction(actionID)
		if req == nil || req.Status != StatusRequested {
			return Errorf(KindNotFound, "NOT_FOUND", "Requested action not found with ID: %s", actionID)
		}
		for _, a := range ev.Actions {
			if a.OriginalActionID != actionID {
				continue
			}
			if a.Status == StatusAccepted && conf.Decision == Accept {
				if p.Record != nil {
					// A confirmation token does one thing once: it is not a
					// pass to read the record for the rest of its life.
					return Errorf(KindConflict, "ALREADY_RESOLVED", "Action has already been accepted.")
				}
				// A retry may repeat the data or leave it out; data the
				// first accept did not record would be dropped: refused.
				for _, k := range slices.Sorted(maps.Keys(conf.Declaration)) {
					if !sameJSON(a.Declaration[k], conf.Declaration[k]) {
						return Errorf(KindConflict, "RESOLUTION_DIFFERS", "Action has already been accepted with other data (declaration field %s differs)", k)
					}
				}
				if conf.RegistrationNumber != "" && conf.RegistrationNumber != a.RegistrationNumber {
					return Errorf(KindConflict, "RESOLUTION_DIFFERS", "Action has already been accepted with registration number %s", a.RegistrationNumber)
				}
				out = ev
				return settle(tx, conf)
			}
			if a.Status == StatusRejected {
				return Errorf(KindConflict, "ALREADY_REJECTED", "Action has already been rejected.")
			}
			return Errorf(KindConflict, "ALREADY_ACCEPTED", "Action has already been accepted.")
		}
		if ec := s.Config.Event(ev.Type); ec == nil {
			return Errorf(KindInternal, "CONFIG", "event type %q is no longer configured", ev.Type)
		} else if decl, errs := CanonicalValues(s.Config, ec, conf.Declaration, s.now()); len(errs) > 0 {
			return fieldErrors("INVALID_DECLARATION", "Invalid declaration: ", errs)
		} else {
			conf.Declaration = decl // a copy: the caller's map is never changed
		}
		if conf.RegistrationNumber != "" && !regNumberRe.MatchString(conf.RegistrationNumber) {
			return invalid("INVALID_INPUT", "registrationNumber must be 1-64 letters, digits, '/' or '-'")
		}
		if err := checkAdditions(ev, req, conf); err != nil {
			return err
		}
		next := ev.Clone()
		next.UpdatedAt = s.now()
		res := s.resolution(next, req, conf, next.UpdatedAt)
		if err := s.settleNumber(tx, next.ID, req, res); err != nil {
			return err
		}
		next.Actions = append(next.Actions, *res)
		if out, err = s.commitActions(ctx, tx, p, next, len(ev.Actions)); err != nil {
			return err
		}
		return settle(tx, conf)
	})
	return out, err
}

// reserveNumber reserves a REGISTER's registration number for the event:
// the caller's own (taken by another event -> 409 naming it), or one drawn
// from the generator (drawn again on a collision).
func (s *Service) reserveNumber(tx Tx, ev *EventDocument, wanted string) (string, error) {
	if wanted != "" {
		if err := tx.ReserveRegistrationNumber(wanted, ev.ID); err != nil {
			return "", numberErr(err, wanted)
		}
		return wanted, nil
	}
	var err error
	for range 10 {
		n := s.regNums().Next(ev)
		if err = tx.ReserveRegistrationNumber(n, ev.ID); err == nil {
			return n, nil
		}
		if !errors.Is(err, ErrRegistrationNumberTaken) {
			return "", err
		}
	}
	return "", Wrap(err, KindInternal, "REGISTRATION_NUMBERS", "no free registration number after 10 draws: the generator's space is nearly used up")
}

// settleNumber keeps the reservations in step with a REGISTER's outcome: a
// rejection frees the number; an acceptance under another number (a
// partner's own) reserves that one (taken -> 409) and frees the first.
func (s *Service) settleNumber(tx Tx, eventID string, req, res *Action) error {
	if req.Type != ActionRegister || res == nil {
		return nil
	}
	switch {
	case res.Status == StatusRejected && req.RegistrationNumber != "":
		return tx.ReleaseRegistrationNumber(req.RegistrationNumber, eventID)
	case res.Status == StatusAccepted && res.RegistrationNumber != req.RegistrationNumber:
		if err := tx.ReserveRegistrationNumber(res.RegistrationNumber, eventID); err != nil {
			return numberErr(err, res.RegistrationNumber)
		}
		if req.RegistrationNumber != "" {
			return tx.ReleaseRegistrationNumber(req.RegistrationNumber, eventID)
		}
	}
	return nil
}

func numberErr(err error, number string) error {
	if errors.Is(err, ErrRegistrationNumberTaken) {
		return &Error{Kind: KindConflict, Code: "REGISTRATION_NUMBER_TAKEN", Err: err,
			Message: fmt.Sprintf("registration number %s is already used by another event", number),
			Fields:  []FieldError{{ID: "registrationNumber", Message: "already used by another event"}}}
	}
	return fmt.Errorf("registration number %s: %w", number, err)
}

// checkAdditions keeps an accept to what a confirmation is for: it may fill
// fields the record does not have yet (a National ID, say), not rewrite the
// record (that is what a correction, with its own workflow and scopes, is
// for). The registration number stays the confirmer's to give, as in
// OpenCRVS (a country's registry may number the record itself).
func checkAdditions(ev *EventDocument, req *Action, conf Confirmation) error {
	cur := DeclarationIfAccepted(ev, req)
	for _, k := range slices.Sorted(maps.Keys(conf.Declaration)) {
		if v, ok := cur[k]; ok && !isNull(v) && !sameJSON(v, conf.Declaration[k]) {
			return &Error{Kind: KindConflict, Code: "FIELD_ALREADY_SET",
				Message: fmt.Sprintf("%s already has a value; a confirmation may only fill empty fields (a change is a correction)", k),
				Fields:  []FieldError{{ID: k, Message: "already has a value"}}}
		}
	}
	return nil
}

// settle deletes the partner correlation a resolution settles.
func settle(tx Tx, conf Confirmation) error {
	if c := conf.Correlation; c != nil {
		if err := tx.DeleteCorrelation(c.Partner, c.Key); err != nil {
			return fmt.Errorf("settle correlation: %w", err)
		}
	}
	return nil
}
