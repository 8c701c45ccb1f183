package core

import "context"

// Decision is a confirmer's answer to a Requested action.
type Decision int

// Confirmation decisions.
const (
	Accept Decision = iota // accept now
	Reject                 // reject now
	Defer                  // leave Requested; accepted or rejected later (see Service.Resolve)
)

// Confirmation is a confirmer's answer.
type Confirmation struct {
	Decision Decision
	// RegistrationNumber for an accepted REGISTER; when empty the engine
	// takes one from its RegistrationNumberGenerator.
	RegistrationNumber string
	// Declaration additions made by the confirmer (e.g. "child.nid").
	Declaration Declaration
	// Reason for a rejection.
	Reason string
	// Messages to enqueue in the same transaction (e.g. the registration
	// to send to a National ID partner when the decision is Defer).
	Messages []OutboxMessage
	// Correlation, for Service.Resolve, is the partner correlation this
	// outcome settles: it is deleted in the resolution's own transaction.
	Correlation *Correlation
}

// Confirmer decides confirmable actions (country rules, National ID
// routing). Confirm runs inside the write transaction that records the
// Requested action, so it must be fast and do no I/O: a confirmer that
// needs a partner answers Defer and resolves the action later.
type Confirmer interface {
	Confirm(ctx context.Context, ev *EventDocument, action *Action) (Confirmation, error)
}

// AcceptAll is the default confirmer: every action is accepted at once.
type AcceptAll struct{}

// Confirm implements Confirmer.
func (AcceptAll) Confirm(context.Context, *EventDocument, *Action) (Confirmation, error) {
	return Confirmation{Decision: Accept}, nil
}

// ConfirmerFunc adapts a function to Confirmer.
type ConfirmerFunc func(ctx context.Context, ev *EventDocument, action *Action) (Confirmation, error)

// Confirm implements Confirmer.
func (f ConfirmerFunc) Confirm(ctx context.Context, ev *EventDocument, a *Action) (Confirmation, error) {
	return f(ctx, ev, a)
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
