package core

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Routing modes.
const (
	// ModeAsync answers at once with the action Requested (flag
	// "<action>:requested"); the partner's outcome resolves it later.
	ModeAsync = "async"
	// ModeSync waits up to SyncTimeout for the outcome within the request,
	// then falls back to async (deferred).
	ModeSync = "sync"
)

// TopicNationalID is the bus topic of registrations routed to a partner:
// "nationalid-<partner>" (bus topics may not contain dots).
func TopicNationalID(partner string) string { return "nationalid-" + partner }

// RoutingConfig says which confirmable actions go to which National ID
// partner, on what conditions and how (country config routing.yaml).
type RoutingConfig struct {
	// PendingAfter: a Requested action older than this is listed as pending
	// for an operator. Default 24h.
	PendingAfter Duration `json:"pendingAfter,omitempty"`
	Routes       []Route  `json:"routes"`
}

// Route sends one event type's confirmable actions to a partner.
type Route struct {
	Name    string       `json:"name"`
	Event   string       `json:"event"`
	Actions []ActionType `json:"actions"`
	Partner string       `json:"partner"`
	Mode    string       `json:"mode"`                  // async (default) or sync
	Timeout Duration     `json:"syncTimeout,omitempty"` // sync mode: how long the request waits; default 10s
	When    *RouteRule   `json:"when,omitempty"`        // eligibility; nil = always
}

// RouteRule is an eligibility condition over the event's declaration (as it
// will be once the action is accepted). Exactly one form per rule: all,
// any, not, or a field test.
type RouteRule struct {
	All []RouteRule `json:"all,omitempty"`
	Any []RouteRule `json:"any,omitempty"`
	Not *RouteRule  `json:"not,omitempty"`

	Field string `json:"field,omitempty"`
	// In: the field's string value is one of these. NotIn: it is absent or
	// none of these.
	In    []string `json:"in,omitempty"`
	NotIn []string `json:"notIn,omitempty"`
	// Present: the field has a non-null value.
	Present bool `json:"present,omitempty"`
	// MaxAgeYears: the field is a date and the person born then is at most
	// this many whole years old today (in the country's time zone).
	MaxAgeYears *int `json:"maxAgeYears,omitempty"`
}

// Duration is a time.Duration written as "10s", "24h" in config files.
type Duration time.Duration

// UnmarshalJSON reads "1h30m" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil || v < 0 {
			return fmt.Errorf("duration %q: want e.g. \"10s\", \"24h\"", s)
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil || secs < 0 {
		return fmt.Errorf("duration %s: want e.g. \"10s\", \"24h\"", b)
	}
	*d = Duration(time.Duration(secs * float64(time.Second)))
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Pending returns PendingAfter or its default.
func (r *RoutingConfig) Pending() time.Duration {
	if r == nil || r.PendingAfter <= 0 {
		return 24 * time.Hour
	}
	return time.Duration(r.PendingAfter)
}

// SyncTimeout returns the route's sync wait or its default.
func (r *Route) SyncTimeout() time.Duration {
	if r.Timeout <= 0 {
		return 10 * time.Second
	}
	return time.Duration(r.Timeout)
}

// Check validates the routing against the event forms: known event types,
// confirmable actions, known field ids, one form per rule.
func (r *RoutingConfig) Check(c *CountryConfig) error {
	names := map[string]bool{}
	for i := range r.Routes {
		rt := &r.Routes[i]
		where := fmt.Sprintf("routes[%d]", i)
		if rt.Name == "" {
			rt.Name = fmt.Sprintf("%s-%s", rt.Event, rt.Partner)
		}
		if names[rt.Name] {
			return fmt.Errorf("%s: name %q is used twice", where, rt.Name)
		}
		names[rt.Name] = true
		ec := c.Event(rt.Event)
		if ec == nil {
			return fmt.Errorf("%s (%s): unknown event type %q", where, rt.Name, rt.Event)
		}
		if rt.Partner == "" || strings.ContainsAny(rt.Partner, ". *>") {
			return fmt.Errorf("%s (%s): partner must be an adapter name like \"mosip\"", where, rt.Name)
		}
		switch rt.Mode {
		case "":
			rt.Mode = ModeAsync
		case ModeAsync, ModeSync:
		default:
			return fmt.Errorf("%s (%s): mode %q: want async or sync", where, rt.Name, rt.Mode)
		}
		if len(rt.Actions) == 0 {
			return fmt.Errorf("%s (%s): actions is empty", where, rt.Name)
		}
		for _, a := range rt.Actions {
			if a != ActionRegister && a != ActionApproveCorrection {
				return fmt.Errorf("%s (%s): action %s cannot go to a National ID partner (REGISTER or APPROVE_CORRECTION)", where, rt.Name, a)
			}
		}
		if rt.When != nil {
			if err := rt.When.check(ec); err != nil {
				return fmt.Errorf("%s (%s): when: %w", where, rt.Name, err)
			}
		}
	}
	for i, a := range r.Routes {
		for _, b := range r.Routes[i+1:] {
			if a.Event == b.Event && a.Partner == b.Partner {
				for _, t := range a.Actions {
					if slices.Contains(b.Actions, t) {
						return fmt.Errorf("routes %s and %s both send %s %s to %s", a.Name, b.Name, a.Event, t, a.Partner)
					}
				}
			}
		}
	}
	return nil
}

func (r *RouteRule) check(ec *EventConfig) error {
	forms := 0
	if len(r.All) > 0 {
		forms++
	}
	if len(r.Any) > 0 {
		forms++
	}
	if r.Not != nil {
		forms++
	}
	if r.Field != "" {
		forms++
		if ec.Field(r.Field) == nil {
			return fmt.Errorf("unknown field %q in event %s", r.Field, ec.ID)
		}
		tests := 0
		for _, set := range []bool{len(r.In) > 0, len(r.NotIn) > 0, r.Present, r.MaxAgeYears != nil} {
			if set {
				tests++
			}
		}
		if tests != 1 {
			return fmt.Errorf("field %s: give exactly one of in, notIn, present, maxAgeYears", r.Field)
		}
		if r.MaxAgeYears != nil && ec.Field(r.Field).Type != FieldDate {
			return fmt.Errorf("field %s: maxAgeYears needs a DATE field", r.Field)
		}
	}
	if forms != 1 {
		return fmt.Errorf("a rule needs exactly one of all, any, not, field")
	}
	for i := range r.All {
		if err := r.All[i].check(ec); err != nil {
			return err
		}
	}
	for i := range r.Any {
		if err := r.Any[i].check(ec); err != nil {
			return err
		}
	}
	if r.Not != nil {
		return r.Not.check(ec)
	}
	return nil
}

// Match evaluates the rule on a declaration; today is "YYYY-MM-DD".
func (r *RouteRule) Match(d Declaration, today string) bool {
	switch {
	case len(r.All) > 0:
		for i := range r.All {
			if !r.All[i].Match(d, today) {
				return false
			}
		}
		return true
	case len(r.Any) > 0:
		for i := range r.Any {
			if r.Any[i].Match(d, today) {
				return true
			}
		}
		return false
	case r.Not != nil:
		return !r.Not.Match(d, today)
	}
	raw, ok := d[r.Field]
	present := ok && len(raw) > 0 && string(raw) != "null"
	var s string
	if present {
		if err := json.Unmarshal(raw, &s); err != nil {
			s = string(raw) // numbers, booleans: compare their JSON text
		}
	}
	switch {
	case r.Present:
		return present
	case len(r.In) > 0:
		return present && slices.Contains(r.In, s)
	case len(r.NotIn) > 0:
		return !present || !slices.Contains(r.NotIn, s)
	case r.MaxAgeYears != nil:
		if !present || len(s) != 10 || len(today) != 10 {
			return false
		}
		return ageYears(s, today) <= *r.MaxAgeYears
	}
	return false
}

// ageYears is the age in whole years on day today of someone born on dob
// (both "YYYY-MM-DD"); negative for a future date of birth.
func ageYears(dob, today string) int {
	b, err1 := time.Parse(time.DateOnly, dob)
	t, err2 := time.Parse(time.DateOnly, today)
	if err1 != nil || err2 != nil {
		return 1 << 30
	}
	age := t.Year() - b.Year()
	if t.Month() < b.Month() || (t.Month() == b.Month() && t.Day() < b.Day()) {
		age--
	}
	return age
}

// RouteFor returns the route for an event type and action whose rule the
// declaration meets, or nil.
func (r *RoutingConfig) RouteFor(eventType string, action ActionType, d Declaration, today string) *Route {
	if r == nil {
		return nil
	}
	for i := range r.Routes {
		rt := &r.Routes[i]
		if rt.Event != eventType || !slices.Contains(rt.Actions, action) {
			continue
		}
		if rt.When == nil || rt.When.Match(d, today) {
			return rt
		}
	}
	return nil
}

// DeclarationIfAccepted is the event's declaration as it will be once the
// Requested action a is accepted: the accepted actions' declaration, the
// pending correction's changes for an APPROVE_CORRECTION, and a's own.
func DeclarationIfAccepted(ev *EventDocument, a *Action) Declaration {
	st := Derive(ev)
	d := st.Declaration
	if a.Type == ActionApproveCorrection && st.CorrectionRequest != nil {
		d = MergeDeclaration(d, st.CorrectionRequest.Declaration)
	}
	return MergeDeclaration(d, a.Declaration)
}

// RouteMessage is the payload of a message on TopicNationalID: which
// Requested action to send to which partner. It carries ids only: the
// consumer reads the record from the store, so no personal data sits in
// the queue.
type RouteMessage struct {
	Route              string     `json:"route"`
	Partner            string     `json:"partner"`
	Mode               string     `json:"mode"`
	EventID            string     `json:"eventId"`
	EventType          string     `json:"eventType"`
	ActionID           string     `json:"actionId"`
	ActionType         ActionType `json:"actionType"`
	RegistrationNumber string     `json:"registrationNumber,omitempty"`
	RequestedAt        time.Time  `json:"requestedAt"`
}

// RoutingConfirmer defers confirmable actions that a route sends to a
// National ID partner and enqueues the message that carries them there;
// every other action goes to Next (default: accept now).
type RoutingConfirmer struct {
	Config *CountryConfig
	// Partners that are configured; a route to any other partner is
	// skipped (the hub logs that at start).
	Partners map[string]bool
	Next     Confirmer
	Now      func() time.Time
}

// Confirm implements Confirmer.
func (rc *RoutingConfirmer) Confirm(ctx context.Context, ev *EventDocument, a *Action) (Confirmation, error) {
	next := rc.Next
	if next == nil {
		next = AcceptAll{}
	}
	if !rc.routable(ev.Type, a.Type) {
		return next.Confirm(ctx, ev, a) // most actions: no rule to evaluate
	}
	now := time.Now()
	if rc.Now != nil {
		now = rc.Now()
	}
	rt := rc.Config.Routing.RouteFor(ev.Type, a.Type, DeclarationIfAccepted(ev, a), rc.Config.Today(now))
	if rt == nil || !rc.Partners[rt.Partner] {
		return next.Confirm(ctx, ev, a)
	}
	msg := RouteMessage{Route: rt.Name, Partner: rt.Partner, Mode: rt.Mode, EventID: ev.ID, EventType: ev.Type,
		ActionID: a.ID, ActionType: a.Type, RegistrationNumber: a.RegistrationNumber, RequestedAt: a.CreatedAt}
	payload, err := json.Marshal(msg)
	if err != nil {
		return Confirmation{}, fmt.Errorf("route message: %w", err)
	}
	meta := map[string]string{"event_id": ev.ID, "action_id": a.ID, "route": rt.Name}
	if id := RequestMetaFrom(ctx).CorrelationID; id != "" {
		meta["correlation_id"] = id
	}
	return Confirmation{Decision: Defer, Messages: []OutboxMessage{{
		ID: NewID(), Topic: TopicNationalID(rt.Partner), Payload: payload, Metadata: meta, CreatedAt: now,
	}}}, nil
}

// routable reports whether a route to a configured partner exists for the
// event type and action, before any rule is evaluated.
func (rc *RoutingConfirmer) routable(eventType string, t ActionType) bool {
	for i := range rc.Config.Routing.Routes {
		r := &rc.Config.Routing.Routes[i]
		if r.Event == eventType && rc.Partners[r.Partner] && slices.Contains(r.Actions, t) {
			return true
		}
	}
	return false
}

// ResendReceipt is the answer to a resend: which action went to which
// partner, and when. It carries no part of the record: resending needs only
// ops.manage, which is not a right to read records (record.read is).
type ResendReceipt struct {
	EventID  string    `json:"eventId"`
	ActionID string    `json:"actionId"`
	Topic    string    `json:"topic"`
	Partner  string    `json:"partner,omitempty"`
	ResentAt time.Time `json:"resentAt"`
}

// Resend sends a Requested action to its partner again (an operator's
// retry of a record that waits too long): the confirmer is asked again
// and the messages it gives are enqueued with an audit entry. An action
// that is resolved, or that no route sends anywhere any more, is a
// conflict: accept or reject it instead. It answers a receipt, never the
// record (see ResendReceipt).
func (s *Service) Resend(ctx context.Context, p Principal, eventID, actionID string) (*ResendReceipt, error) {
	if err := RequireScope(p, []string{ScopeOpsManage}, ""); err != nil {
		return nil, err
	}
	var out *ResendReceipt
	err := s.Store.Write(ctx, func(tx Tx) error {
		ev, err := s.loadForWrite(tx, eventID)
		if err != nil {
			return err
		}
		req := ev.FindAction(actionID)
		if Derive(ev).Deleted || req == nil || req.Status != StatusRequested {
			return Errorf(KindNotFound, "NOT_FOUND", "Requested action not found with ID: %s", actionID)
		}
		for _, a := range ev.Actions {
			if a.OriginalActionID == actionID {
				return Errorf(KindConflict, "ALREADY_RESOLVED", "Action has already been %s.", strings.ToLower(string(a.Status)))
			}
		}
		conf, err := s.confirmer().Confirm(ctx, ev, req)
		if err != nil {
			return fmt.Errorf("confirm %s: %w", req.Type, err)
		}
		if conf.Decision != Defer || len(conf.Messages) == 0 {
			return Errorf(KindConflict, "NOT_ROUTED", "No route sends this %s to a partner any more; accept or reject it", req.Type)
		}
		for _, m := range conf.Messages {
			if err := tx.Enqueue(m); err != nil {
				return fmt.Errorf("enqueue %s: %w", m.Topic, err)
			}
		}
		first := conf.Messages[0]
		out = &ResendReceipt{EventID: ev.ID, ActionID: req.ID, Topic: first.Topic, ResentAt: s.now()}
		var rm RouteMessage // a route message names its partner; another confirmer's may not
		if json.Unmarshal(first.Payload, &rm) == nil {
			out.Partner = rm.Partner
		}
		return s.audit(ctx, tx, p, "action.resend", ev.ID, map[string]any{"actionId": actionID, "topic": first.Topic})
	})
	if err == nil {
		s.enqueued()
	} else {
		out = nil
	}
	return out, err
}
