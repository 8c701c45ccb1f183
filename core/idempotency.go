package core

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
)

// A transaction id is the caller's key for one request: repeating the
// request returns what the first one did, and nothing is written twice.
// Keys are per caller (another client's "1001" is another request) and
// bound to the request's content: the same key with a different body is
// refused (409 TRANSACTION_ID_REUSED) instead of answering 200 while
// silently dropping the new data.

// reused is the conflict for a transaction id repeated with other content.
func reused(transactionID, what string) error {
	return Errorf(KindConflict, "TRANSACTION_ID_REUSED",
		"transactionId '%s' was already used for a different request (%s differs); send a new transactionId for a new request", transactionID, what)
}

// differsFrom names the first part of in that differs from the action an
// earlier request with the same transaction id recorded ("" = the same
// request).
func differsFrom(prev *Action, in ActionInput) string {
	if f := declarationDiff(prev.Declaration, in.Declaration); f != "" {
		return "declaration field " + f
	}
	if f := declarationDiff(prev.Annotation, in.Annotation); f != "" {
		return "annotation field " + f
	}
	if !sameValue(prev.Content, in.Content) {
		return "content"
	}
	if prev.CreatedAtLocation != in.CreatedAtLocation {
		return "createdAtLocation"
	}
	if in.RegistrationNumber != "" && in.RegistrationNumber != prev.RegistrationNumber {
		return "registrationNumber"
	}
	if in.AssignedTo != "" && in.AssignedTo != prev.AssignedTo {
		return "assignedTo"
	}
	if in.OriginalActionID != prev.OriginalActionID {
		return "originalActionId"
	}
	return ""
}

// declarationDiff returns the first field id (in sorted order) whose value
// differs between a and b, a field absent from one side counting as null.
func declarationDiff(a, b Declaration) string {
	ids := make([]string, 0, len(a)+len(b))
	for k := range a {
		ids = append(ids, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			ids = append(ids, k)
		}
	}
	sort.Strings(ids)
	for _, k := range ids {
		if !sameJSON(a[k], b[k]) {
			return k
		}
	}
	return ""
}

// sameJSON reports whether two JSON values mean the same (key order,
// spacing and number spelling aside). nil and null are the same.
func sameJSON(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	if len(bytes.TrimSpace(a)) > 0 && json.Unmarshal(a, &x) != nil {
		return false
	}
	if len(bytes.TrimSpace(b)) > 0 && json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// sameValue is sameJSON for decoded values (an empty map is nil).
func sameValue(a, b map[string]any) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && sameJSON(ja, jb)
}
