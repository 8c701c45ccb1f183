package core

import (
	"context"
	"encoding/json"
	"time"
)

// OutboxMessage is a message a write causes (e.g. "send this registration
// to MOSIP"). It is stored by Tx.Enqueue in the same transaction as the
// write, so it exists if and only if the write committed; a relay then
// publishes it to the bus and deletes it.
type OutboxMessage struct {
	Seq       int64             `json:"seq"` // assigned by the store; publication order
	ID        string            `json:"id"`  // UUID; the bus message id and de-duplication key
	Topic     string            `json:"topic"`
	Payload   json.RawMessage   `json:"payload"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	CreatedAt time.Time         `json:"createdAt"`
}

// MetaPartner is the metadata key naming the partner a message goes to,
// set by a confirmer that routes an action to one (Service.Resend reports
// it in its receipt).
const MetaPartner = "partner"

// Outbox is the relay's view of the stored outbox.
type Outbox interface {
	// PendingOutbox returns up to limit unpublished messages, oldest first.
	PendingOutbox(ctx context.Context, limit int) ([]OutboxMessage, error)
	// DeleteOutbox removes published messages by Seq.
	DeleteOutbox(ctx context.Context, seqs ...int64) error
}

// Dead letter states.
const (
	DeadLetterDead      = "dead"      // waiting for an operator
	DeadLetterReplayed  = "replayed"  // sent again (a new message was enqueued)
	DeadLetterDiscarded = "discarded" // dropped by an operator, with a reason
)

// DeadLetter is a message that failed after its retry budget (or failed
// permanently). It is kept with its error until an operator replays or
// discards it.
type DeadLetter struct {
	Seq       int64             `json:"seq"` // arrival order
	ID        string            `json:"id"`  // the failed message's id
	Topic     string            `json:"topic"`
	Handler   string            `json:"handler"`
	Payload   json.RawMessage   `json:"payload"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Error     string            `json:"error"`
	Attempts  int               `json:"attempts"`
	Status    string            `json:"status"`
	Reason    string            `json:"reason,omitempty"` // why it was discarded
	FailedAt  time.Time         `json:"failedAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
}

// DeadLetterSink stores dead letters (the bus's poison-queue middleware
// writes through it). Putting a message id that is already stored as dead
// updates its error and attempts.
type DeadLetterSink interface {
	PutDeadLetter(ctx context.Context, d DeadLetter) error
}
