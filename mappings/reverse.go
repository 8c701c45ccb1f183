package mappings

import (
	"fmt"

	"github.com/crvshub/crvshub/core"
)

// ToBundle is the reverse mapping (GET /fhir/Bundle/{id}): the event as a
// FHIR R4 document Bundle.
func (m *Mapper) ToBundle(ev *core.EventDocument) ([]byte, error) {
	return nil, fmt.Errorf("mappings: ToBundle not implemented yet")
}
