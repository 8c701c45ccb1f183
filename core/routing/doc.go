// Package routing sends confirmable actions to National ID partners: the
// rules of a country's routing.yaml (which event type's REGISTER or
// APPROVE_CORRECTION goes to which partner, on what condition, sync or
// async), checked against the event forms, and the Confirmer that defers a
// routed action and enqueues the Message that carries it to its partner's
// topic.
//
// The engine (package core) knows none of this: it sees a core.Confirmer
// that answers Defer with outbox messages. hub/nationalid consumes the
// messages and resolves the actions.
package routing
