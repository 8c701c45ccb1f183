package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/crvshub/crvshub/core"
)

// Topic is the bus topic of registrations routed to a partner:
// "nationalid-<partner>" (bus topics may not contain dots).
func Topic(partner string) string { return "nationalid-" + partner }

// Message is the payload of a message on Topic: which Requested action to
// send to which partner. It carries ids only: the consumer reads the
// record from the store, so no personal data sits in the queue.
type Message struct {
	Route              string          `json:"route"`
	Partner            string          `json:"partner"`
	Mode               string          `json:"mode"`
	EventID            string          `json:"eventId"`
	EventType          string          `json:"eventType"`
	ActionID           string          `json:"actionId"`
	ActionType         core.ActionType `json:"actionType"`
	RegistrationNumber string          `json:"registrationNumber,omitempty"`
	RequestedAt        time.Time       `json:"requestedAt"`
}

// Confirmer defers confirmable actions that a route sends to a National ID
// partner and enqueues the Message that carries them there; every other
// action goes to Next (default: accept now).
type Confirmer struct {
	Routing *Config             // checked against Country (Config.Check)
	Country *core.CountryConfig // its time zone decides what "today" is for age rules
	// Partners that are configured; a route to any other partner is
	// skipped (the hub logs that at start).
	Partners map[string]bool
	Next     core.Confirmer
	Now      func() time.Time
}

// Confirm implements core.Confirmer.
func (rc *Confirmer) Confirm(ctx context.Context, ev *core.EventDocument, a *core.Action) (core.Confirmation, error) {
	next := rc.Next
	if next == nil {
		next = core.AcceptAll{}
	}
	if !rc.routable(ev.Type, a.Type) {
		return next.Confirm(ctx, ev, a) // most actions: no rule to evaluate
	}
	now := time.Now()
	if rc.Now != nil {
		now = rc.Now()
	}
	rt := rc.Routing.RouteFor(ev.Type, a.Type, core.DeclarationIfAccepted(ev, a), rc.Country.Today(now))
	if rt == nil || !rc.Partners[rt.Partner] {
		return next.Confirm(ctx, ev, a)
	}
	msg := Message{Route: rt.Name, Partner: rt.Partner, Mode: rt.Mode, EventID: ev.ID, EventType: ev.Type,
		ActionID: a.ID, ActionType: a.Type, RegistrationNumber: a.RegistrationNumber, RequestedAt: a.CreatedAt}
	payload, err := json.Marshal(msg)
	if err != nil {
		return core.Confirmation{}, fmt.Errorf("route message: %w", err)
	}
	meta := map[string]string{"event_id": ev.ID, "action_id": a.ID, "route": rt.Name, core.MetaPartner: rt.Partner}
	if id := core.RequestMetaFrom(ctx).CorrelationID; id != "" {
		meta["correlation_id"] = id
	}
	return core.Confirmation{Decision: core.Defer, Messages: []core.OutboxMessage{{
		ID: core.NewID(), Topic: Topic(rt.Partner), Payload: payload, Metadata: meta, CreatedAt: now,
	}}}, nil
}

// routable reports whether a route to a configured partner exists for the
// event type and action, before any rule is evaluated.
func (rc *Confirmer) routable(eventType string, t core.ActionType) bool {
	if rc.Routing == nil {
		return false
	}
	for i := range rc.Routing.Routes {
		r := &rc.Routing.Routes[i]
		if r.Event == eventType && rc.Partners[r.Partner] && slices.Contains(r.Actions, t) {
			return true
		}
	}
	return false
}
