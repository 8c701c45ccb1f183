package httpapi

import (
	"encoding/json"

	"github.com/crvshub/crvshub/core"
)

// decodeInput is decodeStrict for the events API's write bodies, preceded
// by core.CheckInputJSON: encoding/json keeps the last of duplicate keys,
// replaces invalid UTF-8 and fails on 1e309 with a message about Go types,
// so a body it would decode to something other than what the client sent
// is a 400 naming the key first. A body that is not JSON at all is left to
// decodeStrict and its messages.
func decodeInput(b []byte, v any) error {
	if err := core.CheckInputJSON(b); err != nil && json.Valid(b) {
		return err
	}
	return decodeStrict(b, v)
}
