package core

import (
	"context"
	"encoding/json"
	"time"
)

// Store is the storage port. Implementations live next to what they wrap
// (core/store/sqlite, later core/store/postgres) and all pass the contract
// suite in core/store/storetest.
//
// Every write goes through Write: fn runs inside one transaction (an
// implementation may group several callers' fn into one commit, each in its
// own savepoint, so one failing fn rolls back alone). Write returns only
// after the commit is durable (or the work was rolled back: then it returns
// fn's error, or the commit's). fn runs exactly once and must do no I/O
// other than through tx.
type Store interface {
	Write(ctx context.Context, fn func(tx Tx) error) error

	// Event returns the event with all its actions, deleted or not, or an
	// error wrapping ErrNotFound.
	Event(ctx context.Context, id string) (*EventDocument, error)
	// EventIDByTrackingID returns the id of the event with this tracking id,
	// or an error wrapping ErrNotFound.
	EventIDByTrackingID(ctx context.Context, trackingID string) (string, error)
	// Search runs a compiled filter over the search index (deleted events
	// are never returned) and answers one page plus the total match count.
	Search(ctx context.Context, f SearchFilter) (SearchPage, error)

	// Client returns one system client, or an error wrapping ErrNotFound.
	Client(ctx context.Context, id string) (*Client, error)
	// Clients lists every system client, oldest first.
	Clients(ctx context.Context) ([]Client, error)
	// Audit lists audit entries, oldest first, filtered.
	Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)

	Close() error
}

// Tx is the view of one write transaction.
type Tx interface {
	// Event reads an event inside the transaction (ErrNotFound if absent).
	Event(id string) (*EventDocument, error)
	// EventByTransaction finds the event this caller (createdBy of its
	// CREATE action) created with this (transactionId, type), or
	// ErrNotFound. Transaction ids are per caller: another caller's event
	// with the same transaction id is never found.
	EventByTransaction(createdBy, transactionID, eventType string) (*EventDocument, error)
	// InsertEvent stores a new event and its actions. A tracking id already
	// in use -> ErrTrackingIDTaken; a (createdBy, transactionId, type) or id
	// in use -> ErrDuplicate. A failed insert leaves nothing behind. The
	// event's identity uses the creator and transaction id of its CREATE
	// action; an event without one has none.
	InsertEvent(ev *EventDocument) error
	// AppendActions adds actions to an existing event and sets its
	// updatedAt. An action whose (createdBy, transactionId, type, status)
	// or id is already stored -> ErrDuplicate, and none of the actions are
	// added. A READ action replaces the READ rows the same reader
	// (createdBy) left on this event before: the document keeps only each
	// reader's latest READ, so reads do not grow it (every read stays in the
	// audit log, written by the engine in the same transaction).
	AppendActions(eventID string, updatedAt time.Time, actions ...Action) error
	// PutIndex replaces the event's search index row, field rows and flag
	// rows. A registration number used by another event ->
	// ErrRegistrationNumberTaken; an event that does not exist ->
	// ErrNotFound.
	PutIndex(row *IndexRow) error
	// ReserveRegistrationNumber gives a registration number to an event from
	// the moment it is drawn or sent (a REGISTER waiting for a partner
	// carries it). A number held by another event ->
	// ErrRegistrationNumberTaken; held by this event -> nil.
	ReserveRegistrationNumber(number, eventID string) error
	// ReleaseRegistrationNumber frees a number this event holds (its
	// REGISTER was rejected, or accepted under another number); a number
	// it does not hold is left alone.
	ReleaseRegistrationNumber(number, eventID string) error
	// PutClient inserts or replaces a system client.
	PutClient(c *Client) error
	// Client reads a client inside the transaction (ErrNotFound if absent).
	Client(id string) (*Client, error)
	// Audit appends one audit entry.
	Audit(e AuditEntry) error

	// Enqueue stores an outbox message in this transaction (Seq and, when
	// zero, CreatedAt are the store's). An id already in the outbox ->
	// ErrDuplicate.
	Enqueue(m OutboxMessage) error
	// PutCorrelation inserts or replaces the correlation (Partner, Key).
	PutCorrelation(c Correlation) error
	// Correlation reads one (ErrNotFound if absent).
	Correlation(partner, key string) (*Correlation, error)
	// DeleteCorrelation removes one; absent is not an error.
	DeleteCorrelation(partner, key string) error
	// DeadLetter reads one by message id (ErrNotFound if absent).
	DeadLetter(id string) (*DeadLetter, error)
	// SetDeadLetterStatus changes a dead letter's status and reason
	// (ErrNotFound if absent).
	SetDeadLetterStatus(id, status, reason string, at time.Time) error
}

// Queues is the store's side of messaging, outside write transactions:
// the outbox relay, the poison queue and partner correlations.
type Queues interface {
	Outbox
	DeadLetterSink
	// DeadLetters lists dead letters in arrival order.
	DeadLetters(ctx context.Context, f DeadLetterFilter) ([]DeadLetter, error)
	// Correlation reads one (an error wrapping ErrNotFound if absent).
	Correlation(ctx context.Context, partner, key string) (*Correlation, error)
	// PutCorrelation inserts or replaces one, in its own write.
	PutCorrelation(ctx context.Context, c Correlation) error
	// DeleteCorrelation removes one, in its own write; absent is fine.
	DeleteCorrelation(ctx context.Context, partner, key string) error
	// EventCorrelations lists a partner's outstanding correlations for one
	// event, oldest first.
	EventCorrelations(ctx context.Context, partner, eventID string) ([]Correlation, error)
	// OutboxLen counts unpublished outbox messages (a metric).
	OutboxLen(ctx context.Context) (int, error)
}

// DeadLetterFilter narrows a dead letter listing. Zero values match all.
type DeadLetterFilter struct {
	Status  string   // "dead", "replayed", "discarded"
	IDs     []string // only these message ids
	Handler string
	Limit   int // 0 = no limit
}

// ClientStatus is the state of a system client.
type ClientStatus string

// Client states.
const (
	ClientActive   ClientStatus = "active"
	ClientDisabled ClientStatus = "disabled"
)

// Client is a system (integration) client that authenticates with
// client_credentials. Its secret is stored only as a salted slow hash.
type Client struct {
	ID         string       `json:"id"`
	Name       string       `json:"name"`
	SecretHash string       `json:"-"`
	Scopes     []string     `json:"scopes"`
	Office     string       `json:"office,omitempty"`
	Status     ClientStatus `json:"status"`
	CreatedAt  time.Time    `json:"createdAt"`
	// UpdatedAt is the client's last change (disable, enable, secret
	// rotation): tokens issued before it are no longer accepted.
	UpdatedAt time.Time `json:"updatedAt"`
}

// AuditEntry records one write: who, what, when and from where.
type AuditEntry struct {
	Seq           int64           `json:"seq"`
	At            time.Time       `json:"at"`
	ActorID       string          `json:"actorId"`
	ActorType     UserType        `json:"actorType"`
	Operation     string          `json:"operation"`  // e.g. "event.create", "action.NOTIFY", "client.disable"
	ObjectType    string          `json:"objectType"` // "event", "client"
	ObjectID      string          `json:"objectId"`
	RemoteAddr    string          `json:"remoteAddr,omitempty"`
	CorrelationID string          `json:"correlationId,omitempty"`
	Detail        json.RawMessage `json:"detail,omitempty"`
}

// AuditFilter narrows an audit listing. Zero values match everything.
type AuditFilter struct {
	ObjectID string
	ActorID  string
	Limit    int // 0 = no limit
}

// ValueKind says which normalised column of an index field row is used.
type ValueKind string

// Index value kinds.
const (
	KindText  ValueKind = "text"  // exact match on a normalised string
	KindToken ValueKind = "token" // one word of a name, for fuzzy search
	KindNum   ValueKind = "num"
	KindDate  ValueKind = "date" // YYYY-MM-DD, compared as text
)

// IndexField is one searchable value of one declaration field. A field
// may produce several rows (a name gives its full text and one token row
// per word).
type IndexField struct {
	FieldID string    `json:"fieldId"`
	Kind    ValueKind `json:"kind"`
	Text    string    `json:"text,omitempty"` // for text, token and date
	Num     float64   `json:"num,omitempty"`  // for num
}

// IndexRow is the search projection of one event: the columns a query can
// filter and sort on, its declaration field rows, its flags, and the
// EventIndex JSON returned in search results.
type IndexRow struct {
	EventID              string
	Type                 string
	Status               string
	TrackingID           string
	RegistrationNumber   string // "" when not registered
	Flags                []string
	CreatedAt            time.Time
	UpdatedAt            time.Time
	RegisteredAt         *time.Time
	CreatedAtLocation    string
	UpdatedAtLocation    string
	DeclaredAtLocation   string
	RegisteredAtLocation string
	AssignedTo           string
	CreatedBy            string
	UpdatedBy            string
	CreatedByUserType    string
	DateOfEvent          string
	PlaceOfEvent         string // see PlaceOfEvent; never empty
	DeclaredBy           string // "" when not declared
	RegisteredBy         string // "" when not registered
	Deleted              bool
	Fields               []IndexField
	Doc                  json.RawMessage // the EventIndex JSON
}

// SearchPage is one page of search results.
type SearchPage struct {
	Results []json.RawMessage // EventIndex JSON documents
	Total   int
}
