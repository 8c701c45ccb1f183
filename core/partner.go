package core

import (
	"encoding/json"
	"time"
)

// Correlation links a partner's reference (a MOSIP packet id, an OSIA
// transaction id) to the Requested action it stands for, so that a later
// callback can resolve that action. It is stored durably before the
// partner is called and deleted only after the resolution has committed.
type Correlation struct {
	Partner            string          `json:"partner"` // adapter name, e.g. "mosip"
	Key                string          `json:"key"`     // the partner's reference, unique per partner
	EventID            string          `json:"eventId"`
	ActionID           string          `json:"actionId"`
	ActionType         ActionType      `json:"actionType"`
	RegistrationNumber string          `json:"registrationNumber,omitempty"`
	CorrelationID      string          `json:"correlationId,omitempty"` // of the request that caused it
	CreatedAt          time.Time       `json:"createdAt"`
	Data               json.RawMessage `json:"data,omitempty"` // partner-specific
}
