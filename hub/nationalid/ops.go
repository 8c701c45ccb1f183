package nationalid

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/routing"
	"github.com/crvshub/crvshub/core/searchquery"
)

// Ops is what an operator does with failed and waiting deliveries. Every
// change is audited.
type Ops struct {
	Service *core.Service
	// Routing gives the routed actions and pendingAfter (Pending); nil:
	// nothing is routed.
	Routing *routing.Config
	Queues  core.Queues
	Now     func() time.Time
	// Enqueued is called after a replay enqueued messages (the relay's
	// wake-up).
	Enqueued func()
	// IssueToken issues a record-scoped confirmation token for one
	// Requested action, on behalf of the client clientID (its sub: the
	// token stops working when that client is disabled). nil = the hub
	// issues no confirmation tokens.
	IssueToken func(clientID, eventID, actionID string) (token string, expiresIn int, err error)
}

// confirmationScopes are what a confirmation token lets its holder do, and
// so what the client minting one must itself be allowed to do to the
// event: the token is handed on to an external integration, and must not
// be a way to accept or reject a registration the minting client may not
// (OpenCRVS's token exchange likewise starts from the registrar's own
// token).
var confirmationScopes = []string{core.ScopeConfirmRegistration, core.ScopeRejectRegistration}

func (o *Ops) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

func requireOps(p core.Principal) error {
	return core.RequireScope(p, []string{core.ScopeOpsManage}, "")
}

// DeadLetters lists dead letters in arrival order ("" status = all).
func (o *Ops) DeadLetters(ctx context.Context, p core.Principal, status string, limit int) ([]core.DeadLetter, error) {
	if err := requireOps(p); err != nil {
		return nil, err
	}
	switch status {
	case "", core.DeadLetterDead, core.DeadLetterReplayed, core.DeadLetterDiscarded:
	default:
		return nil, core.Errorf(core.KindInvalid, "INVALID_INPUT", "status must be dead, replayed or discarded")
	}
	ds, err := o.Queues.DeadLetters(ctx, core.DeadLetterFilter{Status: status, Limit: limit})
	if err != nil {
		return nil, err
	}
	if ds == nil {
		ds = []core.DeadLetter{}
	}
	return ds, nil
}

// MaxReplayIDs caps the dead letter ids one replay request may name.
const MaxReplayIDs = 1000

// Replay sends dead letters again, in arrival order: each gets a new
// message (new id, same topic and payload, metadata replay_of) and is
// marked replayed, in one transaction. ids nil = every dead letter.
func (o *Ops) Replay(ctx context.Context, p core.Principal, ids []string) ([]core.DeadLetter, error) {
	if err := requireOps(p); err != nil {
		return nil, err
	}
	f := core.DeadLetterFilter{Status: core.DeadLetterDead}
	if ids != nil {
		if len(ids) == 0 {
			return nil, core.Errorf(core.KindInvalid, "INVALID_INPUT", "ids is empty; leave it out to replay every dead letter")
		}
		if len(ids) > MaxReplayIDs {
			return nil, core.Errorf(core.KindInvalid, "INVALID_INPUT", "ids has %d entries; at most %d per request (leave ids out to replay every dead letter)", len(ids), MaxReplayIDs)
		}
		ids = slices.Compact(slices.Sorted(slices.Values(ids)))
		f = core.DeadLetterFilter{IDs: ids}
	}
	ds, err := o.Queues.DeadLetters(ctx, f)
	if err != nil {
		return nil, err
	}
	if ids != nil {
		found := map[string]bool{}
		for _, d := range ds {
			found[d.ID] = true
		}
		for _, id := range ids {
			if !found[id] {
				return nil, core.Errorf(core.KindNotFound, "NOT_FOUND", "Dead letter not found with ID: %s", id)
			}
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].Seq < ds[j].Seq })
	now := o.now()
	meta := core.RequestMetaFrom(ctx)
	err = o.Service.Store.Write(ctx, func(tx core.Tx) error {
		for i := range ds {
			d := &ds[i]
			cur, err := tx.DeadLetter(d.ID)
			if err != nil {
				return err
			}
			if cur.Status != core.DeadLetterDead {
				return core.Errorf(core.KindConflict, "NOT_DEAD", "Dead letter %s is %s, not dead", d.ID, cur.Status)
			}
			md := map[string]string{}
			for k, v := range cur.Metadata {
				md[k] = v
			}
			md["replay_of"] = cur.ID
			newID := core.NewID()
			if err := tx.Enqueue(core.OutboxMessage{ID: newID, Topic: cur.Topic, Payload: cur.Payload, Metadata: md, CreatedAt: now}); err != nil {
				return err
			}
			if err := tx.SetDeadLetterStatus(cur.ID, core.DeadLetterReplayed, "", now); err != nil {
				return err
			}
			detail, _ := json.Marshal(map[string]any{"topic": cur.Topic, "handler": cur.Handler, "newMessageId": newID})
			if err := tx.Audit(core.AuditEntry{At: now, ActorID: p.ID, ActorType: p.Type, Operation: "deadletter.replay",
				ObjectType: "deadletter", ObjectID: cur.ID, RemoteAddr: meta.RemoteAddr, CorrelationID: meta.CorrelationID, Detail: detail}); err != nil {
				return err
			}
			d.Status, d.UpdatedAt = core.DeadLetterReplayed, now
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ds) > 0 && o.Enqueued != nil {
		o.Enqueued()
	}
	if ds == nil {
		ds = []core.DeadLetter{}
	}
	return ds, nil
}

// Discard drops a dead letter for good, with a reason.
func (o *Ops) Discard(ctx context.Context, p core.Principal, id, reason string) (*core.DeadLetter, error) {
	if err := requireOps(p); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, core.Errorf(core.KindInvalid, "INVALID_INPUT", "reason is required to discard a dead letter")
	}
	if len(reason) > 1000 {
		return nil, core.Errorf(core.KindInvalid, "INVALID_INPUT", "reason is longer than 1000 characters")
	}
	now := o.now()
	meta := core.RequestMetaFrom(ctx)
	var out *core.DeadLetter
	err := o.Service.Store.Write(ctx, func(tx core.Tx) error {
		cur, err := tx.DeadLetter(id)
		if errors.Is(err, core.ErrNotFound) {
			return core.Errorf(core.KindNotFound, "NOT_FOUND", "Dead letter not found with ID: %s", id)
		}
		if err != nil {
			return err
		}
		if cur.Status != core.DeadLetterDead {
			return core.Errorf(core.KindConflict, "NOT_DEAD", "Dead letter %s is %s, not dead", id, cur.Status)
		}
		if err := tx.SetDeadLetterStatus(id, core.DeadLetterDiscarded, reason, now); err != nil {
			return err
		}
		detail, _ := json.Marshal(map[string]any{"reason": reason, "topic": cur.Topic, "handler": cur.Handler})
		cur.Status, cur.Reason, cur.UpdatedAt = core.DeadLetterDiscarded, reason, now
		out = cur
		return tx.Audit(core.AuditEntry{At: now, ActorID: p.ID, ActorType: p.Type, Operation: "deadletter.discard",
			ObjectType: "deadletter", ObjectID: id, RemoteAddr: meta.RemoteAddr, CorrelationID: meta.CorrelationID, Detail: detail})
	})
	return out, err
}

// ConfirmationToken mints a record-scoped confirmation token for the
// Requested action actionID of event eventID, for an external integration
// that will accept or reject it. The caller needs ops.manage, and must be
// an API client that itself holds record.confirm-registration and
// record.reject-registration admitting the event (event type, jurisdiction,
// user options): a missing scope is a 403 naming it, a scope that does not
// reach the event a 404, as for any record outside the caller's reach. An
// action that is not Requested is a 404, one already resolved a 409. The
// token's subject is the caller, so disabling it revokes the token; who
// minted which token is audited (operation confirmation.token; the token
// itself is never stored or logged). It answers the token and its lifetime
// in seconds.
func (o *Ops) ConfirmationToken(ctx context.Context, p core.Principal, eventID, actionID string) (token string, expiresIn int, err error) {
	if err := requireOps(p); err != nil {
		return "", 0, err
	}
	if o.IssueToken == nil {
		return "", 0, core.Errorf(core.KindUnavailable, "NOT_CONFIGURED", "confirmation tokens are not configured on this hub")
	}
	if p.Record != nil || p.Type != core.UserTypeSystem {
		return "", 0, core.Errorf(core.KindForbidden, "NOT_A_CLIENT", "Confirmation tokens are issued to API clients only")
	}
	for _, typ := range confirmationScopes {
		if err := core.RequireScope(p, []string{typ}, ""); err != nil {
			return "", 0, err
		}
	}
	notFound := core.Errorf(core.KindNotFound, "NOT_FOUND", "Requested action not found with ID: %s", actionID)
	if !core.IsUUID(eventID) || !core.IsUUID(actionID) {
		return "", 0, notFound
	}
	now := o.now()
	meta := core.RequestMetaFrom(ctx)
	err = o.Service.Store.Write(ctx, func(tx core.Tx) error {
		ev, err := tx.Event(strings.ToLower(eventID))
		if errors.Is(err, core.ErrNotFound) {
			return notFound
		}
		if err != nil {
			return fmt.Errorf("read event: %w", err)
		}
		st := core.Derive(ev)
		if err := o.admits(p, ev, st); err != nil {
			return err
		}
		a := ev.FindAction(actionID)
		if a == nil || a.Status != core.StatusRequested || st.Deleted {
			return notFound
		}
		for _, r := range ev.Actions {
			if r.OriginalActionID == actionID {
				return core.Errorf(core.KindConflict, "ALREADY_RESOLVED", "Action has already been %s.", strings.ToLower(string(r.Status)))
			}
		}
		tok, exp, err := o.IssueToken(p.ID, ev.ID, a.ID)
		if err != nil {
			return fmt.Errorf("issue confirmation token: %w", err)
		}
		detail, _ := json.Marshal(map[string]any{"actionId": a.ID, "expiresIn": exp})
		if err := tx.Audit(core.AuditEntry{At: now, ActorID: p.ID, ActorType: p.Type, Operation: "confirmation.token",
			ObjectType: "event", ObjectID: ev.ID, RemoteAddr: meta.RemoteAddr, CorrelationID: meta.CorrelationID, Detail: detail}); err != nil {
			return err
		}
		token, expiresIn = tok, exp
		return nil
	})
	if err != nil {
		return "", 0, err // the token was never handed out: nothing to revoke
	}
	return token, expiresIn, nil
}

// admits checks that p's own confirmation scopes reach the event: both
// must be held for its type (else 403 naming the missing one) and admit it
// (else 404, so that the caller learns nothing of records outside its
// reach).
func (o *Ops) admits(p core.Principal, ev *core.EventDocument, st core.State) error {
	access := core.AccessOf(o.Service.Config, ev, st)
	for _, typ := range confirmationScopes {
		if err := core.RequireScope(p, []string{typ}, ev.Type); err != nil {
			return err
		}
		admitted := false
		for _, sc := range p.Scopes.Of(typ) {
			if sc.Admits(o.Service.Config, p, access) {
				admitted = true
				break
			}
		}
		if !admitted {
			return core.Errorf(core.KindNotFound, "NOT_FOUND", "Event not found with ID: %s", ev.ID)
		}
	}
	return nil
}

// routes are the routing's routes (none without a routing).
func (o *Ops) routes() []routing.Route {
	if o.Routing == nil {
		return nil
	}
	return o.Routing.Routes
}

// Pending lists records whose routed action has waited longer than the
// routing's pendingAfter (or olderThan when > 0), within what the caller
// may search, the longest waiting first. The wait is measured from when
// the action was Requested, not from the record's updatedAt: someone
// assigning or reading a stuck record must not hide it. It pages through
// every record flagged <action>:requested (the ones waiting now), so its
// cost grows with that backlog, not with the database.
func (o *Ops) Pending(ctx context.Context, p core.Principal, olderThan time.Duration, limit int) (*core.SearchResult, error) {
	if err := requireOps(p); err != nil {
		return nil, err
	}
	if olderThan <= 0 {
		olderThan = o.Routing.Pending()
	}
	if limit <= 0 {
		limit = 100
	}
	var flags []string
	routed := map[core.ActionType]bool{}
	for _, r := range o.routes() {
		for _, a := range r.Actions {
			if !routed[a] {
				routed[a] = true
				flags = append(flags, core.ActionFlag(a, core.StatusRequested))
			}
		}
	}
	if len(flags) == 0 {
		return &core.SearchResult{Results: []json.RawMessage{}}, nil
	}
	cutoff := o.now().Add(-olderThan)
	type waiting struct {
		doc   json.RawMessage
		since time.Time
	}
	var found []waiting
	seen := map[string]bool{}
	for offset := 0; offset <= core.MaxSearchOffset; offset += core.MaxSearchLimit {
		body, err := json.Marshal(map[string]any{
			"query": map[string]any{"type": "and", "clauses": []any{map[string]any{
				"flags": map[string]any{"anyOf": flags}}}},
			// createdAt never changes: pages stay put while records move
			"sort":  []any{map[string]any{"field": "createdAt", "direction": "asc"}},
			"limit": core.MaxSearchLimit, "offset": offset,
		})
		if err != nil {
			return nil, fmt.Errorf("pending query: %w", err)
		}
		f, err := searchquery.Parse(body, o.Service.Config, o.now())
		if err != nil {
			return nil, fmt.Errorf("pending query: %w", err)
		}
		page, err := o.Service.Search(ctx, p, f, body)
		if err != nil {
			return nil, err
		}
		for _, doc := range page.Results {
			var idx struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(doc, &idx); err != nil {
				return nil, fmt.Errorf("pending: decode search result: %w", err)
			}
			if seen[idx.ID] {
				continue
			}
			seen[idx.ID] = true
			ev, err := o.Service.Store.Event(ctx, idx.ID) // not a read by the operator: no READ
			if errors.Is(err, core.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if req := core.Derive(ev).Pending; req != nil && routed[req.Type] && !req.CreatedAt.After(cutoff) {
				found = append(found, waiting{doc, req.CreatedAt})
			}
		}
		if len(page.Results) < core.MaxSearchLimit {
			break
		}
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].since.Before(found[j].since) })
	out := &core.SearchResult{Results: []json.RawMessage{}, Total: len(found)}
	for _, w := range found[:min(limit, len(found))] {
		out.Results = append(out.Results, w.doc)
	}
	return out, nil
}
