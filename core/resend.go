package core

import (
	"context"
	"fmt"
	"strings"
	"time"
)

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
		out.Partner = first.Metadata[MetaPartner] // set by a confirmer that routes to a partner
		return s.audit(ctx, tx, p, "action.resend", ev.ID, map[string]any{"actionId": actionID, "topic": first.Topic})
	})
	if err == nil {
		s.enqueued()
	} else {
		out = nil
	}
	return out, err
}
