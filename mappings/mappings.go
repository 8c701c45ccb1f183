package mappings

import (
	"strings"

	"github.com/crvshub/crvshub/core"
)

// Issue is one OperationOutcome issue.
type Issue struct {
	Severity    string   `json:"severity"`             // fatal | error | warning | information
	Code        string   `json:"code"`                 // FHIR issue-type code: invalid, structure, required, value, not-found, not-supported, processing, informational, ...
	Expression  []string `json:"expression,omitempty"` // FHIRPath-like, e.g. "Bundle.entry[3].resource.birthDate"
	Diagnostics string   `json:"diagnostics"`          // a human message
}

// OperationOutcome is the FHIR resource.
type OperationOutcome struct {
	ResourceType string  `json:"resourceType"` // "OperationOutcome"
	Issue        []Issue `json:"issue"`
}

// NewOutcome returns an OperationOutcome holding issues (never a nil list).
func NewOutcome(issues ...Issue) OperationOutcome {
	if issues == nil {
		issues = []Issue{}
	}
	return OperationOutcome{ResourceType: "OperationOutcome", Issue: issues}
}

// Error is Map's error for a bundle that cannot be used: nothing may be stored.
type Error struct {
	// Kind says what is wrong: core.KindInvalid (not JSON, not FHIR, a
	// broken structure), core.KindUnprocessable (FHIR but unusable: no
	// subject, an event type the country lacks, bad values),
	// core.KindTooLarge (too many entries). The HTTP layer maps it to a
	// status, as every other error kind.
	Kind   core.Kind
	Issues []Issue // at least one with severity error or fatal
}

func (e *Error) Error() string {
	var parts []string
	for _, is := range e.Issues {
		if is.Severity != "error" && is.Severity != "fatal" {
			continue
		}
		s := is.Diagnostics
		if len(is.Expression) > 0 {
			s = strings.Join(is.Expression, ", ") + ": " + s
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "fhir: unusable bundle"
	}
	return "fhir: " + strings.Join(parts, "; ")
}

// Outcome returns the issues as an OperationOutcome.
func (e *Error) Outcome() OperationOutcome { return NewOutcome(e.Issues...) }

// Result is a usable notification.
type Result struct {
	Family          string           // the spec family that matched, e.g. "opencrvs-v1-birth", "hl7-bfdr-birth", "hl7-vrdr-death", "his-transaction-birth"
	EventType       string           // core event type: "birth", "death"
	TransactionID   string           // from a wrapped document's Bundle.identifier or Composition identifier, else Bundle.identifier (system|value), else MessageHeader.id, else the Composition identifier, else "sha256:"+hex of the canonical bundle bytes; prefixed "fhir:" so it never clashes with native ids; stable for a resent bundle
	Office          string           // a CRVS_OFFICE or HEALTH_FACILITY UUID named by the bundle (Task regLastOffice extension, Encounter location that is an office), "" if none
	Declaration     core.Declaration // values valid for the event's form (checked with core.ValidateValues)
	Issues          []Issue          // warnings and information: gaps (no mother, unknown facility), ignored resources
	MessageHeaderID string           // for message bundles: the MessageHeader id (the HTTP layer answers a response message)
	IsMessage       bool
}
