package adapters

import (
	"context"
	"errors"
	"time"

	"github.com/crvshub/crvshub/core"
)

// Registration is what the hub asks a National ID system to register: a
// birth or death whose confirmable action (REGISTER, APPROVE_CORRECTION)
// is Requested and waits for the partner.
type Registration struct {
	EventID            string
	EventType          string // "birth", "death"
	TrackingID         string
	ActionID           string          // the Requested action
	ActionType         core.ActionType // REGISTER or APPROVE_CORRECTION
	RegistrationNumber string          // reserved for this registration (birth/death certificate number)
	Declaration        core.Declaration
	CreatedAtLocation  string
	CorrelationID      string // of the HTTP request that caused it; for logs and partner headers
	RequestedAt        time.Time
}

// OutcomeKind says what a partner answered.
type OutcomeKind int

// Outcome kinds.
const (
	// Pending: the partner took the request; the outcome arrives later
	// through the adapter's callback (which calls Resolver.Resolve).
	Pending OutcomeKind = iota
	// Accepted: the partner registered the person now.
	Accepted
	// Rejected: the partner refused the registration for good.
	Rejected
)

// Outcome is a partner's answer to a Registration.
type Outcome struct {
	Kind OutcomeKind
	// Reference is the partner's id for the request (e.g. the MOSIP packet id).
	Reference string
	// RegistrationNumber for an accepted registration ("" = the reserved one).
	RegistrationNumber string
	// Declaration additions, e.g. {"child.nid": "\"5614716359\""}.
	Declaration core.Declaration
	// Reason for a rejection.
	Reason string
	// Correlation, when an outcome arrives through a callback, is the
	// correlation it settles: the Resolver deletes it in the same
	// transaction as the resolution.
	Correlation *core.Correlation
}

// IdentityClaim is a demographic identity to check against the ID system.
type IdentityClaim struct {
	NID        string // UIN or VID
	FirstName  string
	MiddleName string
	Surname    string
	BirthDate  string // YYYY-MM-DD
	Gender     string // "male", "female", ...
}

// Verification is the ID system's answer to an IdentityClaim.
type Verification struct {
	Verified bool
	// Mismatches names what did not match ("name", "dob", "gender", "nid")
	// when the partner says so.
	Mismatches []string
	// Code and Message are the partner's own error code and text, if any.
	Code    string
	Message string
}

// NationalID is the port every National ID adapter implements.
//
// Register must be idempotent: the hub calls it again with the same
// Registration after a crash or a redelivery, and the adapter must then
// not create a second registration at the partner (use a reference
// derived from EventID and ActionID, and store the correlation before the
// call). It returns an error wrapping ErrPermanent when retrying cannot
// help (the partner refused the request as malformed); any other error is
// transient and the hub retries with backoff.
type NationalID interface {
	Name() string
	Register(ctx context.Context, r Registration) (Outcome, error)
	Verify(ctx context.Context, c IdentityClaim) (Verification, error)
}

// Resolver resolves a Requested action when a partner's outcome arrives
// later (a callback). It is idempotent: resolving an action that is
// already resolved the same way succeeds and changes nothing.
type Resolver interface {
	Resolve(ctx context.Context, eventID, actionID string, out Outcome) error
}

// Correlations stores partner references durably (see core.Correlation).
type Correlations interface {
	// PutCorrelation inserts or replaces the correlation (Partner, Key).
	PutCorrelation(ctx context.Context, c core.Correlation) error
	// Correlation reads one; an error wrapping core.ErrNotFound if absent.
	Correlation(ctx context.Context, partner, key string) (*core.Correlation, error)
	// DeleteCorrelation removes one; absent is not an error.
	DeleteCorrelation(ctx context.Context, partner, key string) error
	// EventCorrelations lists the partner's outstanding correlations for
	// one event, oldest first (the references already sent for it).
	EventCorrelations(ctx context.Context, partner, eventID string) ([]core.Correlation, error)
}

// ErrPermanent marks a partner error that retrying cannot fix. Wrap it:
// fmt.Errorf("createPacket: %w: %s", adapters.ErrPermanent, msg).
var ErrPermanent = errors.New("permanent partner error")

// IsPermanent reports whether err wraps ErrPermanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }
