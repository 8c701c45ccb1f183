// Package nationalid runs the hub's side of National ID routing: it
// consumes the route messages that routing.Confirmer enqueues, calls
// the partner's adapter (behind its circuit breaker), resolves the
// Requested action when the outcome arrives (at once, or later through the
// adapter's callback), lets sync-mode requests wait for that outcome, and
// gives operators the pending records and the dead letters.
package nationalid
