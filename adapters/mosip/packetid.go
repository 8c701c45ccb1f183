package mosip

import (
	"crypto/sha256"
	"fmt"
	"math/big"
)

var tenTo19 = new(big.Int).Exp(big.NewInt(10), big.NewInt(19), nil)

// PacketID is the MOSIP AID (registration id) of one Requested action:
// centerID (5 digits) + machineID (5 digits) + 19 digits taken from
// SHA-256(eventID "|" actionID). The same action always gets the same
// AID, so a retried registration overwrites the MOSIP packet instead of
// creating a second one (MOSIP updates a record whose AID is reused).
// With 5-digit centre and machine ids the result has 29 digits.
func PacketID(centerID, machineID, eventID, actionID string) string {
	sum := sha256.Sum256([]byte(eventID + "|" + actionID))
	n := new(big.Int).SetBytes(sum[:])
	n.Mod(n, tenTo19)
	return fmt.Sprintf("%s%s%019s", centerID, machineID, n.String())
}
