package core

import (
	"encoding/json"
	"time"
)

// ActionType is the kind of an action on an event (OpenCRVS v2 names).
type ActionType string

// Every action type the engine knows.
const (
	ActionCreate             ActionType = "CREATE"
	ActionNotify             ActionType = "NOTIFY"
	ActionDeclare            ActionType = "DECLARE"
	ActionValidate           ActionType = "VALIDATE"
	ActionRegister           ActionType = "REGISTER"
	ActionReject             ActionType = "REJECT"
	ActionArchive            ActionType = "ARCHIVE"
	ActionDelete             ActionType = "DELETE"
	ActionPrintCertificate   ActionType = "PRINT_CERTIFICATE"
	ActionRequestCorrection  ActionType = "REQUEST_CORRECTION"
	ActionApproveCorrection  ActionType = "APPROVE_CORRECTION"
	ActionRejectCorrection   ActionType = "REJECT_CORRECTION"
	ActionAssign             ActionType = "ASSIGN"
	ActionUnassign           ActionType = "UNASSIGN"
	ActionRead               ActionType = "READ"
	ActionDuplicateDetected  ActionType = "DUPLICATE_DETECTED"
	ActionMarkAsDuplicate    ActionType = "MARK_AS_DUPLICATE"
	ActionMarkAsNotDuplicate ActionType = "MARK_AS_NOT_DUPLICATE"
	ActionEdit               ActionType = "EDIT"
)

// AllActionTypes lists every action type, in a stable order.
var AllActionTypes = []ActionType{
	ActionCreate, ActionNotify, ActionDeclare, ActionValidate, ActionRegister,
	ActionReject, ActionArchive, ActionDelete, ActionPrintCertificate,
	ActionRequestCorrection, ActionApproveCorrection, ActionRejectCorrection,
	ActionAssign, ActionUnassign, ActionRead, ActionDuplicateDetected,
	ActionMarkAsDuplicate, ActionMarkAsNotDuplicate, ActionEdit,
}

// Valid reports whether t is a known action type.
func (t ActionType) Valid() bool {
	for _, a := range AllActionTypes {
		if a == t {
			return true
		}
	}
	return false
}

// Confirmable reports whether an action of this type goes through the
// confirmation step (written Requested, then Accepted or Rejected).
func (t ActionType) Confirmable() bool {
	switch t {
	case ActionNotify, ActionDeclare, ActionValidate, ActionRegister, ActionReject,
		ActionArchive, ActionPrintCertificate, ActionRequestCorrection,
		ActionApproveCorrection, ActionRejectCorrection, ActionEdit:
		return true
	}
	return false
}

// CarriesDeclaration reports whether an action of this type may carry
// declaration data.
func (t ActionType) CarriesDeclaration() bool {
	switch t {
	case ActionNotify, ActionDeclare, ActionValidate, ActionRegister,
		ActionRequestCorrection, ActionEdit:
		return true
	}
	return false
}

// ActionStatus is the confirmation state of one action row.
type ActionStatus string

// Action statuses.
const (
	StatusRequested ActionStatus = "Requested"
	StatusAccepted  ActionStatus = "Accepted"
	StatusRejected  ActionStatus = "Rejected"
)

// UserType says whether an action was taken by a person or a system client.
type UserType string

// Caller types.
const (
	UserTypeUser   UserType = "user"
	UserTypeSystem UserType = "system"
)

// Declaration is the flat map of form field id -> JSON value
// ("child.name" -> {"firstname":"A","surname":"B"}). Values are kept as the
// caller sent them (after validation); null clears a field.
type Declaration map[string]json.RawMessage

// Action is one row of an event's history.
type Action struct {
	ID                 string         `json:"id"`
	Type               ActionType     `json:"type"`
	Status             ActionStatus   `json:"status"`
	TransactionID      string         `json:"transactionId"`
	CreatedBy          string         `json:"createdBy"`
	CreatedByUserType  UserType       `json:"createdByUserType"`
	CreatedByRole      string         `json:"createdByRole,omitempty"` // omitted for system clients, as in OpenCRVS v2.0
	CreatedAt          time.Time      `json:"createdAt"`
	CreatedAtLocation  string         `json:"createdAtLocation,omitempty"`
	Declaration        Declaration    `json:"declaration"`
	Annotation         Declaration    `json:"annotation,omitempty"`
	Content            map[string]any `json:"content,omitempty"`
	OriginalActionID   string         `json:"originalActionId,omitempty"`
	RegistrationNumber string         `json:"registrationNumber,omitempty"`
	AssignedTo         string         `json:"assignedTo,omitempty"`
	RequestID          string         `json:"requestId,omitempty"`
}

// EventDocument is a vital event and its full action history. Status and
// flags are derived from the actions (see Derive), never stored as truth.
type EventDocument struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	TrackingID string    `json:"trackingId"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	Actions    []Action  `json:"actions"`
}

// WireTimeLayout is how times appear on the wire: UTC with exactly three
// fraction digits ("2025-06-15T12:00:51.507Z"), as OpenCRVS v2.0 writes
// them (JavaScript's toISOString); OpenCRVS compares them as strings, so
// the width must not vary. The engine's clock is kept to milliseconds
// (Service.now), so nothing is lost.
const WireTimeLayout = "2006-01-02T15:04:05.000Z"

// FormatWireTime writes t in WireTimeLayout.
func FormatWireTime(t time.Time) string { return t.UTC().Format(WireTimeLayout) }

// MarshalJSON writes the action with its time in WireTimeLayout.
func (a Action) MarshalJSON() ([]byte, error) {
	type plain Action // no methods: no recursion
	return json.Marshal(struct {
		plain
		CreatedAt string `json:"createdAt"` // shallower: replaces plain's
	}{plain(a), FormatWireTime(a.CreatedAt)})
}

// MarshalJSON writes the event with its times in WireTimeLayout.
func (e EventDocument) MarshalJSON() ([]byte, error) {
	type plain EventDocument
	return json.Marshal(struct {
		plain
		CreatedAt string `json:"createdAt"`
		UpdatedAt string `json:"updatedAt"`
	}{plain(e), FormatWireTime(e.CreatedAt), FormatWireTime(e.UpdatedAt)})
}

// FindAction returns the action with the given id, or nil.
func (e *EventDocument) FindAction(id string) *Action {
	for i := range e.Actions {
		if e.Actions[i].ID == id {
			return &e.Actions[i]
		}
	}
	return nil
}

// FindByTransaction returns the first action this caller made with this
// transaction id and type, or nil. It is how a repeated request finds its
// earlier result. Transaction ids are the caller's own: another client
// using the same id is a different request.
func (e *EventDocument) FindByTransaction(createdBy, transactionID string, t ActionType) *Action {
	for i := range e.Actions {
		if a := &e.Actions[i]; a.TransactionID == transactionID && a.Type == t && a.CreatedBy == createdBy {
			return &e.Actions[i]
		}
	}
	return nil
}

// Clone returns a deep enough copy for an update closure to modify safely.
func (e *EventDocument) Clone() *EventDocument {
	c := *e
	c.Actions = append([]Action(nil), e.Actions...)
	return &c
}
