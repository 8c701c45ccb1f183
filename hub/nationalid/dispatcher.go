package nationalid

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/sony/gobreaker/v2"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/routing"
	"github.com/crvshub/crvshub/hub/bus"
)

// Dispatcher sends routed registrations to partners and resolves them.
type Dispatcher struct {
	Service *core.Service
	// Routing says which routes are sync (AfterAction); nil: none.
	Routing  *routing.Config
	Partners map[string]adapters.NationalID
	// Breakers guard partner calls, one per partner; an open breaker
	// refuses the call with bus.ErrUnavailable, so the message stays
	// queued instead of being dead-lettered. nil: calls are not guarded.
	Breakers *bus.Breakers
	// DeadLetters keeps a partner outcome that contradicts the recorded
	// one (MOSIP accepted an action an operator had rejected) where
	// operators look for failed deliveries; nil: it is only logged.
	DeadLetters core.DeadLetterSink
	Log         *slog.Logger

	mu      sync.Mutex
	waiters map[string][]chan struct{} // action id -> sync-mode requests waiting
}

// principal is the identity a partner's outcome is recorded under.
func principal(partner string) core.Principal {
	sc, _ := core.ParseScopes([]string{core.ScopeConfirmRegistration, core.ScopeRejectRegistration})
	return core.Principal{ID: "partner:" + partner, Type: core.UserTypeSystem, Scopes: sc}
}

func (d *Dispatcher) log() *slog.Logger {
	if d.Log == nil {
		return slog.Default()
	}
	return d.Log
}

// permanent marks an error that no retry can fix.
func permanent(format string, args ...any) error {
	return fmt.Errorf("%w: %s", adapters.ErrPermanent, fmt.Sprintf(format, args...))
}

// Handle processes one route message (the payload of a
// routing.Topic message). It is idempotent: an action that is no
// longer waiting is skipped, and the adapter's Register is idempotent for
// the same event and action. A returned error wrapping
// adapters.ErrPermanent must not be retried; one wrapping ErrUnavailable
// must be retried later without counting against the retry budget.
func (d *Dispatcher) Handle(ctx context.Context, payload []byte) error {
	var m routing.Message
	if err := json.Unmarshal(payload, &m); err != nil {
		return permanent("route message: %v", err)
	}
	ad := d.Partners[m.Partner]
	if ad == nil {
		return permanent("no adapter is configured for partner %q", m.Partner)
	}
	ev, err := d.Service.Store.Event(ctx, m.EventID)
	if errors.Is(err, core.ErrNotFound) {
		return permanent("event %s not found", m.EventID)
	}
	if err != nil {
		return fmt.Errorf("read event %s: %w", m.EventID, err)
	}
	req := ev.FindAction(m.ActionID)
	if req == nil || req.Status != core.StatusRequested {
		return permanent("event %s has no requested action %s", m.EventID, m.ActionID)
	}
	st := core.Derive(ev)
	if st.Deleted || resolved(ev, req.ID) {
		d.log().DebugContext(ctx, "route message for an action already resolved", "eventId", ev.ID, "actionId", req.ID)
		d.wake(req.ID)
		return nil
	}
	regNum := m.RegistrationNumber
	if regNum == "" {
		regNum = req.RegistrationNumber
	}
	if regNum == "" && st.Registered != nil {
		regNum = st.Registered.RegistrationNumber // a correction of a registered record
	}
	reg := adapters.Registration{
		EventID: ev.ID, EventType: ev.Type, TrackingID: ev.TrackingID, ActionID: req.ID, ActionType: req.Type,
		RegistrationNumber: regNum, Declaration: core.DeclarationIfAccepted(ev, req),
		CreatedAtLocation: req.CreatedAtLocation, CorrelationID: core.RequestMetaFrom(ctx).CorrelationID, RequestedAt: req.CreatedAt,
	}
	var out adapters.Outcome
	call := func() error {
		var err error
		out, err = ad.Register(ctx, reg)
		return err
	}
	if d.Breakers != nil {
		err = d.Breakers.Execute(m.Partner, call)
	} else {
		err = call()
	}
	if err != nil {
		d.log().WarnContext(ctx, "partner registration failed", "partner", m.Partner, "eventId", ev.ID, "actionId", req.ID,
			"permanent", adapters.IsPermanent(err), "error", err)
		return fmt.Errorf("%s register %s: %w", m.Partner, ev.ID, err)
	}
	d.log().InfoContext(ctx, "sent to partner", "partner", m.Partner, "eventId", ev.ID, "actionId", req.ID, "reference", out.Reference, "outcome", out.Kind)
	if out.Kind == adapters.Pending {
		return nil
	}
	return d.resolve(ctx, m.Partner, ev.ID, req.ID, out)
}

// resolved reports whether the Requested action has its Accepted or
// Rejected row.
func resolved(ev *core.EventDocument, actionID string) bool {
	for _, a := range ev.Actions {
		if a.OriginalActionID == actionID {
			return true
		}
	}
	return false
}

// Resolver returns the adapters.Resolver a partner's callback uses.
func (d *Dispatcher) Resolver(partner string) adapters.Resolver {
	return resolverFunc(func(ctx context.Context, eventID, actionID string, out adapters.Outcome) error {
		return d.resolve(ctx, partner, eventID, actionID, out)
	})
}

type resolverFunc func(ctx context.Context, eventID, actionID string, out adapters.Outcome) error

func (f resolverFunc) Resolve(ctx context.Context, eventID, actionID string, out adapters.Outcome) error {
	return f(ctx, eventID, actionID, out)
}

// resolve records a partner's outcome. Accepting an accepted action again
// (or rejecting a rejected one) changes nothing. An outcome that
// contradicts the recorded one (MOSIP accepted, and so issued an identity
// for, an action an operator had rejected meanwhile) cannot be recorded and
// no retry changes that, but it must not vanish in a log line: it is
// stored as a dead letter (unmatchedOutcome) for an operator to see, and
// logged at warn.
func (d *Dispatcher) resolve(ctx context.Context, partner, eventID, actionID string, out adapters.Outcome) error {
	conf := core.Confirmation{Decision: core.Accept, RegistrationNumber: out.RegistrationNumber, Declaration: out.Declaration,
		Correlation: out.Correlation}
	switch out.Kind {
	case adapters.Accepted:
	case adapters.Rejected:
		conf = core.Confirmation{Decision: core.Reject, Reason: out.Reason, Correlation: out.Correlation}
		if conf.Reason == "" {
			conf.Reason = "rejected by " + partner
		}
	default:
		return fmt.Errorf("resolve %s: outcome %d is neither accepted nor rejected", actionID, out.Kind)
	}
	_, err := d.Service.Resolve(ctx, principal(partner), eventID, actionID, conf)
	var ce *core.Error
	switch {
	case err == nil:
		d.log().InfoContext(ctx, "partner outcome recorded", "partner", partner, "eventId", eventID, "actionId", actionID, "accepted", conf.Decision == core.Accept)
	case errors.As(err, &ce) && ce.Code == "ALREADY_REJECTED" && conf.Decision == core.Reject:
		d.log().InfoContext(ctx, "partner rejected an action already rejected", "partner", partner, "eventId", eventID, "actionId", actionID)
	case core.KindOf(err) == core.KindConflict:
		if err := d.unmatchedOutcome(ctx, partner, eventID, actionID, out, err); err != nil {
			return err
		}
	default:
		return err
	}
	d.wake(actionID)
	return nil
}

// unmatchedOutcome keeps a partner outcome that contradicts the record as
// a dead letter on the partner's topic (listed by GET
// /api/events/ops/dead-letters). Its id is derived from the partner,
// action and decision, so a repeated delivery updates the one dead letter.
// The payload is the action's route message (ids only, no personal data,
// no VID): replaying it is harmless, as the dispatcher skips an action
// that is already resolved; the operator discards it once the record is
// dealt with. A failure to store it is returned, so the partner's
// delivery is refused and comes back instead of being lost.
func (d *Dispatcher) unmatchedOutcome(ctx context.Context, partner, eventID, actionID string, out adapters.Outcome, cause error) error {
	decision := "accepted"
	if out.Kind == adapters.Rejected {
		decision = "rejected"
	}
	msg := fmt.Sprintf("partner %s %s action %s of event %s (reference %s), which the hub has already resolved otherwise (%v): "+
		"the partner's outcome was not recorded. If the partner created an identity, registering the record again sends the same "+
		"packet id and the partner updates that identity; discard this dead letter once the record is settled",
		partner, decision, actionID, eventID, out.Reference, cause)
	d.log().WarnContext(ctx, "partner outcome contradicts the recorded one; kept as a dead letter", "partner", partner,
		"eventId", eventID, "actionId", actionID, "reference", out.Reference, "decision", decision, "error", cause)
	if d.DeadLetters == nil {
		return nil
	}
	payload, err := json.Marshal(routing.Message{Partner: partner, EventID: eventID, ActionID: actionID})
	if err != nil {
		return fmt.Errorf("unmatched outcome of %s: %w", actionID, err)
	}
	md := map[string]string{"unmatched_outcome": decision, "event_id": eventID, "action_id": actionID}
	if out.Reference != "" {
		md["reference"] = out.Reference
	}
	if id := core.RequestMetaFrom(ctx).CorrelationID; id != "" {
		md["correlation_id"] = id
	}
	now := time.Now().UTC()
	if d.Service.Now != nil {
		now = d.Service.Now().UTC()
	}
	dl := core.DeadLetter{
		ID:    uuid.NewSHA1(uuid.NameSpaceURL, []byte("crvshub:unmatched-outcome:"+partner+"|"+actionID+"|"+decision)).String(),
		Topic: routing.Topic(partner), Handler: "nationalid-" + partner, Payload: payload, Metadata: md,
		Error: msg, Attempts: 1, FailedAt: now,
	}
	if err := d.DeadLetters.PutDeadLetter(context.WithoutCancel(ctx), dl); err != nil {
		return fmt.Errorf("store the unmatched outcome of %s as a dead letter: %w", actionID, err)
	}
	return nil
}

// wake releases the requests waiting for an action.
func (d *Dispatcher) wake(actionID string) {
	d.mu.Lock()
	ws := d.waiters[actionID]
	delete(d.waiters, actionID)
	d.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

// Await waits until the action is resolved in this process, the partner's
// breaker is open, ctx ends or timeout passes, and reports whether it was
// resolved. Sync-mode requests use it; on false they answer with the
// action still Requested (the deferred fallback).
func (d *Dispatcher) Await(ctx context.Context, partner, eventID, actionID string, timeout time.Duration) bool {
	if d.open(partner) {
		return false
	}
	ch := make(chan struct{})
	d.mu.Lock()
	if d.waiters == nil {
		d.waiters = map[string][]chan struct{}{}
	}
	d.waiters[actionID] = append(d.waiters[actionID], ch)
	d.mu.Unlock()
	// it may have been resolved before we started waiting
	if ev, err := d.Service.Store.Event(ctx, eventID); err == nil && resolved(ev, actionID) {
		d.drop(actionID, ch)
		return true
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ch:
			return true
		case <-tick.C:
			if d.open(partner) {
				d.drop(actionID, ch)
				return false
			}
		case <-t.C:
			d.drop(actionID, ch)
			return false
		case <-ctx.Done():
			d.drop(actionID, ch)
			return false
		}
	}
}

// open reports whether the partner's breaker refuses calls.
func (d *Dispatcher) open(partner string) bool {
	return d.Breakers != nil && d.Breakers.State(partner) == gobreaker.StateOpen
}

func (d *Dispatcher) drop(actionID string, ch chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ws := d.waiters[actionID]
	for i, w := range ws {
		if w == ch {
			d.waiters[actionID] = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(d.waiters[actionID]) == 0 {
		delete(d.waiters, actionID)
	}
}

// AfterAction makes a sync-mode route wait: when doc's newest action is a
// Requested action that a sync route sent to a configured partner, it
// waits up to the route's timeout for the outcome and returns the event as
// it then is. Otherwise (async, not routed, timeout, open breaker) it
// returns doc unchanged: the action stays Requested and completes later.
func (d *Dispatcher) AfterAction(ctx context.Context, doc *core.EventDocument) *core.EventDocument {
	if doc == nil || len(doc.Actions) == 0 {
		return doc
	}
	last := doc.Actions[len(doc.Actions)-1]
	if last.Status != core.StatusRequested {
		return doc
	}
	cc := d.Service.Config
	now := time.Now()
	if d.Service.Now != nil {
		now = d.Service.Now()
	}
	rt := d.Routing.RouteFor(doc.Type, last.Type, core.DeclarationIfAccepted(doc, &last), cc.Today(now))
	if rt == nil || rt.Mode != routing.ModeSync || d.Partners[rt.Partner] == nil {
		return doc
	}
	if !d.Await(ctx, rt.Partner, doc.ID, last.ID, rt.SyncTimeout()) {
		d.log().InfoContext(ctx, "sync route fell back to deferred", "partner", rt.Partner, "eventId", doc.ID, "actionId", last.ID)
		return doc
	}
	ev, err := d.Service.Store.Event(ctx, doc.ID)
	if err != nil {
		return doc
	}
	return ev
}
