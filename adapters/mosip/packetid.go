package mosip

import (
	"crypto/sha256"
	"fmt"
	"math/big"
)

var tenTo19 = new(big.Int).Exp(big.NewInt(10), big.NewInt(19), nil)

// PacketID is the MOSIP AID (registration id) of one record's identity:
// centerID (5 digits) + machineID (5 digits) + 19 digits taken from
// SHA-256(eventID "|" purpose). Register passes the MOSIP process
// (CRVS_NEW, CRVS_DEATH) as the purpose, so the id depends on the record
// and never on the action: a retry, an operator's resend, a REGISTER made
// again after an operator rejected one that MOSIP had already taken, and
// an approved correction all reuse the record's AID, and MOSIP updates the
// packet (and the identity it created) instead of creating a second
// identity with a second VID for the same child ("If the same AID is used
// twice, the record will be updated"). With 5-digit centre and machine
// ids the result has 29 digits.
func PacketID(centerID, machineID, eventID, purpose string) string {
	sum := sha256.Sum256([]byte(eventID + "|" + purpose))
	n := new(big.Int).SetBytes(sum[:])
	n.Mod(n, tenTo19)
	return fmt.Sprintf("%s%s%019s", centerID, machineID, n.String())
}
