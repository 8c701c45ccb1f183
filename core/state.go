package core

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"
)

// EventStatus is the registration status of an event, derived from its
// accepted actions.
type EventStatus string

// Event statuses (OpenCRVS v1.9/v2 names).
const (
	EventCreated    EventStatus = "CREATED"
	EventNotified   EventStatus = "NOTIFIED"
	EventDeclared   EventStatus = "DECLARED"
	EventValidated  EventStatus = "VALIDATED"
	EventRegistered EventStatus = "REGISTERED"
	EventArchived   EventStatus = "ARCHIVED"
)

// AllEventStatuses lists every status.
var AllEventStatuses = []EventStatus{EventCreated, EventNotified, EventDeclared, EventValidated, EventRegistered, EventArchived}

// Inherent flags, derived from accepted actions.
const (
	FlagIncomplete          = "incomplete"
	FlagRejected            = "rejected"
	FlagCorrectionRequested = "correction-requested"
	FlagPotentialDuplicate  = "potential-duplicate"
	FlagPrinted             = "printed"
)

// ActionFlag is the flag an action type in a non-accepted confirmation
// state sets, e.g. "register:requested".
func ActionFlag(t ActionType, s ActionStatus) string {
	return strings.ToLower(string(t)) + ":" + strings.ToLower(string(s))
}

// LegalStatus records when and where an event was declared or registered.
type LegalStatus struct {
	CreatedAt          time.Time `json:"createdAt"`
	CreatedBy          string    `json:"createdBy"`
	CreatedAtLocation  string    `json:"createdAtLocation,omitempty"`
	CreatedByUserType  UserType  `json:"createdByUserType,omitempty"`
	CreatedByRole      string    `json:"createdByRole,omitempty"`
	AcceptedAt         time.Time `json:"acceptedAt"`
	RegistrationNumber string    `json:"registrationNumber,omitempty"`
}

// MarshalJSON writes the legal status with its times in WireTimeLayout.
func (l LegalStatus) MarshalJSON() ([]byte, error) {
	type plain LegalStatus
	return json.Marshal(struct {
		plain
		CreatedAt  string `json:"createdAt"`
		AcceptedAt string `json:"acceptedAt"`
	}{plain(l), FormatWireTime(l.CreatedAt), FormatWireTime(l.AcceptedAt)})
}

// State is everything derived from an event's actions.
type State struct {
	Status      EventStatus
	Flags       []string // sorted
	Declaration Declaration
	AssignedTo  string
	Deleted     bool
	// Pending is the one Requested action without an Accepted/Rejected
	// follower, if any.
	Pending *Action
	// CorrectionRequest is the accepted, not yet approved or rejected,
	// REQUEST_CORRECTION action, if any.
	CorrectionRequest *Action
	Declared          *LegalStatus
	Registered        *LegalStatus
	// CreatedBy etc. come from the CREATE action; UpdatedBy etc. from the
	// last accepted action that is not READ.
	CreatedBy         string
	CreatedByUserType UserType
	CreatedAtLocation string
	UpdatedBy         string
	UpdatedAtLocation string
	UpdatedByRole     string
	UpdatedAt         time.Time
}

// HasFlag reports whether the state carries flag f.
func (s *State) HasFlag(f string) bool { return slices.Contains(s.Flags, f) }

// Effective returns the effective content of an accepted action: the
// Requested row it confirms merged with the Accepted row's additions.
func Effective(ev *EventDocument, a *Action) Action {
	if a.OriginalActionID == "" {
		return *a
	}
	req := ev.FindAction(a.OriginalActionID)
	if req == nil {
		return *a
	}
	eff := *req
	eff.Status = a.Status
	eff.Declaration = MergeDeclaration(req.Declaration, a.Declaration)
	eff.Annotation = MergeDeclaration(req.Annotation, a.Annotation)
	if len(a.Content) > 0 {
		c := map[string]any{}
		for k, v := range req.Content {
			c[k] = v
		}
		for k, v := range a.Content {
			c[k] = v
		}
		eff.Content = c
	}
	if a.RegistrationNumber != "" {
		eff.RegistrationNumber = a.RegistrationNumber
	}
	eff.ID = a.ID
	eff.OriginalActionID = a.OriginalActionID
	eff.CreatedAt = a.CreatedAt
	return eff
}

// MergeDeclaration returns base overlaid with upd; a null in upd removes
// the key. Neither input is modified.
func MergeDeclaration(base, upd Declaration) Declaration {
	out := make(Declaration, len(base)+len(upd))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range upd {
		if isNull(v) {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// Derive folds an event's actions into its State.
func Derive(ev *EventDocument) State {
	st := State{Status: EventCreated, Declaration: Declaration{}}
	flags := map[string]bool{}
	pending := map[string]*Action{}
	last := map[ActionType]ActionStatus{} // latest resolution per type
	for i := range ev.Actions {
		a := &ev.Actions[i]
		switch a.Status {
		case StatusRequested:
			pending[a.ID] = a
			last[a.Type] = StatusRequested
			continue
		case StatusRejected:
			delete(pending, a.OriginalActionID)
			last[a.Type] = StatusRejected
			continue
		}
		delete(pending, a.OriginalActionID)
		last[a.Type] = StatusAccepted
		eff := Effective(ev, a)
		if eff.Type != ActionRead {
			st.UpdatedBy, st.UpdatedAtLocation, st.UpdatedByRole, st.UpdatedAt = eff.CreatedBy, eff.CreatedAtLocation, eff.CreatedByRole, a.CreatedAt
			if eff.CreatedAtLocation == "" {
				st.UpdatedAtLocation = st.CreatedAtLocation
			}
		}
		switch eff.Type {
		case ActionCreate:
			st.Status = EventCreated
			st.CreatedBy, st.CreatedByUserType, st.CreatedAtLocation = eff.CreatedBy, eff.CreatedByUserType, eff.CreatedAtLocation
			delete(flags, FlagIncomplete)
		case ActionNotify:
			st.Status = EventNotified
			flags[FlagIncomplete] = true
			delete(flags, FlagRejected)
		case ActionDeclare, ActionValidate, ActionRegister:
			st.Status = map[ActionType]EventStatus{ActionDeclare: EventDeclared, ActionValidate: EventValidated, ActionRegister: EventRegistered}[eff.Type]
			delete(flags, FlagIncomplete)
			delete(flags, FlagRejected)
			ls := &LegalStatus{CreatedAt: eff.CreatedAt, CreatedBy: eff.CreatedBy, CreatedAtLocation: eff.CreatedAtLocation,
				CreatedByUserType: eff.CreatedByUserType, CreatedByRole: eff.CreatedByRole, AcceptedAt: a.CreatedAt}
			if req := ev.FindAction(a.OriginalActionID); req != nil {
				ls.CreatedAt = req.CreatedAt
			}
			switch eff.Type {
			case ActionRegister:
				ls.RegistrationNumber = eff.RegistrationNumber
				st.Registered = ls
			case ActionDeclare:
				st.Declared = ls
			case ActionValidate:
				if st.Declared == nil {
					st.Declared = ls
				}
			}
		case ActionReject:
			flags[FlagRejected] = true
		case ActionArchive:
			st.Status = EventArchived
			delete(flags, FlagIncomplete)
		case ActionDelete:
			st.Deleted = true
		case ActionPrintCertificate:
			flags[FlagPrinted] = true
		case ActionRequestCorrection:
			flags[FlagCorrectionRequested] = true
			c := eff
			st.CorrectionRequest = &c
		case ActionApproveCorrection:
			if st.CorrectionRequest != nil {
				st.Declaration = MergeDeclaration(st.Declaration, st.CorrectionRequest.Declaration)
			}
			// a confirmer's additions on acceptance (e.g. the VID a National
			// ID system issued for the corrected record)
			st.Declaration = MergeDeclaration(st.Declaration, eff.Declaration)
			st.CorrectionRequest = nil
			delete(flags, FlagCorrectionRequested)
			delete(flags, FlagPrinted)
		case ActionRejectCorrection:
			st.CorrectionRequest = nil
			delete(flags, FlagCorrectionRequested)
		case ActionAssign:
			st.AssignedTo = eff.AssignedTo
		case ActionUnassign:
			st.AssignedTo = ""
		case ActionDuplicateDetected:
			flags[FlagPotentialDuplicate] = true
		case ActionMarkAsDuplicate:
			delete(flags, FlagPotentialDuplicate)
			flags[FlagRejected] = true
		case ActionMarkAsNotDuplicate:
			delete(flags, FlagPotentialDuplicate)
		case ActionEdit:
			delete(flags, FlagRejected)
		}
		if eff.Type.CarriesDeclaration() && eff.Type != ActionRequestCorrection {
			st.Declaration = MergeDeclaration(st.Declaration, eff.Declaration)
		}
	}
	for t, s := range last {
		if s != StatusAccepted {
			flags[ActionFlag(t, s)] = true
		}
	}
	for _, p := range pending {
		if st.Pending == nil || p.CreatedAt.Before(st.Pending.CreatedAt) {
			st.Pending = p
		}
	}
	for f := range flags {
		st.Flags = append(st.Flags, f)
	}
	sort.Strings(st.Flags)
	if st.Flags == nil {
		st.Flags = []string{}
	}
	return st
}

// allowedByStatus is the one table of which actions each status allows,
// before flags narrow or widen it (see AllowedActions).
var allowedByStatus = map[EventStatus][]ActionType{
	EventCreated:    {ActionRead, ActionAssign, ActionUnassign, ActionNotify, ActionDeclare, ActionDelete},
	EventNotified:   {ActionRead, ActionAssign, ActionUnassign, ActionDeclare, ActionValidate, ActionRegister, ActionReject, ActionArchive, ActionEdit, ActionDuplicateDetected},
	EventDeclared:   {ActionRead, ActionAssign, ActionUnassign, ActionValidate, ActionRegister, ActionReject, ActionArchive, ActionEdit, ActionDuplicateDetected},
	EventValidated:  {ActionRead, ActionAssign, ActionUnassign, ActionRegister, ActionReject, ActionArchive, ActionEdit, ActionDuplicateDetected},
	EventRegistered: {ActionRead, ActionAssign, ActionUnassign, ActionPrintCertificate, ActionRequestCorrection},
	EventArchived:   {ActionRead, ActionAssign, ActionUnassign},
}

// alwaysAllowed are allowed whatever the flags (except deletion).
var alwaysAllowed = []ActionType{ActionRead, ActionAssign, ActionUnassign}

// AllowedActions returns the actions allowed in a state, in
// AllActionTypes order. Flags change the status's set:
//   - a pending confirmation (any "<action>:requested") allows only READ,
//     ASSIGN and UNASSIGN until it is accepted or rejected;
//   - "rejected" allows only re-submission (NOTIFY before declaration,
//     DECLARE, EDIT) or ARCHIVE;
//   - "potential-duplicate" blocks VALIDATE and REGISTER and allows
//     MARK_AS_DUPLICATE / MARK_AS_NOT_DUPLICATE;
//   - "correction-requested" replaces REQUEST_CORRECTION and
//     PRINT_CERTIFICATE by APPROVE_CORRECTION and REJECT_CORRECTION.
func AllowedActions(st State) []ActionType {
	if st.Deleted {
		return nil
	}
	set := map[ActionType]bool{}
	for _, a := range allowedByStatus[st.Status] {
		set[a] = true
	}
	switch {
	case st.Pending != nil:
		set = map[ActionType]bool{}
	case st.HasFlag(FlagRejected):
		set = map[ActionType]bool{ActionDeclare: true, ActionEdit: true, ActionArchive: true}
		if st.Status == EventCreated || st.Status == EventNotified {
			set[ActionNotify] = true
		}
		if st.Status == EventRegistered || st.Status == EventArchived {
			set = map[ActionType]bool{}
		}
	}
	reviewable := st.Status == EventNotified || st.Status == EventDeclared || st.Status == EventValidated
	if st.Pending == nil && reviewable && st.HasFlag(FlagPotentialDuplicate) {
		delete(set, ActionValidate)
		delete(set, ActionRegister)
		delete(set, ActionDuplicateDetected)
		set[ActionMarkAsDuplicate] = true
		set[ActionMarkAsNotDuplicate] = true
	}
	if st.Pending == nil && st.Status == EventRegistered && st.HasFlag(FlagCorrectionRequested) {
		delete(set, ActionRequestCorrection)
		delete(set, ActionPrintCertificate)
		set[ActionApproveCorrection] = true
		set[ActionRejectCorrection] = true
	}
	for _, a := range alwaysAllowed {
		set[a] = true
	}
	var out []ActionType
	for _, a := range AllActionTypes {
		if set[a] {
			out = append(out, a)
		}
	}
	return out
}

// CheckAllowed returns a KindConflict error naming the action and the
// state when the action is not allowed.
func CheckAllowed(st State, t ActionType) error {
	if slices.Contains(AllowedActions(st), t) {
		return nil
	}
	state := string(st.Status)
	var notes []string
	if st.Deleted {
		notes = append(notes, "deleted")
	}
	if len(st.Flags) > 0 {
		notes = append(notes, "flags: "+strings.Join(st.Flags, ", "))
	}
	if len(notes) > 0 {
		state += " (" + strings.Join(notes, "; ") + ")"
	}
	return Errorf(KindConflict, "ACTION_NOT_ALLOWED", "Action '%s' cannot be performed on an event in '%s' state", t, state)
}
