package mosipmock

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

// Identity is one person known to the mock's ID system (the fields of the
// OpenCRVS mock-identities.json).
type Identity struct {
	NID        string `json:"nid"`
	FirstName  string `json:"firstName"`
	MiddleName string `json:"middleName,omitempty"`
	FamilyName string `json:"familyName"`
	DOB        string `json:"birthDate"` // YYYY-MM-DD
	Gender     string `json:"gender"`
}

//go:embed testdata/mock-identities.json
var defaultIdentitiesJSON []byte

// DefaultIdentities returns the embedded test identities (NIDs
// 1234567890..1234567999, see testdata/README.md).
func DefaultIdentities() ([]Identity, error) {
	var ids []Identity
	if err := json.Unmarshal(defaultIdentitiesJSON, &ids); err != nil {
		return nil, fmt.Errorf("mosipmock: embedded identities: %w", err)
	}
	return ids, nil
}
